"""The advertisements service's one span per request, as Datadog's test agent receives it.

The service runs under ddtrace-run gunicorn with the manifests' DD_* settings
(tracing.tracekit.service_env) and sends to a real ddapm-test-agent. Each /ads call is one server
span that continues the caller's trace (the mesh Envoy's Datadog headers) and carries page_source,
ads_version and the category asked for; a rejected request is not the service's error; a path no
route matches is named by its status.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from testkit.processes import run_service
from tracing.tracekit import run_test_agent, service_env

# What the mesh Envoy sends along with a call: its span's context, Datadog style.
CALLER_TRACE_ID = 0x5B2F1D04E6A3C911
CALLER_SPAN_ID = 0x1C2D3E4F5A6B7C8D
CALLER_HEADERS = {"x-datadog-trace-id": str(CALLER_TRACE_ID), "x-datadog-parent-id": str(CALLER_SPAN_ID),
                  "x-datadog-sampling-priority": "1"}


@pytest.fixture(scope="module")
def traced_ads(tmp_path_factory):
    with run_test_agent(tmp_path_factory.mktemp("traced-ads")) as agent:
        env = {**service_env("advertisements", "2.0", agent.url), "ADS_VERSION": "2.0"}
        with run_service("advertisements", env=env, traced=True) as service:
            yield agent, service


def call(service, path: str, headers: dict) -> int:
    request = urllib.request.Request(service.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def spans_for(agent, url_end: str, count: int = 1) -> list:
    """The request spans whose URL ends with url_end, once count of them arrived."""

    def matching(traces: list) -> list:
        return [s for t in traces for s in t if s["name"] == "flask.request"
                and s["meta"].get("http.url", "").endswith(url_end)]

    return matching(agent.wait_for_traces(lambda t: len(matching(t)) >= count, f"{count} spans of {url_end}"))


def test_an_ads_call_is_one_span_continuing_the_callers_trace(traced_ads):
    agent, service = traced_ads
    agent.start_session()
    headers = {**CALLER_HEADERS, "page-source": "products"}
    assert call(service, "/ads?category=kitchen&slug=chef-knife", headers) == 200
    [span] = spans_for(agent, "/ads")
    [trace] = [t for t in agent.traces() if span in t]
    assert trace == [span], "one span per ads call"
    assert (span["trace_id"], span["parent_id"]) == (CALLER_TRACE_ID, CALLER_SPAN_ID)
    assert (span["service"], span["resource"], span["type"]) == ("advertisements", "GET /ads", "web")
    meta = span["meta"]
    assert {key: meta.get(key) for key in ("span.kind", "http.route", "http.status_code", "page_source",
                                           "ads_version", "category", "version")} == {
        "span.kind": "server", "http.route": "/ads", "http.status_code": "200", "page_source": "products",
        "ads_version": "2.0", "category": "kitchen", "version": "2.0"}
    assert "?" not in meta["http.url"], "the query string stays out of the span"
    assert span.get("error", 0) == 0


def test_without_a_caller_context_the_call_starts_its_own_trace(traced_ads):
    agent, service = traced_ads
    agent.start_session()
    assert call(service, "/ads", {"page-source": "home"}) == 200
    [span] = spans_for(agent, "/ads")
    assert span["parent_id"] in (0, None)
    assert span["meta"]["page_source"] == "home"
    assert "category" not in span["meta"]


def test_a_rejected_request_and_an_unknown_path_are_not_the_services_errors(traced_ads):
    agent, service = traced_ads
    agent.start_session()
    assert call(service, "/ads?category=../../etc", CALLER_HEADERS) == 400
    assert call(service, "/no-such-thing", CALLER_HEADERS) == 404
    [rejected] = spans_for(agent, "/ads")
    [unknown] = spans_for(agent, "/no-such-thing")
    assert (rejected["resource"], rejected["meta"]["http.status_code"]) == ("GET /ads", "400")
    assert "category" not in rejected["meta"], "an invalid value never becomes a tag"
    assert (unknown["resource"], unknown["meta"]["http.status_code"]) == ("GET 404", "404")
    assert rejected.get("error", 0) == unknown.get("error", 0) == 0


def test_probes_make_no_spans(traced_ads):
    agent, service = traced_ads
    agent.start_session()
    for path in ("/healthz", "/readyz"):
        assert call(service, path, CALLER_HEADERS) == 200
    # The service sends its spans in order: with this call's span in, the probes' would be too.
    assert call(service, "/ads", CALLER_HEADERS) == 200
    spans_for(agent, "/ads")
    assert [s["resource"] for t in agent.traces() for s in t] == ["GET /ads"]
