"""Istio's validation rules beyond the schema (what the webhook and `istioctl validate` refuse),
reported as IST0106 like istioctl analyze does. Wording follows pkg/config/validation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import re2

from localmesh.analyze.messages import Message, message
from localmesh.fields import as_dict, as_list
from localmesh.hostnames import overlaps
from localmesh.loader import Resource
from localmesh.model import MESH_GATEWAY

# RFC 7230 token characters: a header name is one or more of them.
_HEADER_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the reason goes into our message, not to stderr
_STRING_MATCH_FIELDS = ("uri", "scheme", "method", "authority")
_HEADER_MAP_FIELDS = ("headers", "withoutHeaders", "queryParams")


def check_istio_rules(resource: Resource) -> list[Message]:
    """IST0106 messages for one Istio resource (other kinds give none)."""
    if resource.group != "networking.istio.io":
        return []
    checks = {
        "VirtualService": _virtual_service,
        "DestinationRule": _destination_rule,
        "Gateway": _gateway,
    }.get(resource.kind)
    if checks is None:
        return []
    return [
        message("IST0106", resource, path, f"Schema validation error: {text}")
        for path, text in checks(resource.spec)
    ]


# ---- VirtualService ---------------------------------------------------------------------


def _virtual_service(spec: dict) -> Iterator:
    root = ("spec",)
    hosts = [str(h) for h in as_list(spec.get("hosts"))]
    gateways = [str(g) for g in as_list(spec.get("gateways"))]
    delegate = not hosts  # a VirtualService without hosts is a delegate, used by another's http rules
    if delegate:
        for kind, text in (("gateways", "gateways"), ("tls", "tls route"), ("tcp", "tcp route")):
            if as_list(spec.get(kind)):
                yield (*root, kind), f"delegate virtual service must have no {text} specified"
    applies_to_mesh = not gateways or MESH_GATEWAY in gateways
    if applies_to_mesh:
        for index, host in enumerate(hosts):
            if host == "*":
                yield (*root, "hosts", index), (
                    "wildcard host * is not allowed for virtual services bound to the mesh gateway"
                )
    for i, first in enumerate(hosts):
        for j in range(i + 1, len(hosts)):
            if overlaps(first, hosts[j]):
                yield (*root, "hosts", j), f"duplicate hosts in virtual service: {first} & {hosts[j]}"
    if not any(as_list(spec.get(kind)) for kind in ("http", "tcp", "tls")):
        yield root, "http, tcp or tls must be provided in virtual service"
    for index, rule in enumerate(as_list(spec.get("http"))):
        yield from _http_rule(as_dict(rule), (*root, "http", index), delegate)
    for index, rule in enumerate(as_list(spec.get("tls"))):
        path = (*root, "tls", index)
        rule = as_dict(rule)
        if not as_list(rule.get("match")):
            yield path, "TLS route must have at least one match condition"
        for m_index, match in enumerate(as_list(rule.get("match"))):
            if not as_list(as_dict(match).get("sniHosts")):
                yield (*path, "match", m_index), "TLS match must have at least one SNI host"
        if not as_list(rule.get("route")):
            yield path, "TLS route is required"
    for index, rule in enumerate(as_list(spec.get("tcp"))):
        if not as_list(as_dict(rule).get("route")):
            yield (*root, "tcp", index), "TCP route is required"
    for kind in ("tcp", "tls"):
        for index, rule in enumerate(as_list(spec.get(kind))):
            path = (*root, kind, index)
            rule = as_dict(rule)
            yield from _route_destinations(as_list(rule.get("route")), (*path, "route"))
            for m_index, match in enumerate(as_list(rule.get("match"))):
                yield from _port(as_dict(match).get("port"), (*path, "match", m_index, "port"))


def _http_rule(rule: dict, path: tuple, in_delegate: bool) -> Iterator:
    routes = as_list(rule.get("route"))
    if rule.get("delegate") is not None and not in_delegate:
        # A root rule hands the request to the delegate: it only matches.
        name = rule.get("name") or ""
        if rule.get("redirect") is not None:
            yield path, f"root HTTP route {name} must not specify redirect"
        if rule.get("route") is not None:
            yield path, f"root HTTP route {name} must not specify route"
    else:
        if in_delegate and rule.get("delegate") is not None:
            yield path, "delegate HTTP route cannot contain delegate"
        if rule.get("redirect") is not None:
            if routes:
                yield path, "HTTP route cannot contain both route and redirect"
            if rule.get("directResponse") is not None:
                yield path, "HTTP route rule cannot contain both direct_response and redirect"
        elif rule.get("directResponse") is not None:
            if routes:
                yield path, "HTTP route cannot contain both route and direct_response"
        elif not routes:
            yield path, "HTTP route, redirect or direct_response is required"
    if rule.get("mirror") is not None and as_list(rule.get("mirrors")):
        yield path, "HTTP route cannot contain both mirror and mirrors"
    for index, match in enumerate(as_list(rule.get("match"))):
        yield from _http_match(as_dict(match), (*path, "match", index))
    yield from _route_destinations(routes, (*path, "route"))
    yield from _header_operations(as_dict(rule.get("headers")), (*path, "headers"))
    for index, route in enumerate(routes):
        headers = as_dict(as_dict(route).get("headers"))
        yield from _header_operations(headers, (*path, "route", index, "headers"))
    mirror = as_dict(rule.get("mirror"))
    if mirror:
        yield from _port(as_dict(mirror.get("port")).get("number"), (*path, "mirror", "port", "number"))
    for index, origin in enumerate(as_list(as_dict(rule.get("corsPolicy")).get("allowOrigins"))):
        yield from _regex(as_dict(origin), (*path, "corsPolicy", "allowOrigins", index), "allowOrigins")


def _http_match(match: dict, path: tuple) -> Iterator:
    for field in _STRING_MATCH_FIELDS:
        if field in match:
            yield from _regex(as_dict(match[field]), (*path, field), field)
    for field in _HEADER_MAP_FIELDS:
        for name, value in as_dict(match.get(field)).items():
            if field != "queryParams":
                yield from _header_name(name, (*path, field, name))
            yield from _regex(as_dict(value), (*path, field, name), field)
    if "port" in match:
        yield from _port(match["port"], (*path, "port"))


def _regex(string_match: dict, path: tuple, where: str) -> Iterator:
    if "regex" not in string_match:
        return
    pattern = string_match["regex"]
    if not isinstance(pattern, str) or pattern == "":
        yield (*path, "regex"), f'"{where}": regex string match should not be empty'
        return
    try:
        re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        yield (*path, "regex"), f'"{where}": invalid RE2 regex {pattern!r}: {reason}'


def _header_name(name: Any, path: tuple) -> Iterator:
    if not isinstance(name, str) or name == "":
        yield path, "header name cannot be empty"
    elif not _HEADER_TOKEN.match(name):
        yield path, f"header name {name} is not a valid header name (RFC 7230 token)"


def _header_operations(headers: dict, path: tuple) -> Iterator:
    for side in ("request", "response"):
        operations = as_dict(headers.get(side))
        for verb in ("set", "add"):
            for name in as_dict(operations.get(verb)):
                yield from _header_name(name, (*path, side, verb, name))
        for index, name in enumerate(as_list(operations.get("remove"))):
            yield from _header_name(name, (*path, side, "remove", index))


def _route_destinations(routes: list, path: tuple) -> Iterator:
    weights = []
    for index, item in enumerate(routes):
        item = as_dict(item)
        here = (*path, index)
        weight = item.get("weight")
        if isinstance(weight, int) and not isinstance(weight, bool):
            weights.append(weight)
            if weight < 0:
                yield (*here, "weight"), f"weight {weight} < 0"
        destination = as_dict(item.get("destination"))
        subset = destination.get("subset")
        if subset is not None:
            yield from _subset_name(subset, (*here, "destination", "subset"))
        port = as_dict(destination.get("port"))
        if "number" in port:
            yield from _port(port["number"], (*here, "destination", "port", "number"))
    # Weights are proportions (Istio >= 1.15): several destinations must not all weigh nothing.
    if len(routes) > 1 and sum(weights) == 0:
        yield path, "total destination weight = 0"


def _subset_name(name: Any, path: tuple) -> Iterator:
    if not isinstance(name, str) or name == "":
        yield path, "subset name cannot be empty"
    elif len(name) > 63 or not _DNS1123_LABEL.match(name):
        yield path, f"subset name is invalid: {name} (must be a DNS-1123 label)"


def _port(number: Any, path: tuple) -> Iterator:
    if isinstance(number, int) and not isinstance(number, bool) and not 1 <= number <= 65535:
        yield path, f"port number {number} must be in the range 1..65535"


# ---- DestinationRule --------------------------------------------------------------------


def _destination_rule(spec: dict) -> Iterator:
    host = spec.get("host")
    if not isinstance(host, str) or not host:
        yield ("spec",), "destination rule must have a host"
    elif host != "*" and not _DNS1123_SUBDOMAIN.match(host.removeprefix("*.").lower()):
        yield ("spec", "host"), f"invalid host {host}"
    seen = set()
    for index, subset in enumerate(as_list(spec.get("subsets"))):
        subset = as_dict(subset)
        path = ("spec", "subsets", index)
        name = subset.get("name")
        yield from _subset_name(name, (*path, "name"))
        if name in seen:
            yield (*path, "name"), f"duplicate subset names: {name}"
        seen.add(name)
        for key, value in as_dict(subset.get("labels")).items():
            yield from _label((*path, "labels", key), key, value)
        yield from _traffic_policy(as_dict(subset.get("trafficPolicy")), (*path, "trafficPolicy"))
    yield from _traffic_policy(as_dict(spec.get("trafficPolicy")), ("spec", "trafficPolicy"))


def _traffic_policy(policy: dict, path: tuple) -> Iterator:
    for index, setting in enumerate(as_list(policy.get("portLevelSettings"))):
        number = as_dict(as_dict(setting).get("port")).get("number")
        yield from _port(number, (*path, "portLevelSettings", index, "port", "number"))


def _label(path: tuple, key: Any, value: Any) -> Iterator:
    key = str(key)
    prefix, _, name = key.rpartition("/")
    valid_key = (
        0 < len(name) <= 63 and _LABEL_NAME.match(name)
        and (not prefix or (len(prefix) <= 253 and _DNS1123_SUBDOMAIN.match(prefix)))
    )
    if not valid_key:
        yield path, f"invalid label key {key!r}"
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
        yield path, f"invalid label value {value!r} for {key!r}"


# ---- Gateway ----------------------------------------------------------------------------


def _gateway(spec: dict) -> Iterator:
    servers = as_list(spec.get("servers"))
    if not servers:
        yield ("spec",), "gateway must have at least one server"
    for index, server in enumerate(servers):
        server = as_dict(server)
        path = ("spec", "servers", index)
        if not as_list(server.get("hosts")):
            yield path, "server config must contain at least one host"
        yield from _port(as_dict(server.get("port")).get("number"), (*path, "port", "number"))
