"""The ingress gateway's virtual hosts, as istiod 1.29 builds them
(pilot/pkg/networking/core/gateway.go buildGatewayHTTPRouteConfig).

For each HTTP server, each bound VirtualService gets the hosts where its own hosts and the
server's hosts intersect (the more specific of a matching pair; a server host `ns/host` counts
only for VirtualServices in namespace ns, `./host` for the Gateway's own namespace). Routes are
built with the server's port as the listener port (for `match.port`). VirtualServices for one
host add their routes in order, then routes that match every request move last. No host at
all: one virtual host without routes, so every request is 404.

The local gateway is Istio's default ingress gateway: pods labelled istio=ingressgateway,
app=istio-ingressgateway in istio-system. It serves the Gateways whose selector selects those
labels, and sees what a proxy in istio-system sees (PushContext.VirtualServicesForGateway and
the DestinationRule lookup by namespace): a VirtualService exported only to its own namespace
binds no server here, as in Istio.
"""

from __future__ import annotations

from typing import Optional

from localmesh.envoy.matches import is_catch_all
from localmesh.envoy.routes import RouteContext, virtual_service_routes
from localmesh.envoy.views import ClusterPlan
from localmesh.envoy.warnings import Warnings
from localmesh.hostnames import names_for_namespace, subset_of
from localmesh.model import (
    INGRESS_GATEWAY_LABELS,
    INGRESS_GATEWAY_NAMESPACE,
    Gateway,
    GatewayServer,
    Mesh,
    VirtualService,
    gateway_selects_ingress,
)

HTTP_SERVER_PROTOCOLS = ("HTTP", "HTTP2")


def intersect_hosts(server_hosts: list[str], vs_hosts: list[str]) -> list[str]:
    """host.Names.Intersection: for every matching pair, the more specific name, once."""
    result: list = []
    for server_host in server_hosts:
        for vs_host in vs_hosts:
            chosen = None
            if subset_of(server_host, vs_host):
                chosen = server_host
            elif subset_of(vs_host, server_host):
                chosen = vs_host
            if chosen is not None and chosen not in result:
                result.append(chosen)
    return result


def server_hosts_for(server: GatewayServer, gateway: Gateway, namespace: str) -> list[str]:
    """The server's hosts a VirtualService in namespace may use; './host' is in the Gateway's own."""
    written = [f"{gateway.namespace}/{host[2:]}" if host.startswith("./") else host for host in server.hosts]
    return names_for_namespace(written, namespace)


def served_gateways(mesh: Mesh, warnings: Warnings) -> list[Gateway]:
    """The Gateways the local ingress gateway serves; a warning for each other one."""
    served = []
    labels = ", ".join(f"{k}={v}" for k, v in sorted(INGRESS_GATEWAY_LABELS.items()))
    for gateway in mesh.gateways:
        if gateway_selects_ingress(gateway):
            served.append(gateway)
            continue
        reason = (f"selects no proxy localmesh runs (its one gateway is Istio's default ingress gateway, "
                  f"{labels} in {INGRESS_GATEWAY_NAMESPACE}); not served")
        warnings.add(gateway.resource, ("spec", "selector"), reason)
    return served


def _served_port(gateways: list, warnings: Warnings) -> Optional[int]:
    """The server port localmesh serves: one local gateway listener, so one port."""
    ports = sorted({s.port for g in gateways for s in g.servers if s.protocol in HTTP_SERVER_PROTOCOLS
                    and isinstance(s.port, int)})
    for gateway in gateways:
        for server in gateway.servers:
            if server.protocol in HTTP_SERVER_PROTOCOLS:
                for path in server.unhonoured:
                    why = "the local gateway is one plain HTTP listener on loopback"
                    warnings.unsupported(gateway.resource, path, why)
            if server.protocol not in HTTP_SERVER_PROTOCOLS:
                reason = f"protocol {server.protocol} is not served by localmesh (plain HTTP only); ignored"
                warnings.add(gateway.resource, server.path + ("port", "protocol"), reason)
            elif ports and server.port != ports[0]:
                reason = (f"localmesh serves one gateway port, the server on port {ports[0]}; "
                          f"port {server.port} ignored")
                warnings.add(gateway.resource, server.path + ("port", "number"), reason)
    return ports[0] if ports else None


def sort_catch_all_last(routes: list[dict]) -> list[dict]:
    """istiod's SortVHostRoutes: catch-all routes after all others, order kept otherwise."""
    last = [r for r in routes if is_catch_all(r["match"])]
    return [r for r in routes if not is_catch_all(r["match"])] + last


def gateway_virtual_hosts(mesh: Mesh, plan: ClusterPlan, warnings: Warnings) -> list[dict]:
    """The virtual hosts of the gateway listener."""
    gateways = served_gateways(mesh, warnings)
    port = _served_port(gateways, warnings)
    vhosts: dict = {}
    built: dict = {}
    for gateway in sorted(gateways, key=lambda g: (g.namespace, g.name)):
        servers = [s for s in gateway.servers if s.protocol in HTTP_SERVER_PROTOCOLS and s.port == port]
        bound = mesh.gateway_virtual_services(gateway, INGRESS_GATEWAY_NAMESPACE)
        _warn_unseen_virtual_services(mesh, gateway, bound, warnings)
        for server in servers:
            for vs in bound:
                hosts = intersect_hosts(server_hosts_for(server, gateway, vs.namespace), vs.hosts)
                if not hosts:
                    continue
                key = (gateway.ref, vs.namespace, vs.name)
                if key not in built:
                    context = RouteContext(
                        gateway=gateway.ref, port=port, namespace=INGRESS_GATEWAY_NAMESPACE, clusters=plan,
                        proxies=((INGRESS_GATEWAY_NAMESPACE, dict(INGRESS_GATEWAY_LABELS)),),
                    )
                    built[key] = virtual_service_routes(mesh, vs, context, warnings)
                routes = built[key]
                if not routes:
                    continue
                for host in hosts:
                    vhost = vhosts.setdefault(host.lower(), _vhost(host.lower(), port))
                    vhost["routes"] += routes
                    if server.https_redirect:
                        vhost["require_tls"] = "ALL"
            if server.https_redirect:
                for host in server.hosts:
                    name = host.partition("/")[2] or host
                    vhost = vhosts.setdefault(name.lower(), _vhost(name.lower(), port))
                    vhost["require_tls"] = "ALL"
        for vs in bound:
            _warn_unserved_hosts(vs, gateway, servers, warnings)
    if not vhosts:
        return [{"name": f"blackhole:{port or 80}", "domains": ["*"], "routes": []}]
    for vhost in vhosts.values():
        vhost["routes"] = sort_catch_all_last(vhost["routes"])
    return [vhosts[name] for name in sorted(vhosts)]


def _vhost(host: str, port: Optional[int]) -> dict:
    return {"name": f"{host}:{port or 80}", "domains": [host], "routes": []}


def _warn_unseen_virtual_services(mesh: Mesh, gateway: Gateway, bound: list, warnings: Warnings) -> None:
    """VirtualServices that bind gateway but are not exported to the gateway's namespace: Istio's
    gateway never sees them (a common surprise with exportTo "."), nor does localmesh's."""
    for vs in mesh.virtual_services:
        if gateway.ref in vs.gateway_refs and all(vs is not seen for seen in bound):
            reason = (f"not exported to {INGRESS_GATEWAY_NAMESPACE}, where the ingress gateway runs: "
                      f"Gateway {gateway.ref} does not see this VirtualService (as in Istio); its routes "
                      "are not served there")
            warnings.add(vs.resource, ("spec", "exportTo"), reason)


def _warn_unserved_hosts(vs: VirtualService, gateway: Gateway, servers: list, warnings: Warnings) -> None:
    for index, host in enumerate(vs.hosts):
        if not any(intersect_hosts(server_hosts_for(s, gateway, vs.namespace), [host]) for s in servers):
            reason = f"host {host!r} is not served by Gateway {gateway.ref}; ignored"
            warnings.add(vs.resource, ("spec", "hosts", index), reason)
