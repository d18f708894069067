"""Envoy listeners: one per Service port, and the ingress gateway's; each with one HCM."""

from __future__ import annotations

from typing import Optional

from localmesh.envoy.names import (
    CORS_FILTER,
    CORS_TYPE,
    DATADOG_CLUSTER,
    DATADOG_TYPE,
    FAULT_FILTER,
    FAULT_TYPE,
    HCM_TYPE,
    HTTP_INSPECTOR_TYPE,
    ROUTER_TYPE,
    STDOUT_ACCESS_LOG_TYPE,
    TCP_PROXY_TYPE,
)
from localmesh.topology import TracingConfig

# The application protocols Envoy's HTTP inspector reports for plaintext HTTP (istiod's list).
PLAINTEXT_HTTP = ["http/1.0", "http/1.1", "h2c"]


def http_filters() -> list:
    # istiod's order: fault, CORS, router; routes without a fault or CORS config pass through.
    return [
        {"name": FAULT_FILTER, "typed_config": {"@type": FAULT_TYPE}},
        {"name": CORS_FILTER, "typed_config": {"@type": CORS_TYPE}},
        {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER_TYPE}},
    ]


# The fields of Istio's default TEXT access log, in its order: %RESPONSE_FLAGS% (UC, UH, NR, NC,
# UF, URX...) says why Envoy answered as it did, %UPSTREAM_HOST% which pod it talked to.
ACCESS_LOG_FIELDS = (
    "[%START_TIME%]",
    '"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"',
    "%RESPONSE_CODE%",
    "%RESPONSE_FLAGS%",
    "%RESPONSE_CODE_DETAILS%",
    "%CONNECTION_TERMINATION_DETAILS%",
    '"%UPSTREAM_TRANSPORT_FAILURE_REASON%"',
    "%BYTES_RECEIVED%",
    "%BYTES_SENT%",
    "%DURATION%",
    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    '"%REQ(X-FORWARDED-FOR)%"',
    '"%REQ(USER-AGENT)%"',
    '"%REQ(X-REQUEST-ID)%"',
    '"%REQ(:AUTHORITY)%"',
    '"%UPSTREAM_HOST%"',
    "%UPSTREAM_CLUSTER_RAW%",
    "%UPSTREAM_LOCAL_ADDRESS%",
    "%DOWNSTREAM_LOCAL_ADDRESS%",
    "%DOWNSTREAM_REMOTE_ADDRESS%",
    "%REQUESTED_SERVER_NAME%",
    "%ROUTE_NAME%",
)
ACCESS_LOG_FORMAT = " ".join(ACCESS_LOG_FIELDS) + "\n"


def access_log() -> list:
    """One line per request on Envoy's stdout, as an Istio sidecar with its default access log."""
    return [
        {
            "name": "envoy.access_loggers.stdout",
            "typed_config": {
                "@type": STDOUT_ACCESS_LOG_TYPE,
                "log_format": {"text_format_source": {"inline_string": ACCESS_LOG_FORMAT}},
            },
        }
    ]


def tracing_config(tracing: TracingConfig, service_name: str) -> dict:
    """Datadog spans as Istio's proxies send them: 100 % sampling for the demo."""
    return {
        "provider": {
            "name": "envoy.tracers.datadog",
            "typed_config": {
                "@type": DATADOG_TYPE,
                "collector_cluster": DATADOG_CLUSTER,
                "service_name": service_name,
            },
        },
        "random_sampling": {"value": 100},
        "custom_tags": [{"tag": "env", "literal": {"value": tracing.env}}],
    }


def http_connection_manager(
    stat_prefix: str,
    route_source: dict,
    tracing: Optional[TracingConfig] = None,
    service_name: str = "",
) -> dict:
    """route_source: {"rds": {...}} or {"route_config": {...}}."""
    config: dict = {
        "@type": HCM_TYPE,
        "stat_prefix": stat_prefix,
        "codec_type": "AUTO",
        **route_source,
        "http_filters": http_filters(),
        "access_log": access_log(),
        # x-request-id: generated when missing, an incoming one kept (apps copy it onwards).
        "generate_request_id": True,
        "preserve_external_request_id": True,
        # The Host header goes upstream as the client sent it, port included (the route
        # configuration ignores the port when it picks a virtual host, as istiod's).
        "normalize_path": True,
    }
    if tracing is not None:
        config["tracing"] = tracing_config(tracing, service_name)
    return {"name": "envoy.filters.network.http_connection_manager", "typed_config": config}


def tcp_proxy(stat_prefix: str, cluster: str, hash_source_ip: bool = False) -> dict:
    """A TCP proxy to one cluster, as istiod's for a TCP Service port."""
    config: dict = {"@type": TCP_PROXY_TYPE, "stat_prefix": stat_prefix, "cluster": cluster}
    if hash_source_ip:
        config["hash_policy"] = [{"source_ip": {}}]
    return {"name": "envoy.filters.network.tcp_proxy", "typed_config": config}


def listener(name: str, host: str, port: int, hcm: dict) -> dict:
    return {
        "name": name,
        "address": {"socket_address": {"address": host, "port_value": port}},
        "filter_chains": [{"filters": [hcm]}],
    }


def tcp_listener(name: str, host: str, port: int, proxy: dict) -> dict:
    return {
        "name": name,
        "address": {"socket_address": {"address": host, "port_value": port}},
        "filter_chains": [{"filters": [proxy]}],
    }


def sniffing_listener(name: str, host: str, port: int, hcm: dict, proxy: dict) -> dict:
    """A port Istio sniffs: HTTP goes through the HCM, anything else is proxied as TCP."""
    return {
        "name": name,
        "address": {"socket_address": {"address": host, "port_value": port}},
        "listener_filters": [
            {"name": "envoy.filters.listener.http_inspector", "typed_config": {"@type": HTTP_INSPECTOR_TYPE}},
        ],
        "filter_chains": [
            {"filter_chain_match": {"application_protocols": list(PLAINTEXT_HTTP)}, "filters": [hcm]},
        ],
        "default_filter_chain": {"filters": [proxy]},
    }
