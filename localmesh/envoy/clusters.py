"""Envoy clusters: one per Service port, one per DestinationRule subset and port."""

from __future__ import annotations

import ipaddress
from collections import Counter
from typing import Optional

from localmesh.envoy.names import DATADOG_CLUSTER, cluster_name, duration
from localmesh.envoy.policy import cluster_policy
from localmesh.envoy.warnings import warning
from localmesh.model import DestinationRule, Mesh, Service, labels_match
from localmesh.topology import Endpoint, Topology

CONNECT_TIMEOUT = 10.0  # Istio's default connectTimeout
# Readiness: probe every second; one pass makes an endpoint ready, two failures unready.
HEALTH_INTERVAL = 1.0
HEALTH_TIMEOUT = 1.0


def service_endpoints(service: Service, topology: Topology) -> list:
    """Endpoints the Service's selector matches, in its namespace (none for an empty selector)."""
    if not service.selector:
        return []
    return [
        e for e in topology.endpoints
        if e.namespace == service.namespace and labels_match(service.selector, dict(e.labels))
    ]


def build_clusters(mesh: Mesh, topology: Topology) -> tuple:
    """(clusters, warnings) for every Service port and DestinationRule subset."""
    clusters: list = []
    warnings: list = []
    for service in sorted(mesh.services, key=lambda s: (s.namespace, s.name)):
        endpoints = service_endpoints(service, topology)
        rule = mesh.destination_rule_for(service.fqdn)
        for port in service.ports:
            if port.port is None:
                continue
            built, found = _cluster(service, port.port, None, endpoints, rule)
            clusters.append(built)
            warnings += found
            for subset in rule.subsets if rule else []:
                chosen = [e for e in endpoints if labels_match(subset.labels, dict(e.labels))]
                built, found = _cluster(service, port.port, subset.name, chosen, rule)
                clusters.append(built)
                warnings += found
    if topology.tracing is not None:
        clusters.append(datadog_cluster(topology.tracing.agent_host, topology.tracing.agent_port))
    return clusters, warnings


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
    port: int,
    subset: Optional[str],
    endpoints: list,
    rule: Optional[DestinationRule],
) -> tuple:
    name = cluster_name(port, subset, service.fqdn)
    cluster: dict = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": duration(CONNECT_TIMEOUT),
        "load_assignment": {"cluster_name": name, "endpoints": []},
    }
    warnings: list = []
    if endpoints:
        cluster["load_assignment"]["endpoints"] = [{"lb_endpoints": [_lb_endpoint(e) for e in endpoints]}]
    if not all(_is_ip(e.host) for e in endpoints):
        # Container names (compose): resolve every name, keep all its addresses.
        cluster["type"] = "STRICT_DNS"
        cluster["dns_lookup_family"] = "V4_PREFERRED"
    paths = Counter(e.health_path for e in endpoints if e.health_path)
    if paths:
        path = paths.most_common(1)[0][0]
        if len(paths) > 1:
            warnings.append(
                warning(
                    service.resource,
                    ("spec", "selector"),
                    f"endpoints of cluster {name} have different readiness paths {sorted(paths)}; "
                    f"Envoy checks one path per cluster, localmesh checks {path}",
                )
            )
        cluster["health_checks"] = [_health_check(path, service.fqdn)]
    policy, found = cluster_policy(rule, subset, port)
    cluster.update(policy)
    return cluster, warnings + found


def _lb_endpoint(endpoint: Endpoint) -> dict:
    entry: dict = {"address": _socket(endpoint.host, endpoint.port), "hostname": endpoint.pod}
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
