"""Istio routing semantics through a REAL Envoy (build_static_config) in front of REAL ads processes.

Each case has its own Service + VirtualService (tests/envoy/envoy_scenarios.py), hence its own listener;
the answering version comes from the ads service's own /healthz and /ads JSON.
"""

from __future__ import annotations

import pytest
import requests
from envoy_scenarios import NAMESPACE, manifests
from scipy.stats import binom
from testkit.envoy import run_envoy
from testkit.processes import free_port, run_service

from localmesh.envoy import build_resources, build_static_config
from localmesh.loader import load_text
from localmesh.model import build_mesh
from localmesh.topology import Endpoint, Topology

pytestmark = pytest.mark.envoy

CONFIDENCE = 0.999
SPLIT_REQUESTS = 400


def fqdn(name: str) -> str:
    return f"{name}.{NAMESPACE}.svc.cluster.local"


@pytest.fixture(scope="module")
def mesh():
    return build_mesh(load_text(manifests(), "scenarios.yaml"))


@pytest.fixture(scope="module")
def dead_port():
    return free_port()  # nothing listens here: its readiness probe can never pass


@pytest.fixture(scope="module")
def topology(mesh, ads_v1, ads_v2, dead_port):
    # A second 2.0 process: the plain Service's third endpoint, running as long as the topology.
    with run_service("advertisements", env={"ADS_VERSION": "2.0"}) as ads_v2_second:
        yield _topology(mesh, ads_v1, ads_v2, ads_v2_second, dead_port)


def _topology(mesh, ads_v1, ads_v2, ads_v2_second, dead_port) -> Topology:
    def endpoint(pod, app, version, port, health="/readyz"):
        labels = {"app": app, "version": version}
        return Endpoint(pod, NAMESPACE, labels, "127.0.0.1", port, health)

    endpoints = (
        endpoint("ads-v1-0", "ads", "v1", ads_v1.port),
        endpoint("ads-v2-0", "ads", "v2", ads_v2.port),
        # The no-VirtualService case: one v1 replica and two v2 replicas.
        endpoint("plain-v1-0", "plain", "v1", ads_v1.port),
        endpoint("plain-v2-0", "plain", "v2", ads_v2.port),
        endpoint("plain-v2-1", "plain", "v2", ads_v2_second.port),
        # Readiness: a probed endpoint that never answers, and one without a probe.
        endpoint("ready-v1-0", "ready", "v1", ads_v1.port),
        endpoint("ready-dead-0", "ready", "v1", dead_port),
        endpoint("ready-v2-0", "ready", "v2", ads_v2.port, health=None),
    )
    service_ports = {(s.fqdn, 5002): free_port() for s in mesh.services}
    return Topology(
        endpoints=endpoints,
        service_ports=service_ports,
        admin_port=free_port(),
        gateway_port=free_port(),
    )


@pytest.fixture(scope="module")
def envoy(mesh, topology):
    with run_envoy(build_static_config(mesh, topology)) as process:
        for service in mesh.services:
            if service.name not in ("plain", "ready"):
                process.wait_for_healthy(f"outbound|5002|v1|{service.fqdn}", 1)
                process.wait_for_healthy(f"outbound|5002|v2|{service.fqdn}", 1)
        process.wait_for_healthy(f"outbound|5002||{fqdn('plain')}", 3)
        process.wait_for_healthy(f"outbound|5002||{fqdn('ready')}", 2)
        yield process


@pytest.fixture(scope="module")
def session():
    with requests.Session() as s:
        yield s


def call(session, topology, name, path="/healthz", headers=None):
    port = topology.service_ports[(fqdn(name), 5002)]
    return session.get(f"http://127.0.0.1:{port}{path}", headers=headers or {}, timeout=10)


def version(session, topology, name, path="/healthz", headers=None):
    response = call(session, topology, name, path, headers)
    assert response.status_code == 200, (name, headers, response.status_code, response.text)
    return response.json()["version"]


def versions(session, topology, name, count, headers=None):
    return [version(session, topology, name, "/ads", headers) for _ in range(count)]


def test_no_warnings_for_the_matrix_except_the_unknown_subset(mesh, topology):
    warnings = build_resources(mesh, topology).warnings
    assert len(warnings) == 1 and "'v3'" in warnings[0] and "scenarios.yaml:" in warnings[0], warnings


def test_first_matching_rule_wins(envoy, session, topology):
    assert version(session, topology, "order", headers={"x-t": "yes"}) == "1.0"  # rule 1 before rule 2
    assert version(session, topology, "order", headers={"x-t": "no"}) == "2.0"
    assert version(session, topology, "order") == "2.0"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-a": "1", "x-b": "1"}, "2.0"),  # both conditions of one entry
        ({"x-a": "1"}, "1.0"),  # AND: one of two is not enough
        ({"x-a": "1", "x-b": "2"}, "1.0"),
        ({"x-c": "1"}, "2.0"),  # OR: the second entry alone
        ({"x-b": "1", "x-c": "1"}, "2.0"),
    ],
)
def test_and_within_a_match_or_across_matches(envoy, session, topology, headers, expected):
    assert version(session, topology, "andor", headers=headers) == expected


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        ("/readyz", {}, "2.0"),  # uri exact
        ("/readyz?probe=1", {}, "2.0"),  # exact on the path, query string aside
        ("/healthz", {}, "1.0"),  # regex "/health" finds a match in "/healthz" but does not match all
        ("/healthz", {"x-p": "abc"}, "2.0"),  # prefix
        ("/healthz", {"x-p": "xab"}, "1.0"),
        ("/healthz", {"x-p": "AB"}, "1.0"),  # values are case-sensitive
        ("/healthz", {"x-r": "v12"}, "2.0"),  # regex full match
        ("/healthz", {"x-r": "xv12"}, "1.0"),  # would match as a search
        ("/healthz", {"x-r": "v12x"}, "1.0"),
    ],
)
def test_exact_prefix_and_full_match_regex(envoy, session, topology, path, headers, expected):
    assert version(session, topology, "strings", path, headers) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "1.0"),  # absent: neither exact nor even regex ".*" matches; not present either
        ({"x-v": "1"}, "2.0"),
        ({"x-v": "2"}, "1.0"),
        ({"x-any": "whatever"}, "2.0"),
        ({"x-present": "no matter"}, "2.0"),
        ({"X-Present": "1"}, "2.0"),  # header names are case-insensitive
    ],
)
def test_absent_header_and_presence(envoy, session, topology, headers, expected):
    assert version(session, topology, "absent", headers=headers) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "2.0"),  # lacking both headers satisfies withoutHeaders
        ({"x-beta": "2"}, "2.0"),
        ({"x-beta": "1"}, "1.0"),
        ({"x-block": "anything"}, "1.0"),
        ({"x-beta": "2", "x-block": "1"}, "1.0"),
    ],
)
def test_without_headers(envoy, session, topology, headers, expected):
    assert version(session, topology, "without", headers=headers) == expected


def test_weights_one_to_three_within_exact_binomial_bounds(envoy, session, topology):
    seen = versions(session, topology, "weights", SPLIT_REQUESTS)
    low, high = binom.interval(CONFIDENCE, SPLIT_REQUESTS, 0.75)
    v2 = seen.count("2.0")
    assert set(seen) <= {"1.0", "2.0"}
    assert low <= v2 <= high, f"2.0 got {v2}/{SPLIT_REQUESTS}, expected within [{low}, {high}]"


def test_weight_zero_or_omitted_gets_no_traffic(envoy, session, topology):
    assert set(versions(session, topology, "zero", 200)) == {"2.0"}
    assert set(versions(session, topology, "zero", 200, {"x-case": "omitted"})) == {"2.0"}


def test_no_matching_rule_is_404_without_fallback(envoy, session, topology):
    stat = f"http.{fqdn('nomatch')}:5002.no_route"
    before = envoy.counter(stat)
    assert call(session, topology, "nomatch").status_code == 404
    assert envoy.counter(stat) == before + 1  # Envoy's own NR, not the backend's 404
    assert version(session, topology, "nomatch", headers={"x-only": "1"}) == "1.0"


def test_unknown_subset_is_503_no_cluster(envoy, session, topology):
    stat = f"http.{fqdn('unknown')}:5002.no_cluster"
    before = envoy.counter(stat)
    assert call(session, topology, "unknown").status_code == 503
    assert envoy.counter(stat) == before + 1  # NC: the route names a cluster that does not exist
    assert version(session, topology, "unknown", headers={"x-known": "1"}) == "1.0"


def test_no_virtual_service_splits_by_replica_count(envoy, session, topology):
    seen = versions(session, topology, "plain", SPLIT_REQUESTS)
    low, high = binom.interval(CONFIDENCE, SPLIT_REQUESTS, 2 / 3)
    v2 = seen.count("2.0")
    assert set(seen) == {"1.0", "2.0"}
    assert low <= v2 <= high, f"2.0 got {v2}/{SPLIT_REQUESTS}, expected within [{low}, {high}]"


def test_readiness_only_endpoints_that_pass_their_probe_get_traffic(envoy, session, topology, dead_port):
    cluster = f"outbound|5002||{fqdn('ready')}"
    health = dict(envoy.hosts(cluster))
    assert health[f"127.0.0.1:{dead_port}"] is False
    assert sum(health.values()) == 2
    seen = versions(session, topology, "ready", 100)
    assert set(seen) == {"1.0", "2.0"}  # the probe-less v2 endpoint counts as ready
    # Not one request went to the dead endpoint (a retry would have hidden it, this would not).
    assert envoy.counter(f"cluster.{cluster}.upstream_cx_connect_fail") == 0
