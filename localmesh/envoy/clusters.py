"""Envoy clusters: one per Service port, one per DestinationRule subset and port."""

from __future__ import annotations

import ipaddress
from collections import Counter
from typing import Optional

from localmesh.envoy.names import DATADOG_CLUSTER, cluster_name, duration
from localmesh.envoy.policy import cluster_policy, policy_in_force, warn_unknown_policy_fields
from localmesh.envoy.views import ClusterPlan
from localmesh.envoy.warnings import Warnings
from localmesh.model import DestinationRule, Mesh, Service, ServicePort, labels_match
from localmesh.topology import Endpoint, Topology

CONNECT_TIMEOUT = 10.0  # Istio's default connectTimeout
# Readiness: probe every second; one pass makes an endpoint ready, two failures unready.
HEALTH_INTERVAL = 1.0
HEALTH_TIMEOUT = 1.0


def service_endpoints(service: Service, topology: Topology) -> list[Endpoint]:
    """Endpoints the Service's selector matches, in its namespace (none for an empty selector)."""
    if not service.selector:
        return []
    return [
        e for e in topology.endpoints
        if e.namespace == service.namespace and labels_match(service.selector, dict(e.labels))
    ]


def build_clusters(mesh: Mesh, topology: Topology, plan: ClusterPlan, warnings: Warnings) -> list[dict]:
    """The clusters of every Service port and DestinationRule subset: each host's own set with
    the rule its listener's namespace sees, plus the sets plan.extra asks for (a proxy namespace
    that sees another rule for the host)."""
    clusters: list = []
    for rule in mesh.destination_rules:
        warn_unknown_policy_fields(rule, warnings)
        if rule.workload_selector is not None:
            reason = "applies to the selected workloads' sidecars only; localmesh has one proxy; ignored"
            warnings.add(rule.resource, ("spec", "workloadSelector"), reason)
    services = sorted(mesh.services, key=lambda s: (s.namespace, s.name))
    sets = [(service, plan.primary_namespace(service), "") for service in services]
    by_fqdn = {service.fqdn: service for service in services}
    sets += [(by_fqdn[fqdn], namespace, f"|{namespace}") for fqdn, namespace in plan.extra if fqdn in by_fqdn]
    for service, namespace, suffix in sets:
        endpoints = service_endpoints(service, topology)
        rule = plan.rule(service.fqdn, namespace)
        if rule is not None:
            _warn_duplicate_subsets(rule, warnings)
        for port in service.ports:
            if port.port is None or port.mesh_protocol == "UDP":
                continue
            clusters.append(_cluster(service, port, None, endpoints, rule, suffix, warnings))
            for subset in rule.subsets if rule else []:
                chosen = [e for e in endpoints if labels_match(subset.labels, dict(e.labels))]
                clusters.append(_cluster(service, port, subset.name, chosen, rule, suffix, warnings))
    if topology.tracing is not None:
        clusters.append(datadog_cluster(topology.tracing.agent_host, topology.tracing.agent_port))
    return clusters


def _warn_duplicate_subsets(rule: DestinationRule, warnings: Warnings) -> None:
    """A subset name a later DestinationRule merged into rule repeats: istiod keeps the first."""
    seen: dict = {}
    for source in rule.merged or (rule,):
        for subset in source.subsets:
            first = seen.setdefault(subset.name, source)
            if first is not source:
                reason = (f"subset {subset.name!r} is already defined by DestinationRule "
                          f"{first.namespace}/{first.name} for the same host; ignored, as istiod does")
                warnings.add(source.resource, subset.path + ("name",), reason)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _socket(host: str, port: int) -> dict:
    return {"socket_address": {"address": host, "port_value": port}}


def _cluster(
    service: Service,
    port: ServicePort,
    subset: Optional[str],
    endpoints: list[Endpoint],
    rule: Optional[DestinationRule],
    suffix: str,
    warnings: Warnings,
) -> dict:
    name = cluster_name(port.port, subset, service.fqdn) + suffix
    cluster: dict = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": duration(CONNECT_TIMEOUT),
        "load_assignment": {"cluster_name": name, "endpoints": []},
    }
    if endpoints:
        entries = [_lb_endpoint(e, e.port_for(port.target_port)) for e in endpoints]
        cluster["load_assignment"]["endpoints"] = [{"lb_endpoints": entries}]
    if not all(_is_ip(e.host) for e in endpoints):
        # Container names (compose): resolve every name, keep all its addresses.
        cluster["type"] = "STRICT_DNS"
        cluster["dns_lookup_family"] = "V4_PREFERRED"
    paths = Counter(e.health_path for e in endpoints if e.health_path)
    if paths:
        path = paths.most_common(1)[0][0]
        if len(paths) > 1:
            reason = (f"endpoints of cluster {name} have different readiness paths {sorted(paths)}; "
                      f"Envoy checks one path per cluster, localmesh checks {path}")
            warnings.add(service.resource, ("spec", "selector"), reason)
        cluster["health_checks"] = [_health_check(path, service.fqdn)]
    cluster.update(cluster_policy(policy_in_force(rule, subset, port.port), port.mesh_protocol, warnings))
    return cluster


def _lb_endpoint(endpoint: Endpoint, port: int) -> dict:
    entry: dict = {"address": _socket(endpoint.host, port), "hostname": endpoint.pod}
    if endpoint.health_path is None:
        # No readiness probe: Kubernetes counts the pod ready, so Envoy must not check it.
        entry["health_check_config"] = {"disable_active_health_check": True}
    return {"endpoint": entry}


def _health_check(path: str, host: str) -> dict:
    every = duration(HEALTH_INTERVAL)
    return {
        "timeout": duration(HEALTH_TIMEOUT),
        "interval": every,
        # Envoy otherwise slows to one check a minute on a cluster without traffic.
        "no_traffic_interval": every,
        "unhealthy_interval": every,
        "healthy_threshold": 1,
        "unhealthy_threshold": 2,
        "http_health_check": {"path": path, "host": host},
    }


def datadog_cluster(host: str, port: int) -> dict:
    return {
        "name": DATADOG_CLUSTER,
        "type": "STATIC" if _is_ip(host) else "STRICT_DNS",
        "connect_timeout": duration(1.0),
        "load_assignment": {
            "cluster_name": DATADOG_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _socket(host, port)}}]}],
        },
    }
