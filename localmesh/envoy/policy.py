"""DestinationRule trafficPolicy -> Envoy cluster fields, as istiod 1.29 merges and maps them.

Which policy a cluster gets (pilot/pkg/networking/util MergeSubsetTrafficPolicy): a
portLevelSettings entry for the cluster's port replaces the rule's loadBalancer, connectionPool,
outlierDetection and tls wholesale (fields it leaves out fall back to Envoy's defaults, not to
the top level); a subset's policy then replaces each of those four it sets (all four when the
subset has a portLevelSettings entry for the port).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Optional

from localmesh.envoy.names import HTTP_PROTOCOL_OPTIONS_TYPE, duration
from localmesh.envoy.warnings import Warnings
from localmesh.fields import as_dict
from localmesh.loader import Resource
from localmesh.model import (
    HTTP2_PROTOCOLS,
    HTTP_PROTOCOLS,
    SNIFFED,
    ConsistentHash,
    DestinationRule,
    LoadBalancer,
    PolicySection,
    TrafficPolicy,
    parse_duration,
)

DEFAULT_LB_POLICY = "LEAST_REQUEST"  # istiod's defaultLBAlgorithm()
LB_POLICIES = {
    "ROUND_ROBIN": "ROUND_ROBIN",
    "LEAST_REQUEST": "LEAST_REQUEST",
    "LEAST_CONN": "LEAST_REQUEST",  # Istio's deprecated alias
    "RANDOM": "RANDOM",
}
DEFAULT_RING_SIZE = 1024  # what istiod writes when consistentHash names no ring size
# Istio lifts Envoy's default circuit breakers (1024, and 3 retries) to "unlimited".
UNLIMITED = 4294967295
HTTP_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
LOCAL_ORIGIN_AND_PANIC = (
    "splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures", "minHealthPercent",
)


@dataclass
class PolicyInForce:
    """The parts of a trafficPolicy that apply to one cluster, after istiod's merge."""

    load_balancer: Optional[LoadBalancer] = None
    connection_pool: Optional[PolicySection] = None
    outlier_detection: Optional[PolicySection] = None
    tls: Optional[PolicySection] = None
    tunnel: Optional[PolicySection] = None
    proxy_protocol: Optional[PolicySection] = None
    retry_budget: Optional[PolicySection] = None


REPLACED_BY_PORT_LEVEL = ("load_balancer", "connection_pool", "outlier_detection", "tls")


def _for_port(policy: Optional[TrafficPolicy], port: int) -> tuple:
    """(PolicyInForce or None, whether a portLevelSettings entry for port decided it)."""
    if policy is None:
        return None, False
    level = next((p for p in policy.port_level if p.port == port), None)
    if level is None:
        found = PolicyInForce()
        for name in [f.name for f in fields(PolicyInForce)]:
            setattr(found, name, getattr(policy, name))
        return found, False
    found = PolicyInForce()
    for name in REPLACED_BY_PORT_LEVEL:
        setattr(found, name, getattr(level, name))
    return found, True


def policy_in_force(
    rule: Optional[DestinationRule], subset: Optional[str], port: int
) -> Optional[PolicyInForce]:
    """The policy of cluster (rule's host, subset, port)."""
    if rule is None:
        return None
    original, _ = _for_port(rule.traffic_policy, port)
    found = rule.subset(subset) if subset else None
    if found is None or found.traffic_policy is None:
        return original
    own, port_level = _for_port(found.traffic_policy, port)
    if original is None:
        return own
    merged = replace(original)
    for name in REPLACED_BY_PORT_LEVEL:
        if getattr(own, name) is not None or port_level:
            setattr(merged, name, getattr(own, name))
    for name in ("tunnel", "proxy_protocol", "retry_budget"):
        if getattr(own, name) is not None:
            setattr(merged, name, getattr(own, name))
    return merged


# ---- consistent hashing: which hash key a route or a TCP proxy uses -----------------------------


def _hash_of(load_balancer: Optional[LoadBalancer]) -> Optional[ConsistentHash]:
    return load_balancer.consistent_hash if load_balancer is not None else None


def _level_hash(policy: Optional[TrafficPolicy], port: Optional[int]) -> Optional[ConsistentHash]:
    if policy is None or port is None:
        return None
    level = next((p for p in policy.port_level if p.port == port), None)
    return _hash_of(level.load_balancer) if level is not None else None


def route_destination_hash(
    rule: Optional[DestinationRule], subset: Optional[str], explicit_port: Optional[int]
) -> Optional[ConsistentHash]:
    """istiod's HashForHTTPDestination: the subset's port-level hash, the subset's, the rule's
    port-level (only for a destination that names its port), else the rule's top-level hash."""
    if rule is None:
        return None
    top = rule.traffic_policy
    found = _hash_of(top.load_balancer) if top else None
    rule_level = _level_hash(top, explicit_port)
    own = rule.subset(subset) if subset else None
    own_policy = own.traffic_policy if own else None
    subset_hash = _hash_of(own_policy.load_balancer) if own_policy else None
    subset_level = _level_hash(own_policy, explicit_port)
    return subset_level or subset_hash or rule_level or found


def service_hash(rule: Optional[DestinationRule], port: int) -> Optional[ConsistentHash]:
    """istiod's hashForService (the default route of a host without VirtualService)."""
    if rule is None or rule.traffic_policy is None:
        return None
    return _level_hash(rule.traffic_policy, port) or _hash_of(rule.traffic_policy.load_balancer)


def tcp_hashes_source_ip(rule: Optional[DestinationRule]) -> bool:
    """istiod's maybeSetHashPolicy for a TCP proxy to the whole Service."""
    if rule is None or rule.traffic_policy is None:
        return False
    found = _hash_of(rule.traffic_policy.load_balancer)
    return bool(found and found.source_ip)


def hash_policy(consistent: Optional[ConsistentHash]) -> Optional[dict]:
    """Envoy's RouteAction.HashPolicy for a consistentHash key; None for ring/maglev settings alone."""
    if consistent is None:
        return None
    if consistent.header is not None:
        return {"header": {"header_name": consistent.header}}
    if consistent.cookie is not None:
        cookie: dict = {"name": consistent.cookie["name"]}
        if consistent.cookie.get("ttl") is not None:
            cookie["ttl"] = duration(consistent.cookie["ttl"])
        if consistent.cookie.get("path"):
            cookie["path"] = consistent.cookie["path"]
        attributes = [
            {"name": name, **({"value": str(value)} if value is not None else {})}
            for name, value in consistent.cookie.get("attributes") or []
        ]
        if attributes:
            cookie["attributes"] = attributes
        return {"cookie": cookie}
    if consistent.source_ip:
        return {"connection_properties": {"source_ip": True}}
    if consistent.query_parameter is not None:
        return {"query_parameter": {"name": consistent.query_parameter}}
    return None


# ---- the cluster fields -------------------------------------------------------------------------


def _thresholds(limits: dict) -> dict:
    return {
        "max_connections": limits.get("max_connections", UNLIMITED),
        "max_pending_requests": limits.get("max_pending_requests", UNLIMITED),
        "max_requests": limits.get("max_requests", UNLIMITED),
        "max_retries": limits.get("max_retries", UNLIMITED),
        "track_remaining": True,
    }


def _positive(value: Any) -> Optional[int]:
    """istiod applies a connection-pool number only when it is > 0 (0 cannot mean "unset" else)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


class _ClusterFields:
    """Collects the cluster dict fields for one PolicyInForce, and warns about the rest."""

    def __init__(self, protocol: str, warnings: Warnings) -> None:
        self.protocol = protocol
        self.fields: dict = {
            "lb_policy": DEFAULT_LB_POLICY,
            "circuit_breakers": {"thresholds": [_thresholds({})]},
            # Unready pods are not endpoints in Istio (EDS drops them); here they are health-checked
            # endpoints, and panic mode would send them traffic: keep it off.
            "common_lb_config": {"healthy_panic_threshold": {"value": 0}},
        }
        self.common: dict = {}  # HttpProtocolOptions.common_http_protocol_options
        self.http2_options: dict = {}
        self.upstream = self._protocol_upstream()
        self.warnings = warnings

    def _protocol_upstream(self) -> Optional[str]:
        """"h2", "downstream" or None (HTTP/1.1): istiod's setUpstreamProtocol for a sidecar."""
        if self.protocol in HTTP2_PROTOCOLS:
            return "h2"
        if self.protocol == SNIFFED:
            return "downstream"
        return None

    def load_balancer(self, resource: Resource, lb: LoadBalancer) -> None:
        if lb.simple is not None and lb.simple != "UNSPECIFIED":
            mapped = LB_POLICIES.get(lb.simple)
            if mapped is None:
                why = "PASSTHROUGH needs the original destination" if lb.simple == "PASSTHROUGH" else ""
                self.warnings.unsupported(resource, lb.path + ("simple",), why)
            else:
                self.fields["lb_policy"] = mapped
        if lb.warmup_seconds is not None and self.fields["lb_policy"] in ("ROUND_ROBIN", "LEAST_REQUEST"):
            slow_start: dict = {"slow_start_window": duration(lb.warmup_seconds)}
            if lb.warmup_aggression is not None or lb.warmup_minimum_percent is not None:
                slow_start["aggression"] = {"default_value": lb.warmup_aggression or 1.0, "runtime_key": "("}
                slow_start["min_weight_percent"] = {"value": lb.warmup_minimum_percent or 10.0}
            round_robin = self.fields["lb_policy"] == "ROUND_ROBIN"
            key = "round_robin_lb_config" if round_robin else "least_request_lb_config"
            self.fields[key] = {"slow_start_config": slow_start}
        if lb.locality is not None:
            reason = "every local endpoint is in one locality; ignored"
            self.warnings.add(resource, lb.path + ("localityLbSetting",), reason)
        consistent = lb.consistent_hash
        if consistent is not None:
            # One lb_config per cluster: the hash's replaces a warmup's (istiod's order too).
            self.fields.pop("round_robin_lb_config", None)
            self.fields.pop("least_request_lb_config", None)
            if consistent.maglev:
                self.fields["lb_policy"] = "MAGLEV"
                if consistent.maglev_table_size:
                    self.fields["maglev_lb_config"] = {"table_size": str(consistent.maglev_table_size)}
            else:
                self.fields["lb_policy"] = "RING_HASH"
                size = consistent.ring_hash_minimum or DEFAULT_RING_SIZE
                self.fields["ring_hash_lb_config"] = {"minimum_ring_size": str(size)}
            for key in consistent.unknown_fields:
                self.warnings.unsupported(resource, consistent.path + (key,))
        for key in lb.unknown_fields:
            self.warnings.unsupported(resource, lb.path + (key,))

    def connection_pool(self, resource: Resource, section: PolicySection) -> None:
        limits: dict = {}
        tcp = as_dict(section.values.get("tcp"))
        http = as_dict(section.values.get("http"))
        idle = None
        for key, value in http.items():
            where = section.path + ("http", key)
            if key == "http1MaxPendingRequests":
                if _positive(value):
                    limits["max_pending_requests"] = value
            elif key == "http2MaxRequests":
                if _positive(value):
                    limits["max_requests"] = value
            elif key == "maxRetries":
                if _positive(value):
                    limits["max_retries"] = value
            elif key == "maxRequestsPerConnection":
                if _positive(value):
                    self.common["max_requests_per_connection"] = value
            elif key == "idleTimeout" and parse_duration(value) is not None:
                idle = parse_duration(value)
            elif key == "maxConcurrentStreams":
                if _positive(value) and self.upstream == "h2":
                    self.http2_options = {"max_concurrent_streams": value}
            elif key == "h2UpgradePolicy":
                if value == "UPGRADE":
                    self.upstream = "h2"
                elif value == "DO_NOT_UPGRADE" and self.protocol not in HTTP2_PROTOCOLS:
                    self.upstream = self._protocol_upstream()
            elif key == "useClientProtocol":
                if value is True:
                    self.upstream = "downstream"
            else:
                self.warnings.unsupported(resource, where)
        for key, value in tcp.items():
            where = section.path + ("tcp", key)
            if key == "maxConnections":
                if _positive(value):
                    limits["max_connections"] = value
            elif key == "connectTimeout" and parse_duration(value) is not None:
                self.fields["connect_timeout"] = duration(parse_duration(value))
            elif key == "maxConnectionDuration" and parse_duration(value) is not None:
                self.common["max_connection_duration"] = duration(parse_duration(value))
            elif key == "idleTimeout" and parse_duration(value) is not None:
                idle = idle if idle is not None else parse_duration(value)
            elif key == "tcpKeepalive" and isinstance(value, dict):
                self._keepalive(resource, value, where)
            else:
                self.warnings.unsupported(resource, where)
        if idle is not None:
            self.common["idle_timeout"] = duration(idle)
        for key in sorted(set(section.values) - {"tcp", "http"}):
            self.warnings.unsupported(resource, section.path + (key,))
        self.fields["circuit_breakers"]["thresholds"][0].update(_thresholds(limits))

    def _keepalive(self, resource: Resource, value: dict, path: tuple) -> None:
        keepalive: dict = {}
        for key, item in value.items():
            seconds = parse_duration(item)
            if key == "probes" and _positive(item):
                keepalive["keepalive_probes"] = item
            elif key == "time" and seconds is not None:
                keepalive["keepalive_time"] = max(int(seconds), 1)
            elif key == "interval" and seconds is not None:
                keepalive["keepalive_interval"] = max(int(seconds), 1)
            else:
                self.warnings.unsupported(resource, path + (key,))
        self.fields["upstream_connection_options"] = {"tcp_keepalive": keepalive}

    def retry_budget(self, section: PolicySection) -> None:
        percent = section.values.get("percent")
        budget = {
            "budget_percent": {"value": float(as_dict(percent).get("value", 20.0))},
            "min_retry_concurrency": _positive(section.values.get("minRetryConcurrency")) or 3,
        }
        self.fields["circuit_breakers"]["thresholds"][0]["retry_budget"] = budget

    def outlier_detection(self, resource: Resource, section: PolicySection) -> None:
        """istiod's applyOutlierDetection: only what is written, success-rate ejection off."""
        values = section.values
        out: dict = {"enforcing_success_rate": 0}
        for key, value in values.items():
            where = section.path + (key,)
            seconds = parse_duration(value)
            if key == "consecutive5xxErrors" and isinstance(value, int):
                out["consecutive_5xx"] = value
                out["enforcing_consecutive_5xx"] = 100 if value > 0 else 0
            elif key == "consecutiveGatewayErrors" and isinstance(value, int):
                out["consecutive_gateway_failure"] = value
                out["enforcing_consecutive_gateway_failure"] = 100 if value > 0 else 0
            elif key == "interval" and seconds is not None:
                out["interval"] = duration(seconds)
            elif key == "baseEjectionTime" and seconds is not None:
                out["base_ejection_time"] = duration(seconds)
            elif key == "maxEjectionPercent" and isinstance(value, int):
                if value > 0:
                    out["max_ejection_percent"] = value
            elif key in LOCAL_ORIGIN_AND_PANIC:
                continue  # read below, together
            elif key == "consecutiveErrors":
                reason = "deprecated, dropped by Istio; use consecutive5xxErrors; ignored"
                self.warnings.add(resource, where, reason)
            else:
                self.warnings.unsupported(resource, where)
        if values.get("splitExternalLocalOriginErrors") is True:
            out["split_external_local_origin_errors"] = True
            failures = values.get("consecutiveLocalOriginFailures")
            if _positive(failures):
                out["consecutive_local_origin_failure"] = failures
                out["enforcing_consecutive_local_origin_failure"] = 100
            out["enforcing_local_origin_success_rate"] = 0
        minimum = values.get("minHealthPercent", 0)
        if isinstance(minimum, int) and minimum > 0:
            self.fields["common_lb_config"] = {"healthy_panic_threshold": {"value": minimum}}
        self.fields["outlier_detection"] = out

    def protocol_options(self) -> None:
        """Envoy's upstream HTTP protocol options (only HTTP clusters have them)."""
        if self.protocol not in HTTP_PROTOCOLS and self.protocol != SNIFFED:
            return
        if not self.common and self.upstream is None:
            return
        options: dict = {"@type": HTTP_PROTOCOL_OPTIONS_TYPE}
        if self.common:
            options["common_http_protocol_options"] = dict(self.common)
        http2 = dict(self.http2_options)
        if self.upstream == "h2":
            options["explicit_http_config"] = {"http2_protocol_options": http2}
        elif self.upstream == "downstream":
            options["use_downstream_protocol_config"] = {
                "http_protocol_options": {},
                "http2_protocol_options": http2,
            }
        else:
            options["explicit_http_config"] = {"http_protocol_options": {}}
        self.fields["typed_extension_protocol_options"] = {HTTP_OPTIONS_KEY: options}


def cluster_policy(policy: Optional[PolicyInForce], protocol: str, warnings: Warnings) -> dict:
    """The fields to merge into the cluster dict for the policy in force and the port's protocol
    (h2 for http2/grpc ports, the client's protocol for ports Istio would sniff)."""
    out = _ClusterFields(protocol, warnings)
    if policy is not None:
        # Each part is reported where it was written: a merged policy comes from several rules.
        if policy.load_balancer is not None:
            out.load_balancer(policy.load_balancer.resource, policy.load_balancer)
        if policy.connection_pool is not None:
            out.connection_pool(policy.connection_pool.resource, policy.connection_pool)
        if policy.outlier_detection is not None:
            out.outlier_detection(policy.outlier_detection.resource, policy.outlier_detection)
        if policy.retry_budget is not None:
            out.retry_budget(policy.retry_budget)
        tls = policy.tls
        if tls is not None and tls.values.get("mode") not in (None, "DISABLE"):
            out.warnings.unsupported(tls.resource, tls.path, "localmesh talks plain HTTP on loopback")
        for section in (policy.tunnel, policy.proxy_protocol):
            if section is not None:
                out.warnings.unsupported(section.resource, section.path)
    out.protocol_options()
    return out.fields


def warn_unknown_policy_fields(rule: DestinationRule, warnings: Warnings) -> None:
    """Fields that are no part of Istio's trafficPolicy, wherever they were written in rule."""
    policies = [rule.traffic_policy] + [s.traffic_policy for s in rule.subsets]
    for policy in policies:
        if policy is None:
            continue
        for key in policy.unknown_fields:
            warnings.unsupported(policy.resource, policy.path + (key,))
        for level in policy.port_level:
            for key in level.unknown_fields:
                warnings.unsupported(policy.resource, level.path + (key,))
