"""Pure functions from the test agent's traces (lists of Datadog span dicts) to a readable summary.

Spans are as ddapm-test-agent's /test/traces returns them: service, name, resource, trace_id,
span_id, parent_id, start and duration (nanoseconds), meta (string tags), metrics.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

# Envoy's Datadog tracer tags spans with its build: "envoy <sha>/1.40.0/Clean/RELEASE/BoringSSL".
_ENVOY_BUILD = re.compile(r"^envoy [0-9a-f]+/([^/]+)/")


@dataclass(frozen=True)
class ServiceStats:
    service: str
    version: str
    spans: int
    requests: int  # HTTP requests it served: spans where its work on one begins
    p50_ms: Optional[float]
    p99_ms: Optional[float]


def version_of(span: dict) -> str:
    raw = (span.get("meta") or {}).get("version", "")
    envoy = _ENVOY_BUILD.match(raw)
    return f"envoy {envoy.group(1)}" if envoy else (raw or "-")


def percentile(values: Sequence[float], fraction: float) -> Optional[float]:
    """Nearest-rank percentile (p99 of 10 values is the largest); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def is_entry(span: dict, spans_by_id: dict) -> bool:
    """The first span of a service on a request: a root, or a child of another service's span."""
    parent = spans_by_id.get(span.get("parent_id"))
    return parent is None or parent.get("service") != span.get("service")


def is_http(span: dict) -> bool:
    """A span about an HTTP request (not, say, a background database write)."""
    meta = span.get("meta") or {}
    return "http.url" in meta or "http.method" in meta


def service_stats(traces: Iterable[list[dict]]) -> list[ServiceStats]:
    """Per (service, version): span count, entry-span count and their p50/p99 duration in ms."""
    spans_per: dict = {}
    durations: dict = {}
    for trace in traces:
        ids = {span.get("span_id"): span for span in trace}
        for span in trace:
            key = (span.get("service") or "-", version_of(span))
            spans_per[key] = spans_per.get(key, 0) + 1
            if is_entry(span, ids) and is_http(span):
                durations.setdefault(key, []).append(span.get("duration", 0) / 1e6)
    stats = []
    for key in sorted(spans_per):
        entries = durations.get(key, [])
        stats.append(ServiceStats(*key, spans_per[key], len(entries),
                                  percentile(entries, 0.50), percentile(entries, 0.99)))
    return stats


# The tags that tell a page view's story: which route, which answer, which page and ads version,
# which category, and which subset the mesh chose.
KEY_TAGS = ("http.route", "http.status_code", "page_source", "ads_version", "category", "upstream_cluster",
            "error.type")


def _path(span: dict) -> str:
    url = str((span.get("meta") or {}).get("http.url", ""))
    return urlsplit(url).path if "://" in url else url


def is_product_page_view(trace: list[dict]) -> bool:
    """A trace whose root is a request for a product page."""
    ids = {span.get("span_id") for span in trace}
    return any(span.get("parent_id") not in ids and _path(span).startswith("/products/") for span in trace)


def example_trace(traces: Sequence[list[dict]]) -> Optional[list[dict]]:
    """The most recent product page view; without one, the most recent trace crossing the most services."""
    best: Optional[list] = None
    best_key: tuple = ()
    for trace in traces:
        if not trace:
            continue
        key = (is_product_page_view(trace), len({span.get("service") for span in trace}),
               max(span.get("start", 0) for span in trace))
        if best is None or key > best_key:
            best, best_key = trace, key
    return best


def span_line(span: dict) -> str:
    """service, name, resource, duration, version and the key tags of one span."""
    meta = span.get("meta") or {}
    tags = [f"version={version_of(span)}"]
    tags += [f"{key}={meta[key]}" for key in KEY_TAGS if meta.get(key)]
    if span.get("error"):
        tags.append("ERROR")
    return (f"{span.get('service', '-')}  {span.get('name', '-')}  {span.get('resource') or '-'}  "
            f"{span.get('duration', 0) / 1e6:.1f} ms  {' '.join(tags)}")


def trace_tree(trace: list[dict]) -> list[str]:
    """Every span of trace as an indented line under its parent, children by start time."""
    ids = {span.get("span_id") for span in trace}
    children: dict = {}
    for span in trace:
        parent = span.get("parent_id")
        children.setdefault(parent if parent in ids else None, []).append(span)
    lines: list = []

    def walk(parent: Optional[int], depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.get("start", 0)):
            lines.append("  " * depth + span_line(span))
            walk(span.get("span_id"), depth + 1)

    walk(None, 0)
    return lines


def version_split(stats: Sequence[ServiceStats]) -> list[str]:
    """One line per service answering in several versions: its share of requests per version."""
    lines = []
    for service in sorted({s.service for s in stats}):
        versions = [s for s in stats if s.service == service and not s.version.startswith("envoy")]
        total = sum(s.requests for s in versions)
        if len(versions) > 1 and total:
            shares = ", ".join(f"{s.version}: {s.requests} ({100 * s.requests / total:.0f}%)"
                               for s in versions)
            lines += [f"{service} requests by version: {shares}", ""]
    return lines


def _ms(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.1f}"


PROBE_PATHS = ("/healthz", "/readyz")


def is_probe(trace: list) -> bool:
    """A health or readiness check (kubelet-style probes, Envoy health checks), not a shopper."""
    ids = {span.get("span_id") for span in trace}
    for span in trace:
        if span.get("parent_id") not in ids:
            resource = str(span.get("resource", ""))
            url = str((span.get("meta") or {}).get("http.url", "")).split("?", 1)[0]
            return any(resource.endswith(path) or url.endswith(path) for path in PROBE_PATHS)
    return False


def render(traces: Sequence[list]) -> str:
    """The whole summary as text; health-check traces are counted but left out."""
    traces = [trace for trace in traces if trace]
    probes = sum(1 for trace in traces if is_probe(trace))
    traces = [trace for trace in traces if not is_probe(trace)]
    if not traces:
        return "No traces yet: open the shop (make run prints its address) and run this again.\n"
    stats = service_stats(traces)
    rows = [("SERVICE", "VERSION", "SPANS", "REQUESTS", "P50 MS", "P99 MS")]
    rows += [(s.service, s.version, str(s.spans), str(s.requests), _ms(s.p50_ms), _ms(s.p99_ms))
             for s in stats]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    spans = sum(len(trace) for trace in traces)
    left_out = f" ({probes} health-check traces left out)" if probes else ""
    out = [f"{len(traces)} traces, {spans} spans{left_out}", "", *table, "", *version_split(stats)]
    example = example_trace(traces)
    if example is not None:
        root = next((s for s in example if s.get("parent_id") not in {x.get("span_id") for x in example}),
                    example[0])
        what = "Product page view" if is_product_page_view(example) else "Example trace"
        out += [f"{what}, trace {root.get('trace_id')} ({len(example)} spans):"]
        out += ["  " + line for line in trace_tree(example)]
    return "\n".join(out) + "\n"
