"""Fixtures for the storefront: apps pointed at a closed port (make_app, ads_v1/ads_v2: tests/conftest.py)."""

from __future__ import annotations

import pytest
from testkit.processes import free_port


@pytest.fixture
def closed_url() -> str:
    """An ads URL on a loopback port nothing listens on: every ads call fails at connect."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def app(make_app, closed_url):
    return make_app(closed_url)


@pytest.fixture
def client(app):
    return app.test_client()
