"""Tracing on, no agent anywhere: pages still serve, and the logs say so once, not per request.

Both ddtrace (in every service) and Envoy's Datadog tracer point at a loopback port that
nothing listens on, as when the compose file runs without its datadog profile.
"""

from __future__ import annotations

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


def test_a_missing_agent_is_not_logged_per_request(agentless):
    for index in range(PAGES):
        assert get_page(agentless.gateway + ("/" if index % 2 else "/products/chef-knife"))[0] == 200
    for name, service in agentless.services.items():
        output = service.output()
        assert "Traceback" not in output, f"{name}:\n{output[-3000:]}"
        lines = [line for line in output.splitlines()
                 if "failed to send" in line or "Error submitting packet" in line]
        # ddtrace rate-limits its writer errors (about one a minute per worker); DogStatsD is silent.
        shown = "\n".join(lines[:20])
        assert len(lines) < PAGES // 6, f"{name} logs the missing agent per request:\n{shown}"
        assert not any("Error submitting packet" in line for line in lines), name
