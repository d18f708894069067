"""Store outages and restarts seen from the shop: /experiment.json counts what was dropped, and a
gunicorn frontend stopped by SIGTERM writes every event it had accepted before it exits."""

from __future__ import annotations

import json
import sqlite3

import pytest
import requests
from sqlalchemy import create_engine, func, select
from testkit.processes import run_service

from experiment_web.test_gunicorn import PRODUCTS, shared_postgres_url, shop_visit
from experiment_web.webkit import banner, cells, wait_for


def test_drops_during_an_outage_show_in_the_report_and_the_log(make_app, ads_v2, database_url, capfd):
    app = make_app(ads_v2.url, EXPERIMENT_BUFFER="3")
    client = app.test_client()
    client.get("/experiment.json")  # the schema exists before the store goes away
    path = database_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the store is unavailable to the app from here
    try:
        for index in range(7):
            response = client.get(f"/products/{PRODUCTS[index % len(PRODUCTS)]}")
            assert response.status_code == 200  # the outage never costs a page
            assert banner(response.get_data(as_text=True)) is not None
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    report = wait_for(lambda: client.get("/experiment.json").get_json(),
                      lambda r: sum(cells(r, "impressions").values()) >= 3)
    assert sum(cells(report, "impressions").values()) == 3  # the buffer held 3
    assert report["recording"]["dropped"] == {"impressions": 4, "clicks": 0}  # 7 shown - 3 kept
    assert report["recording"]["this_worker"]["buffered"] == 0
    # The app logs JSON lines on stdout: every drop is in one (at most one line a minute, plus
    # one for the rest when the store answers again).
    logged = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    drops = [line["message"] for line in logged if line["message"].startswith("experiment events dropped")]
    assert sum(int(m.split(": ")[1].split()[0]) for m in drops) == 4, drops
    page = client.get("/experiment").get_data(as_text=True)
    assert "Not counted: 4 impressions and" in page and "0 clicks were dropped" in page


def _stored(database_url: str) -> tuple:
    from storefront.experiment import store

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return tuple(
                conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (store.impressions, store.clicks)
            )
    finally:
        engine.dispose()


__all__ = ["shared_postgres_url"]  # a fixture, used by name below


@pytest.mark.parametrize("store_kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_sigterm_writes_every_accepted_event_before_the_worker_exits(ads_v2, tmp_path, store_kind, request):
    if store_kind == "sqlite":
        database = f"sqlite:///{tmp_path / 'exp.sqlite3'}"
    else:
        database = request.getfixturevalue("shared_postgres_url")
    # Batches go out only every 60 s or at 500 events: what is stored by the end came from the
    # flush at exit.
    env = {"ADS_URL": ads_v2.url, "WEB_CONCURRENCY": "2", "DATABASE_URL": database,
           "EXPERIMENT_WRITE_INTERVAL": "60"}
    with run_service("frontend", env=env) as frontend, requests.Session() as customer:
        shown, clicked = shop_visit(frontend.url, customer, views=24, clicks=5)
        assert _stored(database) == (0, 0), "written before the signal: the test would prove nothing"
        assert frontend.stop() == 0  # SIGTERM to the gunicorn master, which stops its workers
        output = frontend.output()
    assert _stored(database) == (sum(shown.values()), sum(clicked.values())), output[-3000:]
    assert "Traceback" not in output
