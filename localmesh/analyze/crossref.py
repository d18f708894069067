"""Cross-reference checks over the whole set of files, as `istioctl analyze` makes them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from localmesh.analyze.meshview import host_matches, service_entry_hosts
from localmesh.analyze.messages import message
from localmesh.model import Mesh, VirtualService, labels_match, resolve_host

# Istio's protocol prefixes for Service port names ("http", "http-web", "grpc-web", ...).
_PORT_NAME = re.compile(r"^(http|http2|https|grpc|grpc-web|tcp|tls|mongo|redis|mysql|udp)(-.*)?$")


def check_cross_references(mesh: Mesh) -> list:
    found: list = []
    for vs in mesh.virtual_services:
        found += _destinations(mesh, vs)
        found += _gateways(mesh, vs)
        found += _unreachable_rules(vs)
    found += _conflicting_mesh_hosts(mesh)
    found += _destination_rules(mesh)
    found += _port_names(mesh)
    return found


def _raw_destinations(vs: VirtualService) -> Iterator:
    """(field path, destination dict) of every route and mirror destination, http, tcp and tls."""
    spec = vs.resource.spec
    for kind in ("http", "tcp", "tls"):
        rules = spec.get(kind)
        for r_index, rule in enumerate(rules if isinstance(rules, list) else []):
            rule = rule if isinstance(rule, dict) else {}
            routes = rule.get("route")
            for index, route in enumerate(routes if isinstance(routes, list) else []):
                destination = route.get("destination") if isinstance(route, dict) else None
                if isinstance(destination, dict):
                    yield ("spec", kind, r_index, "route", index, "destination"), destination
            if isinstance(rule.get("mirror"), dict):
                yield ("spec", kind, r_index, "mirror"), rule["mirror"]


def _destinations(mesh: Mesh, vs: VirtualService) -> list:
    found = []
    entries = service_entry_hosts(mesh)
    resource = vs.resource
    for path, destination in _raw_destinations(vs):
        host = str(destination.get("host", ""))
        fqdn = resolve_host(host, vs.namespace)
        service = mesh.service_for(fqdn)
        if service is None:
            if not any(host_matches(entry, fqdn) for entry in entries):
                found.append(
                    message("IST0101", resource, (*path, "host"), f'Referenced host not found: "{host}"')
                )
            continue
        port_spec = destination.get("port")
        port = port_spec.get("number") if isinstance(port_spec, dict) else None
        if port is None and len(service.ports) > 1:
            numbers = " ".join(str(p.port) for p in service.ports)
            found.append(message(
                "IST0112", resource, path,
                f'This VirtualService routes to a service "{host}" that exposes multiple ports [{numbers}].'
                " Specifying a port in the destination is required to disambiguate.",
            ))
        elif port is not None and service.port(port) is None:
            found.append(message(
                "IST0101", resource, (*path, "port", "number"),
                f'Referenced host:port not found: "{host}:{port}"',
            ))
        subset = destination.get("subset")
        if subset is not None:
            rules = [r for r in mesh.destination_rules if r.fqdn == fqdn]
            if not any(rule.subset(str(subset)) for rule in rules):
                found.append(message(
                    "IST0101", resource, (*path, "subset"),
                    f'Referenced host+subset in destinationrule not found: "{host}+{subset}"',
                ))
    return found


def _gateway_ref(vs: VirtualService, name: str) -> str:
    return name if "/" in name else f"{vs.namespace}/{name}"


def _gateways(mesh: Mesh, vs: VirtualService) -> list:
    found = []
    gateways = {g.ref: g for g in mesh.gateways}
    for index, name in enumerate(vs.gateways):
        if name == "mesh":
            continue
        gateway = gateways.get(_gateway_ref(vs, name))
        path = ("spec", "gateways", index)
        if gateway is None:
            found.append(message("IST0101", vs.resource, path, f'Referenced gateway not found: "{name}"'))
            continue
        served = [
            host for server in gateway.servers for host in server.hosts
            if _gateway_host_visible(host, gateway.namespace, vs.namespace)
        ]
        for h_index, host in enumerate(vs.hosts):
            if not any(_hosts_intersect(_gateway_host_name(g), host) for g in served):
                found.append(message(
                    "IST0132", vs.resource, ("spec", "hosts", h_index),
                    f"one or more host [{host}] defined in VirtualService {vs.namespace}/{vs.name}"
                    f" not found in Gateway {gateway.ref}.",
                ))
    return found


def _gateway_host_name(host: str) -> str:
    return host.split("/", 1)[1] if "/" in host else host


def _gateway_host_visible(host: str, gateway_ns: str, vs_ns: str) -> bool:
    """A Gateway host 'ns/host' only admits VirtualServices of ns ('.' its own, '*' any)."""
    if "/" not in host:
        return True
    namespace = host.split("/", 1)[0]
    return namespace == "*" or namespace == vs_ns or (namespace == "." and gateway_ns == vs_ns)


def _hosts_intersect(a: str, b: str) -> bool:
    return host_matches(a, b) or host_matches(b, a)


def _conflicting_mesh_hosts(mesh: Mesh) -> list:
    by_host: dict = {}
    for vs in mesh.virtual_services:
        if not vs.applies_to_mesh:
            continue
        for index, fqdn in enumerate(vs.host_fqdns):
            by_host.setdefault(fqdn, []).append((vs, index))
    found = []
    for fqdn, owners in by_host.items():
        names = sorted({f"{vs.namespace}/{vs.name}" for vs, _ in owners})
        if len(names) < 2:
            continue
        for vs, index in owners:
            found.append(message(
                "IST0109", vs.resource, ("spec", "hosts", index),
                f"The VirtualServices {','.join(names)} associated with mesh gateway define the same host"
                f" {fqdn} which can lead to undefined behavior. This can be fixed by merging the"
                " conflicting VirtualServices into a single resource.",
            ))
    return found


def _match_key(raw: dict) -> str:
    return json.dumps({k: v for k, v in raw.items() if k != "name"}, sort_keys=True, default=str)


def _unreachable_rules(vs: VirtualService) -> list:
    """IST0130 for rules that can never match, IST0131 for matches repeated from earlier rules."""
    found = []
    catch_all = None  # label of the first rule that matches every request
    seen: dict = {}  # match key -> label of the rule that used it first
    for index, rule in enumerate(vs.http):
        label = rule.name or f"#{index}"
        if catch_all is not None:
            found.append(message(
                "IST0130", vs.resource, rule.path,
                f"VirtualService rule {label} not used (rule {catch_all} before it matches every request;"
                " only the last rule can be a catch-all).",
            ))
            continue
        keys = [_match_key(m.raw) for m in rule.matches]
        repeated = [(i, m, seen[k]) for i, (m, k) in enumerate(zip(rule.matches, keys)) if k in seen]
        if rule.matches and len(repeated) == len(rule.matches):
            found.append(message(
                "IST0130", vs.resource, rule.path,
                f"VirtualService rule {label} not used (all matches used by prior rules).",
            ))
        else:
            for m_index, match, prior in repeated:
                match_label = match.raw.get("name") or f"#{m_index}"
                found.append(message(
                    "IST0131", vs.resource, match.path,
                    f"VirtualService rule {label} match {match_label} is not used"
                    f" (duplicate/overlapping match in rule {prior}).",
                ))
        for key in keys:
            seen.setdefault(key, label)
        if rule.is_catch_all:
            catch_all = label
    return found


def _destination_rules(mesh: Mesh) -> list:
    found = []
    entries = service_entry_hosts(mesh)
    for rule in mesh.destination_rules:
        service = mesh.service_for(rule.fqdn)
        if service is None:
            if not any(host_matches(entry, rule.fqdn) for entry in entries):
                found.append(message(
                    "IST0174", rule.resource, ("spec", "host"),
                    f"The host {rule.host} defined in the DestinationRule does not match any services"
                    " in the mesh.",
                ))
            continue
        for subset in rule.subsets:
            selector = {**service.selector, **subset.labels}
            if not any(
                d.namespace == service.namespace and labels_match(selector, d.pod_labels)
                for d in mesh.deployments
            ):
                found.append(message(
                    "IST0173", rule.resource, (*subset.path, "name"),
                    f"The Subset {subset.name} defined in the DestinationRule does not select any pods"
                    f" (Service {service.name} selector plus subset labels {selector}),"
                    " which may lead to 503 UH (NoHealthyUpstream).",
                ))
    return found


def _port_names(mesh: Mesh) -> list:
    found = []
    for service in mesh.services:
        for index, port in enumerate(service.ports):
            if port.app_protocol or _PORT_NAME.match(str(port.name or "")):
                continue
            found.append(message(
                "IST0118", service.resource, ("spec", "ports", index, "name") if port.name else
                ("spec", "ports", index),
                f"Port name {port.name or '(unnamed)'} (port: {port.port}, targetPort: {port.target_port})"
                " doesn't follow the naming convention of Istio port.",
            ))
    return found
