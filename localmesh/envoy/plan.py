"""A Topology for `localmesh render`: where each Deployment is served, without starting anything.

In docker-compose every Deployment is one container (its name is the host name) listening on its
container port; `--endpoint DEPLOYMENT=HOST:PORT` says otherwise for one Deployment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from localmesh.model import Deployment, Mesh
from localmesh.topology import Endpoint, Topology, parse_host_port, plan_service_ports

DEFAULT_HOST_TEMPLATE = "{name}"
DEFAULT_PORT = 80


def parse_endpoint(text: str) -> tuple[str, str, int]:
    """'advertisements-v1=ads1:5002' or 'ns3/advertisements-v1=ads1:5002' -> (key, host, port)."""
    key, sep, address = text.partition("=")
    example = "advertisements-v1=ads1:5002"
    error = ValueError(f"--endpoint {text!r}: expected DEPLOYMENT=HOST:PORT, e.g. {example}")
    if not sep or not key:
        raise error
    try:
        host, port = parse_host_port(address)
    except ValueError:
        raise error from None
    return key, host, port


def _serving_port(deployment: Deployment) -> Optional[int]:
    for container in deployment.containers:
        for port in container.ports:
            if isinstance(port.container_port, int):
                return port.container_port
    return None


def _readiness_path(deployment: Deployment) -> Optional[str]:
    for container in deployment.containers:
        if container.readiness is not None:
            return container.readiness.path
    return None


def render_topology(
    mesh: Mesh,
    endpoints: Optional[Mapping] = None,
    listen_host: str = "127.0.0.1",
    host_template: str = DEFAULT_HOST_TEMPLATE,
    **topology_fields: object,
) -> Topology:
    """One Endpoint per Deployment: endpoints maps 'name' or 'ns/name' to (host, port).

    Raises ValueError (one line) for an --endpoint naming no Deployment or a bad host template.
    """
    endpoints = dict(endpoints or {})
    known = {d.name for d in mesh.deployments} | {f"{d.namespace}/{d.name}" for d in mesh.deployments}
    for key in endpoints:
        if key not in known:
            raise ValueError(f"--endpoint {key}=...: no Deployment named {key!r} in the manifests")
    planned = []
    for deployment in sorted(mesh.deployments, key=lambda d: (d.namespace, d.name)):
        chosen = endpoints.get(f"{deployment.namespace}/{deployment.name}") or endpoints.get(deployment.name)
        if chosen is None:
            try:
                host = host_template.format(name=deployment.name, namespace=deployment.namespace)
            except (KeyError, IndexError, ValueError) as error:
                reason = f"--endpoint-host-template {host_template!r}: bad template ({error})"
                raise ValueError(reason) from None
            chosen = (host, _serving_port(deployment) or DEFAULT_PORT)
        planned.append(
            Endpoint(
                pod=deployment.name,
                namespace=deployment.namespace,
                labels=dict(deployment.pod_labels),
                host=chosen[0],
                port=chosen[1],
                health_path=_readiness_path(deployment),
            )
        )
    return Topology(
        endpoints=tuple(planned),
        service_ports=plan_service_ports(mesh),
        listen_host=listen_host,
        **topology_fields,
    )
