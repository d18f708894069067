"""The course replay's report: what it replayed, what it only showed and why, at the end of the run."""

from __future__ import annotations

import pytest
from testkit.summary import summary_lines

# Filled by test_course_replay.py; printed once the session ends.
_course_report: list = []


@pytest.fixture(scope="session")
def course_report() -> list:
    return _course_report


def pytest_sessionfinish(session):
    # Summed up where the replay ran (an xdist worker, or the only process); tests/conftest.py
    # prints the lines at the end of the run.
    if not _course_report:
        return
    lines = summary_lines("course replay")
    replayed = [line for line in _course_report if line.startswith("replayed: ")]
    checked = [line for line in _course_report if line.startswith("checked: ")]
    shown = [line for line in _course_report if line.startswith("shown, not replayed: ")]
    cluster_side = [line for line in shown if "the cluster side of a replayed step" in line]
    lines.append(f"replayed {len(replayed)} local-mesh commands and checked {len(checked)} "
                 "expectations of the course pages")
    lines.append(f"not replayed: {len(cluster_side)} cluster commands, each shown next to "
                 "its replayed local-mesh equivalent")
    for line in shown:
        if line not in cluster_side:
            lines.append(f"not replayed: {line[len('shown, not replayed: '):]}")
