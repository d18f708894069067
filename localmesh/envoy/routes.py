"""Istio VirtualService HTTP rules -> Envoy routes, in order, as istiod 1.29 builds them
(pilot/pkg/networking/core/route/route.go and route/retry/retry.go)."""

from __future__ import annotations

import http
from dataclasses import dataclass
from typing import Optional

from localmesh.envoy.matches import is_catch_all, route_match, string_matcher
from localmesh.envoy.names import (
    CORS_FILTER,
    CORS_POLICY_TYPE,
    FAULT_FILTER,
    FAULT_TYPE,
    PREVIOUS_HOSTS_TYPE,
    PREVIOUS_PRIORITIES_TYPE,
    cluster_name,
    duration,
    percent,
)
from localmesh.envoy.policy import hash_policy, route_destination_hash, service_hash
from localmesh.envoy.views import ClusterPlan
from localmesh.envoy.warnings import Warnings
from localmesh.loader import Resource
from localmesh.model import (
    EXPORT_TO_ANNOTATION,
    CorsPolicy,
    Destination,
    Fault,
    Headers,
    HttpMatch,
    HttpRoute,
    Mesh,
    Redirect,
    Retries,
    RouteDestination,
    Service,
    VirtualService,
    labels_match,
    resolve_gateway_name,
)

# Istio's default retry policy on a route without `retries`: no retriable status codes, so an
# upstream 503 is not retried (older Istio listed 503).
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
DEFAULT_RETRIES = 2
PREVIOUS_HOSTS = {
    "name": "envoy.retry_host_predicates.previous_hosts",
    "typed_config": {"@type": PREVIOUS_HOSTS_TYPE},
}
REDIRECT_CODES = {
    301: "MOVED_PERMANENTLY", 302: "FOUND", 303: "SEE_OTHER", 307: "TEMPORARY_REDIRECT",
    308: "PERMANENT_REDIRECT",
}
# gRPC status names Istio accepts in fault.abort.grpcStatus, and their codes.
GRPC_STATUS = {
    "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9,
    "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14,
    "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}


@dataclass(frozen=True)
class RouteContext:
    """Which proxy the routes are for: a Service listener (mesh) or the ingress gateway."""

    gateway: Optional[str] = None  # "ns/name" of the Gateway, None for the mesh
    port: Optional[int] = None  # Istio's listener port: the Service port, or the Gateway server port
    namespace: str = ""  # the proxy's namespace: what it sees (exportTo, DestinationRules)
    clusters: Optional[ClusterPlan] = None  # cluster names for that namespace; None: Istio's names
    # (namespace, labels) of each proxy the routes serve, for sourceLabels and sourceNamespace:
    # the gateway's, or a Service's client pods. Empty: no proxy known.
    proxies: tuple[tuple[str, dict[str, str]], ...] = ()

    def cluster(self, port: int, subset: Optional[str], fqdn: str) -> str:
        if self.clusters is None:
            return cluster_name(port, subset, fqdn)
        return self.clusters.name(port, subset, fqdn, self.namespace)


def default_retry_policy(consistent_hash: bool = False) -> dict:
    """istiod's retry.DefaultPolicy(); with consistent hashing, no previous-hosts predicate."""
    policy: dict = {
        "retry_on": DEFAULT_RETRY_ON,
        "num_retries": DEFAULT_RETRIES,
        "host_selection_retry_max_attempts": "5",
    }
    if not consistent_hash:
        policy["retry_host_predicate"] = [dict(PREVIOUS_HOSTS)]
    return policy


def _timeouts(seconds: Optional[float]) -> dict:
    # No timeout unless the rule sets one (Envoy's own default would be 15 s), as istiod.
    timeout = duration(seconds or 0)
    # gRPC's grpc-timeout header capped at the same value (istiod's max_grpc_timeout).
    return {"timeout": timeout, "max_stream_duration": {"grpc_timeout_header_max": timeout}}


def service_default_routes(mesh: Mesh, service: Service, context: RouteContext) -> list[dict]:
    """No VirtualService (or none with a route for this port): one route to the whole Service,
    with the DestinationRule's consistent hash if it has one (istiod's default outbound route)."""
    port = context.port
    action: dict = {"cluster": context.cluster(port, None, service.fqdn), **_timeouts(None)}
    rule = mesh.destination_rule_for(service.fqdn, context.namespace or None)
    found = hash_policy(service_hash(rule, port))
    if found is not None:
        action["hash_policy"] = [found]
    action["retry_policy"] = default_retry_policy()
    return [{"name": "default", "match": {"prefix": "/"}, "route": action}]


def virtual_service_routes(
    mesh: Mesh, vs: VirtualService, context: RouteContext, warnings: Warnings
) -> list[dict]:
    """The Envoy routes: one per (rule x match entry), in order; nothing after the first route
    that matches every request (istiod stops there)."""
    routes: list = []
    resource = vs.resource
    for key in ("tcp", "tls"):
        if key in resource.spec:
            warnings.unsupported(resource, ("spec", key), "localmesh routes HTTP only")
    for index, rule in enumerate(vs.http):
        _warn_unsupported_rule_fields(rule, resource, warnings)
        entries = rule.matches or [None]
        caught_all = not rule.matches
        for position, match in enumerate(entries):
            route = translate_route(mesh, vs, rule, match, context, f"{index}", position, warnings)
            if route is None:
                continue
            routes.append(route)
            if is_catch_all(route["match"]):
                caught_all = True
                break
        if caught_all:
            break
    return routes


def _warn_unsupported_rule_fields(rule: HttpRoute, resource: Resource, warnings: Warnings) -> None:
    """What the rule asks for that localmesh cannot do, once per rule."""
    for key in rule.unknown_fields:
        warnings.unsupported(resource, rule.path + (key,))
    if rule.delegate is not None:
        warnings.unsupported(resource, rule.path + ("delegate",), "delegate VirtualServices")
    for match in rule.matches:
        for key in match.unknown_fields:
            warnings.unsupported(resource, match.path + (key,))


def _applies(
    match: Optional[HttpMatch], vs: VirtualService, context: RouteContext, warnings: Warnings
) -> bool:
    """A match entry's `port`, `gateways`, `sourceLabels` and `sourceNamespace` select the listener
    and the proxy, not requests (route.go sourceMatchHTTP: `gateways` decides alone when set)."""
    if match is None:
        return True
    if match.port and match.port != context.port:
        return False
    if match.gateways:
        refs = {resolve_gateway_name(g, vs.namespace) for g in match.gateways}
        return (context.gateway or "mesh") in refs
    if not match.source_labels and not match.source_namespace:
        return True
    chosen = {
        labels_match(match.source_labels, labels)
        and (not match.source_namespace or match.source_namespace == namespace)
        for namespace, labels in context.proxies
    }
    if len(chosen) == 1:
        return chosen.pop()
    key = "sourceLabels" if match.source_labels else "sourceNamespace"
    if not chosen:
        reason = ("no client pod in the manifests to compare it with; localmesh applies the route to "
                  "every request")
    else:
        reason = ("some client pods match it and others do not; they share one local listener, where "
                  "localmesh applies the route to every request")
    warnings.add(vs.resource, match.path + (key,), reason)
    return True


def _match_name(match: Optional[HttpMatch]) -> str:
    return f".{match.name}" if match is not None and match.name else ""


def translate_route(
    mesh: Mesh,
    vs: VirtualService,
    rule: HttpRoute,
    match: Optional[HttpMatch],
    context: RouteContext,
    index: str,
    position: int,
    warnings: Warnings,
) -> Optional[dict]:
    """istiod's TranslateRoute for one match entry: one Envoy route, or None when the entry does
    not apply to this proxy or the rule cannot be built."""
    if not _applies(match, vs, context, warnings):
        return None
    resource = vs.resource
    route: dict = {
        # istiod names a route after its rule, then ".<match name>".
        "name": f"{vs.namespace}/{vs.name}/{rule.name or index}{_match_name(match)}/{position}",
        "match": route_match(match),
    }
    if match is not None and match.stat_prefix:
        route["stat_prefix"] = match.stat_prefix
    authority = None
    if rule.headers is not None:
        authority = _apply_headers(route, rule.headers, resource, warnings)
    if rule.redirect is not None:
        redirect = _redirect(rule.redirect, context, resource, warnings)
        if redirect is None:
            return None
        route["redirect"] = redirect
    elif rule.direct_response is not None:
        route["direct_response"] = _direct_response(rule, resource, warnings)
    elif rule.route:
        route["route"] = _route_action(mesh, vs, rule, context, route, authority, warnings)
    else:
        reason = "rule has no route, redirect or directResponse; skipped"
        warnings.add(resource, rule.path, reason)
        return None
    per_filter: dict = {}
    if rule.fault is not None:
        fault = _fault(rule.fault, resource, warnings)
        if fault is not None:
            per_filter[FAULT_FILTER] = fault
    if rule.cors is not None:
        per_filter[CORS_FILTER] = _cors(rule.cors, resource, warnings)
    if per_filter:
        route["typed_per_filter_config"] = per_filter
    return route


# ---- headers ------------------------------------------------------------------------------------


def _is_authority(name: str) -> bool:
    return name.lower() in (":authority", "host")


def _is_internal(name: str) -> bool:
    """Pseudo-headers and Host: Envoy cannot edit them as headers (istiod drops them)."""
    return name.startswith(":") or name.lower() == "host"


def header_operations(
    headers: Headers, resource: Resource, warnings: Warnings
) -> tuple[dict, Optional[str]]:
    """(Envoy header fields, authority or None) for Istio's `headers`: `set` overwrites, `add`
    appends, Host/:authority in set (or add) become a host rewrite, as istiod's
    TranslateHeadersOperations."""
    out: dict = {}
    authority = None
    for key in headers.unknown_fields:
        warnings.unsupported(resource, headers.path + (key,))
    for side, ops in (("request", headers.request), ("response", headers.response)):
        if ops is None:
            continue
        for key in ops.unknown_fields:
            warnings.unsupported(resource, ops.path + (key,))
        set_authority = add_authority = None
        add: list = []
        for items, action in ((ops.set, "OVERWRITE_IF_EXISTS_OR_ADD"), (ops.add, "APPEND_IF_EXISTS_OR_ADD")):
            chosen = []
            for name, value in items:
                if _is_authority(name):
                    if action.startswith("OVERWRITE"):
                        set_authority = value
                    else:
                        add_authority = value
                if not _is_internal(name):
                    chosen.append({"header": {"key": name, "value": value}, "append_action": action})
            add += sorted(chosen, key=lambda option: option["header"]["key"])
        if add:
            out[f"{side}_headers_to_add"] = add
        remove = [name for name in ops.remove if not _is_internal(name)]
        if remove:
            out[f"{side}_headers_to_remove"] = remove
        if side == "request":
            authority = set_authority or add_authority
    return out, authority


def _apply_headers(target: dict, headers: Headers, resource: Resource, warnings: Warnings) -> Optional[str]:
    operations, authority = header_operations(headers, resource, warnings)
    for key, value in operations.items():
        target[key] = target.get(key, []) + value
    return authority


# ---- route action -------------------------------------------------------------------------------


def _destination_port(mesh: Mesh, destination: Destination, context: RouteContext) -> int:
    """istiod's GetDestinationCluster port: the named port, else the only port of the Service (if
    the proxy sees it), else the listener's port."""
    if destination.port is not None:
        return destination.port
    service = mesh.service_for(destination.fqdn, context.namespace or None)
    if service is not None and len(service.ports) == 1:
        return service.ports[0].port
    return context.port or 80


def _destination_cluster(
    mesh: Mesh,
    destination: Destination,
    context: RouteContext,
    resource: Resource,
    path: tuple,
    warnings: Warnings,
) -> str:
    port = _destination_port(mesh, destination, context)
    namespace = context.namespace or None
    service = mesh.service_for(destination.fqdn)
    if service is None:
        reason = f"host {destination.host!r} is no Service here; requests get 503 (NC)"
        warnings.add(resource, path + ("host",), reason)
    elif mesh.service_for(destination.fqdn, namespace) is None:
        reason = (f"Service {service.namespace}/{service.name} is not exported to namespace {namespace}, "
                  f"where this proxy runs ({EXPORT_TO_ANNOTATION}); requests get 503 (NC)")
        warnings.add(resource, path + ("host",), reason)
    elif service.port(port) is None:
        reason = f"Service {service.name} has no port {port}; requests get 503 (NC)"
        warnings.add(resource, path, reason)
    elif destination.subset:
        rule = mesh.destination_rule_for(destination.fqdn, namespace)
        if rule is None or rule.subset(destination.subset) is None:
            seen = f" that namespace {namespace} sees" if namespace else ""
            reason = (f"no DestinationRule{seen} defines subset {destination.subset!r} of "
                      f"{destination.host}; requests get 503 (NC)")
            warnings.add(resource, path + ("subset",), reason)
    return context.cluster(port, destination.subset, destination.fqdn)


def _weight(dest: RouteDestination, resource: Resource, warnings: Warnings) -> int:
    weight = dest.weight if isinstance(dest.weight, int) and not isinstance(dest.weight, bool) else 0
    if weight < 0:
        reason = "negative weight (Istio rejects it); treated as 0"
        warnings.add(resource, dest.path + ("weight",), reason)
        return 0
    return weight


def _route_action(
    mesh: Mesh,
    vs: VirtualService,
    rule: HttpRoute,
    context: RouteContext,
    route: dict,
    authority: Optional[str],
    warnings: Warnings,
) -> dict:
    """istiod's applyHTTPRouteDestination."""
    resource = vs.resource
    action: dict = _timeouts(rule.timeout)
    rewrite = rule.rewrite
    if rewrite is not None:
        for key in rewrite.unknown_fields:
            warnings.unsupported(resource, rewrite.path + (key,))
        if rewrite.uri_regex is not None:
            pattern, substitution = rewrite.uri_regex
            action["regex_rewrite"] = {"pattern": {"regex": pattern}, "substitution": substitution}
        elif rewrite.uri:
            action["prefix_rewrite"] = rewrite.uri
        if rewrite.authority:
            authority = rewrite.authority
    if authority:
        action["host_rewrite_literal"] = authority
    mirrors = []
    for mirror in rule.mirrors:
        if mirror.percent is not None and mirror.percent <= 0:
            continue  # an explicit 0 % mirrors nothing
        target = _destination_cluster(mesh, mirror.destination, context, resource, mirror.path, warnings)
        fraction = percent(100.0 if mirror.percent is None else mirror.percent)
        fraction_of = {"default_value": fraction}
        mirrors.append({"cluster": target, "runtime_fraction": fraction_of, "trace_sampled": False})
    if mirrors:
        action["request_mirror_policies"] = mirrors
    hashes: list = []
    consistent_hash = False
    if len(rule.route) == 1:
        dest = rule.route[0]
        action["cluster"] = _destination_cluster(
            mesh, dest.destination, context, resource, dest.path + ("destination",), warnings
        )
        _destination_extras(dest, resource, warnings)
        if dest.headers is not None:
            dest_authority = _apply_headers(route, dest.headers, resource, warnings)
            if dest_authority and "host_rewrite_literal" not in action:
                action["host_rewrite_literal"] = dest_authority
        found = _destination_hash(mesh, dest, context)
        consistent_hash = found is not None
        if found is not None and hash_policy(found) is not None:
            hashes.append(hash_policy(found))
    else:
        weighted = []
        for dest in rule.route:
            weight = _weight(dest, resource, warnings)
            _destination_extras(dest, resource, warnings)
            if weight == 0:
                continue  # a 0 (or omitted) weight among several destinations gets nothing
            entry: dict = {
                "name": _destination_cluster(
                    mesh, dest.destination, context, resource, dest.path + ("destination",), warnings
                ),
                "weight": weight,
            }
            if dest.headers is not None:
                dest_authority = _apply_headers(entry, dest.headers, resource, warnings)
                if dest_authority:
                    entry["host_rewrite_literal"] = dest_authority
            weighted.append(entry)
            found = hash_policy(_destination_hash(mesh, dest, context))
            if found is not None:
                hashes.append(found)
        if not weighted:
            reason = "every weight is 0 (Istio rejects this); split evenly"
            warnings.add(resource, rule.path + ("route",), reason)
            # That warning stands for the rule: what these destinations lack is not reported again.
            unreported = Warnings()
            weighted = [
                {"name": _destination_cluster(mesh, d.destination, context, resource, d.path, unreported),
                 "weight": 1}
                for d in rule.route
            ]
        action["weighted_clusters"] = {"clusters": weighted}
    if hashes:
        action["hash_policy"] = hashes
    retry = _retry_policy(rule.retries, consistent_hash, resource, warnings)
    if retry is not None:
        action["retry_policy"] = retry
    return action


def _destination_extras(dest: RouteDestination, resource: Resource, warnings: Warnings) -> None:
    for key in dest.unknown_fields:
        warnings.unsupported(resource, dest.path + (key,))


def _destination_hash(mesh: Mesh, dest: RouteDestination, context: RouteContext) -> object:
    destination = dest.destination
    rule = mesh.destination_rule_for(destination.fqdn, context.namespace or None)
    return route_destination_hash(rule, destination.subset, destination.port)


def _status_codes(retry_on: str) -> tuple:
    """(conditions, status codes) from Istio's retryOn: every known HTTP status is a code."""
    conditions, codes = [], []
    for part in (p.strip() for p in retry_on.split(",")):
        if not part:
            continue
        if part.isdigit() and int(part) in {status.value for status in http.HTTPStatus}:
            codes.append(int(part))
        else:
            conditions.append(part)
    return conditions, codes


def _retry_policy(
    retries: Optional[Retries], consistent_hash: bool, resource: Resource, warnings: Warnings
) -> Optional[dict]:
    """istiod's retry.ConvertPolicy: defaults without `retries`; attempts <= 0 turns retries off."""
    if retries is None:
        return default_retry_policy(consistent_hash)
    for key in retries.unknown_fields:
        warnings.unsupported(resource, retries.path + (key,))
    if retries.attempts <= 0:
        return None
    policy = default_retry_policy(consistent_hash)
    policy["num_retries"] = retries.attempts
    if retries.retry_on:
        conditions, codes = _status_codes(retries.retry_on)
        if codes and "retriable-status-codes" not in conditions:
            conditions.append("retriable-status-codes")
        policy["retry_on"] = ",".join(conditions)
        if codes:
            policy["retriable_status_codes"] = codes
    if retries.per_try_timeout is not None:
        policy["per_try_timeout"] = duration(retries.per_try_timeout)
    if retries.retry_ignore_previous_hosts is not None:
        if retries.retry_ignore_previous_hosts:
            policy["retry_host_predicate"] = [dict(PREVIOUS_HOSTS)]
        else:
            policy.pop("retry_host_predicate", None)
    if retries.retry_remote_localities:
        policy["retry_priority"] = {
            "name": "envoy.retry_priorities.previous_priorities",
            "typed_config": {"@type": PREVIOUS_PRIORITIES_TYPE, "update_frequency": 2},
        }
    if retries.backoff is not None:
        policy["retry_back_off"] = {"base_interval": duration(retries.backoff)}
    return policy


# ---- redirect, direct response, fault, CORS -----------------------------------------------------


def _redirect(
    redirect: Redirect, context: RouteContext, resource: Resource, warnings: Warnings
) -> Optional[dict]:
    """istiod's ApplyRedirect; None (the rule is dropped) for a code Envoy has no name for."""
    for key in redirect.unknown_fields:
        warnings.unsupported(resource, redirect.path + (key,))
    out: dict = {}
    if redirect.authority:
        out["host_redirect"] = redirect.authority
    if redirect.uri:
        out["path_redirect"] = redirect.uri
    if redirect.scheme:
        out["scheme_redirect"] = redirect.scheme
    if redirect.port is not None or redirect.derive_port is not None:
        port = 0
        if redirect.port is not None:
            port = redirect.port
        elif redirect.derive_port == "FROM_REQUEST_PORT":
            # Envoy cannot take the port from the request; istiod writes the listener's port.
            port = context.port or 0
        scheme = redirect.scheme or "http"
        # No explicit :80 for http or :443 for https.
        if (port, scheme) not in ((80, "http"), (443, "https")) and port:
            out["port_redirect"] = port
    code = redirect.redirect_code or 301
    if code not in REDIRECT_CODES:
        reason = f"redirectCode {code} has no Envoy equivalent (istiod drops the route); rule skipped"
        warnings.add(resource, redirect.path + ("redirectCode",), reason)
        return None
    out["response_code"] = REDIRECT_CODES[code]
    return out


def _direct_response(rule: HttpRoute, resource: Resource, warnings: Warnings) -> dict:
    direct = rule.direct_response
    for key in direct.unknown_fields:
        warnings.unsupported(resource, direct.path + (key,))
    response: dict = {"status": direct.status}
    if direct.body_string is not None:
        response["body"] = {"inline_string": direct.body_string}
    elif direct.body_bytes is not None:
        response["body"] = {"inline_bytes": direct.body_bytes}
    return response


def _fault(fault: Fault, resource: Resource, warnings: Warnings) -> Optional[dict]:
    """istiod's TranslateFault: a missing percentage injects into 0 % of requests."""
    for key in fault.unknown_fields:
        warnings.unsupported(resource, fault.path + (key,))
    config: dict = {"@type": FAULT_TYPE}
    if fault.delay_seconds is not None:
        delay = duration(fault.delay_seconds)
        config["delay"] = {"fixed_delay": delay, "percentage": percent(fault.delay_percent)}
    for key in fault.delay_unsupported:
        warnings.unsupported(resource, fault.path + ("delay", key), "only fixedDelay")
    if fault.abort_status is not None:
        config["abort"] = {"http_status": fault.abort_status, "percentage": percent(fault.abort_percent)}
    elif fault.abort_grpc_status is not None:
        code = GRPC_STATUS.get(fault.abort_grpc_status.upper())
        if code is None:
            reason = f"unknown gRPC status {fault.abort_grpc_status!r}; ignored"
            warnings.add(resource, fault.path + ("abort", "grpcStatus"), reason)
        else:
            config["abort"] = {"grpc_status": code, "percentage": percent(fault.abort_percent)}
    for key in fault.abort_unsupported:
        warnings.unsupported(resource, fault.path + ("abort", key), "only httpStatus and grpcStatus")
    return config if len(config) > 1 else None


def _cors(cors: CorsPolicy, resource: Resource, warnings: Warnings) -> dict:
    """istiod's TranslateCORSPolicy."""
    for key in cors.unknown_fields:
        warnings.unsupported(resource, cors.path + (key,))
    out: dict = {
        "@type": CORS_POLICY_TYPE,
        "filter_enabled": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}},
        # Preflights from an origin the policy does not allow go on to the app, unless IGNORE.
        "forward_not_matching_preflights": cors.unmatched_preflights != "IGNORE",
    }
    if cors.allow_origins:
        out["allow_origin_string_match"] = [string_matcher(m) for m in cors.allow_origins]
    if cors.allow_credentials is not None:
        out["allow_credentials"] = cors.allow_credentials
    for key, values in (("allow_headers", cors.allow_headers), ("allow_methods", cors.allow_methods),
                        ("expose_headers", cors.expose_headers)):
        if values:
            out[key] = ",".join(values)
    if cors.max_age is not None:
        out["max_age"] = str(int(cors.max_age))
    return out
