"""A test that starts Envoy, a container engine, Chromium or PostgreSQL must carry that marker.

`make test-fast` leaves those tests out by marker, so a forgotten marker would put a slow test
into the inner loop. This plugin watches every process the test process starts while a test is
set up or runs (teardown only stops things) and fails the test, before the process starts, when
the marker is missing. Processes started by those processes are judged by their parent: a
`localmesh up` starts Envoy (also one a test expects to refuse its input: that cannot be told in
advance), `make images` runs the container engine.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from typing import Optional

import pytest

# marker -> executable names (the last part of any word of the command) that mean it.
EXECUTABLES = {
    "envoy": {"envoy"},
    "containers": {"podman", "docker", "podman-compose", "docker-compose", "buildah"},
    "browser": {"chromium", "chromium-browser", "chrome", "google-chrome", "chromedriver", "headless_shell"},
    "postgres": {"initdb", "pg_ctl", "postgres", "pg_ctlcluster", "pg_createcluster"},
}
# make targets that run the container engine (tests/containers runs them through make).
CONTAINER_MAKE_TARGETS = {
    "images", "base-image", "mesh-image", "compose-up", "compose-down", "test-containers",
}

_running: Optional[pytest.Item] = None
_original_init = subprocess.Popen.__init__


def _words(args: object) -> list:
    if isinstance(args, (str, bytes, os.PathLike)):
        text = os.fsdecode(args)
        try:
            return shlex.split(text)
        except ValueError:
            return text.split()
    return [os.fsdecode(arg) if isinstance(arg, (bytes, os.PathLike)) else str(arg) for arg in args]


def markers_needed(args: object) -> set:
    """The markers a command needs: what it runs, or what that starts (`localmesh up`, `make images`)."""
    words = _words(args)
    if not words:
        return set()
    # The program, and any path among its arguments (a wrapper's program: runuser, ddtrace-run).
    programs = {os.path.basename(words[0])} | {os.path.basename(w) for w in words[1:] if "/" in w}
    needed = {marker for marker, executables in EXECUTABLES.items() if programs & executables}
    for index, word in enumerate(words[:-1]):
        if os.path.basename(word) == "localmesh" and words[index + 1] == "up":
            needed.add("envoy")
    if programs & {"make", "gmake"} and "-n" not in words and CONTAINER_MAKE_TARGETS & set(words):
        needed.add("containers")
    # Playwright drives Chromium through its own driver process.
    if "run-driver" in words and any("playwright" in word for word in words):
        needed.add("browser")
    return needed


def _checked_init(self: subprocess.Popen, args: object, *rest: object, **kwargs: object) -> None:
    item = _running
    if item is not None:
        missing = sorted(m for m in markers_needed(args) if item.get_closest_marker(m) is None)
        if missing:
            marks = ", ".join(f"pytest.mark.{m}" for m in missing)
            self._child_created = False  # Popen.__del__ reads it; no process was started
            pytest.fail(
                f"{item.nodeid} starts {' '.join(_words(args))[:200]!r} without {marks}: add it to the "
                f"module's pytestmark (or the test) so `make test-fast` leaves the test out",
                pytrace=False,
            )
    _original_init(self, args, *rest, **kwargs)


def _watch(item: pytest.Item) -> Iterator[None]:
    global _running
    _running = item
    try:
        return (yield)
    finally:
        _running = None


def pytest_configure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _checked_init


def pytest_unconfigure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _original_init


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _watch(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _watch(item))
