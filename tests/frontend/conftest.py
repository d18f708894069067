"""Fixtures for the storefront: its package on sys.path, apps pointed at a closed port, real ads servers."""

from __future__ import annotations

import sys

import pytest
from testkit.processes import SERVICES, free_port, run_service

SERVICE_DIR = SERVICES / "frontend"
if str(SERVICE_DIR) not in sys.path:
    sys.path.insert(0, str(SERVICE_DIR))

_ENV = (
    "ADS_URL", "ADS_CONNECT_TIMEOUT", "ADS_READ_TIMEOUT", "SECRET_KEY", "DD_VERSION", "SESSION_COOKIE_SECURE",
    "DATABASE_URL", "AB_MODE", "AB_SHARE",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    # The developer's shell must not decide what a test gets.
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def closed_url() -> str:
    """An ads URL on a loopback port nothing listens on: every ads call fails at connect."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def make_app(tmp_path):
    from storefront import create_app

    def make(ads_url: str, **config):
        settings = {"ADS_URL": ads_url, "SECRET_KEY": "test-secret", "TESTING": True,
                    # The experiment's events go to a file of the test's own, not the repo's instance/.
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'experiment.sqlite3'}"}
        settings.update(config)
        return create_app(settings)

    return make


@pytest.fixture
def app(make_app, closed_url):
    return make_app(closed_url)


@pytest.fixture
def client(app):
    return app.test_client()


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
