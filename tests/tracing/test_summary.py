"""localmesh.tracing.summary on hand-made spans, and `localmesh traces` without an agent."""

from __future__ import annotations

import subprocess
import sys

from testkit.processes import REPO_ROOT, free_port

from localmesh.tracing.summary import percentile, render, service_stats, trace_tree, version_of

PAGE = "http://127.0.0.1/products/chef-knife"
ADS = "http://127.0.0.1:5002/ads?category=kitchen"
ENVOY_VERSION = "envoy 9e5580933739775e8bce696a57a2e1bc99368f23/1.40.0/Clean/RELEASE/BoringSSL"
ENVOY = ENVOY_VERSION


def span(span_id, parent_id, service, name, resource, version, start, duration_ms, kind=None, url=None,
         **tags):
    meta = {"version": version, **tags}
    if kind:
        meta["span.kind"] = kind
    if url:
        meta["http.url"] = url
    return {"trace_id": 7, "span_id": span_id, "parent_id": parent_id, "service": service, "name": name,
            "resource": resource, "start": start, "duration": int(duration_ms * 1e6), "meta": meta}


def page_view(ads_version: str, base: int = 0, path: str = "/products/chef-knife") -> list:
    """The six spans a product page view makes (a seventh, an extra ads span, shows nothing is hidden)."""
    page = f"http://127.0.0.1{path}"
    subset = "outbound|5002|v2|advertisements.ns3.svc.cluster.local"
    return [
        span(base + 1, 0, "istio-ingressgateway", "envoy.proxy", "ingress", ENVOY_VERSION, 0, 30, url=page),
        span(base + 2, base + 1, "frontend", "flask.request", "GET /products/<slug>", "1.0", 1, 28, "server",
             page, page_source="products", ads_version=ads_version, **{"http.route": "/products/<slug>"}),
        span(base + 3, base + 2, "frontend", "flask.render_template", "product.html", "1.0", 20, 3),
        span(base + 4, base + 2, "frontend", "requests.request", "GET /ads", "1.0", 5, 10, "client", ADS),
        span(base + 5, base + 4, "advertisements.ns3", "envoy.proxy", "ingress", ENVOY, 6, 9, url=ADS,
             upstream_cluster=subset),
        span(base + 6, base + 5, "advertisements", "flask.request", "GET /ads", ads_version, 7, 8, "server",
             ADS, page_source="products", ads_version=ads_version, category="kitchen"),
        span(base + 7, base + 6, "advertisements", "flask.render_template", "banner.svg", ads_version, 8, 1),
    ]


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([5.0], 0.99) == 5.0
    assert percentile([], 0.5) is None


def test_version_of_shortens_envoy_builds():
    assert version_of({"meta": {"version": ENVOY_VERSION}}) == "envoy 1.40.0"
    assert version_of({"meta": {"version": "2.0"}}) == "2.0"
    assert version_of({"meta": {}}) == "-"


def test_stats_per_service_and_version_count_entry_spans_for_durations():
    traces = [page_view("1.0", 0), page_view("2.0", 100), page_view("2.0", 200)]
    stats = {(s.service, s.version): s for s in service_stats(traces)}
    assert set(stats) == {("istio-ingressgateway", "envoy 1.40.0"), ("frontend", "1.0"),
                          ("advertisements.ns3", "envoy 1.40.0"), ("advertisements", "1.0"),
                          ("advertisements", "2.0")}
    assert (stats[("advertisements", "2.0")].spans, stats[("advertisements", "2.0")].requests) == (4, 2)
    assert (stats[("frontend", "1.0")].spans, stats[("frontend", "1.0")].requests) == (9, 3)
    assert stats[("frontend", "1.0")].p50_ms == 28.0
    assert stats[("advertisements", "1.0")].p99_ms == 8.0


def test_tree_shows_every_span_under_its_parent_with_its_key_tags():
    lines = trace_tree(page_view("2.0"))
    shape = [(len(line) - len(line.lstrip()), line.split()[:2]) for line in lines]
    assert shape == [
        (0, ["istio-ingressgateway", "envoy.proxy"]),
        (2, ["frontend", "flask.request"]),
        (4, ["frontend", "requests.request"]),  # started before the render span
        (6, ["advertisements.ns3", "envoy.proxy"]),
        (8, ["advertisements", "flask.request"]),
        (10, ["advertisements", "flask.render_template"]),
        (4, ["frontend", "flask.render_template"]),
    ]
    assert lines[1].strip() == ("frontend  flask.request  GET /products/<slug>  28.0 ms  version=1.0 "
                                "http.route=/products/<slug> page_source=products ads_version=2.0")
    assert lines[3].strip().endswith("upstream_cluster=outbound|5002|v2|advertisements.ns3.svc.cluster.local")
    assert lines[4].strip() == ("advertisements  flask.request  GET /ads  8.0 ms  version=2.0 "
                                "page_source=products ads_version=2.0 category=kitchen")


def test_a_failed_span_says_so():
    trace = page_view("1.0")
    trace[1]["error"] = 1
    trace[1]["meta"]["error.type"] = "builtins.RuntimeError"
    assert trace_tree(trace)[1].endswith("error.type=builtins.RuntimeError ERROR")


def test_the_example_is_a_product_page_view_even_when_another_trace_is_newer():
    home = page_view("1.0", 100, path="/")
    for item in home:
        item["start"] += 1000
    text = render([page_view("2.0", 0), home])
    example = text.split("Product page view, trace 7 (7 spans):\n", 1)[1]
    assert "ads_version=2.0" in example and "ads_version=1.0" not in example


def test_health_checks_are_left_out():
    probe = [span(900, 0, "frontend", "flask.request", "GET /healthz", "1.0", 0, 1)]
    background = [span(950, 0, "frontend", "sqlite.query", "INSERT INTO impressions", "1.0", 0, 1)]
    text = render([page_view("1.0", 0), probe, background])
    assert text.startswith("2 traces, 8 spans (1 health-check traces left out)\n")
    assert ("frontend", "1.0", "4", "1") in {tuple(line.split()[:4]) for line in text.splitlines()}


def test_render_has_the_table_and_one_example():
    text = render([page_view("1.0", 0), page_view("2.0", 100)])
    assert text.startswith("2 traces, 14 spans\n")
    rows = {tuple(line.split()[:3]) for line in text.splitlines()}
    assert {("advertisements", "1.0", "2"), ("advertisements", "2.0", "2"), ("frontend", "1.0", "6")} <= rows
    assert "advertisements requests by version: 1.0: 1 (50%), 2.0: 1 (50%)" in text
    assert text.count("Product page view, trace") == 1
    assert render([]).startswith("No traces yet")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "localmesh", "traces", *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO_ROOT)


def test_cli_without_an_agent_says_so_in_one_line():
    result = run_cli("--agent", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("localmesh traces: no trace agent answers at http://127.0.0.1:")


def test_cli_rejects_a_malformed_agent_url():
    result = run_cli("--agent", "ftp://somewhere")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "--agent 'ftp://somewhere': must look like http://127.0.0.1:8126" in line
