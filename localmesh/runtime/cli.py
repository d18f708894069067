"""`localmesh up`, `apply`, `delete`, `status` and `logs`: their arguments.

Each handler turns the parsed arguments into plain values and hands them to the module that
does the work: `up.run_up` (imported only for `up`, it loads the runtime), `client` for the
commands that drive a running `up`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from localmesh.manifest_options import add_manifest_options, manifest_sources
from localmesh.runtime import client
from localmesh.topology import ADMIN_PORT, GATEWAY_PORT
from localmesh.tracing.agentplan import add_trace_agent_option

DEFAULT_STATE = ".localmesh"


def state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir or os.environ.get("LOCALMESH_STATE") or DEFAULT_STATE).resolve()


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"localmesh: {name}={raw!r}: not a port number (1-65535)")
    return int(raw)


def _add_state(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", help="where the running mesh keeps its state "
                        f"(default: $LOCALMESH_STATE or ./{DEFAULT_STATE})")


def register(subcommands: argparse._SubParsersAction) -> None:
    """Add up, apply, delete, status and logs."""
    up = subcommands.add_parser("up", help="run the manifests here, in the foreground, until Ctrl-C")
    add_manifest_options(up)
    _add_state(up)
    up.add_argument("--gateway-port", type=int, default=None,
                    help=f"gateway listener port (default: $GATEWAY_PORT or {GATEWAY_PORT})")
    up.add_argument("--admin-port", type=int, default=None,
                    help=f"Envoy admin port (default: $LOCALMESH_ADMIN_PORT or {ADMIN_PORT})")
    up.add_argument("--free-listener-ports", action="store_true",
                    default=os.environ.get("LOCALMESH_FREE_PORTS") == "1",
                    help="give every Service listener a free port instead of its own (tests)")
    up.add_argument("--log-files-only", action="store_true",
                    help="write pod output only to <state dir>/logs/, not to stdout")
    up.add_argument("--services-dir",
                    help="where image names map to folders (ecommerce/advertisements:2.0 runs "
                    "<services dir>/advertisements); default: the nearest services/ folder in or above "
                    "the folder of a manifest (of -k DIR: DIR), trying the manifests in the order given")
    up.add_argument("--exit-with-parent", action="store_true",
                    help="stop everything when the parent process (make) goes away, however it ended")
    up.add_argument("--ready-timeout", type=float, default=60.0, help="seconds to wait for new pods")
    add_trace_agent_option(up, default=os.environ.get("LOCALMESH_TRACE_AGENT", "off"),
                           default_text="$LOCALMESH_TRACE_AGENT or off")
    up.set_defaults(handler=_up)

    apply = subcommands.add_parser("apply", help="add or change resources in the running mesh")
    add_manifest_options(apply)
    _add_state(apply)
    apply.set_defaults(handler=lambda args: _change(args, deleting=False))

    delete = subcommands.add_parser("delete", help="remove resources from the running mesh")
    add_manifest_options(delete)
    _add_state(delete)
    delete.set_defaults(handler=lambda args: _change(args, deleting=True))

    status = subcommands.add_parser("status", help="workloads, listeners and routes of the running mesh")
    _add_state(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=lambda args: client.show_status(state_dir(args), args.json))

    logs = subcommands.add_parser("logs", help="output of one pod (or envoy) of the running mesh")
    _add_state(logs)
    logs.add_argument("pod")
    logs.add_argument("--tail", type=int, default=0, help="only the last N lines")
    logs.set_defaults(handler=lambda args: client.show_logs(state_dir(args), args.pod, args.tail))


def _change(args: argparse.Namespace, deleting: bool) -> int:
    return client.send_change(state_dir(args), manifest_sources(args), deleting)


def _up(args: argparse.Namespace) -> int:
    from localmesh.runtime.engine import RuntimeConfig
    from localmesh.runtime.up import run_up

    config = RuntimeConfig(
        state_dir=state_dir(args),
        services_dir=Path(args.services_dir).resolve() if args.services_dir else None,
        venv_bin=Path(sys.executable).parent,
        gateway_port=args.gateway_port or _env_port("GATEWAY_PORT", GATEWAY_PORT),
        admin_port=args.admin_port or _env_port("LOCALMESH_ADMIN_PORT", ADMIN_PORT),
        free_listener_ports=args.free_listener_ports,
        ready_timeout=args.ready_timeout,
        echo=None if args.log_files_only else sys.stdout,
    )
    return run_up(manifest_sources(args), config, trace_agent=args.trace_agent,
                  exit_with_parent=args.exit_with_parent)
