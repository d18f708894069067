"""Istio's own HTTP routing cases, through localmesh's builders and a real Envoy.

Source: istio/istio tests/integration/pilot/common/routing.go at 1.29.6, funcs
virtualServiceCases, useClientProtocolCases and destinationRuleCases. Each case keeps Istio's
configuration and expected result (the names are Istio's "case" or "case / child"); the config
is applied to a Service of the case's own, so one Envoy serves every case. The checks are
Istio's: what the echo pod received (headers, Host, URL, protocol), the status, response headers.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Callable, Optional

import grpc
import pytest
from scipy.stats import binom
from testkit.echo_mesh import (
    FALSE_ALARM,
    GRPC,
    HTTP,
    HTTP2,
    NAMESPACE,
    configure,
    requests_for_one_host_by_chance,
    serve_echo,
    service,
    use_client_protocol,
)
from testkit.manifests import destination_rule, virtual_service

pytestmark = pytest.mark.envoy

PODS = {
    "b-0": {"app": "b", "class": "standard"},
    "b-1": {"app": "b", "class": "standard"},
    "c-0": {"app": "c", "class": "standard"},
    "d-0": {"app": "d", "class": "standard"},
}


@dataclass(frozen=True)
class Call:
    """One of Istio's calls and its check (a function of the mesh and the reply)."""

    name: str
    check: Callable
    path: str = "/"
    method: str = "GET"
    headers: dict = field(default_factory=dict)
    host: Optional[str] = None
    port: int = HTTP
    count: int = 1
    follow_redirect: bool = False  # Istio's FollowRedirects
    grpc: bool = False  # a gRPC call instead of HTTP; check gets the grpc.StatusCode
    http2: bool = False  # Istio's HTTP2: the client speaks HTTP/2 (prior knowledge)


@dataclass(frozen=True)
class Case:
    name: str  # Istio's case name
    service: str  # the Service this case's config applies to
    config: str  # $svc: that Service
    calls: tuple


# ---- Istio's checks ----------------------------------------------------------------------------


def ok(reply):
    assert reply.status == 200, str(reply)


def status(code):
    def check(reply):
        assert reply.status == code, str(reply)

    return check


def request_header(name, value):
    def check(reply):
        ok(reply)
        assert reply.echo["headers"].get(name.lower()) == value, reply.echo

    return check


def echoed(key, value):
    """The echo pod received `value` as its `key` (host, path, protocol)."""

    def check(reply):
        ok(reply)
        assert reply.echo[key] == value, reply.echo

    return check


def response_headers(expected):
    def check(reply):
        ok(reply)
        for name, value in expected.items():
            assert reply.header(name) == (value or None), (name, str(reply))

    return check


def grpc_status(code):
    def check(found):
        assert found == code, found

    return check


def location(value):
    def check(reply):
        assert reply.status == 301 and reply.header("location") == value, str(reply)

    return check


# ---- the cases ---------------------------------------------------------------------------------


def http_rules(rules: str) -> str:
    """The VirtualService of a case: its Service ($svc) with these http rules (YAML)."""
    return virtual_service("$svc", NAMESPACE, "hosts: [$svc]\nhttp:\n" + textwrap.dedent(rules).strip("\n"))


# Enough requests that a 50/50 split reaches both destinations but by a FALSE_ALARM chance.
BOTH_HALVES = requests_for_one_host_by_chance(2)

# Each case's rules as routing.go writes them, in flow style where a field holds one value.
CASES = [
    Case("added header", "added-header", http_rules("""
        - route: [{destination: {host: $svc}}]
          headers: {request: {add: {istio-custom-header: user-defined-value}}}
        """), (Call("", request_header("Istio-Custom-Header", "user-defined-value")),)),
    Case("set header", "set-header", http_rules("""
        - route: [{destination: {host: $svc}}]
          headers: {request: {set: {x-custom: some-value}}}
        """), (Call("", request_header("X-Custom", "some-value")),)),
    Case("set authority header", "set-authority", http_rules("""
        - route: [{destination: {host: $svc}}]
          headers: {request: {set: {":authority": my-custom-authority}}}
        """), (Call("", echoed("host", "my-custom-authority")),)),
    Case("set host header in destination", "set-host-dest", http_rules("""
        - route:
          - destination: {host: $svc}
            headers: {request: {set: {Host: my-custom-authority}}}
        """), (Call("", echoed("host", "my-custom-authority")),)),
    Case("set authority header in destination", "set-authority-dest", http_rules("""
        - route:
          - destination: {host: $svc}
            headers: {request: {set: {":authority": my-custom-authority}}}
        """), (Call("", echoed("host", "my-custom-authority")),)),
    Case("set host header in route and destination", "set-host-route-dest", http_rules("""
        - route:
          - destination: {host: $svc}
            headers: {request: {set: {Host: dest-authority}}}
          headers: {request: {set: {":authority": route-authority}}}
        """), (Call("", echoed("host", "route-authority")),)),
    Case("set host header in route and multi destination", "set-host-route-multi", http_rules("""
        - route:
          - {destination: {host: $svc}, headers: {request: {set: {Host: dest-authority}}}, weight: 50}
          - {destination: {host: $svc}, weight: 50}
          headers: {request: {set: {":authority": route-authority}}}
        """), (Call("", echoed("host", "route-authority"), count=BOTH_HALVES),)),
    Case("set host header multi destination", "set-host-multi", http_rules("""
        - route:
          - {destination: {host: $svc}, headers: {request: {set: {Host: dest-authority}}}, weight: 50}
          - {destination: {host: $svc}, headers: {request: {set: {Host: dest-authority}}}, weight: 50}
        """), (Call("", echoed("host", "dest-authority"), count=BOTH_HALVES),)),
    Case("redirect", "redirect", http_rules("""
        - match: [{uri: {exact: /foo}}]
          redirect: {uri: /new/path}
        - match: [{uri: {exact: /new/path}}]
          route: [{destination: {host: $svc}}]
        """), (Call("", echoed("path", "/new/path?key=value"), path="/foo?key=value",
                    follow_redirect=True),)),
    Case("redirect port and scheme", "redirect-port-scheme", http_rules("""
        - match: [{uri: {exact: /foo}}]
          redirect: {derivePort: FROM_REQUEST_PORT, scheme: https}
        """), (Call("", location("https://redirect-port-scheme:80/foo"), path="/foo"),)),
    Case("redirect request port", "redirect-request-port", http_rules("""
        - match: [{uri: {exact: /foo}}]
          redirect: {derivePort: FROM_REQUEST_PORT}
        """), (
        # No 80 added: it is the protocol default.
        Call("to default", location("http://b/foo"), path="/foo", host="b"),
        # 80 stays: it was explicit in the Host header.
        Call("to default with host port", location("http://b:80/foo"), path="/foo", host="b:80"),
        Call("non-default", location("http://b:85/foo"), path="/foo", host="b", port=HTTP2),
        Call("non-default with host port", location("http://b:85/foo"), path="/foo", host="b:85", port=HTTP2),
    )),
    Case("weird header matches", "weird-header", http_rules("""
        - match: [{headers: {"a!#$$%&'*+-.^_`|~z": {exact: why}}}]
          route: [{destination: {host: $svc}}]
        """), (
        Call("no match", status(404)),
        Call("match", ok, headers={"a!#$%&'*+-.^_`|~z": "why"}),
    )),
    Case("pseudo header matches", "pseudo-header", http_rules("""
        - match: [{headers: {":method": {exact: GET}}}]
          route: [{destination: {host: $svc}}]
        """), (
        Call("no match", status(404), method="POST"),
        Call("match", ok, method="GET"),
    )),
    # Istio's path ends in "#hash": a client never sends a fragment, so it is left out.
    Case("rewrite uri", "rewrite-uri", http_rules("""
        - match: [{uri: {exact: /foo}}]
          rewrite: {uri: /new/path}
          route: [{destination: {host: $svc}}]
        """), (Call("", echoed("path", "/new/path?key=value"), path="/foo?key=value"),)),
    Case("rewrite authority", "rewrite-authority", http_rules("""
        - match: [{uri: {exact: /foo}}]
          rewrite: {authority: new-authority}
          route: [{destination: {host: $svc}}]
        """), (Call("", echoed("host", "new-authority"), path="/foo"),)),
    Case("cors", "cors", http_rules("""
        - corsPolicy:
            allowOrigins: [{exact: cors.com}]
            allowMethods: [POST, GET]
            allowCredentials: false
            allowHeaders: [X-Foo-Bar, X-Foo-Baz]
            maxAge: "24h"
          route: [{destination: {host: $svc}}]
        """), (
        Call("preflight", response_headers({
            "Access-Control-Allow-Origin": "cors.com",
            "Access-Control-Allow-Methods": "POST,GET",
            "Access-Control-Allow-Headers": "X-Foo-Bar,X-Foo-Baz",
            "Access-Control-Max-Age": "86400",
        }), method="OPTIONS", headers={"Origin": "cors.com", "Access-Control-Request-Method": "DELETE"}),
        Call("get", response_headers({"Access-Control-Allow-Origin": "cors.com"}),
             headers={"Origin": "cors.com"}),
        Call("get no origin match", response_headers({"Access-Control-Allow-Origin": ""})),
    )),
    Case("retry conditions", "retry-conditions", http_rules("""
        - route: [{destination: {host: $svc}}]
          retries:
            attempts: 3
            perTryTimeout: 2s
            retryOn: gateway-error,connect-failure,refused-stream,reset-before-request
            retryRemoteLocalities: true
        """), (Call("", ok),)),
    Case("fault abort", "fault-abort", http_rules("""
        - route: [{destination: {host: $svc}}]
          fault: {abort: {percentage: {value: 100}, httpStatus: 418}}
        """), (Call("", status(418)),)),
    Case("fault abort gRPC", "fault-abort-grpc", http_rules("""
        - route: [{destination: {host: $svc}}]
          fault: {abort: {percentage: {value: 100}, grpcStatus: "UNAVAILABLE"}}
        """), (Call("", grpc_status(grpc.StatusCode.UNAVAILABLE), port=GRPC, grpc=True),)),
    Case("catch all route short circuit the other routes", "catch-all", http_rules("""
        - match: [{uri: {regex: .*}}]
          route: [{destination: {host: $svc}}]
          fault: {abort: {percentage: {value: 100}, httpStatus: 418}}
        - route: [{destination: {host: $svc}}]
        """), (Call("", status(418)),)),
]

CASES += [
    # useClientProtocolCases: the upstream connection speaks what the client spoke.
    Case("use client protocol with h2", "client-protocol-h2", use_client_protocol("$svc", "$svc"),
         (Call("", echoed("protocol", "HTTP/2.0"), http2=True),)),
    Case("use client protocol with h1", "client-protocol-h1", use_client_protocol("$svc", "$svc"),
         (Call("", echoed("protocol", "HTTP/1.1")),)),
    # destinationRuleCases: the configuration is valid with only an idle timeout.
    Case("only idletimeout specified in DR", "idletimeout-dr",
         destination_rule("idletimeout-dr", NAMESPACE, """
        host: $svc
        trafficPolicy:
          tls: {mode: DISABLE}
          connectionPool: {http: {idleTimeout: 100s}}
        """), (Call("", ok, http2=True),)),
]


def without_headers(matcher: str) -> str:
    """routing.go's withoutHeaders cases: 403 unless the end-user header matches `matcher`."""
    return http_rules(f"""
        - match: [{{withoutHeaders: {{end-user: {matcher}}}}}]
          route: [{{destination: {{host: $svc}}}}]
          fault: {{abort: {{percentage: {{value: 100}}, httpStatus: 403}}}}
        - route: [{{destination: {{host: $svc}}}}]
        """)


CASES += [
    # Access is denied when the request header end-user is not jason.
    Case("without headers", "without-headers", without_headers("{exact: jason}"), (
        Call("end-user is jason", status(200), path="/foo", headers={"end-user": "jason"}),
        Call("end-user is not jason", status(403), path="/foo", headers={"end-user": "not-jason"}),
        Call("do not have end-user header", status(403), path="/foo"),
    )),
    # regex "*" is no RE2: istiod makes it "present"; only a request with the header passes.
    Case("without headers regex convert to present_match", "without-present",
         without_headers('{regex: "*"}'), (
        Call("have end-user header and value", status(200), path="/foo", headers={"end-user": "jason"}),
        Call("have end-user header but value is empty", status(200), path="/foo", headers={"end-user": ""}),
        Call("do not have end-user header", status(403), path="/foo"),
    )),
    # ".*" matches any value, the empty one of a missing header too: everything passes.
    Case("without headers regex match any string", "without-any",
         without_headers("{regex: .*}"), (
        Call("have end-user header and value", status(200), path="/foo", headers={"end-user": "jason"}),
        Call("have end-user header but value is empty", status(200), path="/foo", headers={"end-user": ""}),
        Call("do not have end-user header", status(200), path="/foo"),
    )),
]

SHIFTS = {"shifting-50": (50, 25, 25), "shifting-80": (80, 10, 10)}
SHIFT_REQUESTS = 400


def _shift_config(prefix: str, split: tuple) -> str:
    names = [f"{prefix}-{app}" for app in ("b", "c", "d")]
    routes = "".join(f"\n  - {{destination: {{host: {name}}}, weight: {weight}}}"
                     for name, weight in zip(names, split))
    return virtual_service(names[0], NAMESPACE, f"hosts: [{names[0]}]\nhttp:\n- route:{routes}")


def manifests() -> str:
    parts = []
    for case in CASES:
        parts.append(service(case.service, {"app": "b"}))
        parts.append(configure(case.config, svc=case.service))
    for name, split in SHIFTS.items():
        for app in ("b", "c", "d"):
            parts.append(service(f"{name}-{app}", {"app": app}))
        parts.append(configure(_shift_config(name, split)))
    return "".join(parts)


@pytest.fixture(scope="module")
def mesh():
    # Everything these cases configure is something localmesh expresses: no warning.
    with serve_echo(PODS, manifests()) as running:
        yield running

PARAMS = [
    pytest.param(case, call, id=f"{case.name} / {call.name}" if call.name else case.name)
    for case in CASES
    for call in case.calls
]


@pytest.mark.parametrize(("case", "call"), PARAMS)
def test_routing_case(mesh, case, call):
    if call.grpc:
        try:
            mesh.grpc_call(case.service, call.port)
            found = grpc.StatusCode.OK
        except grpc.RpcError as error:
            found = error.code()
        call.check(found)
        return
    for _ in range(call.count):
        reply = mesh.call(case.service, call.port, call.path, call.method, call.headers, call.host,
                          call.http2)
        if call.follow_redirect:
            # The Location names the same Service (and Host): follow it through the same listener.
            assert reply.status == 301, str(reply)
            target = reply.header("location").split("//", 1)[1]
            path = "/" + target.split("/", 1)[1]
            reply = mesh.call(case.service, call.port, path, call.method, call.headers, call.host)
        call.check(reply)


@pytest.mark.parametrize("name", sorted(SHIFTS))
def test_shifting(mesh, name):
    """routing.go case "shifting-<N>": weights over three Services; each Service gets its share
    (exact binomial bounds at FALSE_ALARM instead of Istio's +-10 of 100)."""
    split = SHIFTS[name]
    seen = []
    for _ in range(SHIFT_REQUESTS):
        reply = mesh.call(f"{name}-b")
        ok(reply)
        seen.append(reply.echo["instance"].split("-")[0])
    for app, weight in zip(("b", "c", "d"), split):
        low, high = binom.interval(1 - FALSE_ALARM, SHIFT_REQUESTS, weight / sum(split))
        assert low <= seen.count(app) <= high, (app, seen.count(app), (low, high))
