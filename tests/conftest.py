"""Suite-wide rules.

- In CI (REQUIRE_ALL_TOOLS=1, set by .ci/run) no test may pass by skipping. The only skips allowed
  are the Istio conformance cases the local mesh cannot express, each listed with its reason
  (marker `conformance_skip`).
- The run ends with one line counting the Istio conformance cases that passed:
  "Istio conformance: routing N/M, analyzer K/L Istio cases".
"""

from __future__ import annotations

import os

import pytest

CONFORMANCE_KINDS = ("routing", "analyzer")
_conformance: dict = {kind: {"passed": 0, "failed": 0, "skipped": []} for kind in CONFORMANCE_KINDS}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    listed = item.get_closest_marker("conformance_skip") is not None
    if os.environ.get("REQUIRE_ALL_TOOLS") == "1" and report.skipped and not listed and call.when in (
        "setup", "call",
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped, but REQUIRE_ALL_TOOLS=1 forbids skips: {report.longrepr}"


def _conformance_kind(nodeid: str) -> str | None:
    for kind in CONFORMANCE_KINDS:
        if nodeid.split("::")[0].rsplit("/", 1)[-1].startswith(f"test_{kind}") and "conformance/" in nodeid:
            return kind
    return None


def pytest_runtest_logreport(report):
    kind = _conformance_kind(report.nodeid)
    if kind is None:
        return
    tally = _conformance[kind]
    if report.when == "call" and report.passed:
        tally["passed"] += 1
    elif report.failed:
        tally["failed"] += 1
    elif report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        tally["skipped"].append((report.nodeid, reason))


def pytest_terminal_summary(terminalreporter):
    seen = {kind: t for kind, t in _conformance.items() if t["passed"] or t["failed"] or t["skipped"]}
    if not seen:
        return
    parts = []
    for kind, tally in seen.items():
        total = tally["passed"] + tally["failed"] + len(tally["skipped"])
        parts.append(f"{kind} {tally['passed']}/{total}")
    terminalreporter.write_sep("-", "Istio conformance")
    for tally in seen.values():
        for nodeid, reason in tally["skipped"]:
            terminalreporter.write_line(f"not expressible here: {nodeid}: {reason}")
    terminalreporter.write_line(f"Istio conformance: {', '.join(parts)} Istio cases")
