"""Istio VirtualService HTTP rules -> Envoy routes, in order, as istiod builds them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from localmesh.envoy.matches import route_match
from localmesh.envoy.names import (
    FAULT_FILTER,
    FAULT_TYPE,
    PREVIOUS_HOSTS_TYPE,
    cluster_name,
    duration,
    percent,
)
from localmesh.envoy.warnings import unsupported, warning
from localmesh.model import HttpRoute, Mesh, Retries, RouteDestination, Service, VirtualService

# Istio's default retry policy on a route without `retries`.
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
DEFAULT_RETRIES = 2
HANDLED_RULE_FIELDS = {
    "name", "match", "route", "timeout", "retries", "fault", "headers", "rewrite",
    "redirect", "directResponse",
}


@dataclass(frozen=True)
class RouteContext:
    """Which proxy the routes are for: a Service listener (mesh) or the ingress gateway."""

    gateway: Optional[str] = None  # "ns/name" of the Gateway, None for the mesh
    service_port: Optional[int] = None  # the Service port of a mesh listener


def default_retry_policy() -> dict:
    return {
        "retry_on": DEFAULT_RETRY_ON,
        "num_retries": DEFAULT_RETRIES,
        "retriable_status_codes": [503],
        "retry_host_predicate": [
            {
                "name": "envoy.retry_host_predicates.previous_hosts",
                "typed_config": {"@type": PREVIOUS_HOSTS_TYPE},
            }
        ],
        "host_selection_retry_max_attempts": "5",
    }


def service_default_routes(service: Service, port: int) -> list:
    """No VirtualService: every request round-robins over every endpoint the Service selects."""
    return [
        {
            "name": "default",
            "match": {"prefix": "/"},
            "route": _action({"cluster": cluster_name(port, None, service.fqdn)}, None, None),
        }
    ]


def virtual_service_routes(mesh: Mesh, vs: VirtualService, context: RouteContext) -> tuple:
    """(Envoy routes, warnings): one route per (rule x match entry), in order."""
    routes: list = []
    warnings: list = []
    resource = vs.resource
    for key in ("tcp", "tls"):
        if key in resource.spec:
            warnings.append(unsupported(resource, ("spec", key), "localmesh routes HTTP only"))
    for index, rule in enumerate(vs.http):
        built, found = _rule_routes(mesh, vs, rule, index, context)
        routes += built
        warnings += found
    return routes, warnings


def _applies(match_gateways: list, vs: VirtualService, context: RouteContext) -> bool:
    """A match entry's `gateways` narrows which proxies get it (not a request-time condition)."""
    if not match_gateways:
        return True
    refs = {g if g == "mesh" or "/" in g else f"{vs.namespace}/{g}" for g in match_gateways}
    return (context.gateway or "mesh") in refs


def _rule_routes(mesh: Mesh, vs: VirtualService, rule: HttpRoute, index: int, context: RouteContext) -> tuple:
    resource = vs.resource
    warnings: list = [
        unsupported(resource, rule.path + (key,)) for key in sorted(set(rule.raw) - HANDLED_RULE_FIELDS)
    ]
    action, found = _rule_action(mesh, vs, rule, context)
    warnings += found
    if action is None:
        return [], warnings
    matches: list = []
    for match in rule.matches:
        if not _applies(match.raw.get("gateways") or [], vs, context):
            continue
        port = match.raw.get("port")
        if context.gateway is None and port is not None and port != context.service_port:
            continue
        matches.append(match)
    if rule.matches and not matches:
        return [], warnings  # every match entry is for other proxies or ports
    routes: list = []
    rule_name = rule.name or str(index)
    for position, match in enumerate(matches or [None]):
        envoy_match, found = route_match(match, resource)
        warnings += found
        route = {"name": f"{vs.namespace}/{vs.name}/{rule_name}/{position}", "match": envoy_match, **action}
        routes.append(route)
    return routes, warnings


def _rule_action(mesh: Mesh, vs: VirtualService, rule: HttpRoute, context: RouteContext) -> tuple:
    """The part shared by every route of one rule: route/redirect/direct_response and extras."""
    resource = vs.resource
    warnings: list = []
    extras: dict = {}
    raw = rule.raw
    if isinstance(raw.get("directResponse"), dict):
        body = raw["directResponse"].get("body") or {}
        response: dict = {"status": raw["directResponse"].get("status", 200)}
        if isinstance(body, dict) and "string" in body:
            response["body"] = {"inline_string": str(body["string"])}
        elif body:
            warnings.append(unsupported(resource, rule.path + ("directResponse", "body")))
        action = {"direct_response": response}
    elif isinstance(raw.get("redirect"), dict):
        action = {"redirect": _redirect(raw["redirect"], resource, rule.path + ("redirect",), warnings)}
    elif rule.route:
        target, found = _destinations(mesh, vs, rule, context)
        warnings += found
        if isinstance(raw.get("rewrite"), dict):
            target.update(_rewrite(raw["rewrite"], resource, rule.path + ("rewrite",), warnings))
        action = {"route": _action(target, rule, warnings)}
    else:
        reason = "rule has no route, redirect or directResponse; skipped"
        warnings.append(warning(resource, rule.path, reason))
        return None, warnings
    if rule.fault is not None:
        extras["typed_per_filter_config"] = {FAULT_FILTER: _fault(rule, resource, warnings)}
    if isinstance(raw.get("headers"), dict):
        extras.update(_headers(raw["headers"], resource, rule.path + ("headers",), warnings))
    return {**action, **extras}, warnings


def _action(target: dict, rule: Optional[HttpRoute], warnings: Optional[list]) -> dict:
    """RouteAction: Istio's timeout (none by default) and retries (its defaults when unset)."""
    action = dict(target)
    action["cluster_not_found_response_code"] = "SERVICE_UNAVAILABLE"
    timeout = rule.timeout if rule is not None else None
    action["timeout"] = duration(timeout or 0)  # 0s: no timeout, as istiod (Envoy would use 15s)
    retries = rule.retries if rule is not None else None
    if retries is None:
        action["retry_policy"] = default_retry_policy()
    elif retries.attempts > 0:
        action["retry_policy"] = _retry_policy(retries)
    # attempts: 0 turns retries off: no policy at all.
    return action


def _retry_policy(retries: Retries) -> dict:
    policy = default_retry_policy()
    policy["num_retries"] = retries.attempts
    if retries.per_try_timeout:
        policy["per_try_timeout"] = duration(retries.per_try_timeout)
    if retries.retry_on:
        conditions, codes = [], []
        for part in (p.strip() for p in str(retries.retry_on).split(",")):
            if part.isdigit():
                codes.append(int(part))
            elif part and part not in conditions:
                conditions.append(part)
        if codes and "retriable-status-codes" not in conditions:
            conditions.append("retriable-status-codes")
        policy["retry_on"] = ",".join(conditions)
        if codes:
            policy["retriable_status_codes"] = codes
        else:
            policy.pop("retriable_status_codes")
    return policy


def _destination_port(mesh: Mesh, dest: RouteDestination, context: RouteContext) -> tuple:
    """Named port, else the Service's only port, else the listener's port. (port, reason or None)."""
    destination = dest.destination
    if destination.port is not None:
        return destination.port, None
    service = mesh.service_for(destination.fqdn)
    if service is None:
        return context.service_port or 80, f"host {destination.host!r} is no Service here; requests get 503"
    if len(service.ports) == 1:
        return service.ports[0].port, None
    if context.service_port is not None and service.port(context.service_port):
        return context.service_port, None
    first = service.ports[0].port if service.ports else 80
    return first, f"Service {service.name} has several ports and no destination.port; using {first}"


def _destinations(mesh: Mesh, vs: VirtualService, rule: HttpRoute, context: RouteContext) -> tuple:
    """{"cluster": name} or {"weighted_clusters": ...}: weights are proportional; 0 gets nothing."""
    resource = vs.resource
    warnings: list = []
    names: list = []
    for dest in rule.route:
        port, reason = _destination_port(mesh, dest, context)
        if reason:
            warnings.append(warning(resource, dest.path + ("destination",), reason))
        subset = dest.destination.subset
        rule_for_host = mesh.destination_rule_for(dest.destination.fqdn)
        if subset and (rule_for_host is None or rule_for_host.subset(subset) is None):
            warnings.append(
                warning(
                    resource,
                    dest.path + ("destination", "subset"),
                    f"no DestinationRule defines subset {subset!r} of {dest.destination.host}; "
                    "requests get 503 (NC)",
                )
            )
        for key in sorted(set(_raw_destination(rule, dest)) - {"destination", "weight"}):
            warnings.append(unsupported(resource, dest.path + (key,)))
        names.append(cluster_name(port, subset, dest.destination.fqdn))
    if len(names) == 1:
        return {"cluster": names[0]}, warnings
    weights: dict = {}
    for name, dest in zip(names, rule.route):
        weight = dest.weight if isinstance(dest.weight, int) and not isinstance(dest.weight, bool) else 0
        if weight < 0:
            warnings.append(warning(resource, dest.path + ("weight",), "negative weight; treated as 0"))
            weight = 0
        weights[name] = weights.get(name, 0) + weight
    positive = {name: weight for name, weight in weights.items() if weight > 0}
    if not positive:
        warnings.append(
            warning(resource, rule.path + ("route",), "weights total 0 (Istio rejects this); split evenly")
        )
        positive = dict.fromkeys(weights, 1)
    if len(positive) == 1:
        return {"cluster": next(iter(positive))}, warnings
    clusters = [{"name": name, "weight": weight} for name, weight in positive.items()]
    return {"weighted_clusters": {"clusters": clusters}}, warnings


def _raw_destination(rule: HttpRoute, dest: RouteDestination) -> dict:
    index = dest.path[-1]
    items = rule.raw.get("route") or []
    item = items[index] if isinstance(index, int) and index < len(items) else {}
    return item if isinstance(item, dict) else {}


def _fault(rule: HttpRoute, resource: object, warnings: list) -> dict:
    fault = rule.fault
    config: dict = {"@type": FAULT_TYPE}
    raw = rule.raw.get("fault") or {}
    if fault.delay_seconds is not None:
        config["delay"] = {
            "fixed_delay": duration(fault.delay_seconds),
            "percentage": percent(fault.delay_percent),
        }
    elif isinstance(raw.get("delay"), dict):
        warnings.append(unsupported(resource, rule.path + ("fault", "delay"), "only fixedDelay"))
    if fault.abort_status is not None:
        config["abort"] = {"http_status": fault.abort_status, "percentage": percent(fault.abort_percent)}
    elif isinstance(raw.get("abort"), dict):
        warnings.append(unsupported(resource, rule.path + ("fault", "abort"), "only httpStatus"))
    return config


def _header_ops(ops: dict, resource: object, path: tuple, warnings: list) -> tuple:
    """(headers to add, headers to remove) from Istio's {set, add, remove}."""
    add: list = []
    for key, action in (("set", "OVERWRITE_IF_EXISTS_OR_ADD"), ("add", "APPEND_IF_EXISTS_OR_ADD")):
        for name, value in (ops.get(key) or {}).items():
            add.append({"header": {"key": str(name), "value": str(value)}, "append_action": action})
    remove = [str(name) for name in ops.get("remove") or []]
    for key in sorted(set(ops) - {"set", "add", "remove"}):
        warnings.append(unsupported(resource, path + (key,)))
    return add, remove


def _headers(raw: dict, resource: object, path: tuple, warnings: list) -> dict:
    out: dict = {}
    for side in ("request", "response"):
        if isinstance(raw.get(side), dict):
            add, remove = _header_ops(raw[side], resource, path + (side,), warnings)
            if add:
                out[f"{side}_headers_to_add"] = add
            if remove:
                out[f"{side}_headers_to_remove"] = remove
    for key in sorted(set(raw) - {"request", "response"}):
        warnings.append(unsupported(resource, path + (key,)))
    return out


def _rewrite(raw: dict, resource: object, path: tuple, warnings: list) -> dict:
    out: dict = {}
    for key, value in raw.items():
        if key == "uri":
            out["prefix_rewrite"] = str(value)
        elif key == "authority":
            out["host_rewrite_literal"] = str(value)
        else:
            warnings.append(unsupported(resource, path + (key,)))
    return out


def _redirect(raw: dict, resource: object, path: tuple, warnings: list) -> dict:
    out: dict = {}
    codes = {301: "MOVED_PERMANENTLY", 302: "FOUND", 303: "SEE_OTHER", 307: "TEMPORARY_REDIRECT",
             308: "PERMANENT_REDIRECT"}
    for key, value in raw.items():
        if key == "uri":
            out["path_redirect"] = str(value)
        elif key == "authority":
            out["host_redirect"] = str(value)
        elif key == "scheme":
            out["scheme_redirect"] = str(value)
        elif key == "port" and isinstance(value, int):
            out["port_redirect"] = value
        elif key == "redirectCode" and value in codes:
            out["response_code"] = codes[value]
        else:
            warnings.append(unsupported(resource, path + (key,)))
    return out
