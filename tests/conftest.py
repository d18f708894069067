"""Suite-wide rule: in CI (REQUIRE_ALL_TOOLS=1, set by .ci/run) no test may pass by skipping."""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("REQUIRE_ALL_TOOLS") == "1" and report.skipped and call.when in ("setup", "call"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but REQUIRE_ALL_TOOLS=1 forbids skips: {report.longrepr}"
