"""Envoy bootstraps: dynamic (files the runtime rewrites) and static (for `localmesh render`)."""

from __future__ import annotations

import hashlib
import json
from typing import Optional

from localmesh.envoy.names import CLUSTER_TYPE, LISTENER_TYPE, ROUTE_CONFIG_TYPE, rds_file_name
from localmesh.envoy.resources import EnvoyResources, build_resources, file_source, route_source
from localmesh.model import Mesh
from localmesh.topology import Topology

LDS_FILE = "lds.json"
CDS_FILE = "cds.json"
NODE = {"id": "localmesh", "cluster": "localmesh"}


def _admin(topology: Topology) -> dict:
    address = {"address": topology.listen_host, "port_value": topology.admin_port}
    return {"address": {"socket_address": address}}


def build_bootstrap(topology: Topology, config_dir: str) -> dict:
    """Node, admin, and LDS/CDS from files in config_dir, watched for atomic renames."""
    return {
        "node": dict(NODE),
        "admin": _admin(topology),
        "dynamic_resources": {
            "lds_config": file_source(config_dir, LDS_FILE),
            "cds_config": file_source(config_dir, CDS_FILE),
        },
    }


def discovery_response(resources: list[dict], type_url: str) -> dict:
    """A DiscoveryResponse as the files hold it: the typed resources, versioned by their content."""
    typed = [{"@type": type_url, **resource} for resource in resources]
    # Same content, same version: rewriting an unchanged file changes nothing in Envoy.
    digest = hashlib.sha256(json.dumps(typed, sort_keys=True).encode()).hexdigest()[:16]
    return {"version_info": digest, "resources": typed}


def discovery_files(resources: EnvoyResources, config_dir: Optional[str] = None) -> dict[str, dict]:
    """{file name: DiscoveryResponse}: lds.json, cds.json and rds_*.json for each route config.

    Listeners built without a config_dir (routes inline) are switched to RDS files in config_dir
    when it is given here.
    """
    config_dir = config_dir or resources.config_dir
    listeners = resources.listeners
    if config_dir is not None and resources.config_dir != config_dir:
        listeners = [_to_rds(listener, config_dir) for listener in listeners]
    files = {
        LDS_FILE: discovery_response(listeners, LISTENER_TYPE),
        CDS_FILE: discovery_response(resources.clusters, CLUSTER_TYPE),
    }
    if config_dir is not None:
        for route_config in resources.route_configs:
            files[rds_file_name(route_config["name"])] = discovery_response([route_config], ROUTE_CONFIG_TYPE)
    return files


def _to_rds(listener: dict, config_dir: str) -> dict:
    """A copy of listener whose HCMs read their route configuration by RDS from config_dir."""
    listener = json.loads(json.dumps(listener))
    for chain in listener.get("filter_chains", []):
        for item in chain.get("filters", []):
            config = item.get("typed_config", {})
            route_config = config.pop("route_config", None)
            if route_config is not None:
                config.update(route_source(route_config, config_dir))
            elif "rds" in config:
                name = config["rds"]["route_config_name"]
                config["rds"]["config_source"] = file_source(config_dir, rds_file_name(name))
    return listener


def build_static_config(mesh: Mesh, topology: Topology) -> dict:
    """One self-contained bootstrap: every listener, route and cluster inline."""
    resources = build_resources(mesh, topology, config_dir=None)
    return {
        "node": dict(NODE),
        "admin": _admin(topology),
        "static_resources": {"listeners": resources.listeners, "clusters": resources.clusters},
    }

