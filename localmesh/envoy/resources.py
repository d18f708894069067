"""build_resources: the whole Envoy configuration for a mesh and a topology."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Optional

from localmesh.envoy.clusters import build_clusters, service_endpoints
from localmesh.envoy.gateway import gateway_virtual_hosts
from localmesh.envoy.listeners import (
    http_connection_manager,
    listener,
    sniffing_listener,
    tcp_listener,
    tcp_proxy,
)
from localmesh.envoy.names import (
    GATEWAY_SERVICE_NAME,
    gateway_route_name,
    rds_file_name,
    service_route_name,
)
from localmesh.envoy.policy import tcp_hashes_source_ip
from localmesh.envoy.routes import RouteContext, service_default_routes, virtual_service_routes
from localmesh.envoy.views import ClusterPlan, client_pods, listener_namespace
from localmesh.envoy.warnings import Warnings
from localmesh.model import HTTP_PROTOCOLS, INERT_KINDS, SNIFFED, Mesh, Service
from localmesh.topology import Topology

MAX_DIRECT_RESPONSE_BODY = 1024 * 1024  # istiod's limit, which its webhook also enforces


@dataclass
class EnvoyResources:
    listeners: list[dict] = field(default_factory=list)
    clusters: list[dict] = field(default_factory=list)
    route_configs: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # lines, each naming resource, field and file:line
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


def route_configuration(name: str, virtual_hosts: list[dict]) -> dict:
    """As istiod's: routes may name a cluster that does not exist (an unknown subset: 503 NC),
    the Host header's port plays no part in picking a virtual host, and a direct response body
    may be up to 1 MiB."""
    return {
        "name": name,
        "virtual_hosts": virtual_hosts,
        "validate_clusters": False,
        "ignore_port_in_host_matching": True,
        "max_direct_response_body_size_bytes": MAX_DIRECT_RESPONSE_BODY,
    }


def build_resources(mesh: Mesh, topology: Topology, config_dir: Optional[str] = None) -> EnvoyResources:
    """Clusters, one listener per Service port (HTTP routes, a TCP proxy, or both behind
    protocol sniffing, by the port's protocol), and the gateway's listener. Each listener
    routes as its proxy's namespace sees the configuration (views.py); the clusters come last,
    once the routes have said which ones they name."""
    resources = EnvoyResources(config_dir=config_dir)
    warnings = Warnings()
    services = sorted(mesh.services, key=lambda s: (s.namespace, s.name))
    namespaces = {service.fqdn: listener_namespace(mesh, service, topology, warnings) for service in services}
    plan = ClusterPlan(mesh, namespaces)
    for service in services:
        namespace = namespaces[service.fqdn]
        if service.type == "ExternalName":
            reason = (f"localmesh does not make {service.name} an alias of {service.external_name} as Istio "
                      "does; it has no endpoints here, so requests get 503")
            warnings.add(service.resource, ("spec", "externalName"), reason)
        for index, port in enumerate(service.ports):
            local_port = topology.service_ports.get((service.fqdn, port.port))
            if local_port is None or port.port is None:
                continue
            protocol = port.mesh_protocol
            name = service_route_name(service.fqdn, port.port)
            if protocol == "UDP":
                reason = "UDP is not proxied by Envoy here (nor by Istio's sidecars); no listener"
                warnings.add(service.resource, ("spec", "ports", index), reason)
                continue
            context = RouteContext(gateway=None, port=port.port, namespace=namespace, clusters=plan,
                                   proxies=client_pods(mesh, service, topology))
            proxy = tcp_proxy(name, context.cluster(port.port, None, service.fqdn),
                              tcp_hashes_source_ip(mesh.destination_rule_for(service.fqdn, namespace)))
            if protocol not in HTTP_PROTOCOLS and protocol != SNIFFED:
                _warn_tcp_routes(mesh, service, namespace, warnings)
                resources.listeners.append(tcp_listener(name, topology.listen_host, local_port, proxy))
                continue
            routes = _service_routes(mesh, service, context, warnings)
            route_config = route_configuration(name, [{"name": name, "domains": ["*"], "routes": routes}])
            resources.route_configs.append(route_config)
            source = route_source(route_config, config_dir)
            trace_name = _trace_name(mesh, service, topology)
            hcm = http_connection_manager(name, source, topology.tracing, trace_name)
            if protocol == SNIFFED:
                built = sniffing_listener(name, topology.listen_host, local_port, hcm, proxy)
            else:
                built = listener(name, topology.listen_host, local_port, hcm)
            resources.listeners.append(built)
    if mesh.gateways:
        name = gateway_route_name(topology.gateway_port)
        route_config = route_configuration(name, gateway_virtual_hosts(mesh, plan, warnings))
        resources.route_configs.append(route_config)
        hcm = http_connection_manager(
            name, route_source(route_config, config_dir), topology.tracing, GATEWAY_SERVICE_NAME
        )
        resources.listeners.append(listener(name, topology.listen_host, topology.gateway_port, hcm))
    resources.clusters = build_clusters(mesh, topology, plan, warnings)
    _warn_without_local_effect(mesh, warnings)
    resources.warnings = warnings.lines()
    return resources


def _service_routes(mesh: Mesh, service: Service, context: RouteContext, warnings: Warnings) -> list[dict]:
    """The VirtualService's routes for this port; the Service's default route when there is no
    VirtualService or it yields no route for the port (istiod then treats the host as without one)."""
    vs = mesh.mesh_virtual_service_for(service.fqdn, context.namespace)
    routes = virtual_service_routes(mesh, vs, context, warnings) if vs is not None else []
    return routes or service_default_routes(mesh, service, context)


def _warn_tcp_routes(mesh: Mesh, service: Service, namespace: str, warnings: Warnings) -> None:
    vs = mesh.mesh_virtual_service_for(service.fqdn, namespace)
    if vs is None or not ({"tcp", "tls"} & set(vs.resource.spec)):
        return
    key = "tcp" if "tcp" in vs.resource.spec else "tls"
    reason = "localmesh proxies TCP ports to the whole Service; TCP/TLS routes are not supported; ignored"
    warnings.add(vs.resource, ("spec", key), reason)


def _trace_name(mesh: Mesh, service: Service, topology: Topology) -> str:
    """Istio's span service name for a sidecar: <app>.<namespace>."""
    apps = sorted({e.labels.get("app") for e in service_endpoints(service, topology) if e.labels.get("app")})
    app = service.selector.get("app") or (apps[0] if apps else service.name)
    return f"{app}.{service.namespace}"


def _warn_without_local_effect(mesh: Mesh, warnings: Warnings) -> None:
    """One warning per resource of a kind the local mesh keeps but does not act on."""
    for resource in mesh.inert:
        if (resource.group, resource.kind) not in INERT_KINDS:
            reason = (f"kind {resource.kind} ({resource.api_version}) is accepted, as a cluster would, but "
                      "has no effect on the local mesh")
            warnings.add(resource, ("kind",), reason)
