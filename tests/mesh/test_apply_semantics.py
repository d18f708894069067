"""up, apply and delete refuse only what the API server and Istio's webhook would refuse.

Every other analyzer finding is a warning, and the traffic through the real Envoy shows its
effect as on a cluster: a route to a subset no DestinationRule defines answers 503 with
Envoy's flag NC (no cluster), a subset whose pods are gone 503 UH (no healthy upstream).
"""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest
from scipy.stats import binom
from testkit.processes import REPO_ROOT, free_port

from mesh.meshkit import (
    ADS_V2,
    BASE,
    CANARY_VS,
    DESTINATION_RULE,
    LOCALMESH,
    TEST_MANIFESTS,
    get,
    processes_mentioning,
)

pytestmark = pytest.mark.envoy

MISSING_SUBSET = TEST_MANIFESTS / "missing-subset.yaml"
SCHEMA_ERROR = TEST_MANIFESTS / "schema-error.yaml"
ADS_ROUTE = "advertisements.ns3.svc.cluster.local:5002"
CONFIDENCE = 0.999


def _stats(mesh) -> dict:
    url = f"http://127.0.0.1:{mesh.admin_port}/stats?format=json"
    with urllib.request.urlopen(url, timeout=5) as response:
        data = json.loads(response.read())
    return {s["name"]: s.get("value", 0) for s in data.get("stats", []) if "name" in s}


def _no_cluster(mesh) -> int:
    return int(_stats(mesh).get(f"http.{ADS_ROUTE}.no_cluster", 0))


def _none_healthy(mesh, subset: str) -> int:
    return int(_stats(mesh).get(f"cluster.outbound|5002|{subset}|advertisements.ns3.svc.cluster.local"
                                ".upstream_cx_none_healthy", 0))


def _ads(mesh, views: int, headers: dict) -> list:
    url = mesh.listener("advertisements") + "/ads?category=kitchen"
    return [get(url, headers=headers)[0] for _ in range(views)]


def test_up_refuses_what_the_api_server_would_refuse(tmp_path):
    state = tmp_path / "s"
    result = subprocess.run(
        [*LOCALMESH, "up", "--state-dir", str(state), "--free-listener-ports",
         "--gateway-port", str(free_port()), "--admin-port", str(free_port()),
         *[a for f in BASE for a in ("-f", str(f))], "-f", str(SCHEMA_ERROR)],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
    )
    assert result.returncode == 1
    assert "Error [IST0106]" in result.stderr and "schema-error.yaml:14" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("localmesh: refusing to start")
    assert "Traceback" not in result.stderr
    assert processes_mentioning(str(state)) == []


def test_up_accepts_a_route_to_an_undefined_subset_and_it_answers_503_nc(mesh_up):
    mesh = mesh_up(*BASE, MISSING_SUBSET)
    assert "warning: Error [IST0101]" in mesh.output() and "missing-subset.yaml:14" in mesh.output()
    before = _no_cluster(mesh)
    statuses = _ads(mesh, 20, {})
    assert statuses == [503] * 20
    assert _no_cluster(mesh) - before == 20  # Envoy's NC: the route names no existing cluster
    # The shop still serves its pages, without a banner.
    status, _ = get(mesh.gateway + "/")
    assert status == 200


def test_apply_and_delete_are_accepted_and_traffic_shows_the_effect(mesh_up):
    mesh = mesh_up(*BASE, ADS_V2)
    # The canary before its DestinationRule: accepted with a warning; its subsets do not exist.
    applied = mesh.cli("apply", "-f", str(CANARY_VS))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "warning: Error [IST0101]" in applied.stdout
    assert "virtualservice/advertisements created" in applied.stdout
    before = _no_cluster(mesh)
    assert _ads(mesh, 10, {"page-source": "products"}) + _ads(mesh, 10, {}) == [503] * 20
    assert _no_cluster(mesh) - before == 20

    # The DestinationRule follows: the canary serves.
    mesh.apply(DESTINATION_RULE)
    assert set(_ads(mesh, 40, {"page-source": "products"})) == {200}

    # v2 deleted while the DestinationRule still names it: accepted; subset v2 has no pod.
    deleted = mesh.cli("delete", "-f", str(ADS_V2))
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert "warning: Error [IST0173]" in deleted.stdout
    assert "deployment/advertisements-v2 deleted" in deleted.stdout
    assert not any(w.get("deployment") == "advertisements-v2" for w in mesh.status()["workloads"])
    before = _none_healthy(mesh, "v2")
    views = 300
    statuses = _ads(mesh, views, {"page-source": "products"})
    assert set(statuses) <= {200, 503}
    failed = statuses.count(503)
    low, high = binom.interval(CONFIDENCE, views, 0.5)  # the canary's 50 % to v2
    assert low <= failed <= high, f"{failed}/{views} answered 503, expected [{low:g}, {high:g}]"
    assert _none_healthy(mesh, "v2") - before == failed  # Envoy's UH: no healthy host in v2
    assert set(_ads(mesh, 40, {})) == {200}  # everything else goes to v1
