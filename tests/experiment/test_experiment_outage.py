"""The experiment's writer through store outages: a real PostgreSQL stopped and started again,
a real SQLite file locked by another connection. Events recorded meanwhile are buffered and
written when the store answers; only what overflows the buffer is dropped, counted and stored."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy import text
from storefront.experiment import store
from storefront.experiment.writer import EventWriter

from .test_experiment_store import row_count, wait_until


def _writer(engine, **options) -> EventWriter:
    return EventWriter(engine, batch_size=50, interval=0.05, register_atexit=False, **options)


@pytest.mark.postgres
def test_a_postgres_outage_loses_nothing_that_fits_the_buffer(own_postgres_cluster, caplog):
    cluster = own_postgres_cluster
    engine = store.make_engine(cluster.url(), connect_timeout=1)
    store.ensure_schema(engine)
    writer = _writer(engine)
    for _ in range(10):
        writer.record("impression", "ad-1", "1.0", "home")
    assert writer.flush(timeout=30)

    cluster.stop()  # the server is gone: established connections die, new ones are refused
    with caplog.at_level(logging.WARNING, logger="storefront.experiment.writer"):
        accepted = [writer.record("impression", "ad-1", "2.0", "products", "kitchen", f"{i:032x}")
                    for i in range(300)]
        accepted += [writer.record("click", "ad-1", "2.0", "products", "kitchen") for _ in range(40)]
        assert wait_until(lambda: not writer.store_reachable)
        assert writer.flush(timeout=0.3) is False
        assert writer.stats()["buffered"] == 340
        cluster.start()
        assert writer.flush(timeout=60), writer.stats()
    assert all(accepted)
    stats = writer.stats()
    assert (stats["written"], stats["buffered"], stats["dropped"]) == (350, 0, 0)
    # Exactly once each: a batch is one transaction, so a retry never stores a row twice.
    assert row_count(engine, store.impressions) == 310 and row_count(engine, store.clicks) == 40
    messages = [r.getMessage() for r in caplog.records]
    assert any("unreachable; buffering" in m for m in messages), messages
    assert any("answers again" in m and "writing" in m for m in messages), messages
    writer.close()
    engine.dispose()


@pytest.mark.postgres
def test_a_postgres_outage_longer_than_the_buffer_drops_and_stores_the_overflow(own_postgres_cluster):
    cluster = own_postgres_cluster
    engine = store.make_engine(cluster.url(), connect_timeout=1)
    store.ensure_schema(engine)
    writer = _writer(engine, max_buffer=100)
    cluster.stop()
    accepted = [writer.record("impression", "ad-1", "1.0", "home") for _ in range(120)]
    accepted += [writer.record("click", "ad-1", "1.0", "home") for _ in range(10)]
    assert accepted == [True] * 100 + [False] * 30
    cluster.start()
    assert writer.flush(timeout=60), writer.stats()
    assert row_count(engine, store.impressions) == 100 and row_count(engine, store.clicks) == 0
    # The drops are stored with the first write after the outage, for every replica's report.
    assert store.dropped_counts(engine) == {"impression": 20, "click": 10}
    assert writer.stats()["dropped_buffer_full"] == 30
    writer.close()
    engine.dispose()


@pytest.mark.postgres
def test_tables_missing_after_an_outage_at_start_are_created_before_the_buffer_is_written(
    own_postgres_cluster,
):
    """The app started while the store was away: no schema yet. The writer creates it."""
    cluster = own_postgres_cluster
    cluster.stop()
    engine = store.make_engine(cluster.url(), connect_timeout=1)
    writer = _writer(engine)
    assert all(writer.record("click", "ad-1", "2.0", "products") for _ in range(5))
    assert wait_until(lambda: not writer.store_reachable)
    cluster.start()
    assert writer.flush(timeout=60), writer.stats()
    assert row_count(engine, store.clicks) == 5
    writer.close()
    engine.dispose()


def test_a_locked_sqlite_store_loses_nothing(tmp_path):
    path = tmp_path / "locked.sqlite3"
    engine = store.make_engine(f"sqlite:///{path}")
    store.ensure_schema(engine)
    writer = _writer(engine)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        accepted = [writer.record("impression", "ad-1", "1.0", "home") for _ in range(200)]
        # SQLite waits out its busy timeout, then reports the lock: the writer keeps the rows.
        assert wait_until(lambda: not writer.store_reachable, timeout=30)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert writer.flush(timeout=30)
    assert all(accepted) and writer.stats()["dropped"] == 0
    assert row_count(engine, store.impressions) == 200
    writer.close()


def test_a_row_the_store_refuses_is_dropped_alone(tmp_path):
    engine = store.make_engine(f"sqlite:///{tmp_path / 'refusing.sqlite3'}")
    store.ensure_schema(engine)
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON impressions WHEN NEW.ad_id = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ))
    writer = _writer(engine)
    for ad_id in ("ad-1", "poison", "ad-2", "ad-3"):
        writer.record("impression", ad_id, "1.0", "home")
    assert writer.flush(timeout=30)
    stats = writer.stats()
    assert (stats["written"], stats["dropped_rejected"]) == (3, 1)
    assert row_count(engine, store.impressions) == 3
    writer.record("impression", "ad-4", "1.0", "home")  # the drop count is stored with this write
    assert writer.flush(timeout=30)
    assert store.dropped_counts(engine) == {"impression": 1, "click": 0}
    writer.close()
