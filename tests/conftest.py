"""Suite-wide rules, and the fixtures tests in several folders share.

- In CI (REQUIRE_ALL_TOOLS=1, set by .ci/run) no test may pass by skipping. The only skips allowed
  are the Istio conformance cases the local mesh cannot express, each listed with its reason
  (marker `conformance_skip`).
- The run ends with one line counting the Istio conformance cases that passed:
  "Istio conformance: routing N/M, analyzer K/L Istio cases".
- A test that starts Envoy, containers, Chromium or PostgreSQL without its marker fails
  (testkit.guard).
- Under pytest-xdist, tests that share an expensive fixture run on one worker (testkit.grouping).
"""

from __future__ import annotations

import os

import pytest
from ads.settings import AdsServiceSettings
from mesh.meshkit import MeshUp, shop_with_database
from shopcommon.serving import ServingSettings
from shopcommon.settings import setting_variables
from storefront.settings import StorefrontSettings
from testkit import summary
from testkit.conformance import KINDS as CONFORMANCE_KINDS
from testkit.conformance import conformance_kind, conformance_line
from testkit.postgres import start_cluster
from testkit.processes import run_service

pytest_plugins = ("testkit.guard", "testkit.grouping", "pytester")

# Settings the services (and `localmesh up`) read from the environment: the developer's shell must
# not decide what a test gets. A test sets what it needs with monkeypatch.
SERVICE_SETTINGS = (
    *setting_variables(StorefrontSettings), *setting_variables(AdsServiceSettings),
    *setting_variables(ServingSettings), "LOCALMESH_TRACE_AGENT",
)

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


def pytest_runtest_logreport(report):
    kind = conformance_kind(report.nodeid)
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


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    # On an xdist worker: hand the summary lines noted here to the controller, which prints them.
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput[summary.WORKER_OUTPUT] = summary.SECTIONS


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    summary.merge(getattr(node, "workeroutput", {}).get(summary.WORKER_OUTPUT, {}))


def pytest_terminal_summary(terminalreporter):
    for title, content in summary.SECTIONS.items():
        if content:
            terminalreporter.section(title)
            for line in summary.printed_lines(content):
                terminalreporter.write_line(line)
    seen = {kind: t for kind, t in _conformance.items() if t["passed"] or t["failed"] or t["skipped"]}
    if not seen:
        return
    figures = {kind: (t["passed"], t["passed"] + t["failed"] + len(t["skipped"])) for kind, t in seen.items()}
    terminalreporter.write_sep("-", "Istio conformance")
    for tally in seen.values():
        for nodeid, reason in tally["skipped"]:
            terminalreporter.write_line(f"not expressible here: {nodeid}: {reason}")
    terminalreporter.write_line(conformance_line(figures))


# ---- fixtures shared by several folders -----------------------------------------------------------


def pytest_sessionstart(session):
    # In every xdist worker too, before any fixture starts a process.
    for name in SERVICE_SETTINGS:
        os.environ.pop(name, None)


@pytest.fixture
def database_url(tmp_path) -> str:
    """The experiment store of the test's own: an SQLite file (tests/experiment adds PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'experiment.sqlite3'}"


@pytest.fixture
def make_app(database_url):
    """make(ads_url, **config): a storefront app in testing mode on the test's own store."""
    from storefront import create_app
    from storefront.experiment.extension import current

    made = []

    def make(ads_url: str, **config):
        settings = {"ADS_URL": ads_url, "SECRET_KEY": "test-secret", "TESTING": True,
                    "DATABASE_URL": database_url}
        settings.update(config)
        app = create_app(settings)
        made.append(app)
        return app

    yield make
    # Each app's writer would otherwise wait at interpreter exit for a store a test took away.
    for app in made:
        current(app).writer.close(timeout=2.0)


@pytest.fixture(scope="module")
def ads_v1():
    """A real advertisements 1.0 (gunicorn) on a free loopback port."""
    with run_service("advertisements", env={"ADS_VERSION": "1.0"}) as service:
        yield service


@pytest.fixture(scope="module")
def ads_v2():
    """A real advertisements 2.0 (gunicorn) on a free loopback port."""
    with run_service("advertisements", env={"ADS_VERSION": "2.0"}) as service:
        yield service


@pytest.fixture(scope="session")
def postgres_cluster():
    """One real PostgreSQL server for the session (tests marked `postgres` share a worker)."""
    cluster = start_cluster()
    yield cluster
    cluster.remove()


@pytest.fixture(scope="session")
def canary_mesh(tmp_path_factory):
    """`make run`'s canary (home on v1, product pages 50/50) through one real `localmesh up` for
    the session, tracing off, the frontend's experiment store a file of its own. Only for tests
    that read from it: a test that applies, deletes or kills starts a mesh of its own."""
    tmp = tmp_path_factory.mktemp("canary-mesh")
    files = shop_with_database(tmp / "manifests", f"sqlite:///{tmp / 'experiment.sqlite3'}")
    mesh = MeshUp(tmp, files, extra_args=("--trace-agent", "off")).wait_ready()
    try:
        yield mesh
    finally:
        code = mesh.stop()
        assert code == 0, f"localmesh up exited {code}:\n{mesh.output()[-4000:]}"
