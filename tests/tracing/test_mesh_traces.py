"""Page views through the gateway give one lean Datadog trace across gateway, frontend, mesh and ads.

Real processes: frontend 1.0 and advertisements 1.0/2.0 under ddtrace-run gunicorn with the
manifests' DD_* settings, one real Envoy built by localmesh.envoy from the canary manifests
(gateway listener + mesh listener, Datadog tracer on), and Datadog's ddapm-test-agent collecting
every span.
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
SLUG = "chef-knife"
PRODUCT = f"/products/{SLUG}"
MAX_SPANS = 8
# One product page view, as (service, name, resource) with its children: a span per hop, plus
# the page's rendering. Any span more (or less) is a change in what every page view costs.
PRODUCT_PAGE_TREE = (GATEWAY_SERVICE, "envoy.proxy", "ingress", (
    ("frontend", "flask.request", "GET /products/<slug>", (
        ("frontend", "flask.render_template", "catalog/product.html", ()),
        ("frontend", "requests.request", "GET /ads", (
            (MESH_SERVICE, "envoy.proxy", "ingress", (
                ("advertisements", "flask.request", "GET /ads", ()),
            )),
        )),
    )),
))


def product_category(slug: str) -> str:
    """The category the storefront's catalog gives slug (the ads call asks for that category)."""
    from storefront.catalog.products import get_product

    return get_product(slug).category


def tree_of(trace: list, span: dict | None = None) -> tuple:
    """(service, name, resource, children) from the root down, children in a stable order."""
    if span is None:
        [span] = roots(trace)
    children = sorted((tree_of(trace, child) for child in trace if child["parent_id"] == span["span_id"]),
                      key=lambda node: node[:3])
    return (span["service"], span["name"], span["resource"], tuple(children))


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("traced-shop")
    with run_test_agent(workdir) as agent:
        tracing = TracingConfig(agent_host="127.0.0.1", agent_port=agent.port, env=ENV)
        with run_shop(workdir, agent.url, tracing) as shop:
            yield agent, shop


def arrived(trace: list) -> bool:
    """Every process flushed its part: the gateway span ends last in Envoy (so the mesh span,
    which ended before it, came too), the frontend's request span after its children."""
    return all((span_of(trace, service, "flask.request") is not None)
               for service in ("frontend", "advertisements"))


def span_of(trace: list, service: str, name: str) -> dict | None:
    found = [s for s in trace if s["service"] == service and s["name"] == name]
    assert len(found) <= 1, f"{service} made {len(found)} {name} spans: {describe(trace)}"
    return found[0] if found else None


def page_views(agent, path: str, count: int) -> list:
    """The traces of count page views of path, once every part of each has arrived."""

    def complete(traces: list) -> bool:
        views = [trace for trace in traces if is_page_view(trace, path)]
        return len(views) >= count and all(arrived(t) for t in views)

    traces = agent.wait_for_traces(complete, f"{count} complete traces of {path}")
    return [trace for trace in traces if is_page_view(trace, path)]


def new_request_id() -> str:
    # Not UUID-shaped: Envoy rewrites a UUID's version digit to record its trace decision.
    return f"tracing-test-{secrets.token_hex(8)}"


def test_a_product_page_view_is_one_trace_of_one_span_per_hop(traced):
    agent, shop = traced
    agent.start_session()
    status, html = get_page(shop.gateway + PRODUCT)
    assert status == 200
    shown = shown_version(html)
    assert shown in ("1.0", "2.0")

    [trace] = page_views(agent, PRODUCT, 1)
    assert tree_of(trace) == PRODUCT_PAGE_TREE, describe(trace)
    assert len(trace) <= MAX_SPANS
    # Nothing of this page view went into another trace (the ads call included).
    trace_id = trace[0]["trace_id"]
    elsewhere = [s for t in agent.traces() for s in t
                 if s["trace_id"] != trace_id and "/ads" in s["meta"].get("http.url", "")]
    assert elsewhere == [], "the ads call left the page view's trace"

    [gateway] = roots(trace)
    assert gateway["meta"]["upstream_cluster"] == "outbound|80||frontend.ns3.svc.cluster.local"
    page = span_of(trace, "frontend", "flask.request")
    assert page["type"] == "web"
    keys = ("span.kind", "http.route", "http.status_code", "page_source", "ads_version", "version")
    assert {key: page["meta"].get(key) for key in keys} == {
        "span.kind": "server", "http.route": "/products/<slug>", "http.status_code": "200",
        "page_source": "products", "ads_version": shown, "version": "1.0"}
    assert page["meta"]["http.url"].endswith(PRODUCT)
    call = span_of(trace, "frontend", "requests.request")
    assert (call["meta"]["span.kind"], call["meta"]["http.status_code"]) == ("client", "200")
    mesh = span_of(trace, MESH_SERVICE, "envoy.proxy")
    subset = mesh["meta"]["upstream_cluster"].split("|")[2]
    ads = span_of(trace, "advertisements", "flask.request")
    keys = ("span.kind", "http.route", "page_source", "ads_version", "category", "version")
    assert {key: ads["meta"].get(key) for key in keys} == {
        "span.kind": "server", "http.route": "/ads", "page_source": "products", "ads_version": shown,
        "category": product_category(SLUG), "version": SUBSET_VERSION[subset]}
    assert SUBSET_VERSION[subset] == shown

    for span in trace:
        where = f"{span['service']}:{span['name']}"
        assert span["meta"].get("env") == ENV, f"{where} has env {span['meta'].get('env')}"
        assert span.get("error", 0) == 0, f"{where} is marked as an error"
        if span["service"] not in ("frontend", "advertisements"):
            # Envoy's Datadog tracer tags its spans with Envoy's own build as the version.
            assert span["meta"].get("version", "").startswith("envoy "), where


def test_health_checks_make_no_traces(traced):
    agent, shop = traced
    agent.start_session()
    for service in shop.services.values():
        for path in ("/healthz", "/readyz"):
            assert urllib.request.urlopen(service.url + path, timeout=10).status == 200
    # Each process sends what it has in order, so once a later page view from every pod has
    # arrived, a probe's span would have too.
    seen: set = set()
    for _ in range(40):  # both versions show unless something pins the route (p = 2 * 0.5**40)
        status, html = get_page(shop.gateway + PRODUCT)
        assert status == 200
        seen.add(shown_version(html))
        if seen == {"1.0", "2.0"}:
            break
    traces = page_views(agent, PRODUCT, 2)
    versions = {span_of(t, "advertisements", "flask.request")["meta"]["version"] for t in traces}
    assert versions == {"1.0", "2.0"}
    probes = [s for t in agent.traces() for s in t if s["resource"].endswith(("/healthz", "/readyz"))]
    assert probes == []


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


def parse_tree(lines: list) -> tuple:
    """`localmesh traces`' indented span lines back into (service, name, resource, children) and
    each line's tags, keyed by (service, name)."""
    nodes: list = []  # (depth, service, name, resource, children)
    tags: dict = {}
    margin = len(lines[0]) - len(lines[0].lstrip())
    for line in lines:
        depth = (len(line) - len(line.lstrip()) - margin) // 2
        service, name, resource, rest = line.strip().split("  ", 3)
        duration, _, tag_text = rest.partition(" ms  ")
        float(duration)  # a duration in ms comes right after the resource
        tags[(service, name)] = dict(item.split("=", 1) for item in tag_text.split() if "=" in item)
        nodes.append((depth, service, name, resource, []))
    for index, node in enumerate(nodes[1:], start=1):
        parent = next(n for n in reversed(nodes[:index]) if n[0] == node[0] - 1)
        parent[4].append(node)

    def freeze(node: tuple) -> tuple:
        return (node[1], node[2], node[3], tuple(sorted((freeze(c) for c in node[4]), key=lambda n: n[:3])))

    assert nodes[0][0] == 0 and all(n[0] > 0 for n in nodes[1:]), "one root"
    return freeze(nodes[0]), tags


def test_localmesh_traces_shows_the_span_tree_of_a_product_page_view(traced):
    agent, shop = traced
    assert get_page(shop.gateway + "/")[0] == 200
    agent.start_session()
    assert get_page(shop.gateway + PRODUCT)[0] == 200
    [trace] = page_views(agent, PRODUCT, 1)
    # The home page view came first: the summary still picks the product page for its tree.
    assert get_page(shop.gateway + "/")[0] == 200
    page_views(agent, "/", 1)
    result = subprocess.run([sys.executable, "-m", "localmesh", "traces", "--agent", agent.url],
                            capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    table, _, example = result.stdout.partition("Product page view, trace ")
    rows = {tuple(line.split()[:2]) for line in table.splitlines()[2:] if line.strip()}
    assert {("frontend", "1.0"), ("advertisements", "1.0"), ("istio-ingressgateway", "envoy"),
            ("advertisements.ns3", "envoy")} <= rows
    header, *lines = example.splitlines()
    assert header == f"{trace[0]['trace_id']} ({len(trace)} spans):"
    tree, tags = parse_tree(lines)
    assert tree == PRODUCT_PAGE_TREE == tree_of(trace)
    for (service, name), shown_tags in tags.items():
        span = span_of(trace, service, name)
        wanted = {key: span["meta"][key] for key in ("http.route", "page_source", "ads_version", "category",
                                                    "upstream_cluster") if key in span["meta"]}
        assert wanted.items() <= shown_tags.items(), f"{service} {name}: {shown_tags}"
    assert {"http.route", "page_source", "ads_version"} <= set(tags[("frontend", "flask.request")])
    assert {"page_source", "ads_version", "category"} <= set(tags[("advertisements", "flask.request")])
