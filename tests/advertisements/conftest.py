"""Fixtures for the advertisements service: app factories."""

from __future__ import annotations

import pytest


@pytest.fixture
def make_client():
    from ads import create_app

    def make(version: str):
        return create_app({"ADS_VERSION": version, "TESTING": True}).test_client()

    return make
