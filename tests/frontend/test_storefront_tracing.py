"""The storefront's spans, as Datadog's test agent receives them.

Frontend and advertisements 2.0 run under ddtrace-run gunicorn with the manifests' DD_* settings
(tracing.tracekit.service_env) and send to a real ddapm-test-agent. A product page view makes
three frontend spans: the request (server), the ads call (client, whose context the ads service
continues) and the page's rendering. Probes make none; a path no route matches is named by its
status, never by the path.
"""

from __future__ import annotations

import urllib.request

import pytest
from storefront_pages import banner
from testkit.processes import run_service
from tracing.tracekit import describe, get_page, run_test_agent, service_env

PRODUCT = "/products/smart-speaker"


@pytest.fixture(scope="module")
def traced_storefront(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("traced-storefront")
    with run_test_agent(workdir) as agent:
        ads_env = {**service_env("advertisements", "2.0", agent.url), "ADS_VERSION": "2.0"}
        with run_service("advertisements", env=ads_env, traced=True) as ads:
            env = {**service_env("frontend", "1.0", agent.url), "ADS_URL": ads.url,
                   "DATABASE_URL": f"sqlite:///{workdir / 'experiment.sqlite3'}"}
            with run_service("frontend", env=env, traced=True) as frontend:
                yield agent, frontend


def frontend_trace(agent, path: str, services: tuple = ("frontend",)) -> list:
    """The trace whose frontend request span is for path, once the request spans of services are in."""

    def find(traces: list):
        for trace in traces:
            if any(span["service"] == "frontend" and span["name"] == "flask.request"
                   and span["meta"].get("http.url", "").endswith(path) for span in trace) and \
                    all(spans_named(trace, service, "flask.request") for service in services):
                return trace
        return None

    return find(agent.wait_for_traces(lambda traces: find(traces) is not None, f"the trace of {path}"))


def spans_named(trace: list, service: str, name: str) -> list:
    return [s for s in trace if s["service"] == service and s["name"] == name]


def test_a_product_page_is_a_request_span_with_an_ads_call_and_a_render(traced_storefront):
    agent, frontend = traced_storefront
    agent.start_session()
    status, html = get_page(frontend.url + PRODUCT)
    assert status == 200
    shown = banner(html)["data-ads-version"]
    trace = frontend_trace(agent, PRODUCT, services=("frontend", "advertisements"))

    mine = [s for s in trace if s["service"] == "frontend"]
    assert sorted((s["name"], s["resource"]) for s in mine) == [
        ("flask.render_template", "catalog/product.html"),
        ("flask.request", "GET /products/<slug>"),
        ("requests.request", "GET /ads"),
    ], describe(trace)
    [page] = spans_named(trace, "frontend", "flask.request")
    [call] = spans_named(trace, "frontend", "requests.request")
    [render] = spans_named(trace, "frontend", "flask.render_template")
    [ads] = spans_named(trace, "advertisements", "flask.request")
    assert page["parent_id"] in (0, None), "no caller sent a trace context: the page view starts the trace"
    assert call["parent_id"] == render["parent_id"] == page["span_id"]
    assert ads["parent_id"] == call["span_id"], "the ads service did not continue the call's context"
    assert (page["type"], call["type"], render["type"]) == ("web", "http", "template")
    assert page["meta"]["span.kind"] == "server" and call["meta"]["span.kind"] == "client"
    assert page["meta"]["http.route"] == "/products/<slug>"
    assert (page["meta"]["ads_version"], page["meta"]["page_source"]) == (shown, "products")
    assert shown == "2.0"
    assert call["meta"]["http.status_code"] == page["meta"]["http.status_code"] == "200"
    assert "?" not in call["meta"]["http.url"], "the query string stays out of the span"
    for span in mine:
        assert (span["service"], span["meta"]["version"], span.get("error", 0)) == ("frontend", "1.0", 0)


def test_probes_make_no_spans_and_an_unknown_path_is_named_by_its_status(traced_storefront):
    agent, frontend = traced_storefront
    agent.start_session()
    for path in ("/healthz", "/readyz"):
        assert urllib.request.urlopen(frontend.url + path, timeout=10).status == 200
    assert get_page(frontend.url + "/no-such-page-123")[0] == 404
    # The service sends its spans in order: with the 404's trace in, the probes' would be too.
    trace = frontend_trace(agent, "/no-such-page-123")
    [page] = spans_named(trace, "frontend", "flask.request")
    assert page["resource"] == "GET 404"
    assert "http.route" not in page["meta"]
    assert page.get("error", 0) == 0, "a client's 404 is not the service's error"
    probes = [s for t in agent.traces() for s in t if s["resource"].endswith(("/healthz", "/readyz"))]
    assert probes == []
