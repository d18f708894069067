"""The routes in force, as short readable lines for `localmesh status`.

  advertisements: page-source=products -> v1 50%, v2 50%; * -> v1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from localmesh.envoy.names import cluster_name
from localmesh.model import HeaderMatch, HttpMatch, HttpRoute, Mesh, StringMatch, VirtualService


def _value(match: Optional[StringMatch]) -> str:
    if match is None:
        return " present"
    if match.kind == "exact":
        return f"={match.value}"
    if match.kind == "prefix":
        return f"={match.value}*"
    return f"~/{match.value}/"


def _match_text(match: HttpMatch) -> str:
    if match.is_catch_all:
        return "*"
    parts = []
    for name, field in (("uri", match.uri), ("method", match.method), ("authority", match.authority)):
        if field is not None:
            parts.append(f"{name}{_value(field)}")
    for header in match.headers:
        parts.append(f"{header.name}{_value(header.match)}")
    for header in match.without_headers:
        parts.append(_without(header))
    for param in match.query_params:
        parts.append(f"?{param.name}{_value(param.match)}")
    return " & ".join(parts) or "*"


def _without(header: HeaderMatch) -> str:
    return f"no {header.name}" if header.match is None else f"not {header.name}{_value(header.match)}"


def _destinations(route: HttpRoute, own_host: str) -> str:
    if not route.route:
        return "(no route)"
    weights = [d.weight if isinstance(d.weight, int) else 0 for d in route.route]
    total = sum(weights)
    texts = []
    for destination, weight in zip(route.route, weights):
        target = destination.destination
        name = target.subset or target.host
        if target.subset and target.fqdn != own_host:
            name = f"{target.host}/{target.subset}"
        if target.port:
            name += f":{target.port}"
        if len(route.route) > 1:
            share = 100.0 * weight / total if total else 0.0
            name += f" {share:g}%"
        texts.append(name)
    return ", ".join(texts)


def _extras(route: HttpRoute) -> str:
    extras = []
    if route.fault and route.fault.delay_seconds is not None:
        extras.append(f"delay {route.fault.delay_seconds:g}s on {route.fault.delay_percent:g}%")
    if route.fault and route.fault.abort_status is not None:
        extras.append(f"abort {route.fault.abort_status} on {route.fault.abort_percent:g}%")
    if route.timeout is not None:
        extras.append(f"timeout {route.timeout:g}s")
    if route.retries is not None:
        extras.append(f"retries {route.retries.attempts}")
    return f" [{', '.join(extras)}]" if extras else ""


def rules_text(vs: VirtualService, own_host: str) -> str:
    rules = []
    for route in vs.http:
        condition = " or ".join(_match_text(m) for m in route.matches) if route.matches else "*"
        rules.append(f"{condition} -> {_destinations(route, own_host)}{_extras(route)}")
    return "; ".join(rules) if rules else "(no http rules)"


def describe_routes(mesh: Mesh, load_balancers: Optional[Mapping[str, str]] = None) -> list[str]:
    """One line per Service (mesh routing) and per Gateway-bound VirtualService.

    load_balancers: cluster name -> the load balancer Envoy uses for it (from its admin API);
    a Service without a VirtualService names the one of its cluster."""
    load_balancers = load_balancers or {}
    lines = []
    for service in sorted(mesh.services, key=lambda s: (s.namespace, s.name)):
        vs = mesh.mesh_virtual_service_for(service.fqdn)
        if vs is not None:
            text = f"{rules_text(vs, service.fqdn)}  (VirtualService {vs.namespace}/{vs.name})"
        else:
            pods = mesh.pods_selected(service)
            names = ", ".join(d.name for d in pods) or "no Deployment"
            first = service.ports[0].port if service.ports else None
            balancer = load_balancers.get(cluster_name(first, None, service.fqdn), "load balancer unknown")
            text = f"* -> every ready pod of {names} ({balancer})"
        lines.append(f"{service.name}.{service.namespace}: {text}")
    for gateway in sorted(mesh.gateways, key=lambda g: g.ref):
        for vs in mesh.gateway_virtual_services(gateway):
            own = vs.host_fqdns[0] if vs.host_fqdns else ""
            hosts = ",".join(vs.hosts)
            lines.append(f"gateway {gateway.ref} ({hosts}): {rules_text(vs, own)}  (VirtualService "
                         f"{vs.namespace}/{vs.name})")
    return lines
