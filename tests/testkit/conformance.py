"""The Istio conformance figures: which tests are Istio's cases, and the line that counts them.

tests/conftest.py tallies a run's outcomes per kind and prints the line at the end of the run; the
README and the docs quote the same line, and tests/docs checks the quotes against the collected
cases with these same functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# tests/conformance/test_routing*.py are routing cases, test_analyzer*.py analyzer cases.
KINDS = ("routing", "analyzer")
FIGURES = re.compile(rf"\b({'|'.join(KINDS)}) (\d+)/(\d+)\b")


def conformance_kind(nodeid: str) -> str | None:
    """"routing" or "analyzer" for a test of tests/conformance/, else None."""
    path = nodeid.split("::")[0]
    if "conformance/" not in path:
        return None
    for kind in KINDS:
        if path.rsplit("/", 1)[-1].startswith(f"test_{kind}"):
            return kind
    return None


def conformance_line(figures: Mapping[str, tuple[int, int]]) -> str:
    """The run's last line from {kind: (passed, total)}, in KINDS order."""
    parts = [f"{kind} {figures[kind][0]}/{figures[kind][1]}" for kind in KINDS if kind in figures]
    return f"Istio conformance: {', '.join(parts)} Istio cases"


def quoted_figures(text: str) -> list[tuple[str, int, int]]:
    """Every "routing N/M" and "analyzer K/L" a document quotes, as (kind, passed, total)."""
    return [(kind, int(passed), int(total)) for kind, passed, total in FIGURES.findall(text)]
