"""The Istio conformance figures the README and the docs quote are the suite's real counts.

A full run ends with "Istio conformance: routing N/M, analyzer K/L Istio cases" (tests/conftest.py).
Here the same figures come from collecting tests/conformance: M and L are the collected cases of
each kind, N and K those not marked `conformance_skip` (the listed skips; every other case must
pass, or the suite fails). Every figure a document quotes must equal them.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
from testkit.conformance import KINDS, conformance_kind, conformance_line, quoted_figures
from testkit.processes import REPO_ROOT

# Where the figures must be quoted; every other page that quotes them is checked too.
MUST_QUOTE = ("README.md", "docs/reference/localmesh.md")
COLLECT_TIMEOUT = 120


def collected(*options: str) -> list[str]:
    """Node ids of the conformance cases `pytest --collect-only` finds, as a run would collect them."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *options,
         "tests/conformance"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=COLLECT_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


@pytest.fixture(scope="module")
def real_figures() -> dict:
    totals = Counter(conformance_kind(nodeid) for nodeid in collected())
    listed_skips = Counter(conformance_kind(nodeid) for nodeid in collected("-m", "conformance_skip"))
    assert set(totals) == set(KINDS), f"tests/conformance holds {dict(totals)}"
    return {kind: (totals[kind] - listed_skips[kind], totals[kind]) for kind in KINDS}


def documents() -> list:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]


def test_the_quoted_figures_are_the_real_ones(real_figures):
    line = conformance_line(real_figures)
    for name in MUST_QUOTE:
        assert line in (REPO_ROOT / name).read_text(encoding="utf-8"), f"{name} does not quote {line!r}"
    for path in documents():
        for kind, passed, total in quoted_figures(path.read_text(encoding="utf-8")):
            assert (passed, total) == real_figures[kind], (
                f"{path.relative_to(REPO_ROOT)} quotes {kind} {passed}/{total}; the suite has {line!r}")


def test_a_stale_figure_is_found():
    text = "Istio conformance: routing 63/71, analyzer 23/27 Istio cases; later routing 64/72."
    assert quoted_figures(text) == [("routing", 63, 71), ("analyzer", 23, 27), ("routing", 64, 72)]
    assert quoted_figures("the routing N/M placeholder, 2026/12") == []
