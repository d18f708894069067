"""DestinationRule trafficPolicy -> Envoy cluster fields (Istio's merge and mapping).

Precedence, as istiod: top-level < top-level portLevelSettings < subset < subset portLevelSettings.
"""

from __future__ import annotations

from typing import Any, Optional

from localmesh.envoy.names import HTTP_PROTOCOL_OPTIONS_TYPE, duration
from localmesh.envoy.warnings import unsupported, warning
from localmesh.model import DestinationRule, parse_duration

POLICY_FIELDS = ("loadBalancer", "connectionPool", "outlierDetection", "tls", "tunnel", "proxyProtocol")
LB_POLICIES = {
    "ROUND_ROBIN": "ROUND_ROBIN",
    "LEAST_REQUEST": "LEAST_REQUEST",
    "LEAST_CONN": "LEAST_REQUEST",  # Istio's deprecated alias
    "RANDOM": "RANDOM",
}
# Istio lifts Envoy's default circuit breakers (1024, and 3 retries) to "unlimited".
UNLIMITED = 4294967295


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def merged_policy(rule: DestinationRule, subset: Optional[str], port: int) -> dict:
    """{field: (value, path written)} for the cluster of (rule, subset, port)."""
    merged: dict = {}

    def apply(policy: dict, path: tuple) -> None:
        for name in policy:
            if name != "portLevelSettings":
                merged[name] = (policy[name], path + (name,))
        for index, level in enumerate(policy.get("portLevelSettings") or []):
            level = _dict(level)
            if _dict(level.get("port")).get("number") == port:
                for name in level:
                    if name != "port":
                        merged[name] = (level[name], path + ("portLevelSettings", index, name))

    apply(rule.traffic_policy, ("spec", "trafficPolicy"))
    found = rule.subset(subset) if subset else None
    if found is not None:
        apply(found.traffic_policy, found.path + ("trafficPolicy",))
    return merged


def cluster_policy(rule: Optional[DestinationRule], subset: Optional[str], port: int) -> tuple:
    """(fields to merge into the cluster dict, warnings)."""
    fields: dict = {
        "lb_policy": "ROUND_ROBIN",
        "circuit_breakers": {"thresholds": [_thresholds({})]},
        # Panic mode would send traffic to endpoints whose readiness probe fails; Istio turns it off.
        "common_lb_config": {"healthy_panic_threshold": {"value": 0}},
    }
    if rule is None:
        return fields, []
    warnings: list = []
    resource = rule.resource
    for name, (value, path) in merged_policy(rule, subset, port).items():
        if name == "loadBalancer":
            _load_balancer(_dict(value), path, fields, warnings, resource)
        elif name == "connectionPool":
            _connection_pool(_dict(value), path, fields, warnings, resource)
        elif name == "outlierDetection":
            _outlier_detection(_dict(value), path, fields, warnings, resource)
        elif name == "tls":
            warnings.append(unsupported(resource, path, "localmesh talks plain HTTP on loopback"))
        else:
            warnings.append(unsupported(resource, path))
    return fields, warnings


def _load_balancer(value: dict, path: tuple, fields: dict, warnings: list, resource: Any) -> None:
    for key, item in value.items():
        if key == "simple":
            policy = LB_POLICIES.get(str(item))
            if policy:
                fields["lb_policy"] = policy
            else:
                warnings.append(unsupported(resource, path + (key,), f"simple: {item}"))
        else:
            warnings.append(unsupported(resource, path + (key,)))


def _thresholds(values: dict) -> dict:
    return {
        "max_connections": values.get("max_connections", UNLIMITED),
        "max_pending_requests": values.get("max_pending_requests", UNLIMITED),
        "max_requests": values.get("max_requests", UNLIMITED),
        "max_retries": values.get("max_retries", UNLIMITED),
        "track_remaining": True,
    }


TCP_LIMITS = {"maxConnections": "max_connections"}
HTTP_LIMITS = {
    "http1MaxPendingRequests": "max_pending_requests",
    "http2MaxRequests": "max_requests",
    "maxRetries": "max_retries",
}


def _connection_pool(value: dict, path: tuple, fields: dict, warnings: list, resource: Any) -> None:
    limits: dict = {}
    common: dict = {}
    for section, known in (("tcp", TCP_LIMITS), ("http", HTTP_LIMITS)):
        for key, item in _dict(value.get(section)).items():
            where = path + (section, key)
            if key in known and isinstance(item, int) and not isinstance(item, bool):
                limits[known[key]] = item
            elif (section, key) == ("tcp", "connectTimeout") and parse_duration(item) is not None:
                fields["connect_timeout"] = duration(parse_duration(item))
            elif (section, key) == ("http", "maxRequestsPerConnection") and isinstance(item, int):
                if item > 0:
                    common["max_requests_per_connection"] = item
            elif (section, key) == ("http", "idleTimeout") and parse_duration(item) is not None:
                common["idle_timeout"] = duration(parse_duration(item))
            elif (section, key) == ("tcp", "maxConnectionDuration") and parse_duration(item) is not None:
                common["max_connection_duration"] = duration(parse_duration(item))
            else:
                warnings.append(unsupported(resource, where))
    for key in value.keys() - {"tcp", "http"}:
        warnings.append(unsupported(resource, path + (key,)))
    fields["circuit_breakers"] = {"thresholds": [_thresholds(limits)]}
    if common:
        fields["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": HTTP_PROTOCOL_OPTIONS_TYPE,
                "common_http_protocol_options": common,
                "explicit_http_config": {"http_protocol_options": {}},
            }
        }


def _outlier_detection(value: dict, path: tuple, fields: dict, warnings: list, resource: Any) -> None:
    out: dict = {}
    for key, item in value.items():
        where = path + (key,)
        seconds = parse_duration(item)
        if key == "consecutive5xxErrors" and isinstance(item, int):
            # As istiod: a count enables its enforcement; 0 turns it off.
            out["consecutive_5xx"] = item
            out["enforcing_consecutive_5xx"] = 100 if item > 0 else 0
        elif key == "consecutiveGatewayErrors" and isinstance(item, int):
            out["consecutive_gateway_failure"] = item
            out["enforcing_consecutive_gateway_failure"] = 100 if item > 0 else 0
        elif key == "consecutiveLocalOriginFailures" and isinstance(item, int):
            out["consecutive_local_origin_failure"] = item
            out["enforcing_consecutive_local_origin_failure"] = 100 if item > 0 else 0
        elif key == "splitExternalLocalOriginErrors" and isinstance(item, bool):
            out["split_external_local_origin_errors"] = item
        elif key == "interval" and seconds is not None:
            out["interval"] = duration(seconds)
        elif key == "baseEjectionTime" and seconds is not None:
            out["base_ejection_time"] = duration(seconds)
        elif key == "maxEjectionPercent" and isinstance(item, int):
            out["max_ejection_percent"] = item
        elif key == "minHealthPercent" and isinstance(item, int):
            fields["common_lb_config"] = {"healthy_panic_threshold": {"value": item}}
        elif key == "consecutiveErrors":
            warnings.append(warning(resource, where, "deprecated; use consecutive5xxErrors; ignored"))
        else:
            warnings.append(unsupported(resource, where))
    # istiod never lets the success-rate algorithm eject hosts.
    out["enforcing_success_rate"] = 0
    fields["outlier_detection"] = out
