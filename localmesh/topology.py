"""What the Envoy builders need beyond the manifests: where each pod and listener lives.

The runtime fills a Topology from the processes it starts; `localmesh render` fills one from
a fixed plan. The builders in localmesh.envoy read it and never start anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

from localmesh.model import Mesh

GATEWAY_PORT = 8080
ADMIN_PORT = 15000
# Service ports below this are mapped up (unprivileged) by adding PRIVILEGED_PORT_OFFSET.
FIRST_UNPRIVILEGED_PORT = 1024
PRIVILEGED_PORT_OFFSET = 10000

ServicePortKey = tuple[str, int]  # (service fqdn, service port)


@dataclass(frozen=True)
class Endpoint:
    """One running pod (process) of a Deployment."""

    pod: str  # e.g. "advertisements-v2-0"
    namespace: str
    labels: Mapping[str, str]  # the pod template's labels
    host: str  # "127.0.0.1" locally, a container name in compose
    port: int  # the port the process listens on (its PORT)
    health_path: Optional[str] = None  # readiness probe path; None: always ready
    # A pod serving more than one port: ((Service targetPort as written, local port), ...).
    # A targetPort not listed here is served on `port`.
    target_ports: tuple[tuple[object, int], ...] = ()

    def port_for(self, target_port: object) -> int:
        """The local port that serves a Service's targetPort (number or container port name)."""
        return dict(self.target_ports).get(target_port, self.port)


@dataclass(frozen=True)
class TracingConfig:
    """Where Envoy sends Datadog spans, as Istio's sidecars do with the Datadog tracer."""

    agent_host: str = "127.0.0.1"
    agent_port: int = 8126
    env: str = "local"


@dataclass(frozen=True)
class Topology:
    endpoints: tuple[Endpoint, ...] = ()
    service_ports: Mapping[ServicePortKey, int] = field(default_factory=dict)  # -> local listener port
    listen_host: str = "127.0.0.1"
    gateway_port: int = GATEWAY_PORT
    admin_port: int = ADMIN_PORT
    tracing: Optional[TracingConfig] = None


def parse_host_port(text: str) -> tuple[str, int]:
    """'ads1:5002' -> ('ads1', 5002); ValueError unless HOST:PORT with a port from 1 to 65535.
    The last colon ends the host, so an IPv6 address keeps its own colons."""
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def default_listener_port(service_port: int) -> int:
    """Service port 5002 listens on 5002; port 80 on 10080 (no root needed)."""
    if service_port < FIRST_UNPRIVILEGED_PORT:
        return service_port + PRIVILEGED_PORT_OFFSET
    return service_port


def plan_service_ports(mesh: Mesh) -> dict[ServicePortKey, int]:
    """(service fqdn, port) -> listener port, by default_listener_port; clashes move up by one."""
    taken: set = set()
    plan: dict = {}
    for service in sorted(mesh.services, key=lambda s: (s.namespace, s.name)):
        for port in service.ports:
            local = default_listener_port(port.port)
            while local in taken:
                local += 1
            taken.add(local)
            plan[(service.fqdn, port.port)] = local
    return plan
