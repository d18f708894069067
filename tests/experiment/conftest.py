"""Fixtures for the experiment (A/B measurement) tests: storefront on sys.path, SQLite and PostgreSQL."""

from __future__ import annotations

import sys
import uuid

import pytest
from testkit.processes import SERVICES

from .pg import INSTALL_HINT, PostgresCluster, find_bindir

FRONTEND_DIR = SERVICES / "frontend"
if str(FRONTEND_DIR) not in sys.path:
    sys.path.insert(0, str(FRONTEND_DIR))


def _cluster() -> PostgresCluster:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(INSTALL_HINT)
    cluster = PostgresCluster(bindir)
    cluster.init()
    cluster.start()
    return cluster


@pytest.fixture(scope="session")
def postgres_cluster():
    """One real PostgreSQL server for the session."""
    cluster = _cluster()
    yield cluster
    cluster.remove()


@pytest.fixture
def own_postgres_cluster():
    """A PostgreSQL server of the test's own, which the test may stop and start."""
    cluster = _cluster()
    yield cluster
    cluster.remove()


def _fresh_pg_database(cluster: PostgresCluster) -> str:
    from sqlalchemy import create_engine, text

    name = f"exp_{uuid.uuid4().hex[:12]}"
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return cluster.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database of each kind: an SQLite file and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'experiment.sqlite3'}"
    return _fresh_pg_database(request.getfixturevalue("postgres_cluster"))
