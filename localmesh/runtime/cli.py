"""`localmesh up`, `apply`, `delete`, `status` and `logs`: the runtime's commands."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from localmesh.analyze import analyzer_report
from localmesh.loader import expand_paths, load_paths, load_text
from localmesh.manifest_options import add_manifest_options, manifest_sources
from localmesh.runtime.control import ControlServer, NotRunning, call, read_control
from localmesh.runtime.statusview import format_status
from localmesh.tracing.agentplan import add_trace_agent_option

DEFAULT_STATE = ".localmesh"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"localmesh: {name}={raw!r}: not a port number (1-65535)")
    return int(raw)


def state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir or os.environ.get("LOCALMESH_STATE") or DEFAULT_STATE).resolve()


def _add_state(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", help="where the running mesh keeps its state "
                        f"(default: $LOCALMESH_STATE or ./{DEFAULT_STATE})")


def register(subcommands: argparse._SubParsersAction) -> None:
    """Add up, apply, delete, status and logs."""
    up = subcommands.add_parser("up", help="run the manifests here, in the foreground, until Ctrl-C")
    add_manifest_options(up)
    _add_state(up)
    up.add_argument("--gateway-port", type=int, default=None,
                    help="gateway listener port (default: $GATEWAY_PORT or 8080)")
    up.add_argument("--admin-port", type=int, default=None,
                    help="Envoy admin port (default: $LOCALMESH_ADMIN_PORT or 15000)")
    up.add_argument("--free-listener-ports", action="store_true",
                    default=os.environ.get("LOCALMESH_FREE_PORTS") == "1",
                    help="give every Service listener a free port instead of its own (tests)")
    up.add_argument("--log-files-only", action="store_true",
                    help="write pod output only to <state dir>/logs/, not to stdout")
    up.add_argument("--services-dir", default=str(REPO_ROOT / "services"),
                    help="where image names map to folders (default: the repo's services/)")
    up.add_argument("--exit-with-parent", action="store_true",
                    help="stop everything when the parent process (make) goes away, however it ended")
    up.add_argument("--ready-timeout", type=float, default=60.0, help="seconds to wait for new pods")
    add_trace_agent_option(up, default=os.environ.get("LOCALMESH_TRACE_AGENT", "off"),
                           default_text="$LOCALMESH_TRACE_AGENT or off")
    up.set_defaults(handler=cmd_up)

    apply = subcommands.add_parser("apply", help="add or change resources in the running mesh")
    add_manifest_options(apply)
    _add_state(apply)
    apply.set_defaults(handler=lambda args: _change(args, "/apply"))

    delete = subcommands.add_parser("delete", help="remove resources from the running mesh")
    add_manifest_options(delete)
    _add_state(delete)
    delete.set_defaults(handler=lambda args: _change(args, "/delete"))

    status = subcommands.add_parser("status", help="workloads, listeners and routes of the running mesh")
    _add_state(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)

    logs = subcommands.add_parser("logs", help="output of one pod (or envoy) of the running mesh")
    _add_state(logs)
    logs.add_argument("pod")
    logs.add_argument("--tail", type=int, default=0, help="only the last N lines")
    logs.set_defaults(handler=cmd_logs)


# ---- up -----------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    from localmesh.runtime.engine import Runtime, RuntimeConfig, StartError
    from localmesh.runtime.envoybin import EnvoyNotFound, describe_envoy, find_envoy
    from localmesh.runtime.guard import OrphanGuard
    from localmesh.runtime.ports import PortInUse
    from localmesh.tracing.agentplan import TraceAgentError, plan_trace_agent

    try:
        trace_agent = plan_trace_agent(args.trace_agent)
    except TraceAgentError as error:
        print(f"localmesh: {error}", file=sys.stderr)
        return 2
    state = state_dir(args)
    resources = load_paths(manifest_sources(args))
    verdict = analyzer_report(resources)
    for line in verdict.warnings + verdict.refusals:
        print(line, file=sys.stderr)
    if verdict.refused:
        print(f"localmesh: refusing to start: {len(verdict.refusals)} resource error(s) the API server "
              "would refuse", file=sys.stderr)
        return 1
    try:
        existing = read_control(state)
        print(f"localmesh: another localmesh up (pid {existing['pid']}) is running with state dir {state}; "
              "stop it first or use --state-dir", file=sys.stderr)
        return 1
    except NotRunning:
        pass
    venv_bin = Path(sys.executable).parent
    try:
        envoy_bin = find_envoy(venv_bin)
    except EnvoyNotFound as error:
        print(f"localmesh: {error}", file=sys.stderr)
        return 1
    about_envoy = describe_envoy(envoy_bin, venv_bin)
    if about_envoy:
        print(f"localmesh: {about_envoy}", file=sys.stderr)
    state.mkdir(parents=True, exist_ok=True)
    guard = OrphanGuard()
    config = RuntimeConfig(
        state_dir=state,
        services_dir=Path(args.services_dir).resolve(),
        venv_bin=venv_bin,
        envoy_bin=envoy_bin,
        gateway_port=args.gateway_port or _env_int("GATEWAY_PORT", 8080),
        admin_port=args.admin_port or _env_int("LOCALMESH_ADMIN_PORT", 15000),
        free_listener_ports=args.free_listener_ports,
        ready_timeout=args.ready_timeout,
        echo=None if args.log_files_only else sys.stdout,
        trace_agent=trace_agent,
        on_group=guard.group,
    )
    runtime = Runtime(config)
    stop = threading.Event()
    signals = {signal.SIGINT: 0, signal.SIGTERM: 0}

    def on_signal(number: int, _frame: object) -> None:
        signals[number] = signals.get(number, 0) + 1
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        try:
            lines = runtime.start(resources)
        except (StartError, PortInUse) as error:
            print(f"localmesh: {error}", file=sys.stderr)
            return 1
        for line in lines:
            print(f"localmesh: {line}", file=sys.stderr)
        print(f"localmesh: {trace_agent.describe()}", file=sys.stderr)
        server = ControlServer(state, _handlers(runtime))
        server.start()
        print(_ready_banner(runtime), flush=True)
        parent = os.getppid()
        while not stop.wait(0.5):
            if args.exit_with_parent and os.getppid() != parent:
                print("localmesh: the parent process ended", file=sys.stderr)
                break
        print("localmesh: stopping every process", file=sys.stderr, flush=True)
        server.stop()
    finally:
        runtime.shutdown()
        guard.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _ready_banner(runtime: object) -> str:
    status = runtime.status()  # type: ignore[attr-defined]
    lines = ["localmesh: ready"]
    for gateway in status["gateways"]:
        lines.append(f"  gateway {gateway['gateway']}: http://{gateway['listener']}")
    for service in status["services"]:
        lines.append(f"  service {service['service']}.{service['namespace']}:{service['port']} "
                     f"-> http://{service['listener']}")
    lines.append(f"  envoy admin: {status['admin']}   (localmesh status, apply -f, delete -f; Ctrl-C stops)")
    return "\n".join(lines)


def _handlers(runtime: object) -> dict:
    from localmesh.loader import ManifestError
    from localmesh.runtime.engine import StartError
    from localmesh.runtime.ports import PortInUse

    def change(payload: dict, deleting: bool) -> tuple:
        try:
            resources = []
            for item in payload.get("files", []):
                resources.extend(load_text(str(item.get("text", "")), str(item.get("path", "<request>"))))
            verdict = analyzer_report(runtime.candidate_set(resources, deleting))
            if verdict.refused:
                reason = f"refused: {len(verdict.refusals)} resource error(s) the API server would refuse"
                return 422, {"lines": verdict.warnings + verdict.refusals, "error": reason}
            if deleting:
                lines, found = runtime.delete(resources)
                return (200 if found else 404), {"lines": verdict.warnings + lines}
            return 200, {"lines": verdict.warnings + runtime.apply(resources)}
        except ManifestError as error:
            return 400, {"error": str(error)}
        except (StartError, PortInUse) as error:
            return 409, {"error": str(error)}

    return {
        # ?usage=0: without the CPU and memory columns, which take a sampling window.
        ("GET", "/status"): lambda payload: (200, runtime.status(usage=payload.get("usage") != "0")),
        ("POST", "/apply"): lambda payload: change(payload, False),
        ("POST", "/delete"): lambda payload: change(payload, True),
    }


# ---- clients ------------------------------------------------------------------------


def _change(args: argparse.Namespace, path: str) -> int:
    files = []
    for file in expand_paths(manifest_sources(args)):
        load_paths([file])  # one-line errors for bad YAML before anything is sent
        files.append({"path": str(file), "text": file.read_text(encoding="utf-8")})
    try:
        status, body = call(state_dir(args), "POST", path, {"files": files})
    except NotRunning as error:
        print(f"localmesh: {error}", file=sys.stderr)
        return 1
    for line in body.get("lines", []):
        print(line)
    if body.get("error"):
        print(f"localmesh: {body['error']}", file=sys.stderr)
    return 0 if status == 200 else 1


def cmd_status(args: argparse.Namespace) -> int:
    try:
        status, body = call(state_dir(args), "GET", "/status", timeout=30)
    except NotRunning as error:
        print(f"localmesh: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"localmesh: {body.get('error', status)}", file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2) if args.json else format_status(body))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    path = state_dir(args) / "logs" / f"{args.pod}.log"
    if "/" in args.pod or not path.is_file():
        known = sorted(p.stem for p in (state_dir(args) / "logs").glob("*.log"))
        print(f"localmesh: no logs for {args.pod!r}; known: {', '.join(known) or 'none'}", file=sys.stderr)
        return 1
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in lines[-args.tail:] if args.tail else lines:
        print(line)
    return 0
