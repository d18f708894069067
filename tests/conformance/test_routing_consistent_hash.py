"""Istio's consistent-hash cases, through localmesh's builders and a real Envoy.

Source: istio/istio tests/integration/pilot/common/routing.go at 1.29.6, func
consistentHashCases. A Service selects four echo pods; a DestinationRule hashes on one key;
every call with the same key must land on one pod (Istio's ConsistentHostChecker). Istio makes
10 calls; here as many as make "one pod by chance" rarer than FALSE_ALARM under the default
LEAST_REQUEST balancer, so the check cannot pass by luck. Istio skips its two cookie cases (its
echo client cannot send cookies back); this client can, so they run.
"""

from __future__ import annotations

import pytest
from testkit.echo_mesh import NAMESPACE, requests_for_one_host_by_chance, serve_echo, service
from testkit.manifests import destination_rule

pytestmark = pytest.mark.envoy

PODS = {f"pod-{index}": {"app": f"app{index}", "class": "standard"} for index in range(4)}
CALLS = requests_for_one_host_by_chance(len(PODS))
QUERY_PATH = "/?some-query-param=bar"
HEADERS = {"x-some-header": "baz"}

# Each DestinationRule's consistentHash as routing.go writes it.
HASHES = {
    "source-ip": "{useSourceIp: true}",
    "query-param": "{httpQueryParameterName: some-query-param}",
    "http-header": "{httpHeaderName: x-some-header}",
    "tcp-source-ip": "{useSourceIp: true}",
    "cookie-ttl": "{httpCookie: {name: session-cookie, ttl: 3600s}}",
    "cookie": "{httpCookie: {name: session-cookie}}",
}


def manifests() -> str:
    parts = [service("no-consistent", {"class": "standard"})]
    for name, key in HASHES.items():
        parts.append(service(name, {"class": "standard"}))
        parts.append(destination_rule(name, NAMESPACE, f"""
            host: {name}
            trafficPolicy: {{loadBalancer: {{consistentHash: {key}}}}}
        """))
    return "".join(parts)


@pytest.fixture(scope="module")
def mesh():
    with serve_echo(PODS, manifests()) as running:
        yield running


def instances(mesh, name, headers=None):
    seen = []
    for _ in range(CALLS):
        reply = mesh.call(name, path=QUERY_PATH, headers=headers or HEADERS)
        assert reply.status == 200, str(reply)
        seen.append(reply.echo["instance"])
    return seen


def test_no_consistent(mesh):
    """Istio's negative case: without a DestinationRule the calls spread over the pods."""
    assert len(set(instances(mesh, "no-consistent"))) > 1


@pytest.mark.parametrize(
    ("name", "service_name"),
    [("source ip", "source-ip"), ("query param", "query-param"), ("http header", "http-header")],
)
def test_consistent_hash(mesh, name, service_name):
    seen = instances(mesh, service_name)
    assert len(set(seen)) == 1, seen


def test_tcp_source_ip(mesh):
    """Istio: "tcp source ip": a TCP proxy hashing on the client address."""
    seen = [mesh.tcp_call("tcp-source-ip") for _ in range(CALLS)]
    assert len(set(seen)) == 1, seen


def test_http_cookie_with_ttl(mesh):
    """Envoy makes the cookie on the first call (with its TTL); sent back, it pins the pod."""
    first = mesh.call("cookie-ttl", path=QUERY_PATH, headers=HEADERS)
    assert first.status == 200, str(first)
    made = [v for v in first.header_values("set-cookie") if v.startswith("session-cookie=")]
    assert len(made) == 1 and "Max-Age=3600" in made[0], first.headers
    cookie = made[0].split(";", 1)[0]
    seen = [first.echo["instance"]] + instances(mesh, "cookie-ttl", {**HEADERS, "Cookie": cookie})[1:]
    assert len(set(seen)) == 1, seen


def test_http_cookie_without_ttl(mesh):
    """Without a TTL Envoy makes no cookie; the client's own cookie is the key."""
    seen = instances(mesh, "cookie", {**HEADERS, "Cookie": "session-cookie=somecookie"})
    assert len(set(seen)) == 1, seen
