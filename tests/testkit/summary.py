"""Lines for the end of the run (build times, image sizes, what a replay covered) that tests and
fixtures note down, printed once by tests/conftest.py, also when pytest-xdist workers ran them.

    TIMES = summary_section("container images")      # key: value lines
    TIMES["make images, s"] = 16.5
    summary_lines("course replay").append("replayed 12 commands")   # lines as they are

A worker hands its sections to the controller when its session ends (xdist's workeroutput); the
controller, which prints the summary, merges them: lines add up, and a key keeps the first value
that arrives (two workers that each build the images: the one that built first, not the one
that found the layer cache warm).
"""

from __future__ import annotations

WORKER_OUTPUT = "run summary"
SECTIONS: dict = {}  # section title -> {key: value} or [line], in the order first noted


def summary_section(title: str) -> dict:
    """A section of "key: value" lines."""
    return SECTIONS.setdefault(title, {})


def summary_lines(title: str) -> list:
    """A section of lines printed as they are."""
    return SECTIONS.setdefault(title, [])


def merge(sections: dict) -> None:
    """Sections from a worker, into this process's."""
    for title, content in sections.items():
        if isinstance(content, dict):
            section = summary_section(title)
            for key, value in content.items():
                section.setdefault(key, value)
        else:
            summary_lines(title).extend(content)


def printed_lines(content: object) -> list:
    if isinstance(content, dict):
        return [f"{key}: {value}" for key, value in content.items()]
    return list(content)
