"""Impression and click storage with SQLAlchemy Core: schema, engine, queries and reset.

SQLite file by default, PostgreSQL through DATABASE_URL (all replicas share it). The schema
is only ever created, never dropped or altered, so restarts and several frontend versions on
one database keep the data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from .report import SegmentCounts

log = logging.getLogger(__name__)

# 2 added dropped_events; tables are only ever added, so version 1 data stays readable.
SCHEMA_VERSION = 2
DATABASE_FILE = "experiment.sqlite3"
# Fixed key for pg_advisory_xact_lock, so concurrent workers create the schema one at a time.
_SCHEMA_LOCK_KEY = 727_100_001

# Column widths: values are cut to these before insert, since one over-long value would make
# PostgreSQL reject the whole batch.
FIELD_LENGTHS = {"ad_id": 64, "ads_version": 16, "page_source": 32, "category": 32, "customer_id": 64}

metadata = MetaData()

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite only auto-increments INTEGER keys


def _event_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("ad_id", String(FIELD_LENGTHS["ad_id"]), nullable=False),
        Column("ads_version", String(FIELD_LENGTHS["ads_version"]), nullable=False),
        Column("page_source", String(FIELD_LENGTHS["page_source"]), nullable=False),
        Column("category", String(FIELD_LENGTHS["category"]), nullable=True),
        Column("customer_id", String(FIELD_LENGTHS["customer_id"]), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Index(f"ix_{name}_segment", "page_source", "ads_version"),
    )


impressions = _event_table("impressions")
clicks = _event_table("clicks")
schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)
EVENT_TABLES = {"impression": impressions, "click": clicks}
# Events the writer had to drop (its buffer full during a store outage, a row the store refused),
# counted per kind and reason, so the report shows every replica's losses.
dropped_events = Table(
    "dropped_events",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("count", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def default_sqlite_url(instance_path: Optional[str] = None) -> str:
    """The SQLite file in the instance folder (Flask's for the storefront package by default)."""
    return f"sqlite:///{Path(instance_path or default_instance_path(), DATABASE_FILE)}"


def default_instance_path() -> str:
    """Flask's instance folder for the storefront package: services/frontend/instance."""
    return str(Path(__file__).resolve().parents[2] / "instance")


def parse_database_url(raw: str) -> str:
    """A database URL the store can use; ValueError with the reason (never the URL: it may hold a password).

    postgres:// and postgresql:// (what most hosting and Secrets hand out) are mapped to the
    psycopg 3 driver, the one the image ships.
    """
    raw = raw.strip()
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            raw = "postgresql+psycopg://" + raw[len(prefix) :]
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValueError("not a database URL (sqlite:///path or postgresql://...)") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"backend {url.get_backend_name()!r} unsupported (sqlite, postgresql)")
    return raw


def make_engine(url: str, connect_timeout: float = 2.0) -> Engine:
    """An engine that fails fast when the database is away (the writer drops, never waits long)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": max(connect_timeout, 5.0)})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
            # WAL lets the report read while gunicorn workers write.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=2,
        connect_args={"connect_timeout": max(1, round(connect_timeout))},
    )


def ensure_schema(engine: Engine, attempts: int = 3) -> None:
    """Create missing tables and record the schema version; safe to run any number of times.

    On PostgreSQL an advisory lock serialises concurrent callers; SQLite has no such lock, so a
    caller that lost the race ("already exists") simply tries again and then finds the tables.
    """
    for attempt in range(1, attempts + 1):
        try:
            _create_schema(engine)
            break
        except DBAPIError:
            if attempt == attempts:
                raise
            time.sleep(0.1 * attempt)
    # The app may create the schema in gunicorn's master; connections must not cross the fork.
    engine.dispose()


def _create_schema(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        metadata.create_all(conn, checkfirst=True)
        known = conn.execute(
            select(schema_version.c.version).where(schema_version.c.version == SCHEMA_VERSION)
        )
        if known.first() is None:
            conn.execute(insert(schema_version), {"version": SCHEMA_VERSION, "applied_at": _now()})


def _now() -> datetime:
    return datetime.now(timezone.utc)


def event_row(
    ad_id: str,
    ads_version: str,
    page_source: str,
    category: Optional[str] = None,
    customer_id: Optional[str] = None,
    created_at: Optional[datetime] = None,
) -> dict:
    """A row for either table, cut to the column widths."""

    def cut(name: str, value: Optional[object]) -> Optional[str]:
        return None if value is None else str(value)[: FIELD_LENGTHS[name]]

    return {
        "ad_id": cut("ad_id", ad_id) or "",
        "ads_version": cut("ads_version", ads_version) or "",
        "page_source": cut("page_source", page_source) or "",
        "category": cut("category", category),
        "customer_id": cut("customer_id", customer_id),
        "created_at": created_at or _now(),
    }


def insert_rows(engine: Engine, kind: str, rows: list[dict]) -> None:
    """Insert rows of one kind ('impression' or 'click') in one executemany."""
    insert_events(engine, {kind: rows})


def insert_events(engine: Engine, rows_by_kind: Mapping[str, list], drops: Optional[Mapping] = None) -> None:
    """Insert events of each kind and drop counts ({(kind, reason): count}) in ONE transaction.

    All or nothing, so a writer that retries after a failure never stores a row twice.
    """
    drop_rows = [
        {"kind": kind, "reason": reason, "count": count, "created_at": _now()}
        for (kind, reason), count in sorted((drops or {}).items())
        if count
    ]
    if not drop_rows and not any(rows_by_kind.values()):
        return
    with engine.begin() as conn:
        for kind, rows in rows_by_kind.items():
            if rows:
                conn.execute(insert(EVENT_TABLES[kind]), rows)
        if drop_rows:
            conn.execute(insert(dropped_events), drop_rows)


def dropped_counts(engine: Engine, since: Optional[datetime] = None) -> dict[str, int]:
    """Events dropped by every writer so far: {'impression': n, 'click': m}."""
    totals = {kind: 0 for kind in EVENT_TABLES}
    query = select(dropped_events.c.kind, func.sum(dropped_events.c.count)).group_by(dropped_events.c.kind)
    if since is not None:
        query = query.where(dropped_events.c.created_at >= since)
    with engine.connect() as conn:
        for kind, total in conn.execute(query):
            totals[kind] = int(total or 0)
    return totals


def segment_counts(engine: Engine, since: Optional[datetime] = None) -> list[SegmentCounts]:
    """Per (page_source, version): impressions, clicks and unique customers shown the banner."""
    cells: dict[tuple[str, str], dict[str, int]] = {}
    with engine.connect() as conn:
        for table, fields in ((impressions, ("impressions", "customers")), (clicks, ("clicks", None))):
            query = select(
                table.c.page_source,
                table.c.ads_version,
                func.count(),
                func.count(table.c.customer_id.distinct()),
            ).group_by(table.c.page_source, table.c.ads_version)
            if since is not None:
                query = query.where(table.c.created_at >= since)
            for page_source, version, total, distinct in conn.execute(query):
                cell = cells.setdefault(
                    (page_source, version), {"impressions": 0, "clicks": 0, "customers": 0}
                )
                cell[fields[0]] = int(total)
                if fields[1]:
                    cell[fields[1]] = int(distinct)
    return [SegmentCounts(source, version, **cell) for (source, version), cell in sorted(cells.items())]


def reset_experiment(engine: Engine) -> dict[str, int]:
    """Delete every impression, click and drop count (the schema stays); rows deleted per table."""
    deleted: dict[str, int] = {}
    with engine.begin() as conn:
        for table in (impressions, clicks, dropped_events):
            deleted[table.name] = conn.execute(table.delete()).rowcount
    return deleted
