"""Istio's ingress-gateway HTTP cases, through localmesh's builders and a real Envoy.

Source: istio/istio tests/integration/pilot/common/routing.go at 1.29.6, func gatewayCases.
localmesh serves one gateway listener per Envoy, so cases whose Gateways differ run in Envoys
of their own; cases that share Istio's plain `*` Gateway share one Envoy, each with a
VirtualService for a destination Service of its own (Istio's client sets Host to the
destination's FQDN). Calls go to the gateway listener.
"""

from __future__ import annotations

import pytest
from testkit import manifests
from testkit.echo_mesh import (
    AUTO_HTTP,
    HTTP,
    HTTP2,
    NAMESPACE,
    echo_pods,
    run_mesh,
    service,
    use_client_protocol,
)

pytestmark = pytest.mark.envoy

PODS = {"b-0": {"app": "b"}}
TLS_REASON = ("the local gateway serves plain HTTP: no TLS termination, credentials, cipher suites "
              "or client certificates")
ENVOY_FILTER_REASON = "EnvoyFilter is not supported by localmesh (its patches target istiod's own config)"


def fqdn(name: str) -> str:
    return f"{name}.{NAMESPACE}.svc.cluster.local"


def gateway(hosts: str, tls: str = "") -> str:
    """routing.go's gatewayTmpl for an HTTP server on port 80 (tls: its tls field, flow style)."""
    server = f'- port: {{number: 80, name: http, protocol: HTTP}}\n  hosts: ["{hosts}"]'
    if tls:
        server += f"\n  tls: {tls}"
    return manifests.gateway("gateway", NAMESPACE, f"selector: {{istio: ingressgateway}}\nservers:\n{server}")


def virtual_service(host: str, destination: str, port: int, match_scheme: str = "") -> str:
    """routing.go's httpVirtualServiceTmpl (MatchScheme adds a scheme match and a header)."""
    rule = f'- route: [{{destination: {{host: "{destination}", port: {{number: {port}}}}}}}]'
    if match_scheme:
        rule += (f"\n  match: [{{scheme: {{exact: {match_scheme}}}}}]"
                 "\n  headers: {request: {add: {istio-custom-header: user-defined-value}}}")
    spec = f'gateways: [gateway]\nhosts: ["{host}"]\nhttp:\n{rule}'
    return manifests.virtual_service(host.replace("*", "wild"), NAMESPACE, spec)


@pytest.fixture(scope="module")
def pods():
    with echo_pods(PODS) as running:
        yield running


def ok_with(reply, protocol: str) -> None:
    assert reply.status == 200, str(reply)
    assert reply.echo["instance"] == "b-0"
    assert reply.echo["protocol"] == protocol, reply.echo
    # Istio's regression check: no X-Envoy-Peer-Metadata (the request went through as HTTP).
    assert "x-envoy-peer-metadata" not in reply.echo["headers"]


def test_404(pods):
    """Istio: "404": a Gateway for any host and no VirtualService; Host foo.bar gets 404."""
    with run_mesh(service("b", {"app": "b"}) + gateway("*"), pods) as mesh:
        reply = mesh.gateway_call(host="foo.bar")
        assert reply.status == 404, str(reply)


@pytest.fixture(scope="module")
def redirecting(pods):
    """The Gateway of "https redirect" and "http redirect when vs port specify https"."""
    config = gateway("*", "{httpsRedirect: true}") + virtual_service(fqdn("vs-443"), fqdn("vs-443"), 443)
    with run_mesh(service("b", {"app": "b"}) + service("vs-443", {"app": "b"}) + config, pods) as mesh:
        yield mesh


@pytest.mark.parametrize(("case", "destination"), [
    ("https redirect", "b"),
    ("http redirect when vs port specify https", "vs-443"),
])
def test_https_redirect(redirecting, case, destination):
    """Istio: tls.httpsRedirect on the HTTP server answers 301 before any route."""
    reply = redirecting.gateway_call(host=fqdn(destination))
    assert reply.status == 301, str(reply)


@pytest.fixture(scope="module")
def wildcard(pods):
    config = gateway("*.example.com") + virtual_service("*.example.com", fqdn("b"), HTTP)
    with run_mesh(service("b", {"app": "b"}) + config, pods) as mesh:
        assert mesh.warnings == []
        yield mesh


@pytest.mark.parametrize(("child", "host"), [
    ("no port", "foo.example.com"),
    ("correct port", "foo.example.com:80"),
    ("random port", "foo.example.com:12345"),
])
def test_wildcard_hostname(wildcard, child, host):
    """Istio: "wildcard hostname / <child>" (HTTP/2 client): the Host port plays no part."""
    reply = wildcard.gateway_call(host=host, http2=True)
    assert reply.status == 200, str(reply)
    assert reply.echo["instance"] == "b-0"


# Cases on Istio's plain `*` Gateway: (case, destination Service, its port, client speaks h2,
# useClientProtocol DestinationRule, scheme match, expected upstream protocol).
PORTS = {"auto-http": AUTO_HTTP, "http": HTTP, "http2": HTTP2}
PLAIN = [
    ("client protocol - http1", "proto-h1", AUTO_HTTP, False, False, "", "HTTP/1.1"),
    *[
        (f"client protocol - {'http2' if h2 else 'http1'} use client with {port}",
         f"use-{'h2' if h2 else 'h1'}-{port}", number, h2, True, "", "HTTP/2.0" if h2 else "HTTP/1.1")
        for port, number in PORTS.items() for h2 in (True, False)
    ],
    ("HTTP", "plain-http", HTTP, False, False, "", "HTTP/1.1"),
    ("HTTP scheme match", "scheme-http", HTTP, False, False, "http", "HTTP/1.1"),
]


@pytest.fixture(scope="module")
def plain(pods):
    parts = [gateway("*")]
    services = ""
    for _, name, port, _, client_protocol, scheme, _ in PLAIN:
        services += service(name, {"app": "b"})
        parts.append(virtual_service(fqdn(name), fqdn(name), port, scheme))
        if client_protocol:
            parts.append(use_client_protocol(f"use-client-protocol-{name}", fqdn(name)))
    with run_mesh(services + "".join(parts), pods) as mesh:
        assert mesh.warnings == []
        yield mesh


@pytest.mark.parametrize(
    ("case", "name", "port", "h2", "client_protocol", "scheme", "expected"),
    [pytest.param(*row, id=row[0]) for row in PLAIN],
)
def test_plain_gateway(plain, case, name, port, h2, client_protocol, scheme, expected):
    reply = plain.gateway_call(host=fqdn(name), http2=h2)
    ok_with(reply, expected)
    if scheme:
        assert reply.echo["headers"].get("istio-custom-header") == "user-defined-value", reply.echo


SKIPPED = [
    ("client protocol - http2",
     "localmesh has one cluster per Service port for the gateway and the sidecars: on a port Istio "
     "sniffs, sidecars keep the client's HTTP/2 and so does the local gateway, where Istio's sends HTTP/1.1"),
    ("https with x-forwarded-proto", ENVOY_FILTER_REASON),
    ("http return 400 with with x-forwarded-proto https when vs port specify https", ENVOY_FILTER_REASON),
    ("cipher suite", TLS_REASON),
    ("optional mTLS", TLS_REASON),
    ("HTTPS", TLS_REASON),
    ("HTTPS scheme match", TLS_REASON),
    ("HTTPS re-encrypt", TLS_REASON),
]


@pytest.mark.conformance_skip
@pytest.mark.parametrize("case", [
    pytest.param(case, id=case, marks=pytest.mark.skip(reason=reason)) for case, reason in SKIPPED
])
def test_not_expressible(case):
    raise AssertionError(f"{case} is a listed skip")
