"""Host names as istioctl's analyzers complete them, and the services a VirtualService or
DestinationRule can reach: ServiceEntry hosts and Kubernetes Services, each visible in the
namespaces its `exportTo` names (pkg/config/analysis/analyzers/util in Istio 1.29).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from localmesh.analyze.cluster import Cluster
from localmesh.fields import as_dict, as_list
from localmesh.hostnames import is_wildcard
from localmesh.model import CLUSTER_DOMAIN, EXPORT_PRIVATE, EXPORT_PUBLIC, EXPORT_TO_ANNOTATION

_SERVICE_FQDN = re.compile(r"^(.+)\.(.+)\.svc\.cluster\.local$")


def to_fqdn(namespace: str, host: str) -> str:
    """A short name (no dot, not a wildcard) completed with the namespace; anything else as is.
    istioctl's ConvertHostToFQDN: unlike istiod's routing (model.resolve_host) it also completes
    an empty host or an IPv6 address, as the analyzers do."""
    if host.startswith("*") or "." in host:
        return host
    return f"{host}.{namespace}.{CLUSTER_DOMAIN}"


def service_name_of(default_namespace: str, host: str) -> tuple[str, str]:
    """(namespace, name) a destination host names: <name>.<namespace>.svc.cluster.local, or a short
    name in default_namespace. Any other host gives the host itself in default_namespace."""
    found = _SERVICE_FQDN.match(host)
    if found:
        return found.group(2), found.group(1)
    return default_namespace, host


@dataclass
class ServiceHost:
    """A destination as the analyzers see it: a ServiceEntry, or a Service turned into one."""

    ports: list  # port numbers (as written), in declared order
    workload_labels: dict[str, str] = field(default_factory=dict)


class ServiceRegistry:
    """Every host a destination can name, keyed by (visibility scope, FQDN), as istioctl builds it:
    ServiceEntries first, then Services (a Service replaces a ServiceEntry with the same key)."""

    def __init__(self, cluster: Cluster) -> None:
        self.by_scope: dict = {}
        for entry in cluster.of("networking.istio.io", "ServiceEntry"):
            spec = entry.spec
            ports = [as_dict(p).get("number") for p in as_list(spec.get("ports"))]
            selector = as_dict(as_dict(spec.get("workloadSelector")).get("labels"))
            target = ServiceHost(ports=ports, workload_labels={str(k): str(v) for k, v in selector.items()})
            export_to = [str(e) for e in as_list(spec.get("exportTo"))]
            for host in (str(h) for h in as_list(spec.get("hosts"))):
                for scope in _entry_scopes(export_to, entry.namespace):
                    self.by_scope[(scope, to_fqdn(entry.namespace, host))] = target
        for service in cluster.of("", "Service"):
            ports = [as_dict(p).get("port") for p in as_list(service.spec.get("ports"))]
            target = ServiceHost(ports=ports)
            annotation = service.annotations.get(EXPORT_TO_ANNOTATION, "")
            for scope in _annotation_scopes(annotation, service.namespace):
                self.by_scope[(scope, to_fqdn(service.namespace, service.name))] = target

    def lookup(self, source_namespace: str, export_to: list[str], host: str) -> Optional[ServiceHost]:
        """The service a host names, seen from a resource in source_namespace with that exportTo."""
        fqdn = to_fqdn(source_namespace, host)
        found = self.by_scope.get((EXPORT_PUBLIC, fqdn))
        if found is not None:
            return found
        scopes = [source_namespace] if not export_to else [
            source_namespace if scope == EXPORT_PRIVATE else scope for scope in export_to
        ]
        for scope in scopes:
            found = self.by_scope.get((scope, fqdn))
            if found is not None:
                return found
        # Wildcard entries last: visible to all, or declared for this very namespace.
        for (scope, entry_host), target in self.by_scope.items():
            if not is_wildcard(entry_host) or scope not in (EXPORT_PUBLIC, source_namespace):
                continue
            if host.removeprefix("*").endswith(entry_host[1:]):
                return target
        return None


def _entry_scopes(export_to: list, namespace: str) -> list:
    """ServiceEntry exportTo as scopes: none or '*' -> all; '.' -> its own namespace."""
    if not export_to:
        return [EXPORT_PUBLIC]
    scopes = []
    for scope in export_to:
        if scope == EXPORT_PUBLIC:
            scopes.append(EXPORT_PUBLIC)
            break
        scopes.append(namespace if scope == EXPORT_PRIVATE else scope)
    return scopes


def _annotation_scopes(annotation: str, namespace: str) -> list:
    """The Service annotation networking.istio.io/exportTo ('a,b,.') as scopes; unset -> all."""
    if annotation == "":
        return [EXPORT_PUBLIC]
    scopes = []
    for scope in annotation.split(","):
        scope = scope.strip()
        scopes.append(namespace if scope == EXPORT_PRIVATE else scope)
    return scopes
