"""build_resources: the whole Envoy configuration for a mesh and a topology."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Optional

from localmesh.envoy.clusters import build_clusters, service_endpoints
from localmesh.envoy.listeners import http_connection_manager, listener
from localmesh.envoy.names import (
    GATEWAY_SERVICE_NAME,
    gateway_route_name,
    rds_file_name,
    service_route_name,
)
from localmesh.envoy.routes import RouteContext, service_default_routes, virtual_service_routes
from localmesh.envoy.warnings import warning
from localmesh.model import Gateway, Mesh, Service
from localmesh.topology import Topology


@dataclass
class EnvoyResources:
    listeners: list = field(default_factory=list)
    clusters: list = field(default_factory=list)
    route_configs: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    config_dir: Optional[str] = None  # set: listeners read routes by RDS from files there


def file_source(config_dir: str, file_name: str) -> dict:
    """A ConfigSource reading a file that is replaced by atomic rename inside config_dir."""
    return {
        "resource_api_version": "V3",
        "path_config_source": {
            "path": posixpath.join(config_dir, file_name),
            "watched_directory": {"path": config_dir},
        },
    }


def route_source(route_config: dict, config_dir: Optional[str]) -> dict:
    """How an HCM gets its routes: inline, or by RDS from a file (route changes never drain)."""
    if config_dir is None:
        return {"route_config": route_config}
    name = route_config["name"]
    return {"rds": {"route_config_name": name, "config_source": file_source(config_dir, rds_file_name(name))}}


def route_configuration(name: str, virtual_hosts: list) -> dict:
    # Routes may name a cluster that does not exist (an unknown subset): 503 NC, as in Istio.
    return {"name": name, "virtual_hosts": virtual_hosts, "validate_clusters": False}


def build_resources(mesh: Mesh, topology: Topology, config_dir: Optional[str] = None) -> EnvoyResources:
    """Clusters, one listener + route configuration per Service port, and the gateway's."""
    resources = EnvoyResources(config_dir=config_dir)
    clusters, warnings = build_clusters(mesh, topology)
    resources.clusters = clusters
    for service in sorted(mesh.services, key=lambda s: (s.namespace, s.name)):
        for port in service.ports:
            local_port = topology.service_ports.get((service.fqdn, port.port))
            if local_port is None or port.port is None:
                continue
            routes, found = _service_routes(mesh, service, port.port)
            warnings += found
            name = service_route_name(service.fqdn, port.port)
            route_config = route_configuration(name, [{"name": name, "domains": ["*"], "routes": routes}])
            resources.route_configs.append(route_config)
            source = route_source(route_config, config_dir)
            trace_name = _trace_name(mesh, service, topology)
            hcm = http_connection_manager(name, source, topology.tracing, trace_name)
            resources.listeners.append(listener(name, topology.listen_host, local_port, hcm))
    if mesh.gateways:
        name = gateway_route_name(topology.gateway_port)
        virtual_hosts, found = _gateway_virtual_hosts(mesh)
        warnings += found
        route_config = route_configuration(name, virtual_hosts)
        resources.route_configs.append(route_config)
        hcm = http_connection_manager(
            name, route_source(route_config, config_dir), topology.tracing, GATEWAY_SERVICE_NAME
        )
        resources.listeners.append(listener(name, topology.listen_host, topology.gateway_port, hcm))
    resources.warnings = list(dict.fromkeys(warnings))  # one each, first-seen order
    return resources


def _service_routes(mesh: Mesh, service: Service, port: int) -> tuple:
    vs = mesh.mesh_virtual_service_for(service.fqdn)
    if vs is None:
        return service_default_routes(service, port), []
    return virtual_service_routes(mesh, vs, RouteContext(gateway=None, service_port=port))


def _trace_name(mesh: Mesh, service: Service, topology: Topology) -> str:
    """Istio's span service name for a sidecar: <app>.<namespace>."""
    apps = sorted({e.labels.get("app") for e in service_endpoints(service, topology) if e.labels.get("app")})
    app = service.selector.get("app") or (apps[0] if apps else service.name)
    return f"{app}.{service.namespace}"


def _server_hosts(gateway: Gateway) -> list:
    # "ns/host" limits which namespaces may bind; here only the host part matters.
    return [host.split("/", 1)[-1] for server in gateway.servers for host in server.hosts]


def _gateway_virtual_hosts(mesh: Mesh) -> tuple:
    """Virtual hosts from every Gateway's HTTP servers; VirtualServices for one host merge in order."""
    warnings: list = []
    by_domain: dict = {}
    for gateway in sorted(mesh.gateways, key=lambda g: (g.namespace, g.name)):
        for index, server in enumerate(gateway.servers):
            if server.protocol not in ("HTTP", "HTTP2"):
                warnings.append(
                    warning(
                        gateway.resource,
                        ("spec", "servers", index, "port", "protocol"),
                        f"protocol {server.protocol} is not served by localmesh (plain HTTP only); ignored",
                    )
                )
        served = [h for s in gateway.servers if s.protocol in ("HTTP", "HTTP2") for h in s.hosts]
        served = [h.split("/", 1)[-1] for h in served]
        context = RouteContext(gateway=gateway.ref)
        for vs in mesh.gateway_virtual_services(gateway):
            routes, found = virtual_service_routes(mesh, vs, context)
            warnings += found
            for index, host in enumerate(vs.hosts):
                if not any(fnmatchcase(host, pattern) or pattern == "*" for pattern in served):
                    warnings.append(
                        warning(
                            vs.resource,
                            ("spec", "hosts", index),
                            f"host {host!r} is not served by Gateway {gateway.ref}; ignored",
                        )
                    )
                    continue
                by_domain.setdefault(host, []).extend(routes)
    virtual_hosts = [
        {"name": f"gateway:{domain}", "domains": [domain], "routes": routes}
        for domain, routes in sorted(by_domain.items())
    ]
    return virtual_hosts, warnings
