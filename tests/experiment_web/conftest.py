"""Fixtures for the experiment's web wiring: the storefront package, apps on a database of their own,
real advertisements servers (gunicorn) and a real PostgreSQL."""

from __future__ import annotations

import sys

import pytest
from testkit.processes import SERVICES, run_service

FRONTEND_DIR = SERVICES / "frontend"
if str(FRONTEND_DIR) not in sys.path:
    sys.path.insert(0, str(FRONTEND_DIR))

_ENV = (
    "ADS_URL", "SECRET_KEY", "DATABASE_URL", "AB_MODE", "AB_SHARE",
    "EXPERIMENT_BASELINE_CTR", "EXPERIMENT_MDE", "EXPERIMENT_BUFFER", "EXPERIMENT_WRITE_INTERVAL",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    # The developer's shell (a DATABASE_URL, say) must not decide what a test gets.
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'experiment.sqlite3'}"


@pytest.fixture
def make_app(database_url):
    from storefront import create_app
    from storefront.experiment.wiring import current

    made = []

    def make(ads_url: str, **config):
        settings = {"ADS_URL": ads_url, "SECRET_KEY": "test-secret", "TESTING": True}
        settings["DATABASE_URL"] = database_url
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
    with run_service("advertisements", env={"ADS_VERSION": "1.0"}) as service:
        yield service


@pytest.fixture(scope="module")
def ads_v2():
    with run_service("advertisements", env={"ADS_VERSION": "2.0"}) as service:
        yield service
