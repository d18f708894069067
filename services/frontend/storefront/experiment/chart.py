"""A server-side SVG chart: CTR per version with Wilson interval bars, one panel per page source."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape, quoteattr

# Colour-blind-safe pair (Okabe-Ito); further versions cycle.
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7")
_PANEL_WIDTH = 300
_PLOT_HEIGHT = 200
_TOP = 40
_LEFT = 50
_BOTTOM = 60


def _axis_max(segments: list[Mapping]) -> float:
    """A round upper bound (1%, 2%, 5%, 10%, ...) above every interval's top."""
    highest = max([s["ctr_ci"][1] or 0.0 for s in segments] + [0.01])
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if highest <= step:
            return step
    return 1.0


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def ctr_chart_svg(segments: Iterable[Mapping], title: str = "Ad click-through rate by version") -> str:
    """An SVG document (string) from report segments (page_source, version, impressions, ctr, ctr_ci)."""
    rows = list(segments)
    sources = sorted({str(s["page_source"]) for s in rows}) or ["(no data)"]
    versions = sorted({str(s["version"]) for s in rows})
    colour = {v: _COLOURS[i % len(_COLOURS)] for i, v in enumerate(versions)}
    top = _axis_max(rows)
    width = _LEFT + _PANEL_WIDTH * len(sources) + 20
    height = _TOP + _PLOT_HEIGHT + _BOTTOM

    def y(value: float) -> float:
        return _TOP + _PLOT_HEIGHT * (1.0 - min(max(value, 0.0), top) / top)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(title)} '
        'font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="{_LEFT}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for tick in range(5):
        value = top * tick / 4
        out.append(
            f'<line x1="{_LEFT}" x2="{width - 20}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#ddd" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{_fmt(value * 100)}%</text>'
        )
    for index, source in enumerate(sources):
        x0 = _LEFT + index * _PANEL_WIDTH
        cells = [s for s in rows if str(s["page_source"]) == source]
        slot = _PANEL_WIDTH / max(len(cells), 1)
        for position, cell in enumerate(sorted(cells, key=lambda s: str(s["version"]))):
            version = str(cell["version"])
            centre = x0 + slot * (position + 0.5)
            bar = min(60.0, slot * 0.6)
            ctr = cell.get("ctr")
            low, high = cell["ctr_ci"]
            label = f"{source} {version}: CTR {'n/a' if ctr is None else f'{ctr:.2%}'}"
            label += f", 95% CI {low:.2%} to {high:.2%}, {int(cell.get('impressions', 0)):,} impressions"
            if ctr is not None and not math.isnan(ctr):
                out.append(
                    f'<rect class="bar" x="{centre - bar / 2:.1f}" y="{y(ctr):.1f}" width="{bar:.1f}" '
                    f'height="{_TOP + _PLOT_HEIGHT - y(ctr):.1f}" fill="{colour[version]}" '
                    f"data-version={quoteattr(version)} data-page-source={quoteattr(source)}>"
                    f"<title>{escape(label)}</title></rect>"
                )
            out.append(
                f'<g class="interval" stroke="#222" stroke-width="1.5" data-version={quoteattr(version)} '
                f"data-page-source={quoteattr(source)}>"
                f'<line x1="{centre:.1f}" x2="{centre:.1f}" y1="{y(high):.1f}" y2="{y(low):.1f}"/>'
                f'<line x1="{centre - 8:.1f}" x2="{centre + 8:.1f}" y1="{y(high):.1f}" y2="{y(high):.1f}"/>'
                f'<line x1="{centre - 8:.1f}" x2="{centre + 8:.1f}" y1="{y(low):.1f}" y2="{y(low):.1f}"/>'
                "</g>"
            )
            caption = "n/a" if ctr is None else f"{ctr:.1%}"
            out.append(
                f'<text x="{centre:.1f}" y="{_TOP + _PLOT_HEIGHT + 16}" text-anchor="middle">'
                f"Version {escape(version)}</text>"
                f'<text x="{centre:.1f}" y="{_TOP + _PLOT_HEIGHT + 30}" text-anchor="middle" fill="#555">'
                f"{escape(caption)} of {int(cell.get('impressions', 0)):,}</text>"
            )
        out.append(
            f'<text x="{x0 + _PANEL_WIDTH / 2:.1f}" y="{height - 8}" text-anchor="middle" '
            f'font-weight="bold">{escape(source)} pages</text>'
        )
    out.append("</svg>")
    return "".join(out)
