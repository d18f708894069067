"""Faults a shopper must not see, with `make run`'s manifests, real processes and real signals.

- an ads pod's whole process group SIGKILLed, as when a container dies: no 5xx at the
  gateway, the pod restarts and its version is back on product pages;
- `localmesh up` SIGKILLed (terminal closed, OOM killer): every process it started exits
  within seconds, and the next `up` on the same state dir and ports starts cleanly;
- Envoy SIGKILLed: restarted, and the shop serves again.
"""

from __future__ import annotations

import os
import signal

import pytest
from testkit.processes import free_port

from mesh.meshkit import (
    BASE,
    CANARY,
    MeshUp,
    Stream,
    banner_version,
    descendants_alive,
    get,
    page_versions,
    processes_mentioning,
    product_slug,
    wait_for,
)

pytestmark = pytest.mark.envoy

MAKE_RUN = CANARY


def _no_5xx(url: str, status: int, body: str) -> str:
    return "ok" if status < 500 else f"{status}"



def _row(mesh, name: str) -> dict:
    return next(r for r in mesh.status()["workloads"] if r["name"] == name)


def test_a_killed_ads_pod_costs_no_5xx_and_comes_back(mesh_up):
    mesh = mesh_up(*MAKE_RUN)
    home = mesh.gateway + "/"
    product = f"{mesh.gateway}/products/{product_slug(mesh.gateway)}"
    v2 = next(r for r in mesh.status()["workloads"] if r.get("deployment") == "advertisements-v2")
    with Stream([(home, {}), (product, {})], outcome=_no_5xx) as stream:
        os.killpg(v2["pid"], signal.SIGKILL)  # the container dies: master and workers at once
        wait_for(lambda: (lambda r: r["restarts"] == 1 and r["ready"] and r["pid"] != v2["pid"])(
            _row(mesh, v2["name"])), 60, "the killed pod to restart and be ready")
        wait_for(lambda: "2.0" in page_versions(product, 20), 30, "2.0 banners on product pages again")
    assert stream.outcomes["ok"] > 100, stream.outcomes
    assert not stream.failures, f"{stream.outcomes}: {stream.failures[:10]}"


def test_a_killed_up_takes_every_process_with_it_and_up_starts_again(tmp_path):
    agent = f"auto:127.0.0.1:{free_port()}"
    mesh = MeshUp(tmp_path, MAKE_RUN, extra_args=("--trace-agent", agent)).wait_ready()
    restarted = None
    try:
        rows = mesh.status()["workloads"]
        assert {r["kind"] for r in rows} == {"pod", "envoy", "trace-agent"}
        groups = {r["pid"] for r in rows}
        started = set(descendants_alive(set(), groups))
        assert len(started) > len(groups)  # gunicorn workers with their masters
        os.kill(mesh.process.pid, signal.SIGKILL)
        mesh.process.wait(10)
        wait_for(lambda: not descendants_alive(started, groups), 15, "every process of the killed up to exit")
        assert processes_mentioning(str(mesh.state)) == []
        # What `make run` does next: the same state dir, gateway and admin ports.
        restarted = MeshUp(tmp_path, MAKE_RUN, extra_args=("--trace-agent", agent),
                           gateway_port=mesh.gateway_port, admin_port=mesh.admin_port).wait_ready()
        output = restarted.output().split("localmesh: ready")[-2]  # this run's start, up to its banner
        assert "in use" not in output and "another localmesh up" not in output, output
        status, body = get(restarted.gateway + "/")
        assert status == 200 and banner_version(body) == "1.0"
    finally:
        if restarted is not None:
            assert restarted.stop() == 0, restarted.output()[-4000:]
        mesh.stop()


def test_a_killed_envoy_is_restarted_and_the_shop_serves_again(mesh_up):
    mesh = mesh_up(*BASE)
    envoy = _row(mesh, "envoy")
    os.killpg(envoy["pid"], signal.SIGKILL)

    def serving():
        try:
            status, body = get(mesh.gateway + "/", timeout=2)
        except OSError:
            return False
        return status == 200 and banner_version(body) == "1.0"

    wait_for(serving, 20, "the shop to serve through the restarted Envoy")
    # up marks Envoy ready at its next readiness probe (every 0.25 s), which can come just after
    # the first request it serves.
    row = wait_for(lambda: (lambda r: r["ready"] and r)(_row(mesh, "envoy")), 10, "the restarted Envoy ready")
    assert row["restarts"] == 1 and row["pid"] != envoy["pid"]
