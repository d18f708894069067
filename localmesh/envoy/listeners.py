"""Envoy listeners: one per Service port, and the ingress gateway's; each with one HCM."""

from __future__ import annotations

from typing import Optional

from localmesh.envoy.names import (
    DATADOG_CLUSTER,
    DATADOG_TYPE,
    FAULT_FILTER,
    FAULT_TYPE,
    HCM_TYPE,
    ROUTER_TYPE,
)
from localmesh.topology import TracingConfig


def http_filters() -> list:
    # The fault filter must run before the router; routes without a fault config pass through.
    return [
        {"name": FAULT_FILTER, "typed_config": {"@type": FAULT_TYPE}},
        {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER_TYPE}},
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
        # x-request-id: generated when missing, an incoming one kept (apps copy it onwards).
        "generate_request_id": True,
        "preserve_external_request_id": True,
        # Virtual hosts match on the host name alone, as Istio's gateway does for "host:port".
        "strip_any_host_port": True,
        "normalize_path": True,
    }
    if tracing is not None:
        config["tracing"] = tracing_config(tracing, service_name)
    return {"name": "envoy.filters.network.http_connection_manager", "typed_config": config}


def listener(name: str, host: str, port: int, hcm: dict) -> dict:
    return {
        "name": name,
        "address": {"socket_address": {"address": host, "port_value": port}},
        "filter_chains": [{"filters": [hcm]}],
    }
