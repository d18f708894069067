"""The page_source tag on the root span: with the real ddtrace tracer, and end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from testkit.processes import VENV_BIN, free_port, run_service, wait_for_http

SCRIPT = """
from ddtrace.trace import tracer
from ads import create_app
from ads.tracing import tag_root_span

app = create_app({"ADS_VERSION": "2.0"})
client = app.test_client()
with tracer.trace("web.request") as root:
    with tracer.trace("inner"):
        client.get("/ads", headers={"page-source": "products"})
print("TAG", root.get_tag("page_source"))
with tracer.trace("web.request") as root:
    tag_root_span("page_source", "home")
print("TAG", root.get_tag("page_source"))
"""

NO_DDTRACE = """
import sys
from ads.tracing import tag_root_span
tag_root_span("page_source", "home")
print("LOADED", "ddtrace" in sys.modules)
"""


def run(script: str) -> str:
    # A fresh interpreter: whether ddtrace is loaded must not depend on pytest's plugins.
    env = {"DD_TRACE_ENABLED": "false", "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_root_span_gets_page_source_when_ddtrace_is_loaded():
    tags = [line.split(" ", 1)[1] for line in run(SCRIPT).splitlines() if line.startswith("TAG ")]
    assert tags == ["products", "home"]


def test_without_ddtrace_it_is_a_no_op_that_does_not_load_it():
    assert "LOADED False" in run(NO_DDTRACE)


@contextmanager
def datadog_test_agent() -> Iterator[str]:
    """ddapm-test-agent, Datadog's own agent stand-in for tests, on free loopback ports."""
    port = free_port()
    command = [str(VENV_BIN / "ddapm-test-agent"), "--host", "127.0.0.1", "--port", str(port),
               "--otlp-http-port", str(free_port()), "--otlp-grpc-port", str(free_port())]
    agent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/test/traces", process=agent)
        yield url
    finally:
        agent.terminate()
        agent.wait(15)


def root_spans_for(agent_url: str, resource: str, count: int) -> list[dict]:
    """The flask.request spans the agent received for resource, once count arrived (bounded)."""
    spans: list[dict] = []
    for _ in range(150):
        with urllib.request.urlopen(f"{agent_url}/test/traces", timeout=5) as response:
            traces = json.load(response)
        spans = [span for trace in traces for span in trace
                 if span["name"] == "flask.request" and span["resource"] == resource]
        if len(spans) >= count:
            return spans
        time.sleep(0.2)
    raise AssertionError(f"agent got {len(spans)} of {count} spans for {resource}")


def test_page_source_tag_reaches_the_agent_under_ddtrace_run():
    with datadog_test_agent() as agent_url:
        env = {
            "DD_TRACE_ENABLED": "true", "DD_TRACE_AGENT_URL": agent_url,
            "DD_REMOTE_CONFIGURATION_ENABLED": "false",
            "DD_SERVICE": "advertisements", "ADS_VERSION": "2.0", "DD_VERSION": "2.0",
            # Without it ddtrace 4 names the web span's service "flask", and it loses the version tag.
            "DD_TRACE_REMOVE_INTEGRATION_SERVICE_NAMES_ENABLED": "true",
        }
        with run_service("advertisements", env=env, traced=True) as service:
            for page_source in ("products", "home", "elsewhere"):
                request = urllib.request.Request(f"{service.url}/ads?category=kitchen",
                                                 headers={"page-source": page_source})
                urllib.request.urlopen(request, timeout=10).read()
            spans = root_spans_for(agent_url, "GET /ads", 3)
    tags = sorted(span["meta"].get("page_source") for span in spans)
    assert tags == ["home", "home", "products"]
    assert {(span["service"], span["meta"].get("version")) for span in spans} == {("advertisements", "2.0")}
