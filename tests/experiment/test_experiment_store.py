"""Storage on SQLite and a real PostgreSQL: schema, batching writer, outages, queries, reset."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import event, func, inspect, select
from storefront.experiment import store
from storefront.experiment.writer import EventWriter
from testkit.processes import SERVICES, free_port


def row_count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def engine(database_url):
    engine = store.make_engine(database_url)
    store.ensure_schema(engine)
    yield engine
    engine.dispose()


def wait_until(predicate, timeout: float = 15.0) -> bool:
    """Bounded polling (not a timing assertion: the deadline only stops a hung test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_schema_creation_is_idempotent_and_keeps_data(database_url):
    engine = store.make_engine(database_url)
    store.ensure_schema(engine)
    store.insert_rows(engine, "impression", [store.event_row("a1", "1.0", "home")])
    store.ensure_schema(engine)  # a restart, or another frontend version starting
    store.ensure_schema(store.make_engine(database_url))
    names = set(inspect(engine).get_table_names())
    assert {"impressions", "clicks", "schema_version"} <= names
    assert row_count(engine, store.impressions) == 1
    assert row_count(engine, store.schema_version) == 1
    engine.dispose()


def test_concurrent_schema_creation_on_an_empty_database(database_url):
    """Several workers starting at once must all succeed (advisory lock / retry)."""
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker() -> None:
        engine = store.make_engine(database_url)
        start.wait()
        try:
            store.ensure_schema(engine)
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    engine = store.make_engine(database_url)
    assert row_count(engine, store.schema_version) == 1
    engine.dispose()


def test_writer_records_and_queries_count_per_segment(engine):
    writer = EventWriter(engine, register_atexit=False)
    customers = [f"{i:032x}" for i in range(6)]
    expected = {
        ("home", "1.0"): [0, 0, set()],
        ("products", "1.0"): [0, 0, set()],
        ("products", "2.0"): [0, 0, set()],
    }
    for i in range(90):
        source, version = list(expected)[i % 3]
        customer = customers[i % 5 if version != "2.0" else 5]
        assert writer.record("impression", f"ad-{i % 4}", version, source, "kitchen", customer)
        expected[(source, version)][0] += 1
        expected[(source, version)][2].add(customer)
        if i % 7 == 0:
            assert writer.record("click", f"ad-{i % 4}", version, source, "kitchen", customer)
            expected[(source, version)][1] += 1
    assert writer.flush()
    got = {
        (c.page_source, c.version): [c.impressions, c.clicks, c.customers]
        for c in store.segment_counts(engine)
    }
    assert got == {key: [n, k, len(who)] for key, (n, k, who) in expected.items()}
    assert writer.stats()["written"] == 90 + sum(v[1] for v in expected.values())
    assert writer.stats()["dropped"] == 0
    writer.close()


def test_writer_batches_inserts_and_flushes_by_itself(engine):
    statements: list[bool] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO IMPRESSIONS"):
            statements.append(executemany)

    writer = EventWriter(engine, batch_size=50, interval=0.2, register_atexit=False)
    for i in range(120):
        writer.record("impression", "ad-1", "2.0", "products", "outdoor", f"{i:032x}")
    # No flush(): the thread writes full batches, then the remainder when the interval passes.
    assert wait_until(lambda: row_count(engine, store.impressions) == 120)
    assert 3 <= len(statements) <= 120 // 10, statements  # batched, not one INSERT per event
    assert any(statements)  # at least one batch went out as executemany
    writer.close()


def test_unreachable_database_buffers_events_and_drops_only_the_overflow(caplog):
    engine = store.make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none", connect_timeout=1)
    writer = EventWriter(engine, batch_size=10, interval=0.05, max_buffer=20, register_atexit=False)
    with caplog.at_level(logging.WARNING, logger="storefront.experiment.writer"):
        results = [writer.record("impression", "ad-1", "1.0", "home", None, None) for _ in range(30)]
        results += [writer.record("click", "ad-1", "1.0", "home", None, None) for _ in range(5)]
        assert wait_until(lambda: not writer.store_reachable)
        assert writer.flush(timeout=0.3) is False  # nothing can be written while the store is away
    assert results == [True] * 20 + [False] * 15  # the buffer holds 20; only the overflow is dropped
    stats = writer.stats()
    assert (stats["buffered"], stats["written"], stats["dropped_buffer_full"]) == (20, 0, 15)
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "dropped" in m]) == 1, messages  # at most once per interval
    assert len([m for m in messages if "unreachable; buffering" in m]) == 1, messages
    with caplog.at_level(logging.ERROR, logger="storefront.experiment.writer"):
        writer.close(timeout=0.3)
    assert writer.stats()["dropped_exit"] == 20
    lost = [r.getMessage() for r in caplog.records if "lost at exit" in r.getMessage()]
    assert len(lost) == 1 and "20 impressions" in lost[0], lost
    assert writer.record("impression", "ad-1", "1.0", "home") is False  # closed: dropped, no raise


def test_full_buffer_drops_and_counts(tmp_path):
    path = tmp_path / "locked.sqlite3"
    engine = store.make_engine(f"sqlite:///{path}")
    store.ensure_schema(engine)
    writer = EventWriter(engine, batch_size=1, max_buffer=5, interval=0.05, register_atexit=False)
    # A real lock held by another connection stalls the writer thread mid-insert.
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        results = [writer.record("impression", "ad-1", "1.0", "home") for _ in range(50)]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert writer.flush(timeout=30)
    stats = writer.stats()
    assert results.count(False) == stats["dropped_buffer_full"] == 45
    assert stats["written"] == 5 and stats["dropped"] == 45
    assert row_count(engine, store.impressions) == 5
    assert store.dropped_counts(engine) == {"impression": 45, "click": 0}
    writer.close()


def test_long_values_are_cut_not_lost(engine):
    writer = EventWriter(engine, register_atexit=False)
    writer.record("impression", "a" * 500, "1.0" * 20, "products" * 10, "k" * 100, "c" * 100)
    assert writer.flush()
    assert writer.stats()["written"] == 1
    with engine.connect() as conn:
        row = conn.execute(select(store.impressions)).one()
    assert len(row.ad_id) == store.FIELD_LENGTHS["ad_id"]
    writer.close()


def test_reset_deletes_rows_and_keeps_the_schema(engine):
    store.insert_rows(engine, "impression", [store.event_row("a", "1.0", "home")] * 3)
    store.insert_rows(engine, "click", [store.event_row("a", "1.0", "home")])
    assert store.reset_experiment(engine) == {"impressions": 3, "clicks": 1, "dropped_events": 0}
    assert store.segment_counts(engine) == []
    store.insert_rows(engine, "click", [store.event_row("a", "2.0", "products")])
    assert [(c.page_source, c.clicks) for c in store.segment_counts(engine)] == [("products", 1)]


def run_cli(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "storefront.experiment", *args],
        cwd=SERVICES / "frontend",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_reset_cli(engine, database_url):
    store.insert_rows(engine, "impression", [store.event_row("a", "1.0", "home")] * 4)
    store.insert_rows(engine, "click", [store.event_row("a", "1.0", "home")] * 2)
    refused = run_cli("reset", database_url=database_url)
    assert refused.returncode == 2
    assert "would delete 4 impressions and 2 clicks" in refused.stderr and "--yes" in refused.stderr
    assert row_count(engine, store.impressions) == 4
    done = run_cli("reset", "--yes", database_url=database_url)
    assert done.returncode == 0, done.stderr
    assert "deleted 4 impressions and 2 clicks" in done.stdout
    assert row_count(engine, store.impressions) == 0 and row_count(engine, store.clicks) == 0


def test_report_cli_prints_json(engine, database_url):
    store.insert_rows(engine, "impression", [store.event_row("a", "2.0", "products", customer_id="c1")] * 3)
    done = run_cli("report", database_url=database_url)
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads(done.stdout)
    assert report["segments"][0]["impressions"] == 3 and report["segments"][0]["customers"] == 1


@pytest.mark.parametrize(
    "url,reason",
    [
        ("mysql://u@127.0.0.1/db", "unsupported"),
        ("not a url", "not a database URL"),
        (f"postgresql://u:secret@127.0.0.1:{free_port()}/db", "database postgresql+psycopg://u:***@"),
    ],
    # Fixed ids: the free port differs between pytest-xdist workers, which must collect alike.
    ids=["mysql", "not-a-url", "closed-postgresql-port"],
)
def test_cli_errors_are_one_line(url, reason):
    result = run_cli("reset", "--yes", database_url=url)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_cli_bad_arguments_are_one_line():
    result = run_cli("explode", database_url="sqlite://")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_writer_keeps_working_in_a_forked_worker(tmp_path):
    """gunicorn with preload forks workers from a master that may hold the writer already."""
    engine = store.make_engine(f"sqlite:///{tmp_path / 'fork.sqlite3'}")
    store.ensure_schema(engine)
    writer = EventWriter(engine, register_atexit=False)
    writer.record("impression", "ad-1", "1.0", "home")
    assert writer.flush()
    pid = os.fork()
    if pid == 0:  # the worker: its own thread and connections, the parent's are not reused
        ok = writer.record("impression", "ad-2", "2.0", "products") and writer.flush(timeout=30)
        os._exit(0 if ok and writer.stats()["written"] >= 1 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert row_count(engine, store.impressions) == 2
    writer.close()
