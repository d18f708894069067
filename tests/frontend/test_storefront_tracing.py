"""The frontend's root span gets ads.version and page_source when ddtrace runs.

ddtrace is imported in this process (its pytest plugin loads it), so the test uses the real
tracer with sending turned off, and a real page view through the Flask test client.
"""

from __future__ import annotations

import sys

import pytest
from storefront_pages import banner
from storefront_standin import VALID_ADS, json_reply, stand_in


@pytest.fixture
def tracer(monkeypatch):
    from ddtrace.trace import tracer

    monkeypatch.setattr(tracer, "enabled", False)  # create spans, send nothing
    return tracer


def test_root_span_is_tagged_with_the_answering_version(make_app, tracer):
    with stand_in(json_reply(VALID_ADS)) as server:
        client = make_app(server.url).test_client()
        with tracer.trace("flask.request") as root:
            assert client.get("/products/chef-knife").status_code == 200
    assert root.get_tag("ads.version") == "2.0"
    assert root.get_tag("page_source") == "products"


def test_root_span_without_an_answer_gets_only_the_page_source(client, tracer):
    with tracer.trace("flask.request") as root:
        assert client.get("/").status_code == 200
    assert root.get_tag("ads.version") is None
    assert root.get_tag("page_source") == "home"


def test_without_ddtrace_it_is_a_no_op(monkeypatch, client):
    from storefront.tracing import tag_root_span

    for name in [name for name in sys.modules if name == "ddtrace" or name.startswith("ddtrace.")]:
        monkeypatch.delitem(sys.modules, name)
    tag_root_span({"ads.version": "1.0"})
    assert "ddtrace" not in sys.modules
    assert client.get("/").status_code == 200
    assert "ddtrace" not in sys.modules


def test_under_ddtrace_run_the_request_span_carries_the_ads_version(ads_v2, tmp_path):
    """Real ddtrace-run gunicorn, sending to a real ddapm-test-agent on a loopback port."""
    import subprocess

    import requests
    from testkit.processes import VENV_BIN, free_port, run_service, wait_for_http

    agent_port = free_port()
    agent = subprocess.Popen(
        [
            str(VENV_BIN / "ddapm-test-agent"),
            "--port", str(agent_port),
            "--otlp-http-port", str(free_port()),
            "--otlp-grpc-port", str(free_port()),
            "--web-ui-port", str(free_port()),
        ],
        stdout=(tmp_path / "agent.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{agent_port}/info", process=agent)
        env = {
            "ADS_URL": ads_v2.url,
            "DD_TRACE_ENABLED": "true",
            "DD_TRACE_AGENT_URL": f"http://127.0.0.1:{agent_port}",
            "DD_SERVICE": "frontend",
            "DD_VERSION": "1.0",
        }
        with run_service("frontend", env=env, traced=True) as frontend:
            page = requests.get(f"{frontend.url}/products/smart-speaker", timeout=10)
            shown = banner(page.text)["data-ads-version"]
        # The workers flush their spans when they stop (end of the block above).
        spans = [
            span
            for trace in requests.get(f"http://127.0.0.1:{agent_port}/test/traces", timeout=10).json()
            for span in trace
        ]
    finally:
        agent.terminate()
        agent.wait(15)
    [root] = [
        span
        for span in spans
        if span.get("parent_id") in (0, None)
        and span["meta"].get("http.url", "").endswith("/products/smart-speaker")
    ]
    assert root["name"] == "flask.request"
    assert root["meta"]["ads.version"] == shown == "2.0"
    assert root["meta"]["page_source"] == "products"
