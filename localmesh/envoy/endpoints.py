"""Endpoints by EDS: clusters that take their hosts from a ClusterLoadAssignment file.

A pod that starts, stops or changes readiness then changes one EDS file; the cluster itself
(its stats, outlier state and connection pools) stays, as in a cluster where istiod pushes
endpoint changes by EDS. As istiod does by default, an assignment holds only the endpoints
that are ready, so the kubelet's readiness probe decides where traffic goes; the cluster has
no active health check of its own.

    eds_resources(clusters, config_dir) -> (clusters, {file name: DiscoveryResponse})
"""

from __future__ import annotations

import copy
import hashlib

from localmesh.envoy.bootstrap import discovery_response
from localmesh.envoy.names import file_safe
from localmesh.envoy.resources import file_source

ENDPOINTS_TYPE = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
# Istio's outbound cluster names (names.cluster_name): the clusters whose hosts are pods.
SERVICE_CLUSTER_PREFIX = "outbound|"


def eds_file_name(cluster_name: str) -> str:
    """One file per cluster: a readable part plus a short digest (names differ only in '|')."""
    digest = hashlib.sha256(cluster_name.encode()).hexdigest()[:8]
    return f"eds_{file_safe(cluster_name)}_{digest}.json"


def cluster_load_assignment(cluster_name: str, lb_endpoints: list[dict]) -> dict:
    """The ClusterLoadAssignment for cluster_name with these LbEndpoint dicts (one locality)."""
    assignment: dict = {"cluster_name": cluster_name, "endpoints": []}
    if lb_endpoints:
        assignment["endpoints"] = [{"lb_endpoints": list(lb_endpoints)}]
    return assignment


def _eds_cluster(cluster: dict, config_dir: str) -> dict:
    name = cluster["name"]
    converted = {key: value for key, value in cluster.items()
                 if key not in ("load_assignment", "type", "health_checks")}
    converted["type"] = "EDS"
    converted["eds_cluster_config"] = {"service_name": name,
                                       "eds_config": file_source(config_dir, eds_file_name(name))}
    return converted


def eds_resources(clusters: list[dict], config_dir: str) -> tuple[list[dict], dict[str, dict]]:
    """(clusters, EDS files): every Service cluster (outbound|...) becomes an EDS cluster whose
    hosts come from an eds_*.json file holding its load_assignment; other clusters (the trace
    agent's) are returned as they are. Built from clusters whose endpoints are the ready pods.
    """
    out: list = []
    files: dict = {}
    for cluster in clusters:
        name = cluster["name"]
        if not name.startswith(SERVICE_CLUSTER_PREFIX):
            out.append(cluster)
            continue
        lb_endpoints = copy.deepcopy([e for group in cluster.get("load_assignment", {}).get("endpoints", [])
                                      for e in group.get("lb_endpoints", [])])
        for entry in lb_endpoints:
            # Readiness is in the assignment itself: nothing for Envoy to check.
            entry.get("endpoint", {}).pop("health_check_config", None)
        assignment = cluster_load_assignment(name, lb_endpoints)
        files[eds_file_name(name)] = discovery_response([assignment], ENDPOINTS_TYPE)
        out.append(_eds_cluster(cluster, config_dir))
    return out, files
