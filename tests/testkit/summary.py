"""Lines for the end of the run (build times, image sizes) that tests and fixtures note down,
printed once by tests/conftest.py, also when pytest-xdist workers ran the tests.

    TIMES = summary_section("container images")
    TIMES["make images, s"] = 16.5

A worker sends what changed with the report of the test that changed it (as a user property);
the controller, which prints the summary, merges it. A key keeps the first value that arrives
(two workers that each build the images: the one that built first, not the one that found
podman's cache warm).
"""

from __future__ import annotations

PROPERTY = "run summary"
SECTIONS: dict = {}  # section title -> {key: value}, in the order first noted
_sent: dict = {}


def summary_section(title: str) -> dict:
    """The dict of one section: what is set in it is printed under title at the end."""
    return SECTIONS.setdefault(title, {})


def changes_to_send() -> dict:
    """What was noted since the last call, as {title: {key: value}}."""
    changes = {}
    for title, values in SECTIONS.items():
        new = {k: v for k, v in values.items() if _sent.get(title, {}).get(k, object()) != v}
        if new:
            changes[title] = new
            _sent.setdefault(title, {}).update(new)
    return changes


def merge(changes: dict) -> None:
    for title, values in changes.items():
        section = summary_section(title)
        for key, value in values.items():
            section.setdefault(key, value)
