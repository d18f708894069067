"""istioctl's Service port name analyzer (pkg/config/analysis/analyzers/service/portname.go with the
protocol detection of pkg/config/kube/conversion.go, Istio 1.29): a port whose protocol neither
its appProtocol nor its name tells is IST0118 (info: Istio sniffs the protocol), on an ExternalName
Service also a port named `tcp`, which is IST0150 there."""

from __future__ import annotations

from typing import Any, Optional

from localmesh.analyze.cluster import Cluster, Object
from localmesh.analyze.messages import Message, message
from localmesh.fields import as_dict, as_list

# Lower-case names protocol.Parse knows (Istio 1.29).
_PROTOCOLS = {"tcp", "udp", "grpc", "grpc-web", "http", "http_proxy", "http2", "https", "tls",
              "mongo", "redis", "mysql"}
# appProtocol values Kubernetes defines (h2c, WebSocket, WebSocket over TLS).
_KUBERNETES_APP_PROTOCOLS = {"kubernetes.io/h2c", "kubernetes.io/ws", "kubernetes.io/wss"}
# Ports that default to TCP when their name tells nothing: SMTP, DNS, MySQL, MongoDB.
_WELL_KNOWN_PORTS = {25, 53, 3306, 27017}
_GATEWAY_MANAGED_LABEL = "gateway.istio.io/managed"
_GATEWAY_CONTROLLERS = {
    "istio.io-gateway-controller", "istio.io-mesh-controller", "istio.io-eastwest-controller",
}


def protocol_is_known(port: int, name: str, protocol: str, app_protocol: Optional[str]) -> bool:
    """Whether Istio can tell the port's protocol without sniffing (ConvertProtocol is not
    UnsupportedProtocol)."""
    if protocol == "UDP":
        return True
    if app_protocol is not None:
        if app_protocol in _KUBERNETES_APP_PROTOCOLS:
            return True
        name = app_protocol
    if name[:8].lower() == "grpc-web":
        return True
    if name.split("-", 1)[0].lower() in _PROTOCOLS:
        return True
    return port in _WELL_KNOWN_PORTS


def _skipped(service: Object) -> bool:
    """Istio's own Services (an `istio` label or release=istio) and gateway-managed ones."""
    if "istio" in service.labels or service.labels.get("release") == "istio":
        return True
    return service.labels.get(_GATEWAY_MANAGED_LABEL, "") in _GATEWAY_CONTROLLERS


def check_port_names(cluster: Cluster) -> list[Message]:
    found = []
    for service in cluster.of("", "Service"):
        if _skipped(service):
            continue
        external = service.spec.get("type") == "ExternalName"
        for index, raw in enumerate(as_list(service.spec.get("ports"))):
            port = as_dict(raw)
            name = str(port.get("name") or "")
            number = port.get("port") if isinstance(port.get("port"), int) else 0
            app_protocol = port.get("appProtocol")
            known = protocol_is_known(number, name, str(port.get("protocol") or "TCP"),
                                      None if app_protocol is None else str(app_protocol))
            if known and not (external and name == "tcp"):
                continue
            path = ("spec", "ports", index, "port")
            if external:
                found.append(message(
                    "IST0150", service.resource, path,
                    "Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and"
                    " unmatched traffic for ports serving TCP protocol from being forwarded correctly",
                ))
                continue
            found.append(message(
                "IST0118", service.resource, path,
                f"Port name {name} (port: {number}, targetPort: {_target_port(port, number)}) doesn't follow"
                " the naming convention of Istio port.",
            ))
    return found


def _target_port(port: dict, number: int) -> Any:
    # The API server defaults an unset targetPort to the port.
    target = port.get("targetPort")
    return number if target is None else target
