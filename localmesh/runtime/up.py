"""`localmesh up`: run the manifests in the foreground until Ctrl-C, SIGTERM or the parent's end.

In order: refuse what the API server would refuse, make sure no other `up` owns the state dir,
start the trace agent, the pods and Envoy (Runtime.start), serve the control API that `apply`,
`delete` and `status` talk to, say where everything listens, wait, then stop every process.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from localmesh.analyze import admitted
from localmesh.loader import load_paths
from localmesh.runtime.control import ControlServer, NotRunning, read_control
from localmesh.runtime.controlapi import control_handlers
from localmesh.runtime.engine import Runtime, RuntimeConfig, StartError
from localmesh.runtime.envoybin import EnvoyNotFound, describe_envoy, find_envoy
from localmesh.runtime.guard import OrphanGuard
from localmesh.runtime.ports import PortInUse
from localmesh.tracing.agentplan import TraceAgentError, plan_trace_agent

# How often the foreground loop looks whether the parent is gone.
PARENT_CHECK_SECONDS = 0.5


@dataclass(frozen=True)
class UpOptions:
    """What the command line asked for, every default already applied."""

    files: list
    state_dir: Path
    services_dir: Path
    gateway_port: int
    admin_port: int
    free_listener_ports: bool
    echo_output: bool  # pod output on stdout too, not only in <state dir>/logs/
    exit_with_parent: bool
    ready_timeout: float
    trace_agent: str  # the --trace-agent value


def run_up(options: UpOptions) -> int:
    """The exit status: 0 after a clean stop, 1 when the mesh cannot start, 2 for bad input."""
    try:
        trace_agent = plan_trace_agent(options.trace_agent)
    except TraceAgentError as error:
        print(f"localmesh: {error}", file=sys.stderr)
        return 2
    state = options.state_dir
    resources = load_paths(options.files)
    if not admitted(resources, "refusing to start: {reason}"):
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
    runtime = Runtime(RuntimeConfig(
        state_dir=state,
        services_dir=options.services_dir,
        venv_bin=venv_bin,
        envoy_bin=envoy_bin,
        gateway_port=options.gateway_port,
        admin_port=options.admin_port,
        free_listener_ports=options.free_listener_ports,
        ready_timeout=options.ready_timeout,
        echo=sys.stdout if options.echo_output else None,
        trace_agent=trace_agent,
        on_group=guard.group,
    ))
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda _number, _frame: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            lines = runtime.start(resources)
        except (StartError, PortInUse) as error:
            print(f"localmesh: {error}", file=sys.stderr)
            return 1
        for line in lines:
            print(f"localmesh: {line}", file=sys.stderr)
        print(f"localmesh: {trace_agent.describe()}", file=sys.stderr)
        server = ControlServer(state, control_handlers(runtime))
        server.start()
        print(ready_banner(runtime), flush=True)
        parent = os.getppid()
        while not stop.wait(PARENT_CHECK_SECONDS):
            if options.exit_with_parent and os.getppid() != parent:
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


def ready_banner(runtime: Runtime) -> str:
    """What `up` prints once everything is ready: where the gateway, each Service and the admin listen."""
    status = runtime.status()
    lines = ["localmesh: ready"]
    for gateway in status["gateways"]:
        lines.append(f"  gateway {gateway['gateway']}: http://{gateway['listener']}")
    for service in status["services"]:
        lines.append(f"  service {service['service']}.{service['namespace']}:{service['port']} "
                     f"-> http://{service['listener']}")
    lines.append(f"  envoy admin: {status['admin']}   (localmesh status, apply -f, delete -f; Ctrl-C stops)")
    return "\n".join(lines)
