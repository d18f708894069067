"""Page views through the gateway give one Datadog trace across gateway, frontend, mesh and ads.

Real processes: frontend 1.0 and advertisements 1.0/2.0 under ddtrace-run gunicorn, one real
Envoy built by localmesh.envoy from the canary manifests (gateway listener + mesh listener,
Datadog tracer on), and Datadog's ddapm-test-agent collecting every span.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import urllib.request

import pytest
from testkit.processes import REPO_ROOT

from localmesh.topology import TracingConfig
from tracing.tracekit import (
    ENV,
    app_request_span,
    by_id,
    describe,
    full_trace_id,
    get_page,
    is_page_view,
    roots,
    run_shop,
    run_test_agent,
    shown_version,
)

pytestmark = pytest.mark.envoy

GATEWAY_SERVICE = "istio-ingressgateway"
MESH_SERVICE = "advertisements.ns3"  # Istio names sidecar spans <app>.<namespace>
SUBSET_VERSION = {"v1": "1.0", "v2": "2.0"}
PRODUCT = "/products/chef-knife"


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("traced-shop")
    with run_test_agent(workdir) as agent:
        tracing = TracingConfig(agent_host="127.0.0.1", agent_port=agent.port, env=ENV)
        with run_shop(workdir, agent.url, tracing) as shop:
            yield agent, shop


def page_views(agent, path: str, count: int) -> list:
    """The traces of count page views of path, once all of them (and their ads spans) arrived."""

    def complete(traces: list) -> bool:
        views = [trace for trace in traces if is_page_view(trace, path)]
        # Each process (Envoy, frontend, ads) flushes its own spans, at its own time: a view is
        # complete once all of them hang together under one root.
        return len(views) >= count and all(
            app_request_span(t, "advertisements") and len(roots(t)) == 1 for t in views)

    traces = agent.wait_for_traces(complete, f"{count} complete traces of {path}")
    return [trace for trace in traces if is_page_view(trace, path)]


def new_request_id() -> str:
    # Not UUID-shaped: Envoy rewrites a UUID's version digit to record its trace decision.
    return f"tracing-test-{secrets.token_hex(8)}"


def only(spans: list, what: str) -> dict:
    assert len(spans) == 1, f"expected one {what}, got {len(spans)}"
    return spans[0]


def test_one_product_page_view_is_one_trace_through_every_hop(traced):
    agent, shop = traced
    agent.start_session()
    status, html = get_page(shop.gateway + PRODUCT)
    assert status == 200
    shown = shown_version(html)
    assert shown in ("1.0", "2.0")

    [trace] = page_views(agent, PRODUCT, 1)
    # Nothing of this page view went into another trace (the ads call included).
    trace_id = trace[0]["trace_id"]
    elsewhere = [s for t in agent.traces() for s in t
                 if s["trace_id"] != trace_id and "/ads?" in s["meta"].get("http.url", "")]
    assert elsewhere == [], "the ads call left the page view's trace"

    spans = by_id(trace)
    [root] = roots(trace)
    assert root["service"] == GATEWAY_SERVICE, describe(trace)
    assert root["meta"]["upstream_cluster"] == "outbound|80||frontend.ns3.svc.cluster.local"

    frontend = app_request_span(trace, "frontend")
    assert frontend["parent_id"] == root["span_id"], "the frontend did not continue the gateway's trace"
    assert frontend["meta"]["version"] == "1.0"
    assert frontend["meta"]["ads.version"] == shown
    assert frontend["meta"]["page_source"] == "products"

    client = only([s for s in trace if s["name"] == "requests.request"], "ads call span")
    assert client["service"] == "frontend", "the outbound call is not attributed to the frontend"
    assert client["meta"]["version"] == "1.0"

    mesh = only([s for s in trace if s["service"] == MESH_SERVICE], "mesh Envoy span")
    # ddtrace's own injection wins over the copied inbound headers: the mesh hop is a child of
    # the frontend's client span, not of the gateway span the copied headers named.
    assert mesh["parent_id"] == client["span_id"]
    subset = mesh["meta"]["upstream_cluster"].split("|")[2]

    ads = app_request_span(trace, "advertisements")
    assert ads["parent_id"] == mesh["span_id"]
    assert ads["meta"]["version"] == SUBSET_VERSION[subset] == shown
    assert ads["meta"]["page_source"] == "products"

    for span in trace:
        # Parent links intact: every span but the root hangs off a span of the same trace.
        assert span is root or span["parent_id"] in spans, f"orphan span {span['name']}"
        where = f"{span['service']}:{span['name']}"
        assert span["meta"].get("env") == ENV, f"{where} has env {span['meta'].get('env')}"
        if span["service"] in ("frontend", "advertisements"):
            expected = "1.0" if span["service"] == "frontend" else shown
            assert span["meta"].get("version") == expected, f"{span['name']} version"
        else:
            # Envoy's Datadog tracer tags its spans with Envoy's own build as the version.
            assert span["service"] in (GATEWAY_SERVICE, MESH_SERVICE), span["service"]
            assert span["meta"].get("version", "").startswith("envoy ")
    assert {s["service"] for s in trace} == {GATEWAY_SERVICE, "frontend", MESH_SERVICE, "advertisements"}


def test_trace_versions_and_banner_versions_agree_one_to_one(traced):
    agent, shop = traced
    agent.start_session()
    count = 40
    marks = []
    for _ in range(count):
        request_id = new_request_id()
        request = urllib.request.Request(shop.gateway + PRODUCT, headers={"x-request-id": request_id})
        with urllib.request.urlopen(request, timeout=15) as response:
            marks.append((request_id, shown_version(response.read().decode())))
    traces = page_views(agent, PRODUCT, count)
    assert len(traces) == count
    by_request = {}
    for trace in traces:
        [root] = roots(trace)
        ads = app_request_span(trace, "advertisements")
        by_request[root["meta"]["guid:x-request-id"]] = ads["meta"]["version"]
    assert by_request == dict(marks)
    # 40 views at 50/50: both versions show unless something pins the route (p = 2 * 0.5**40).
    assert set(by_request.values()) == {"1.0", "2.0"}


def test_home_page_traces_only_reach_advertisements_1_0(traced):
    agent, shop = traced
    agent.start_session()
    count = 20
    for _ in range(count):
        status, html = get_page(shop.gateway + "/")
        assert status == 200 and shown_version(html) == "1.0"
    traces = page_views(agent, "/", count)
    versions = [app_request_span(trace, "advertisements")["meta"]["version"] for trace in traces]
    subsets = [s["meta"]["upstream_cluster"].split("|")[2]
               for t in traces for s in t if s["service"] == MESH_SERVICE]
    assert versions == ["1.0"] * count
    assert subsets == ["v1"] * count
    assert all(app_request_span(t, "advertisements")["meta"]["page_source"] == "home" for t in traces)


def log_lines(process, request_id: str) -> list:
    lines = []
    for line in process.output().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("request_id") == request_id:
                lines.append(entry)
    return lines


def test_log_lines_carry_the_trace_id_of_their_request(traced):
    agent, shop = traced
    agent.start_session()
    request_id = new_request_id()
    request = urllib.request.Request(shop.gateway + PRODUCT, headers={"x-request-id": request_id})
    urllib.request.urlopen(request, timeout=15).read()
    [trace] = page_views(agent, PRODUCT, 1)
    [root] = roots(trace)
    assert root["meta"]["guid:x-request-id"] == request_id
    trace_id = full_trace_id(root)
    assert len(trace_id) == 32, "128-bit trace ids, as Datadog's log pipeline expects"
    shown = app_request_span(trace, "advertisements")["meta"]["version"]
    for name, service, version in (("frontend", "frontend", "1.0"),
                                   (f"advertisements-v{shown[0]}", "advertisements", shown)):
        [entry] = log_lines(shop.services[name], request_id)
        span = app_request_span(trace, service)
        assert entry["dd.trace_id"] == trace_id
        assert int(entry["dd.span_id"]) in by_id(trace)
        assert (entry["dd.service"], entry["dd.env"], entry["dd.version"]) == (service, ENV, version)
        assert span["trace_id"] == root["trace_id"]


def test_localmesh_traces_summarises_what_the_agent_got(traced):
    agent, shop = traced
    for path in ("/", PRODUCT, PRODUCT, PRODUCT):
        assert get_page(shop.gateway + path)[0] == 200
    page_views(agent, PRODUCT, 1)
    result = subprocess.run([sys.executable, "-m", "localmesh", "traces", "--agent", agent.url],
                            capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    table, _, example = result.stdout.partition("Example trace")
    rows = {tuple(line.split()[:2]) for line in table.splitlines()[2:] if line.strip()}
    assert {("frontend", "1.0"), ("advertisements", "1.0"), ("istio-ingressgateway", "envoy"),
            ("advertisements.ns3", "envoy")} <= rows
    tree = example.splitlines()[1:]
    services = [line.split()[0] for line in tree]
    depths = [len(line) - len(line.lstrip()) for line in tree]
    assert services[:2] == ["istio-ingressgateway", "frontend"]
    assert "advertisements" in services and depths == sorted(depths), "hops nest one below the other"
