"""Which proxy namespace each local listener stands for, and which clusters that implies.

istiod gives every proxy the configuration its own namespace sees: the Services, VirtualServices
and DestinationRules exported there, and DestinationRules looked up in the proxy's namespace
first (pilot/pkg/model/push_context.go, Istio 1.29). localmesh runs one Envoy that plays the
ingress gateway (in istio-system, INGRESS_GATEWAY_NAMESPACE) and every sidecar:

- a Service's listener routes as its clients' namespace sees it. Its clients are the pods the
  Service does not select (none: its own namespace). When clients in several namespaces would
  see different routing, one listener cannot serve them all: it routes as one namespace sees
  it (the Service's own, else the first that sees the Service) and a warning names the field;
- a host's clusters carry the DestinationRule its own listener's namespace sees, under Istio's
  cluster names. A proxy namespace that sees another rule for the host (the gateway's, often)
  gets clusters of its own, named `<Istio's name>|<namespace>`; a host the proxy does not see
  at all gets a name no cluster has, so its requests get 503 (NC) as in Istio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from localmesh.envoy.names import cluster_name
from localmesh.envoy.warnings import Warnings
from localmesh.model import (
    EXPORT_TO_ANNOTATION,
    DestinationRule,
    Mesh,
    Service,
    VirtualService,
    labels_match,
    service_visible,
)
from localmesh.topology import Topology


def client_pods(mesh: Mesh, service: Service, topology: Topology) -> tuple[tuple[str, dict[str, str]], ...]:
    """(namespace, labels) of the pods that may call service: every pod (running, or a
    Deployment's template) it does not select, each distinct pair once."""
    found: dict = {}
    pods = [(e.namespace, dict(e.labels)) for e in topology.endpoints]
    pods += [(d.namespace, dict(d.pod_labels)) for d in mesh.deployments]
    for namespace, labels in pods:
        own = namespace == service.namespace and service.selector
        if not (own and labels_match(service.selector, labels)):
            found.setdefault((namespace, tuple(sorted(labels.items()))), (namespace, labels))
    return tuple(found.values())


def client_namespaces(mesh: Mesh, service: Service, topology: Topology) -> list[str]:
    """Namespaces of the pods that may call service, sorted; the Service's own namespace when
    there is no such pod."""
    return sorted({namespace for namespace, _ in client_pods(mesh, service, topology)}) or [service.namespace]


def _rule_key(rule: Optional[DestinationRule]) -> Optional[tuple]:
    return rule.merged_from if rule is not None else None


def _vs_text(vs: Optional[VirtualService]) -> str:
    return f"VirtualService {vs.namespace}/{vs.name}" if vs is not None else "no VirtualService"


def _rule_text(rule: Optional[DestinationRule]) -> str:
    return "DestinationRule " + "+".join(rule.merged_from) if rule is not None else "no DestinationRule"


def _destination_hosts(vs: Optional[VirtualService]) -> list:
    if vs is None:
        return []
    hosts = [d.destination.fqdn for rule in vs.http for d in rule.route]
    hosts += [m.destination.fqdn for rule in vs.http for m in rule.mirrors]
    return list(dict.fromkeys(hosts))


def _where(resource: object, export_to: tuple, annotation: bool = False) -> tuple:
    """The field that decides who sees a resource: its exportTo when written, else its namespace."""
    if annotation:
        return ("metadata", "annotations", EXPORT_TO_ANNOTATION) if export_to else ("metadata", "namespace")
    return ("spec", "exportTo") if export_to else ("metadata", "namespace")


def listener_namespace(mesh: Mesh, service: Service, topology: Topology, warnings: Warnings) -> str:
    """The namespace service's listener routes for; a warning where its clients' namespaces would
    see it differently."""
    namespaces = client_namespaces(mesh, service, topology)
    chosen_vs = {ns: mesh.mesh_virtual_service_for(service.fqdn, ns) for ns in namespaces}
    routed = [host for vs in chosen_vs.values() for host in _destination_hosts(vs)]
    hosts = list(dict.fromkeys([service.fqdn] + routed))
    seen = {
        ns: {
            "visible": service_visible(service, ns),
            "vs": chosen_vs[ns],
            "rules": {host: mesh.destination_rule_for(host, ns) for host in hosts},
        }
        for ns in namespaces
    }
    visible = [ns for ns in namespaces if seen[ns]["visible"]]
    if not visible:
        # Istio's sidecars there have no listener for it and pass requests straight to a pod.
        reason = (f"no client pod's namespace ({', '.join(namespaces)}) sees this Service: Istio's "
                  f"sidecars there send its requests straight to a pod, without routing; localmesh "
                  f"routes them as namespace {service.namespace} sees it")
        where = _where(service.resource, service.export_to, annotation=True)
        warnings.add(service.resource, where, reason)
        return service.namespace
    chosen = service.namespace if service.namespace in visible else visible[0]
    differing = _differences(service, seen)
    if not differing:
        return chosen
    listed = ", ".join(namespaces)
    outcome = (f"localmesh has one listener for all of them and routes every request as namespace "
               f"{chosen} sees it")
    for resource, path, what, texts in differing:
        detail = "; ".join(f"{ns}: {texts[ns]}" for ns in namespaces)
        reason = (f"Istio's sidecars in namespaces {listed} see different {what} for "
                  f"{service.fqdn} ({detail}); {outcome}")
        warnings.add(resource, path, reason)
    return chosen


def _differences(service: Service, seen: dict) -> list:
    """(resource, field path, what, {namespace: text}) for each part that not every namespace sees alike."""
    found: list = []
    views = list(seen.values())
    namespaces = list(seen)
    if len({v["visible"] for v in views}) > 1:
        texts = {ns: "exported" if seen[ns]["visible"] else "not exported (no listener there: requests "
                 "pass straight to a pod)" for ns in namespaces}
        where = _where(service.resource, service.export_to, annotation=True)
        found.append((service.resource, where, "Service visibility", texts))
    if len({id(v["vs"]) for v in views}) > 1:
        texts = {ns: _vs_text(seen[ns]["vs"]) for ns in namespaces}
        for vs in {id(v["vs"]): v["vs"] for v in views}.values():
            if vs is not None:
                found.append((vs.resource, _where(vs.resource, vs.export_to), "VirtualServices", texts))
    for host in views[0]["rules"]:
        rules = {ns: seen[ns]["rules"][host] for ns in namespaces}
        if len({_rule_key(r) for r in rules.values()}) <= 1:
            continue
        texts = {ns: _rule_text(r) for ns, r in rules.items()}
        for rule in {_rule_key(r): r for r in rules.values()}.values():
            for source in rule.merged if rule is not None else ():
                found.append((source.resource, _where(source.resource, source.export_to),
                              f"DestinationRules for {host}", texts))
    return found


@dataclass
class ClusterPlan:
    """Cluster names by proxy namespace, and the clusters beyond each host's own set that routes
    name (host fqdn, namespace)."""

    mesh: Mesh
    listener_namespaces: dict = field(default_factory=dict)  # service fqdn -> namespace
    extra: dict = field(default_factory=dict)  # (fqdn, namespace) -> None, in first-use order
    _rules: dict = field(default_factory=dict)

    def primary_namespace(self, service: Service) -> str:
        return self.listener_namespaces.get(service.fqdn, service.namespace)

    def rule(self, fqdn: str, namespace: str) -> Optional[DestinationRule]:
        key = (fqdn, namespace)
        if key not in self._rules:
            self._rules[key] = self.mesh.destination_rule_for(fqdn, namespace)
        return self._rules[key]

    def name(self, port: int, subset: Optional[str], fqdn: str, namespace: str) -> str:
        """The cluster a proxy in namespace sends (port, subset, fqdn) to."""
        standard = cluster_name(port, subset, fqdn)
        service = self.mesh.service_for(fqdn)
        if service is None:
            return standard  # no Service, no cluster: 503 (NC)
        if not service_visible(service, namespace):
            return f"{standard}|{namespace}"  # never built: the proxy has no such cluster, 503 (NC)
        primary = self.primary_namespace(service)
        same_rule = _rule_key(self.rule(fqdn, namespace)) == _rule_key(self.rule(fqdn, primary))
        if namespace == primary or same_rule:
            return standard
        self.extra.setdefault((fqdn, namespace), None)
        return f"{standard}|{namespace}"
