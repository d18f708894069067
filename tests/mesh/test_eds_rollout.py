"""Pods come and go by EDS; a changed Deployment rolls as its strategy says.

Three pods of the flipper fixture behind a Service (tests/mesh/manifests/flipper.yaml:
maxSurge 1, maxUnavailable 0) under a steady stream of requests through the Service's
Envoy listener. A pod whose liveness probe fails restarts, then a changed template rolls
out; the cluster is never replaced (same version and last_updated in Envoy's config dump,
its upstream_rq_total keeps counting), no request fails, and the rollout never has more
than 4 pods nor fewer than 3 ready.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest

from localmesh.runtime.control import call
from mesh.meshkit import FIXTURE_SERVICES, TEST_MANIFESTS, MeshUp, Stream, wait_for

pytestmark = pytest.mark.envoy

FLIPPER = TEST_MANIFESTS / "flipper.yaml"
CLUSTER = "outbound|8000||flipper.rollout.svc.cluster.local"


def _answer(url: str, status: int, body: str) -> str:
    return "ok" if status == 200 and '"pod": "flipper-' in body else f"{status} {body[:80]!r}"


def _admin(mesh, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{mesh.admin_port}{path}", timeout=5) as response:
        return json.loads(response.read())


def _cluster_entry(mesh) -> dict:
    configs = _admin(mesh, "/config_dump?resource=dynamic_active_clusters")["configs"]
    return next(c for c in configs if c["cluster"]["name"] == CLUSTER)


def _requests_total(mesh) -> int:
    name = f"cluster.{CLUSTER}.upstream_rq_total"
    return next(int(s["value"]) for s in _admin(mesh, "/stats?format=json")["stats"] if s.get("name") == name)


def _flipper_rows(mesh) -> list:
    _, body = call(mesh.state, "GET", "/status?usage=0", timeout=10)
    return [w for w in body["workloads"] if w.get("deployment") == "flipper"]


class Census:
    """(pods, ready pods) of the flipper Deployment, sampled while a rollout runs."""

    def __init__(self, mesh) -> None:
        self.mesh = mesh
        self.seen: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rows = _flipper_rows(self.mesh)
            self.seen.append((len(rows), sum(1 for r in rows if r["ready"])))
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)



def test_restart_and_rollout_keep_the_cluster_and_lose_no_request(tmp_path):
    mesh = MeshUp(tmp_path, [FLIPPER], extra_args=("--services-dir", str(FIXTURE_SERVICES))).wait_ready()
    try:
        url = mesh.listener("flipper") + "/"
        before = _cluster_entry(mesh)
        assert before["cluster"]["type"] == "EDS"
        assert "load_assignment" not in before["cluster"]
        counted_before = _requests_total(mesh)
        changed = tmp_path / "flipper-changed.yaml"
        changed.write_text(FLIPPER.read_text().replace('value: "1"', 'value: "2"'))
        with Stream([(url, {})], threads_per_url=3, outcome=_answer) as stream:
            # A pod restart: its liveness probe fails twice, it leaves the endpoints and restarts.
            victim = _flipper_rows(mesh)[0]
            flip = f"http://127.0.0.1:{victim['port']}/set?path=/healthz&status=500"
            urllib.request.urlopen(urllib.request.Request(flip, method="POST"), timeout=5).close()
            wait_for(lambda: any(r["name"] == victim["name"] and r["restarts"] == 1 and r["ready"]
                              and r["pid"] != victim["pid"] for r in _flipper_rows(mesh)),
                  60, "the pod to restart and be ready")
            # A rollout: the changed template replaces the pods one at a time.
            with Census(mesh) as census:
                out = mesh.apply(changed)
        assert stream.outcomes["ok"] > 200, stream.outcomes
        assert not stream.failures, f"{stream.outcomes}: {stream.failures[:10]}"

        after = _cluster_entry(mesh)
        for key in ("version_info", "last_updated"):
            assert after[key] == before[key], f"the cluster was replaced: {key} {before[key]} -> {after[key]}"
        assert _requests_total(mesh) - counted_before >= sum(stream.outcomes.values())

        # maxSurge 1, maxUnavailable 0 with 3 replicas: one new pod, then one old one goes.
        assert max(pods for pods, _ in census.seen) == 4, census.seen
        assert min(ready for _, ready in census.seen) >= 3, census.seen
        events = [line.split()[1] for line in out.splitlines() if line.startswith("pod/")]
        assert events == ["started", "stopped"] * 3, out
        rows = _flipper_rows(mesh)
        assert len(rows) == 3 and all(r["ready"] for r in rows)
        assert len({r["name"].rsplit("-", 2)[1] for r in rows}) == 1  # one template hash
        assert victim["name"] not in {r["name"] for r in rows}
    finally:
        assert mesh.stop() == 0, mesh.output()[-4000:]
