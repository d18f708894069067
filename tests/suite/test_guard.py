"""The marker guard (testkit.guard): which commands need which marker, and a real pytest run that
fails a test starting one without it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from testkit.guard import markers_needed

VENV = str(Path(sys.executable).parent)


@pytest.mark.parametrize(("command", "needed"), [
    ([f"{VENV}/envoy", "-c", "/tmp/x/envoy.json", "--concurrency", "1"], {"envoy"}),
    ([f"{VENV}/envoy", "--mode", "validate", "-c", "config.json"], {"envoy"}),
    ([sys.executable, "-m", "localmesh", "up", "--state-dir", "/tmp/s", "-f", "istio/"], {"envoy"}),
    ([f"{VENV}/localmesh", "up", "-f", "istio/"], {"envoy"}),
    ([sys.executable, "-m", "localmesh", "apply", "--state-dir", "/tmp/s", "-f", "up"], set()),
    ([sys.executable, "-m", "localmesh", "analyze", "istio/ecommerce-istio"], set()),
    (["podman", "image", "inspect", "localhost/ecommerce/frontend:1.0"], {"containers"}),
    ("podman ps --all", {"containers"}),
    ([f"{VENV}/podman-compose", "-p", "x", "config"], {"containers"}),
    (["make", "--no-print-directory", "images", "CONTAINER_ENGINE=podman"], {"containers"}),
    (["make", "--no-print-directory", "-n", "compose-down"], set()),
    (["make", "--no-print-directory", "-s", "image-list"], set()),
    (["/usr/lib/postgresql/15/bin/initdb", "-D", "/tmp/d", "-U", "postgres"], {"postgres"}),
    (["/usr/local/bin/pg_ctl", "start", "-D", "/tmp/d"], {"postgres"}),
    (["/usr/bin/chromium", "--headless"], {"browser"}),
    ([f"{VENV}/../lib/python3.11/site-packages/playwright/driver/node",
      f"{VENV}/../lib/python3.11/site-packages/playwright/driver/package/cli.js", "run-driver"], {"browser"}),
    ([f"{VENV}/ddtrace-run", f"{VENV}/gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], set()),
    ([f"{VENV}/ddapm-test-agent", "--port", "20001"], set()),
    ([sys.executable, "-c", "print('envoy podman chromium postgres')"], set()),
])
def test_commands_and_the_markers_they_need(command, needed):
    assert markers_needed(command) == needed


GUARDED = """
import subprocess

import pytest

# A program named like Envoy that exits at once: the guard judges by the name, before it runs.
def stand_in(tmp_path):
    program = tmp_path / "envoy"
    program.write_text("#!/bin/sh\\nexit 0\\n")
    program.chmod(0o755)
    return str(program)

def test_unmarked(tmp_path):
    subprocess.run([stand_in(tmp_path)], check=True)

@pytest.mark.envoy
def test_marked(tmp_path):
    subprocess.run([stand_in(tmp_path)], check=True)

@pytest.fixture
def started(tmp_path):
    subprocess.run([stand_in(tmp_path)], check=True)

def test_unmarked_fixture(started):
    pass

@pytest.fixture
def stopped_at_teardown(tmp_path):
    yield
    subprocess.run([stand_in(tmp_path)], check=True)

def test_teardown_is_not_judged(stopped_at_teardown):
    pass
"""


def test_a_forgotten_marker_fails_the_test(inner_pytest):
    result = inner_pytest({"test_guarded.py": GUARDED}, "-p", "testkit.guard")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    output = result.stdout.str()
    assert "test_guarded.py::test_unmarked starts" in output and "without pytest.mark.envoy" in output
    assert "test_guarded.py::test_unmarked_fixture starts" in output
