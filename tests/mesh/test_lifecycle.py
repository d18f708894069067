"""Lifecycle of `localmesh up`: clean stop, restarts, port clashes, refusals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess

import pytest
from testkit.processes import REPO_ROOT, free_port

from mesh.meshkit import (
    BASE,
    FIXTURE_SERVICES,
    LOCALMESH,
    TEST_MANIFESTS,
    MeshUp,
    banner_version,
    descendants_alive,
    get,
    processes_mentioning,
    wait_for,
)

pytestmark = pytest.mark.envoy

STUBBORN = TEST_MANIFESTS / "stubborn.yaml"



def test_sigterm_stops_everything_even_a_process_that_ignores_sigterm(tmp_path):
    mesh = MeshUp(tmp_path, [STUBBORN], extra_args=("--services-dir", str(FIXTURE_SERVICES)))
    try:
        mesh.wait_ready()
        rows = mesh.status()["workloads"]
        pids = {row["pid"] for row in rows}
        assert len(pids) == 2 and None not in pids  # the stubborn pod and Envoy
        # Every process started is a process-group leader; its group holds what it forked.
        pgids = {os.getpgid(pid) for pid in pids}
        assert pgids == pids
        assert len(descendants_alive(set(), pgids)) >= 3  # stubborn, its child, envoy
    finally:
        code = mesh.stop()
    assert code == 0, mesh.output()
    assert descendants_alive(pids, pgids) == []
    assert processes_mentioning(str(mesh.state)) == []
    (log,) = (mesh.state / "logs").glob("stubborn-*.log")
    assert "did not stop within 2s of SIGTERM: SIGKILL" in log.read_text()


def test_a_killed_workload_comes_back(mesh_up):
    mesh = mesh_up(*BASE)
    ads = next(row for row in mesh.status()["workloads"] if row.get("deployment") == "advertisements")
    os.kill(ads["pid"], signal.SIGKILL)

    def restarted():
        row = next(r for r in mesh.status()["workloads"] if r["name"] == ads["name"])
        return row if row["restarts"] >= 1 and row["ready"] and row["pid"] != ads["pid"] else None

    row = wait_for(restarted, 60, "the killed pod to restart and be ready")
    assert row["restarts"] == 1
    assert os.getpgid(row["pid"]) == row["pid"]
    # Traffic finds it again through the same listener.
    def served():
        status, body = get(mesh.gateway + "/")
        return status == 200 and banner_version(body) == "1.0"
    wait_for(served, 30, "a page with a 1.0 banner after the restart")


def test_a_port_in_use_is_one_clear_error_and_nothing_runs(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        state = tmp_path / "state"
        result = subprocess.run(
            [*LOCALMESH, "up", "--state-dir", str(state), "--free-listener-ports",
             "--gateway-port", str(port), "--admin-port", str(free_port()),
             *[a for f in BASE for a in ("-f", str(f))]],
            capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
        )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1] == (f"localmesh: port 127.0.0.1:{port} is already in use; it is wanted by the gateway "
                         "(set GATEWAY_PORT or --gateway-port to move it)")
    assert "Traceback" not in result.stderr
    assert processes_mentioning(str(state)) == []


def test_a_kind_the_mesh_does_not_run_is_accepted_with_a_warning(tmp_path):
    """A cluster stores a CronJob; the local mesh accepts it too, says it does nothing here,
    and serves the rest."""
    cronjob = TEST_MANIFESTS / "cronjob.yaml"
    mesh = MeshUp(tmp_path, [*BASE, cronjob]).wait_ready()
    try:
        assert get(mesh.gateway + "/")[0] == 200
        workloads = {row.get("deployment") for row in mesh.status()["workloads"]}
        assert "nightly" not in workloads
        assert (f"Warning (CronJob ns3/nightly {cronjob}:3) kind: kind CronJob (batch/v1) is accepted, "
                "as a cluster would, but has no effect on the local mesh") in mesh.output()
    finally:
        assert mesh.stop() == 0
