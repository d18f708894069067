"""Readiness and liveness probes as the kubelet runs them, against a real process.

The process (tests/mesh/fixtures/services/flipper) answers its probe paths as the test sets
them and logs every probe it answered, so each probe field's effect shows in what the
process saw and in what the supervisor concluded.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from functools import partial
from pathlib import Path

import pytest
from testkit.processes import free_port

from localmesh.loader import load_text
from localmesh.model import Probe, build_mesh
from localmesh.runtime.supervisor import ProbeSpec, ProcessSpec, Supervisor
from mesh import meshkit

# Probes come every second or so: look often, so that a test acts between two of them.
wait_for = partial(meshkit.wait_for, poll=0.02)

FLIPPER = meshkit.FIXTURE_SERVICES / "flipper"


class Flipper:
    def __init__(self, supervisor: Supervisor, tmp: Path, name: str, initial: dict = None,
                 **probes: ProbeSpec) -> None:
        self.supervisor = supervisor
        self.name = name
        self.port = free_port()
        self.log = tmp / f"{name}-probes.jsonl"
        self.log.touch()
        base = f"http://127.0.0.1:{self.port}"
        self.started = time.monotonic()
        self.supervisor.start(ProcessSpec(
            name=name, command=(sys.executable, "flipper.py"), cwd=str(FLIPPER),
            env={"PORT": str(self.port), "BIND_HOST": "127.0.0.1", "PROBE_LOG": str(self.log),
                 "FLIP_INITIAL": json.dumps(initial or {})},
            grace_seconds=2.0,
            **{kind: ProbeSpec(**{**vars(spec), "url": base + spec.url}) for kind, spec in probes.items()},
        ))

    def set(self, path: str, status: int = 200, delay: float = 0.0) -> float:
        """Change what path answers; the monotonic time just before the change."""
        before = time.monotonic()
        url = f"http://127.0.0.1:{self.port}/set?path={path}&status={status}&delay={delay}"
        for _ in range(100):
            try:
                urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5).close()
                return before
            except OSError:
                time.sleep(0.1)  # the process is still starting
        raise AssertionError(f"{self.name} never answered on port {self.port}")

    def probes(self, path: str) -> list:
        lines = self.log.read_text().splitlines()
        return [entry for entry in map(json.loads, lines) if entry["path"] == path]

    def row(self) -> dict:
        return next(r for r in self.supervisor.snapshot() if r["name"] == self.name)



@pytest.fixture
def supervisor(tmp_path):
    running = Supervisor(tmp_path / "logs")
    yield running
    running.stop_all(grace=2.0)


def test_probe_fields_and_kubernetes_defaults_reach_the_model():
    text = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: t}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: test/web:1.0
          readinessProbe:
            httpGet: {path: /readyz, port: 8000}
            initialDelaySeconds: 4
            periodSeconds: 2
            timeoutSeconds: 3
            successThreshold: 2
            failureThreshold: 5
          livenessProbe:
            httpGet: {path: /healthz, port: 8000}
"""
    (container,) = build_mesh(load_text(text, "d.yaml")).deployments[0].containers
    assert container.readiness == Probe("/readyz", 8000, period_seconds=2, timeout_seconds=3,
                                        failure_threshold=5, initial_delay_seconds=4, success_threshold=2)
    # Kubernetes defaults: initialDelaySeconds 0, periodSeconds 10, timeoutSeconds 1,
    # successThreshold 1, failureThreshold 3.
    liveness = container.liveness
    assert (liveness.initial_delay_seconds, liveness.period_seconds, liveness.timeout_seconds,
            liveness.success_threshold, liveness.failure_threshold) == (0, 10, 1, 1, 3)


def test_initial_delay_then_one_probe_every_period(supervisor, tmp_path):
    pod = Flipper(supervisor, tmp_path, "delayed",
                  readiness=ProbeSpec("/readyz", initial_delay=3, period=1))
    wait_for(lambda: pod.row()["ready"], 20, "readiness")
    first = pod.probes("/readyz")[0]["at"]
    assert first - pod.started >= 3.0, "probed before initialDelaySeconds"
    wait_for(lambda: len(pod.probes("/readyz")) >= 4, 20, "four probes")
    times = [p["at"] for p in pod.probes("/readyz")]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # Probes follow the period (a lower bound: a busy machine may only be late).
    assert min(gaps) >= 0.95, gaps


def test_longer_period_spaces_probes_further(supervisor, tmp_path):
    pod = Flipper(supervisor, tmp_path, "slow-period", readiness=ProbeSpec("/readyz", period=2))
    wait_for(lambda: len(pod.probes("/readyz")) >= 3, 30, "three probes")
    times = [p["at"] for p in pod.probes("/readyz")]
    assert min(b - a for a, b in zip(times, times[1:])) >= 1.95


def test_a_probe_answering_after_its_timeout_fails(supervisor, tmp_path):
    slow = {"/readyz": [200, 1.5]}
    hasty = Flipper(supervisor, tmp_path, "hasty", slow,
                    readiness=ProbeSpec("/readyz", period=1, timeout=1))
    patient = Flipper(supervisor, tmp_path, "patient", slow,
                      readiness=ProbeSpec("/readyz", period=1, timeout=3))
    wait_for(lambda: patient.row()["ready"], 20, "the patient prober to see the slow answer")
    # The hasty prober has seen as many slow answers, each too late: still not ready.
    wait_for(lambda: len(hasty.probes("/readyz")) >= 3, 20, "three answers to the hasty prober")
    assert not hasty.row()["ready"]


def test_success_threshold_needs_that_many_passes_in_a_row(supervisor, tmp_path):
    pod = Flipper(supervisor, tmp_path, "careful",
                  readiness=ProbeSpec("/readyz", period=1, success_threshold=3))
    wait_for(lambda: pod.row()["ready"], 30, "readiness")
    passed = [p for p in pod.probes("/readyz") if p["status"] == 200]
    assert len(passed) >= 3


def test_readiness_failure_threshold(supervisor, tmp_path):
    pod = Flipper(supervisor, tmp_path, "flaky",
                  readiness=ProbeSpec("/readyz", period=1, failure_threshold=3))
    wait_for(lambda: pod.row()["ready"], 20, "readiness")
    flipped = pod.set("/readyz", 503)
    wait_for(lambda: not pod.row()["ready"], 20, "not ready")
    failed = [p for p in pod.probes("/readyz") if p["at"] > flipped and p["status"] == 503]
    assert len(failed) >= 3
    # Readiness never restarts anything; passing again makes it ready again.
    pod.set("/readyz", 200)
    wait_for(lambda: pod.row()["ready"], 20, "ready again")
    assert pod.row()["restarts"] == 0


def test_liveness_failure_threshold_restarts_the_process(supervisor, tmp_path):
    pod = Flipper(supervisor, tmp_path, "dying",
                  liveness=ProbeSpec("/healthz", period=1, failure_threshold=2))
    wait_for(lambda: len(pod.probes("/healthz")) >= 2, 20, "two passing liveness probes")
    first_pid = pod.row()["pid"]
    flipped = pod.set("/healthz", 500)
    row = wait_for(lambda: pod.row()["restarts"] == 1 and pod.row()["pid"] not in (None, first_pid)
                   and pod.row(), 30, "a restart")
    failed = [p for p in pod.probes("/healthz") if p["at"] > flipped and p["pid"] == first_pid]
    assert len(failed) >= 2 and all(p["status"] == 500 for p in failed)
    # The new container starts healthy and is probed afresh.
    wait_for(lambda: any(p["pid"] == row["pid"] for p in pod.probes("/healthz")), 20,
             "the new process probed")
    assert all(p["status"] == 200 for p in pod.probes("/healthz") if p["pid"] == row["pid"])


def test_liveness_failures_below_the_threshold_restart_nothing(supervisor, tmp_path):
    pod = Flipper(supervisor, tmp_path, "wobbly",
                  liveness=ProbeSpec("/healthz", period=1, failure_threshold=4))
    wait_for(lambda: len(pod.probes("/healthz")) >= 1, 20, "a liveness probe")
    pod.set("/healthz", 500)
    wait_for(lambda: len([p for p in pod.probes("/healthz") if p["status"] == 500]) >= 3, 20,
             "three failed liveness probes")
    pod.set("/healthz", 200)
    wait_for(lambda: pod.probes("/healthz")[-1]["status"] == 200, 20, "a passing probe")
    assert pod.row()["restarts"] == 0
