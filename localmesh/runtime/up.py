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
from dataclasses import replace

from localmesh.analyze import admitted
from localmesh.loader import ManifestSource, load_paths
from localmesh.runtime.control import ControlServer, NotRunning, read_control
from localmesh.runtime.controlapi import control_handlers
from localmesh.runtime.engine import Runtime, RuntimeConfig, StartError
from localmesh.runtime.envoybin import EnvoyNotFound, describe_envoy, find_envoy
from localmesh.runtime.guard import OrphanGuard
from localmesh.runtime.pods import find_services_dir
from localmesh.runtime.ports import PortInUse
from localmesh.tracing.agentplan import TraceAgentError, plan_trace_agent

# How often the foreground loop looks whether the parent is gone.
PARENT_CHECK_SECONDS = 0.5


def run_up(
    files: list[ManifestSource], config: RuntimeConfig, trace_agent: str, exit_with_parent: bool
) -> int:
    """Run the manifests in files until stopped. config: all but what run_up adds: the services
    folder and the envoy executable when config names none (pods.find_services_dir,
    envoybin.find_envoy), the trace agent (the --trace-agent value trace_agent decides it) and the
    orphan guard; exit_with_parent: stop when the parent process goes away. The exit status: 0
    after a clean stop, 1 when the mesh cannot start, 2 for bad input."""
    try:
        plan = plan_trace_agent(trace_agent)
    except TraceAgentError as error:
        print(f"localmesh: {error}", file=sys.stderr)
        return 2
    state = config.state_dir
    resources = load_paths(files)
    if not admitted(resources, "refusing to start: {reason}"):
        return 1
    services_dir = config.services_dir or find_services_dir(files)
    if services_dir is None:
        print("localmesh: no services/ folder in or above the manifests' folders; name the folder that "
              "holds the images' sources with --services-dir", file=sys.stderr)
        return 2
    try:
        existing = read_control(state)
        print(f"localmesh: another localmesh up (pid {existing['pid']}) is running with state dir {state}; "
              "stop it first or use --state-dir", file=sys.stderr)
        return 1
    except NotRunning:
        pass
    try:
        envoy_bin = config.envoy_bin or find_envoy(config.venv_bin)
    except EnvoyNotFound as error:
        print(f"localmesh: {error}", file=sys.stderr)
        return 1
    about_envoy = describe_envoy(envoy_bin, config.venv_bin)
    if about_envoy:
        print(f"localmesh: {about_envoy}", file=sys.stderr)
    state.mkdir(parents=True, exist_ok=True)
    guard = OrphanGuard()
    config = replace(config, services_dir=services_dir.resolve(), envoy_bin=envoy_bin, trace_agent=plan,
                     on_group=guard.group)
    runtime = Runtime(config)
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
        print(f"localmesh: {plan.describe()}", file=sys.stderr)
        server = ControlServer(state, control_handlers(runtime))
        server.start()
        print(ready_banner(runtime), flush=True)
        parent = os.getppid()
        while not stop.wait(PARENT_CHECK_SECONDS):
            if exit_with_parent and os.getppid() != parent:
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
