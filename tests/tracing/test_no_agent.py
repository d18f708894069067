"""Tracing on, no agent anywhere: pages still serve, and the logs say so once, not per request.

Both ddtrace (in every service) and Envoy's Datadog tracer point at a loopback port that
nothing listens on, as when the compose file runs without its datadog profile. ddtrace logs its
failed flushes at most once a minute, as one JSON error line.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
from testkit.processes import free_port

from localmesh.topology import TracingConfig
from tracing.tracekit import ENV, get_page, run_shop, shown_version

pytestmark = pytest.mark.envoy

PAGES = 60


@pytest.fixture(scope="module")
def agentless(tmp_path_factory):
    closed = free_port()
    tracing = TracingConfig(agent_host="127.0.0.1", agent_port=closed, env=ENV)
    extra = {"DD_DOGSTATSD_URL": f"udp://127.0.0.1:{closed}"}
    with run_shop(tmp_path_factory.mktemp("agentless"), f"http://127.0.0.1:{closed}", tracing, extra) as shop:
        yield shop


def test_pages_serve_without_an_agent(agentless):
    versions = []
    for index in range(PAGES):
        path = "/" if index % 3 == 0 else "/products/chef-knife"
        status, html = get_page(agentless.gateway + path)
        assert status == 200, f"{path} answered {status}"
        versions.append(shown_version(html))
    # The banner still comes through the mesh: tracing trouble never costs the ads call.
    assert None not in versions


def failure_times(output: str) -> list:
    """When the service logged that it could not send its spans (JSON lines only)."""
    times = []
    for line in output.splitlines():
        if "failed to send" in line:
            entry = json.loads(line)  # DD_TRACE_LOG_STREAM_HANDLER=false: no plain-text second copy
            assert entry["level"] == "error", line
            times.append(datetime.fromisoformat(entry["time"]))
    return times


def test_a_missing_agent_is_logged_once_a_minute_not_per_request(agentless):
    for index in range(PAGES):
        assert get_page(agentless.gateway + ("/" if index % 2 else "/products/chef-knife"))[0] == 200
    deadline = time.monotonic() + 30
    while not all(failure_times(s.output()) for s in agentless.services.values()):
        # Each service says so at its first flush (every second or so).
        assert time.monotonic() < deadline, "a service never said its spans cannot be sent"
        time.sleep(0.2)
    for name, service in agentless.services.items():
        output = service.output()
        assert "Traceback" not in output, f"{name}:\n{output[-3000:]}"
        times = failure_times(output)
        # ddtrace logs a repeated message at most once a minute (DD_TRACE_LOGGING_RATE, 60 s).
        gaps = [later - earlier for earlier, later in zip(times, times[1:])]
        assert all(gap >= timedelta(seconds=59) for gap in gaps), f"{name} logs the missing agent too often"
        # DogStatsD drops its metrics silently.
        assert "Error submitting packet" not in output, name
