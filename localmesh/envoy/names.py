"""Names and small value formats shared by the builders (Istio's naming where one exists)."""

from __future__ import annotations

import re
from typing import Optional

LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ROUTE_CONFIG_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
_API = "type.googleapis.com/envoy"
HCM_TYPE = f"{_API}.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
FAULT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
FAULT_FILTER = "envoy.filters.http.fault"
CORS_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"
CORS_POLICY_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy"
CORS_FILTER = "envoy.filters.http.cors"
TCP_PROXY_TYPE = f"{_API}.extensions.filters.network.tcp_proxy.v3.TcpProxy"
HTTP_INSPECTOR_TYPE = f"{_API}.extensions.filters.listener.http_inspector.v3.HttpInspector"
PREVIOUS_PRIORITIES_TYPE = f"{_API}.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig"
PREVIOUS_HOSTS_TYPE = f"{_API}.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
HTTP_PROTOCOL_OPTIONS_TYPE = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
STDOUT_ACCESS_LOG_TYPE = f"{_API}.extensions.access_loggers.stream.v3.StdoutAccessLog"
DATADOG_TYPE = "type.googleapis.com/envoy.config.trace.v3.DatadogConfig"

DATADOG_CLUSTER = "datadog_agent"
GATEWAY_SERVICE_NAME = "istio-ingressgateway"


def cluster_name(port: int, subset: Optional[str], fqdn: str) -> str:
    """Istio's outbound cluster name: outbound|5002|v1|advertisements.ns3.svc.cluster.local."""
    return f"outbound|{port}|{subset or ''}|{fqdn}"


def service_route_name(fqdn: str, port: int) -> str:
    return f"{fqdn}:{port}"


def gateway_route_name(port: int) -> str:
    return f"gateway:{port}"


def file_safe(name: str) -> str:
    """name with every character but letters, digits, dot and dash made '_', for a file name."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", name)


def rds_file_name(route_name: str) -> str:
    """The file of one route configuration."""
    return f"rds_{file_safe(route_name)}.json"


def duration(seconds: float) -> str:
    """Envoy's JSON duration text: 1.5 -> '1.5s', 0.001 -> '0.001s'."""
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"{text or '0'}s"


def percent(value: float) -> dict:
    """An Istio percentage (0-100, fractional) as Envoy's FractionalPercent per million."""
    value = min(max(value, 0.0), 100.0)
    return {"numerator": round(value * 10000), "denominator": "MILLION"}
