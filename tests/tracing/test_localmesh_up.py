"""`localmesh up --trace-agent auto...`: the mesh brings a test agent (or uses one), and its
Envoy and pods send one trace per page view to it. Real `localmesh up` on free ports."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest
from mesh.meshkit import CANARY, MeshUp, get
from testkit.processes import REPO_ROOT, free_port

from localmesh.tracing.agent import agent_answers
from tracing.tracekit import app_request_span, is_page_view, roots, run_test_agent, shown_version

pytestmark = pytest.mark.envoy

PRODUCT = "/products/chef-knife"


def traces_at(url: str) -> list:
    with urllib.request.urlopen(f"{url}/test/traces", timeout=10) as response:
        return json.load(response)


def wait_for_page_view(url: str, path: str) -> list:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # Complete: the spans, which each process flushes at its own time, hang under one root.
        views = [t for t in traces_at(url) if is_page_view(t, path) and app_request_span(t, "advertisements")
                 and len(roots(t)) == 1]
        if views:
            return views
        time.sleep(0.3)
    raise AssertionError(f"no complete trace of {path} at {url}")


def test_up_starts_a_test_agent_and_the_page_view_is_one_trace(tmp_path):
    port = free_port()
    mesh = MeshUp(tmp_path, CANARY, extra_args=("--trace-agent", f"auto:127.0.0.1:{port}")).wait_ready()
    try:
        workloads = {row["name"]: row for row in mesh.status()["workloads"]}
        assert "trace-agent" in workloads, sorted(workloads)
        status, html = get(mesh.gateway + PRODUCT)
        assert status == 200
        [trace] = wait_for_page_view(f"http://127.0.0.1:{port}", PRODUCT)
        [root] = roots(trace)
        assert root["service"] == "istio-ingressgateway"
        assert {s["service"] for s in trace} == {"istio-ingressgateway", "frontend", "advertisements.ns3",
                                                 "advertisements"}
        ads = app_request_span(trace, "advertisements")
        assert ads["meta"]["version"] == shown_version(html)
        # Unified service tagging from the manifests' labels, on app and Envoy spans alike.
        assert {s["meta"].get("env") for s in trace} == {"workshop-istio"}
        # What `make traces` prints after `make run`.
        command = [sys.executable, "-m", "localmesh", "traces", "--agent", f"http://127.0.0.1:{port}"]
        summary = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
        assert summary.returncode == 0, summary.stderr
        rows = {tuple(line.split()[:2]) for line in summary.stdout.splitlines() if line.strip()}
        assert {("frontend", "1.0"), ("advertisements", ads["meta"]["version"])} <= rows
        # Spans still buffered in the pods when SIGTERM comes: their final flush needs the agent.
        for _ in range(5):
            get(mesh.gateway + PRODUCT)
    finally:
        assert mesh.stop() == 0
    assert not agent_answers("127.0.0.1", port), "the test agent outlived the mesh"
    # The agent stops last: the pods' final flush on SIGTERM still reaches it.
    pod_logs = "".join(path.read_text(errors="replace") for path in (mesh.state / "logs").glob("*"))
    assert "dropping" in pod_logs or "Shutting down" in pod_logs, "no pod logs to check"
    assert "failed to send" not in pod_logs, pod_logs[-3000:]


def test_up_uses_an_agent_that_already_answers(tmp_path):
    with run_test_agent(tmp_path) as agent:
        mesh = MeshUp(tmp_path / "mesh", CANARY,
                      extra_args=("--trace-agent", f"auto:127.0.0.1:{agent.port}")).wait_ready()
        try:
            assert "trace-agent" not in {row["name"] for row in mesh.status()["workloads"]}
            assert get(mesh.gateway + "/")[0] == 200
            [trace] = wait_for_page_view(agent.url, "/")
            assert app_request_span(trace, "advertisements")["meta"]["version"] == "1.0"
        finally:
            assert mesh.stop() == 0
        assert agent.process.poll() is None, "the mesh stopped an agent it did not start"


def test_up_with_tracing_off_turns_it_off_in_the_pods(canary_mesh):
    mesh = canary_mesh  # started with --trace-agent off; shared with other tests that only read
    assert get(mesh.gateway + "/")[0] == 200
    log = (mesh.state / "logs").glob("frontend-*.log")
    text = "".join(path.read_text(errors="replace") for path in log)
    assert "failed to send" not in text
    assert '"dd.trace_id"' not in text, "a span was active: tracing is still on"
