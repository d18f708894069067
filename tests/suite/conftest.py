"""Fixtures for the tests of the suite's own rules: pytest itself, run on small test files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def inner_pytest(pytester, monkeypatch):
    """run(files, *args): a pytest process on files ({path: source}) in a folder of the test's own.

    tests/ is on its PYTHONPATH, so `-p testkit.guard` or `-p conftest` (the suite's conftest)
    load the suite's own rules; the outer run's xdist and CI settings are not inherited."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID",
                 "PYTEST_ADDOPTS", "REQUIRE_ALL_TOOLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(TESTS))

    def run(files: dict, *args: str) -> pytest.RunResult:
        # Its own configuration: under `make test` the folder is inside the checkout, whose
        # pyproject.toml would otherwise be the inner run's (rootdir, addopts).
        (pytester.path / "pytest.ini").write_text("[pytest]\n")
        for name, source in files.items():
            path = pytester.path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        plugins_off = ("cacheprovider", "ddtrace", "locust", "anyio", "schemathesis", "hypothesispytest")
        return pytester.runpytest_subprocess(*(f"-pno:{name}" for name in plugins_off), *args, timeout=240)

    return run
