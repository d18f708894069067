"""The control loop: desired resources in, running pods and an Envoy programmed to match.

Every change goes so that no request in flight fails:
  1. a new Deployment starts its pods, and they pass their readiness probes;
  2. Envoy gets every cluster old and new routes name (EDS, then CDS), then the new routes
     and listeners (RDS, LDS);
  3. every other Deployment rolls by its strategy (RollingUpdate or Recreate): a pod leaves
     the endpoint sets (EDS) and Envoy drains it before it is stopped (SIGTERM, SIGKILL
     after its grace period);
  4. clusters nothing names any more go (CDS).
Endpoints are the pods the kubelet part finds ready: a readiness change rewrites only the
EDS files, so clusters keep their stats, outlier state and connection pools.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, TextIO

from localmesh.envoy import EnvoyResources, build_bootstrap, build_resources, discovery_files
from localmesh.envoy.endpoints import eds_resources
from localmesh.loader import Resource, ResourceKey, latest_by_key
from localmesh.model import Mesh, Probe, build_mesh
from localmesh.runtime.diff import kubectl_name, resource_changes
from localmesh.runtime.envoybin import find_envoy
from localmesh.runtime.envoyctl import EnvoyControl, EnvoyError, file_kind
from localmesh.runtime.pods import PodSpec, pod_name, pod_spec, pod_template
from localmesh.runtime.ports import (
    GATEWAY_NEED,
    check_ports_free,
    describe_port_needs,
    free_port,
    plan_listener_ports,
)
from localmesh.runtime.rollout import PodState, Strategy, rollout_step, strategy_of
from localmesh.runtime.routetext import describe_routes
from localmesh.runtime.servicenames import ServiceAddressBook
from localmesh.runtime.supervisor import ProbeSpec, ProcessSpec, Supervisor
from localmesh.runtime.usage import group_usage
from localmesh.topology import ADMIN_PORT, GATEWAY_PORT, Endpoint, Topology
from localmesh.tracing.agentplan import TEST_AGENT_NAME, TraceAgentPlan, env_label, test_agent_command

ENVOY_NAME = "envoy"
# Envoy and the trace agent are probed often: `up` waits for them before anything else.
INFRA_PROBE_PERIOD = 0.25
# How long a rollout waits for a readiness change before it looks again.
TICK_WAIT = 0.5


@dataclass
class RuntimeConfig:
    state_dir: Path
    venv_bin: Path  # gunicorn, ddtrace-run and ddapm-test-agent come from here
    # Where image names map to folders (pods.service_folder); None: the nearest services/ above
    # the manifests, which `up` finds (pods.find_services_dir).
    services_dir: Optional[Path] = None
    envoy_bin: Optional[str] = None  # None: the one envoybin.find_envoy picks
    gateway_port: int = GATEWAY_PORT
    admin_port: int = ADMIN_PORT
    listen_host: str = "127.0.0.1"
    free_listener_ports: bool = False  # tests: never collide with a running `make run`
    ready_timeout: float = 60.0
    drain_seconds: float = 1.0
    envoy_log_level: str = "warn"
    envoy_concurrency: int = 2
    echo: Optional[TextIO] = field(default=None, repr=False)
    # None: pods keep their manifest's DD_* settings and Envoy traces nothing.
    trace_agent: Optional[TraceAgentPlan] = None
    # Told of every process group started (True) and reaped (False): the orphan guard's list.
    on_group: Optional[Callable[[int, bool], None]] = field(default=None, repr=False)


class StartError(Exception):
    """The mesh cannot start or change as asked; the message is one line."""


class Runtime:
    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.resources: dict[ResourceKey, Resource] = {}  # in creation order
        self.mesh = Mesh()
        self.listener_ports: dict[tuple[str, int], int] = {}  # (service fqdn, port) -> listener port
        self.pods: dict[str, PodSpec] = {}  # by name: every pod running (ready or not)
        self._leaving: set[str] = set()  # pods taken out of the endpoint sets, about to stop
        self._pods_lock = threading.RLock()
        self._eds_lock = threading.Lock()
        self._eds_meshes: list = []  # (mesh, listener ports) whose clusters need endpoint files
        self.warnings: list[str] = []
        self.supervisor = Supervisor(config.state_dir / "logs", echo=config.echo,
                                     on_ready_change=self._on_ready_change, on_group=config.on_group,
                                     before_kill=self._before_kill)
        self.envoy = EnvoyControl(config.state_dir / "envoy", config.listen_host, config.admin_port)
        self.envoy.clear()
        self.envoy_started = False

    # ---- commands -------------------------------------------------------------------

    def start(self, resources: Iterable[Resource]) -> list[str]:
        """Bring up the first set; on any failure everything started is stopped again."""
        with self.lock:
            try:
                self._start_trace_agent()
                return self._reconcile(latest_by_key(resources))
            except BaseException:
                self.shutdown()
                raise

    def apply(self, resources: Iterable[Resource]) -> list[str]:
        with self.lock:
            incoming = latest_by_key(resources)
            changes = resource_changes(
                {k: r.body for k, r in self.resources.items()}, {k: r.body for k, r in incoming.items()}
            )
            return changes + self._reconcile(latest_by_key([*self.resources.values(), *incoming.values()]))

    def delete(self, resources: Iterable[Resource]) -> tuple[list[str], bool]:
        """(lines, all found): resources not running are reported 'not found', like kubectl."""
        with self.lock:
            remaining = dict(self.resources)
            lines, found_all = [], True
            for key in latest_by_key(resources):
                if remaining.pop(key, None) is None:
                    lines.append(f"{kubectl_name(key)} not found (namespace {key[1]})")
                    found_all = False
                else:
                    lines.append(f"{kubectl_name(key)} deleted")
            return lines + self._reconcile(remaining), found_all

    def candidate_set(self, resources: Iterable[Resource], deleting: bool = False) -> list[Resource]:
        """The resource list an apply (or delete) of resources would leave, for the analyzer."""
        with self.lock:
            if deleting:
                gone = latest_by_key(resources)
                return [resource for key, resource in self.resources.items() if key not in gone]
            return list(latest_by_key([*self.resources.values(), *resources]).values())

    def _start_trace_agent(self) -> None:
        """ddapm-test-agent, supervised like a pod, when the plan says the mesh brings its own."""
        plan = self.config.trace_agent
        if plan is None or plan.mode != "start":
            return
        command = test_agent_command(self.config.venv_bin, plan, lambda: free_port(self.config.listen_host))
        self.supervisor.start(ProcessSpec(
            name=TEST_AGENT_NAME, command=command, cwd=str(self.config.state_dir),
            env={"PATH": str(self.config.venv_bin), "HOME": str(self.config.state_dir)}, grace_seconds=5.0,
            readiness=ProbeSpec(f"{plan.url}/info", period=INFRA_PROBE_PERIOD),
            info={"kind": "trace-agent", "port": plan.port},
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
        listener_ports = plan_listener_ports(
            mesh, self.listener_ports, free_port if self.config.free_listener_ports else None,
            reserved=(self.config.gateway_port, self.config.admin_port),
        )
        self._check_new_ports(mesh, listener_ports)
        addresses = ServiceAddressBook(mesh, listener_ports, self.config.listen_host)
        templates, strategies, desired = {}, {}, {}
        for deployment in mesh.deployments:
            key = (deployment.namespace, deployment.name)
            templates[key] = pod_template(deployment, mesh, self.config.services_dir)
            strategies[key] = strategy_of(deployment)
            desired[key] = (templates[key].fingerprint(addresses), max(0, deployment.replicas or 0))
        lines: list = []
        # 1. A Deployment without pods starts them all first: the new routes may name them.
        fresh = [key for key in desired if not self._pods_of(key)]
        started = self._start_pods(
            [(key, desired[key][0], index) for key in fresh for index in range(desired[key][1])],
            templates, addresses)
        lines += self._wait_ready(started)
        # 2. Envoy: the clusters old and new routes name, then the new routes and listeners.
        try:
            self._program_envoy(mesh, listener_ports)
        except EnvoyError as error:
            # Put Envoy back on the previous set, then drop the new pods; the old set keeps serving.
            if self.envoy_started:
                self._eds_meshes = [(self.mesh, self.listener_ports)]
                self.envoy.write(self._envoy_files(self.mesh, self.listener_ports))
            self._retire(started, grace=5.0, announce=False)
            raise StartError(f"{error}; the previous configuration is back in place") from None
        lines += [f"pod/{pod.name} started (port {pod.port})" for pod in started]
        self.resources = dict(resources)
        self.mesh = mesh
        self.listener_ports = listener_ports
        # 3. Every other Deployment rolls to its template and replica count by its strategy;
        #    a deleted one scales to nothing.
        rolling = set(desired) - set(fresh) | {(p.namespace, p.deployment) for p in self._all_pods()}
        for key in sorted(rolling - set(fresh)):
            fingerprint, replicas = desired.get(key, ("", 0))
            strategy = strategies.get(key, Strategy())
            lines += self._roll(key, fingerprint, replicas, strategy, templates, addresses)
        # 4. Only what the new set needs.
        self._eds_meshes = [(mesh, listener_ports)]
        files = self._envoy_files(mesh, listener_ports)
        self.envoy.wait_applied(self.envoy.write(files), files)
        self.envoy.remove_stale(set(files))
        self._write_applied()
        return lines + self.warnings

    def _all_pods(self) -> list:
        with self._pods_lock:
            return list(self.pods.values())

    def _pods_of(self, key: tuple) -> list:
        return [p for p in self._all_pods() if (p.namespace, p.deployment) == key]

    def _wait_ready(self, pods: list) -> list:
        not_ready = self.supervisor.wait_ready([p.name for p in pods], self.config.ready_timeout)
        return [f"warning: pod {name} not ready after {self.config.ready_timeout:g}s; "
                "Envoy routes to it once its readiness probe passes" for name in not_ready]

    def _roll(self, key: tuple, fingerprint: str, replicas: int, strategy: Strategy,
              templates: dict, addresses: ServiceAddressBook) -> list:
        """Steps of the rollout until the Deployment has `replicas` ready pods of its template."""
        lines: list = []
        progress = time.monotonic()
        while True:
            ready = self.supervisor.ready_names()
            pods = self._pods_of(key)
            states = [PodState(p.name, p.fingerprint, p.index, p.name in ready) for p in pods]
            step = rollout_step(states, fingerprint, replicas, strategy)
            if step.empty:
                new = [s for s in states if s.fingerprint == fingerprint and s.index < replicas]
                if len(states) == len(new) == replicas and all(s.ready for s in new):
                    return lines
                if time.monotonic() - progress > self.config.ready_timeout:
                    waiting = ", ".join(s.name for s in new if not s.ready)
                    lines.append(f"warning: deployment {key[1]}: rollout stuck, pod(s) {waiting} not ready "
                                 f"after {self.config.ready_timeout:g}s; the old pods keep serving")
                    return lines
                self.supervisor.wait_change(ready, TICK_WAIT)
                continue
            started = self._start_pods([(key, fingerprint, index) for index in step.start], templates,
                                       addresses)
            lines += [f"pod/{pod.name} started (port {pod.port})" for pod in started]
            if step.stop:
                with self._pods_lock:
                    leaving = [self.pods[name] for name in step.stop]
                lines += self._retire(leaving)
            progress = time.monotonic()

    def _retire(self, pods: list, grace: Optional[float] = None, announce: bool = True) -> list:
        """Take pods out of every endpoint set, let Envoy drain them, then stop them."""
        if not pods:
            return []
        names = [p.name for p in pods]
        with self._pods_lock:
            self._leaving.update(names)
        if self.envoy_started:
            envoy_up = self.supervisor.is_ready(ENVOY_NAME)
            self._publish_endpoints(wait=envoy_up)
            if envoy_up:
                time.sleep(self.config.drain_seconds)
        self.supervisor.stop(names, grace)
        with self._pods_lock:
            for name in names:
                self.pods.pop(name, None)
                self._leaving.discard(name)
        return [f"pod/{name} stopped" for name in names] if announce else []

    # ---- endpoints ------------------------------------------------------------------

    def _serving(self) -> list:
        """The pods in the endpoint sets: ready, and not on their way out."""
        ready = self.supervisor.ready_names()
        with self._pods_lock:
            return [p for p in self.pods.values() if p.name in ready and p.name not in self._leaving]

    def _envoy_files(self, mesh: Mesh, listener_ports: dict, clusters_from: Optional[list] = None) -> dict:
        """Every discovery file for mesh: clusters by EDS, endpoints the serving pods.

        clusters_from: (mesh, listener ports) pairs whose clusters are all kept too (a change
        in progress: old routes still name their clusters)."""
        config_dir = str(self.envoy.config_dir)
        serving = self._serving()
        target = self._build(mesh, self._topology(serving, listener_ports))
        self.warnings = list(target.warnings)
        clusters: dict = {}
        for other_mesh, other_ports in clusters_from or []:
            built = self._build(other_mesh, self._topology(serving, other_ports))
            clusters.update({c["name"]: c for c in built.clusters})
        clusters.update({c["name"]: c for c in target.clusters})
        converted, endpoint_files = eds_resources(list(clusters.values()), config_dir)
        files = discovery_files(replace(target, clusters=converted), config_dir)
        return {**endpoint_files, **files}

    def _endpoint_files(self) -> dict:
        files: dict = {}
        for mesh, listener_ports in self._eds_meshes:
            built = self._envoy_files(mesh, listener_ports)
            files.update({name: body for name, body in built.items() if file_kind(name) == "eds"})
        return files

    def _publish_endpoints(self, wait: bool = False) -> None:
        """Write the endpoint files for the pods serving now; with wait, until Envoy holds them."""
        with self._eds_lock:
            files = self._endpoint_files()
            written = self.envoy.write(files, only={"eds"})
        if wait and written:
            self.envoy.wait_applied(written, files)

    def _on_ready_change(self, name: str, ready: bool) -> None:
        """The kubelet's readiness reaches the endpoint sets, as through an EndpointSlice."""
        with self._pods_lock:
            if name not in self.pods:
                return
        try:
            self._publish_endpoints()
        except Exception as error:  # noqa: BLE001 - a failed write must not end the supervisor's thread
            log(f"updating endpoints after {name} became {'ready' if ready else 'not ready'}: {error}")

    def _before_kill(self, name: str) -> None:
        """A pod failed its liveness probe: out of the endpoint sets and drained, then killed."""
        with self._pods_lock:
            if name not in self.pods:
                return
        try:
            self._publish_endpoints(wait=self.supervisor.is_ready(ENVOY_NAME))
            time.sleep(self.config.drain_seconds)
        except Exception as error:  # noqa: BLE001 - the kill must go ahead whatever happened here
            log(f"taking {name} out of the endpoints before its restart: {error}")

    # ---- pods -----------------------------------------------------------------------

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
            with self._pods_lock:
                self.pods[spec.name] = spec
            self.supervisor.start(self._process_spec(spec))
            started.append(spec)
        return started

    def _process_spec(self, pod: PodSpec) -> ProcessSpec:
        base = f"http://{self.config.listen_host}:{pod.port}"
        return ProcessSpec(
            name=pod.name, command=pod.command, cwd=pod.cwd, env=pod.env, grace_seconds=pod.grace_seconds,
            readiness=_probe_spec(base, pod.readiness), liveness=_probe_spec(base, pod.liveness),
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

    def _program_envoy(self, mesh: Mesh, listener_ports: dict) -> None:
        if not self.envoy_started:
            self._eds_meshes = [(mesh, listener_ports)]
            self.envoy.write(self._envoy_files(mesh, listener_ports))
            self._start_envoy(self._topology(self._serving(), listener_ports))
            self._wait_listeners(mesh, listener_ports)
            return
        # Endpoints and clusters for what the old and the new routes name (EDS, CDS) ...
        self._eds_meshes = [(self.mesh, self.listener_ports), (mesh, listener_ports)]
        before = (self.mesh, self.listener_ports)
        files = self._envoy_files(mesh, listener_ports, clusters_from=[before])
        with self._eds_lock:
            files.update(self._endpoint_files())
            written = self.envoy.write(files, only={"eds", "cds"})
        self.envoy.wait_applied(written, files)
        # ... then the new routes and listeners (RDS, LDS).
        self.envoy.wait_applied(self.envoy.write(files, only={"rds", "lds"}), files)
        self._wait_listeners(mesh, listener_ports)

    def _start_envoy(self, topology: Topology) -> None:
        bootstrap = build_bootstrap(topology, str(self.envoy.config_dir))
        path = self.envoy.write_bootstrap(bootstrap)
        command = (
            self.config.envoy_bin or find_envoy(self.config.venv_bin), "-c", str(path),
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
            readiness=ProbeSpec(f"{self.envoy.admin}/ready", period=INFRA_PROBE_PERIOD),
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

    def status(self, usage: bool = True) -> dict:
        """What runs, where it listens and how Envoy balances; usage: CPU and memory too."""
        # Without the change lock: status answers during an apply (a rollout takes a while).
        mesh, listener_ports = self.mesh, dict(self.listener_ports)
        services = []
        for service in sorted(mesh.services, key=lambda s: (s.namespace, s.name)):
            for port in service.ports:
                local = listener_ports.get((service.fqdn, port.port))
                services.append({"service": service.name, "namespace": service.namespace,
                                 "port": port.port, "listener": f"{self.config.listen_host}:{local}"})
        gateway_at = f"{self.config.listen_host}:{self.config.gateway_port}"
        gateways = [{"gateway": g.ref, "listener": gateway_at} for g in mesh.gateways]
        try:
            balancers = self.envoy.cluster_policies()
            endpoints = self.envoy.accepted_endpoints()
        except (OSError, ValueError):
            balancers, endpoints = {}, {}  # Envoy is restarting: nothing to read now
        clusters = [{"cluster": name, "load_balancer": balancer, "endpoints": len(endpoints.get(name, []))}
                    for name, balancer in sorted(balancers.items())]
        workloads = sorted(self.supervisor.snapshot(), key=lambda row: row["name"])
        measured = group_usage([row["pid"] for row in workloads if row.get("pid")]) if usage else {}
        for row in workloads:
            row.update(measured.get(row.get("pid"), {"cpu_percent": None, "memory_bytes": None}))
        return {
            "workloads": workloads,
            "services": services,
            "gateways": gateways,
            "clusters": clusters,
            "routes": describe_routes(mesh, balancers),
            "admin": self.envoy.admin,
            "warnings": list(self.warnings),
        }

    def _write_applied(self) -> None:
        """The current resource set, readable, in the state dir."""
        import yaml

        parts = [f"# {r.source}\n" + yaml.safe_dump(r.body, sort_keys=False) for r in self.resources.values()]
        path = self.config.state_dir / "applied.yaml"
        path.write_text("---\n".join(parts), encoding="utf-8")


def _probe_spec(base_url: str, probe: Optional[Probe]) -> Optional[ProbeSpec]:
    """A manifest probe as the supervisor runs it, against the pod's own port."""
    if probe is None:
        return None
    return ProbeSpec(url=base_url + probe.path, initial_delay=probe.initial_delay_seconds,
                     period=probe.period_seconds, timeout=probe.timeout_seconds,
                     success_threshold=probe.success_threshold, failure_threshold=probe.failure_threshold)


def log(text: str) -> None:
    sys.stderr.write(f"localmesh: {text}\n")
