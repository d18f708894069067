"""Fixtures for the experiment (A/B measurement) tests: SQLite and PostgreSQL stores."""

from __future__ import annotations

import pytest
from testkit.postgres import fresh_database, start_cluster


@pytest.fixture
def own_postgres_cluster():
    """A PostgreSQL server of the test's own, which the test may stop and start."""
    cluster = start_cluster()
    yield cluster
    cluster.remove()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty database of each kind: an SQLite file and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'experiment.sqlite3'}"
    return fresh_database(request.getfixturevalue("postgres_cluster"))
