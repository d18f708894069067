"""Fixtures for the advertisements service: its package on sys.path and app factories."""

from __future__ import annotations

import sys

import pytest
from testkit.processes import SERVICES

SERVICE_DIR = SERVICES / "advertisements"
if str(SERVICE_DIR) not in sys.path:
    sys.path.insert(0, str(SERVICE_DIR))


@pytest.fixture(autouse=True)
def _clean_version_env(monkeypatch):
    # The developer's shell must not decide which version a test gets.
    monkeypatch.delenv("ADS_VERSION", raising=False)
    monkeypatch.delenv("DD_VERSION", raising=False)


@pytest.fixture
def make_client():
    from ads import create_app

    def make(version: str):
        return create_app({"ADS_VERSION": version, "TESTING": True}).test_client()

    return make
