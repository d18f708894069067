"""The control loop: desired resources in, running pods and an Envoy programmed to match.

Every change goes the way a rolling update does, so no request in flight fails:
  1. start new pods and wait for their readiness probes;
  2. give Envoy every cluster old and new routes name, with every live pod (CDS);
  3. switch routes and listeners to the new set (RDS, LDS);
  4. drop clusters and endpoints of pods on their way out (CDS), let Envoy drain them;
  5. stop those pods (SIGTERM, SIGKILL after their grace period).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, TextIO

from localmesh.envoy import EnvoyResources, build_bootstrap, build_resources, discovery_files
from localmesh.loader import Resource
from localmesh.model import Mesh, build_mesh
from localmesh.runtime.diff import RunningPod, plan_pods, resource_changes
from localmesh.runtime.envoyctl import EnvoyControl, EnvoyError
from localmesh.runtime.pods import PodSpec, pod_name, pod_spec, pod_template
from localmesh.runtime.ports import check_ports_free, describe_port_needs, free_port, plan_listener_ports
from localmesh.runtime.routetext import describe_routes
from localmesh.runtime.servicenames import ServiceAddressBook
from localmesh.runtime.supervisor import ProcessSpec, Supervisor
from localmesh.topology import Endpoint, Topology
from localmesh.tracing.agentplan import TEST_AGENT_NAME, TraceAgentPlan, env_label, test_agent_command

ENVOY_NAME = "envoy"
GATEWAY_NEED = "the gateway (set GATEWAY_PORT or --gateway-port to move it)"


@dataclass
class RuntimeConfig:
    state_dir: Path
    services_dir: Path
    venv_bin: Path
    envoy_bin: str
    gateway_port: int = 8080
    admin_port: int = 15000
    listen_host: str = "127.0.0.1"
    free_listener_ports: bool = False  # tests: never collide with a running `make run`
    ready_timeout: float = 60.0
    drain_seconds: float = 1.0
    envoy_log_level: str = "warn"
    envoy_concurrency: int = 2
    echo: Optional[TextIO] = field(default=None, repr=False)
    # None: pods keep their manifest's DD_* settings and Envoy traces nothing (as before).
    trace_agent: Optional[TraceAgentPlan] = None


class StartError(Exception):
    """The mesh cannot start or change as asked; the message is one line."""


class Runtime:
    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.resources: dict = {}  # (kind, namespace, name) -> Resource, in apply order
        self.mesh = Mesh()
        self.listener_ports: dict = {}
        self.pods: dict = {}  # name -> PodSpec
        self.warnings: list = []
        self.supervisor = Supervisor(config.state_dir / "logs", echo=config.echo)
        self.envoy = EnvoyControl(config.state_dir / "envoy", config.listen_host, config.admin_port)
        self.envoy_started = False

    # ---- commands -------------------------------------------------------------------

    def start(self, resources: Iterable[Resource]) -> list:
        """Bring up the first set; on any failure everything started is stopped again."""
        with self.lock:
            try:
                self._start_trace_agent()
                return self._reconcile(_keyed(resources))
            except BaseException:
                self.shutdown()
                raise

    def apply(self, resources: Iterable[Resource]) -> list:
        with self.lock:
            incoming = _keyed(resources)
            merged = dict(self.resources)
            merged.update(incoming)
            changes = resource_changes(
                {k: r.body for k, r in self.resources.items()}, {k: r.body for k, r in incoming.items()}
            )
            return changes + self._reconcile(merged)

    def delete(self, resources: Iterable[Resource]) -> tuple:
        """(lines, all found): resources not running are reported 'not found', like kubectl."""
        with self.lock:
            remaining = dict(self.resources)
            lines, found_all = [], True
            for key in _keyed(resources):
                if remaining.pop(key, None) is None:
                    lines.append(f"{key[0].lower()}/{key[2]} not found (namespace {key[1]})")
                    found_all = False
                else:
                    lines.append(f"{key[0].lower()}/{key[2]} deleted")
            return lines + self._reconcile(remaining), found_all

    def candidate_set(self, resources: Iterable[Resource], deleting: bool = False) -> list:
        """The resource list an apply (or delete) of resources would leave, for the analyzer."""
        with self.lock:
            merged = dict(self.resources)
            for key, resource in _keyed(resources).items():
                if deleting:
                    merged.pop(key, None)
                else:
                    merged[key] = resource
            return list(merged.values())

    def _start_trace_agent(self) -> None:
        """ddapm-test-agent, supervised like a pod, when the plan says the mesh brings its own."""
        plan = self.config.trace_agent
        if plan is None or plan.mode != "start":
            return
        command = test_agent_command(self.config.venv_bin, plan, lambda: free_port(self.config.listen_host))
        self.supervisor.start(ProcessSpec(
            name=TEST_AGENT_NAME, command=command, cwd=str(self.config.state_dir),
            env={"PATH": str(self.config.venv_bin), "HOME": str(self.config.state_dir)}, grace_seconds=5.0,
            readiness_url=f"{plan.url}/info", info={"kind": "trace-agent", "port": plan.port},
        ))
        if self.supervisor.wait_ready([TEST_AGENT_NAME], 30.0):
            raise StartError(f"ddapm-test-agent did not answer on {plan.url}/info within 30s "
                             f"(see {self.supervisor.log_dir / (TEST_AGENT_NAME + '.log')})")

    def shutdown(self) -> None:
        # The trace agent goes last, so the final flush of the pods and Envoy still reaches it.
        first = [name for name in self.supervisor.names() if name != TEST_AGENT_NAME]
        self.supervisor.stop(first)
        self.supervisor.stop_all()

    # ---- the reconcile --------------------------------------------------------------

    def _reconcile(self, resources: dict) -> list:
        mesh = build_mesh(resources.values())
        previous_ports = self.listener_ports
        listener_ports = plan_listener_ports(
            mesh, previous_ports, free_port if self.config.free_listener_ports else None,
            reserved=(self.config.gateway_port, self.config.admin_port),
        )
        self._check_new_ports(mesh, listener_ports)
        addresses = ServiceAddressBook(mesh, listener_ports, self.config.listen_host)
        templates = {
            (d.namespace, d.name): pod_template(d, mesh, self.config.services_dir) for d in mesh.deployments
        }
        desired = {key: (t.fingerprint(addresses), _replicas(mesh, key)) for key, t in templates.items()}
        plan = plan_pods(
            [RunningPod((p.namespace, p.deployment), p.fingerprint, p.index, p.name)
             for p in self.pods.values()],
            desired,
        )
        lines: list = []
        started = self._start_pods(plan.start, templates, addresses)
        not_ready = self.supervisor.wait_ready([p.name for p in started], self.config.ready_timeout)
        for name in not_ready:
            lines.append(f"warning: pod {name} not ready after {self.config.ready_timeout:g}s; "
                         "Envoy routes to it once its readiness probe passes")
        leaving = [self.pods[name] for name in plan.stop]
        final = [self.pods[name] for name in plan.keep] + started
        try:
            self._program_envoy(mesh, listener_ports, final, leaving)
        except EnvoyError as error:
            # Put Envoy back on the previous set, then drop the new pods; the old set keeps serving.
            if self.envoy_started:
                before = self._topology(list(self.pods.values()), self.listener_ports)
                previous = self._build(self.mesh, before)
                self.envoy.write(discovery_files(previous, str(self.envoy.config_dir)))
            self.supervisor.stop([p.name for p in started], grace=5.0)
            raise StartError(f"{error}; the previous configuration is back in place") from None
        if leaving:
            time.sleep(self.config.drain_seconds)
            self.supervisor.stop([p.name for p in leaving])
        for pod in leaving:
            self.pods.pop(pod.name, None)
        for pod in started:
            self.pods[pod.name] = pod
        for pod in started:
            lines.append(f"pod/{pod.name} started (port {pod.port})")
        for pod in leaving:
            lines.append(f"pod/{pod.name} stopped")
        self.resources = dict(resources)
        self.mesh = mesh
        self.listener_ports = listener_ports
        self._write_applied()
        return lines + self.warnings

    def _check_new_ports(self, mesh: Mesh, listener_ports: dict) -> None:
        new = {key: port for key, port in listener_ports.items() if self.listener_ports.get(key) != port}
        gateway = self.config.gateway_port if mesh.gateways and not self.envoy_started else None
        needs = describe_port_needs(new, gateway, self.config.admin_port)
        if self.envoy_started:
            needs.pop(self.config.admin_port, None)
            if mesh.gateways and not self.mesh.gateways:
                needs[self.config.gateway_port] = GATEWAY_NEED
        try:
            check_ports_free(needs, self.config.listen_host)
        except Exception as error:
            raise StartError(str(error)) from None

    def _start_pods(self, starts: list, templates: dict, addresses: ServiceAddressBook) -> list:
        started = []
        for key, fingerprint, index in starts:
            home = self.config.state_dir / "pods" / pod_name(key[1], fingerprint, index)
            home.mkdir(parents=True, exist_ok=True)
            spec = pod_spec(templates[key], fingerprint, index, free_port(self.config.listen_host), addresses,
                            str(self.config.venv_bin), home=str(home))
            if self.config.trace_agent is not None:
                # After the manifest's env: the agent this mesh chose (or tracing off) wins.
                spec = replace(spec, env={**spec.env, **self.config.trace_agent.pod_env()})
            self.supervisor.start(self._process_spec(spec))
            started.append(spec)
        return started

    def _process_spec(self, pod: PodSpec) -> ProcessSpec:
        base = f"http://{self.config.listen_host}:{pod.port}"
        return ProcessSpec(
            name=pod.name,
            command=pod.command,
            cwd=pod.cwd,
            env=pod.env,
            grace_seconds=pod.grace_seconds,
            probe_period=pod.probe_period,
            readiness_url=base + pod.readiness_path if pod.readiness_path else None,
            liveness_url=base + pod.liveness_path if pod.liveness_path else None,
            info={
                "kind": "pod",
                "deployment": pod.deployment,
                "namespace": pod.namespace,
                "labels": dict(pod.labels),
                "version": pod.version,
                "port": pod.port,
            },
        )

    def _topology(self, pods: Iterable[PodSpec], listener_ports: dict) -> Topology:
        endpoints = tuple(
            Endpoint(pod=p.name, namespace=p.namespace, labels=dict(p.labels), host=self.config.listen_host,
                     port=p.port, health_path=p.readiness_path)
            for p in sorted(pods, key=lambda p: p.name)
        )
        plan = self.config.trace_agent
        tracing = plan.tracing(env_label(e.labels for e in endpoints)) if plan else None
        return Topology(endpoints=endpoints, service_ports=dict(listener_ports),
                        listen_host=self.config.listen_host, gateway_port=self.config.gateway_port,
                        admin_port=self.config.admin_port, tracing=tracing)

    def _build(self, mesh: Mesh, topology: Topology) -> EnvoyResources:
        return build_resources(mesh, topology, str(self.envoy.config_dir))

    def _program_envoy(self, mesh: Mesh, listener_ports: dict, final: list, leaving: list) -> None:
        config_dir = str(self.envoy.config_dir)
        live = self._topology(final + leaving, listener_ports)
        target = self._build(mesh, live)
        self.warnings = list(target.warnings)
        if not self.envoy_started:
            end = self._build(mesh, self._topology(final, listener_ports))
            files = discovery_files(end, config_dir)
            self.envoy.write(files)
            self._start_envoy(self._topology(final, listener_ports))
            self._wait_listeners(mesh, listener_ports)
            return
        # 2. every cluster either route set names, with every live pod.
        before = self._build(self.mesh, replace(live, service_ports=dict(self.listener_ports)))
        clusters = {c["name"]: c for c in before.clusters}
        clusters.update({c["name"]: c for c in target.clusters})
        union = EnvoyResources(listeners=before.listeners, clusters=list(clusters.values()),
                               route_configs=before.route_configs, warnings=[])
        files = discovery_files(union, config_dir)
        self.envoy.wait_applied(self.envoy.write(files, only={"cds"}), files)
        # 3. the new routes and listeners.
        files = discovery_files(target, config_dir)
        self.envoy.wait_applied(self.envoy.write(files, only={"rds", "lds"}), files)
        # 4. only what the new set needs.
        end = self._build(mesh, self._topology(final, listener_ports))
        files = discovery_files(end, config_dir)
        self.envoy.wait_applied(self.envoy.write(files), files)
        self.envoy.remove_stale(set(files))
        self._wait_listeners(mesh, listener_ports)

    def _start_envoy(self, topology: Topology) -> None:
        bootstrap = build_bootstrap(topology, str(self.envoy.config_dir))
        path = self.envoy.write_bootstrap(bootstrap)
        command = (
            self.config.envoy_bin, "-c", str(path),
            # No hot restart: updates come through the watched files, and several meshes
            # (a test next to `make run`) must not share a shared-memory base id.
            "--disable-hot-restart",
            "--log-level", self.config.envoy_log_level,
            "--concurrency", str(self.config.envoy_concurrency),
            # Removed listeners close quickly; routes change by RDS, which never drains.
            "--drain-time-s", "2",
        )
        self.supervisor.start(ProcessSpec(
            name=ENVOY_NAME, command=command, cwd=str(self.envoy.config_dir),
            env={"PATH": str(self.config.venv_bin)}, grace_seconds=5.0,
            readiness_url=f"{self.envoy.admin}/ready",
            info={"kind": "envoy", "port": self.config.admin_port},
        ))
        self.envoy_started = True
        if self.supervisor.wait_ready([ENVOY_NAME], 30.0):
            raise StartError(f"Envoy did not become ready on {self.envoy.admin}/ready within 30s "
                             f"(see {self.supervisor.log_dir / 'envoy.log'})")

    def _wait_listeners(self, mesh: Mesh, listener_ports: dict, timeout: float = 10.0) -> None:
        wanted = set(listener_ports.values())
        if any(mesh.gateway_virtual_services(g) for g in mesh.gateways):
            wanted.add(self.config.gateway_port)
        deadline = time.monotonic() + timeout
        missing = wanted
        while time.monotonic() < deadline:
            try:
                missing = wanted - self.envoy.bound_ports()
            except OSError:
                missing = wanted
            if not missing:
                return
            time.sleep(0.1)
        raise StartError(f"Envoy has not bound listener port(s) {sorted(missing)} "
                         f"(see {self.supervisor.log_dir / 'envoy.log'})")

    # ---- status ---------------------------------------------------------------------

    def status(self) -> dict:
        with self.lock:
            services = []
            for service in sorted(self.mesh.services, key=lambda s: (s.namespace, s.name)):
                for port in service.ports:
                    local = self.listener_ports.get((service.fqdn, port.port))
                    services.append({"service": service.name, "namespace": service.namespace,
                                     "port": port.port, "listener": f"{self.config.listen_host}:{local}"})
            gateway_at = f"{self.config.listen_host}:{self.config.gateway_port}"
            gateways = [{"gateway": g.ref, "listener": gateway_at} for g in self.mesh.gateways]
            return {
                "workloads": sorted(self.supervisor.snapshot(), key=lambda row: row["name"]),
                "services": services,
                "gateways": gateways,
                "routes": describe_routes(self.mesh),
                "admin": self.envoy.admin,
                "warnings": list(self.warnings),
            }

    def _write_applied(self) -> None:
        """The current resource set, readable, in the state dir."""
        import yaml

        parts = [f"# {r.source}\n" + yaml.safe_dump(r.body, sort_keys=False) for r in self.resources.values()]
        path = self.config.state_dir / "applied.yaml"
        path.write_text("---\n".join(parts), encoding="utf-8")


def _keyed(resources: Iterable[Resource]) -> dict:
    keyed: dict = {}
    for resource in resources:
        keyed.pop(resource.key, None)
        keyed[resource.key] = resource
    return keyed


def _replicas(mesh: Mesh, key: tuple) -> int:
    deployment = next(d for d in mesh.deployments if (d.namespace, d.name) == key)
    return max(0, deployment.replicas or 0)


def log(text: str) -> None:
    sys.stderr.write(f"localmesh: {text}\n")
