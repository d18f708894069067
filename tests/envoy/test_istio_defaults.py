"""Istio 1.29's defaults and edge cases through a REAL Envoy in front of echo pods.

Each test names the Istio source it follows (istio/istio at 1.29.6). One Envoy serves every
case, each on a Service of its own.
"""

from __future__ import annotations

import time

import pytest
from scipy.stats import binom
from testkit.echo_mesh import (
    FALSE_ALARM,
    NAMESPACE,
    EchoPod,
    configure,
    distinct_free_ports,
    echo_pods,
    requests_for_one_host_by_chance,
    run_mesh,
    service,
)

pytestmark = pytest.mark.envoy

PODS = {
    "b-0": {"app": "b", "version": "v1", "group": "with-dead"},
    "b-1": {"app": "b", "version": "v2", "group": "with-dead"},
}
DEAD = "dead"  # a pod whose process is gone: nothing listens on its port
SPLIT_REQUESTS = 400
CHANCE_REQUESTS = requests_for_one_host_by_chance(2)

CONFIG = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: retry-503
spec:
  hosts: [retry-503]
  http:
  - route:
    - destination: {host: retry-503}
    retries: {attempts: 2, retryOn: "503"}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: fault-no-percentage
spec:
  hosts: [fault-no-percentage]
  http:
  - route:
    - destination: {host: fault-no-percentage}
    fault:
      abort: {httpStatus: 418}
      delay: {fixedDelay: 5s}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: dotted
spec:
  hosts: [dotted]
  http:
  - route:
    - destination: {host: "b.echo"}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: empty-subset
spec:
  host: empty-subset
  subsets:
  - name: nobody
    labels: {version: none}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: empty-subset
spec:
  hosts: [empty-subset]
  http:
  - route:
    - destination: {host: empty-subset, subset: nobody}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: other-port
spec:
  hosts: [other-port]
  http:
  - match: [{port: 9999}]
    route:
    - destination: {host: other-port}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: mirrored
spec:
  hosts: [mirrored]
  http:
  - route:
    - destination: {host: mirrored}
    mirror: {host: mirror-copy}
"""
SERVICES = ["default", "retry-503", "fault-no-percentage", "dotted", "empty-subset", "other-port", "mirrored",
            "mirror-copy"]


@pytest.fixture(scope="module")
def mesh():
    with echo_pods(PODS) as pods:
        manifests = "".join(service(name, {"app": "b"}) for name in SERVICES)
        manifests += service("with-dead", {"group": "with-dead"}) + configure(CONFIG)
        # One more endpoint, of with-dead only: a pod whose ports nothing listens on.
        closed = distinct_free_ports(1)[0]
        gone = EchoPod(DEAD, {"group": "with-dead"}, closed, closed, closed, process=None)
        with run_mesh(manifests, pods + [gone]) as running:
            yield running


def fqdn(name):
    return f"{name}.{NAMESPACE}.svc.cluster.local"


def counter(mesh, name, stat):
    return mesh.envoy.counter(f"cluster.outbound|80||{fqdn(name)}.{stat}")


def instances(mesh, name, count):
    seen = []
    for _ in range(count):
        reply = mesh.call(name)
        assert reply.status == 200, str(reply)
        seen.append(reply.echo["instance"])
    return seen


def test_an_upstream_503_is_not_retried_by_default(mesh):
    # route/retry/retry.go: the default policy lists no retriable status codes.
    before = counter(mesh, "default", "upstream_rq_retry")
    reply = mesh.call("default", headers={"x-echo-status": "503"})
    assert reply.status == 503 and reply.echo["instance"].startswith("b-")
    assert counter(mesh, "default", "upstream_rq_retry") == before


def test_retry_on_503_when_the_rule_asks_for_it(mesh):
    before = counter(mesh, "retry-503", "upstream_rq_retry")
    assert mesh.call("retry-503", headers={"x-echo-status": "503"}).status == 503
    assert counter(mesh, "retry-503", "upstream_rq_retry") == before + 2


def test_a_refused_connection_is_retried_on_another_pod_by_default(mesh):
    # Default retry_on connect-failure, previous-hosts predicate: the dead pod never shows.
    before = counter(mesh, "with-dead", "upstream_rq_retry")
    seen = instances(mesh, "with-dead", CHANCE_REQUESTS)
    assert set(seen) <= {"b-0", "b-1"}
    # Picking the dead pod at least once (so a retry happened) fails only by FALSE_ALARM chance.
    assert counter(mesh, "with-dead", "upstream_rq_retry") > before


def test_least_request_spreads_sequential_requests_at_random(mesh):
    # cluster_traffic_policy.go defaultLBAlgorithm(): LEAST_REQUEST, so two idle pods are picked
    # at random, not in strict turn.
    seen = instances(mesh, "default", SPLIT_REQUESTS)
    low, high = binom.interval(1 - FALSE_ALARM, SPLIT_REQUESTS, 0.5)
    assert low <= seen.count("b-0") <= high
    # Strict alternation over this many random picks has probability 2 * 0.5^399.
    assert any(a == b for a, b in zip(seen, seen[1:])), "strict round robin"


def test_a_fault_without_percentage_injects_nothing(mesh):
    # route.go TranslateFault: no percentage, 0 % (the API: "no request will be aborted").
    for reply in (mesh.call("fault-no-percentage") for _ in range(CHANCE_REQUESTS)):
        assert reply.status == 200, str(reply)


def test_a_dotted_short_name_gets_503_no_cluster(mesh):
    # model/config.go ResolveShortnameToFQDN: "b.echo" is no Service name.
    stat = f"http.{fqdn('dotted')}:80.no_cluster"
    before = mesh.envoy.counter(stat)
    assert mesh.call("dotted").status == 503
    assert mesh.envoy.counter(stat) == before + 1


def test_a_subset_that_selects_no_pod_gets_503_no_healthy_upstream(mesh):
    name = f"cluster.outbound|80|nobody|{fqdn('empty-subset')}.upstream_cx_none_healthy"
    before = mesh.envoy.counter(name)
    reply = mesh.call("empty-subset")
    assert reply.status == 503 and b"no healthy upstream" in reply.body
    assert mesh.envoy.counter(name) == before + 1


def test_no_route_for_the_port_means_the_services_default_route(mesh):
    assert mesh.call("other-port").status == 200


def test_a_mirror_gets_a_copy_of_each_request(mesh):
    # route.go: mirror without a percentage copies 100 % (Envoy sends the copy after the answer).
    copies = f"cluster.outbound|80||{fqdn('mirror-copy')}.upstream_rq_completed"
    before = mesh.envoy.counter(copies)
    assert mesh.call("mirrored").status == 200
    deadline = time.monotonic() + 10
    while mesh.envoy.counter(copies) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mesh.envoy.counter(copies) == before + 1


def test_grpc_ports_speak_http2_upstream(mesh):
    # cluster_builder.go setUpstreamProtocol: h2 for http2/grpc ports (grpcio accepts only h2).
    assert mesh.grpc_call("default") in (b"b-0", b"b-1")


def test_tcp_ports_are_proxied_as_tcp(mesh):
    assert mesh.tcp_call("default") in ("b-0", "b-1")


def test_the_host_header_keeps_its_port(mesh):
    reply = mesh.call("default", host="default:80")
    assert reply.echo["host"] == "default:80"
