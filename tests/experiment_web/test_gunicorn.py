"""The same counting through real gunicorn frontends (2 workers each) and real ads servers,
on SQLite and on one PostgreSQL shared by two frontends (as the cluster's replicas share it)."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
from testkit.postgres import fresh_database
from testkit.processes import run_service

from experiment_web.webkit import banner, cells, wait_for

PRODUCTS = ["cast-iron-skillet", "two-person-tent", "wireless-earbuds", "merino-beanie"]


def shop_visit(base: str, session: requests.Session, views: int, clicks: int) -> tuple[Counter, Counter]:
    """Product and home views, then `clicks` banner clicks; (banners shown, banners clicked)."""
    shown: Counter = Counter()
    clicked: Counter = Counter()
    paths = [f"/products/{PRODUCTS[i % len(PRODUCTS)]}" if i % 3 else "/" for i in range(views)]
    for index, path in enumerate(paths):
        response = session.get(base + path, timeout=10)
        assert response.status_code == 200, path
        found = banner(response.text)
        assert found is not None, f"{path}: no banner"
        key = (found["page_source"], found["version"])
        shown[key] += 1
        if index < clicks:
            click = session.get(base + found["href"], timeout=10, allow_redirects=False)
            assert click.status_code == 303 and click.headers["Location"].startswith("/")
            assert not click.headers["Location"].startswith("//")
            clicked[key] += 1
    return shown, clicked


def report_of(base: str) -> dict:
    response = requests.get(base + "/experiment.json", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def total(counter) -> int:
    return sum(counter.values())


def arrived(shown: Counter, clicked: Counter):
    """True once the report holds at least as many events as were made (then compared exactly)."""
    def done(report: dict) -> bool:
        impressions, clicks = total(cells(report, "impressions")), total(cells(report, "clicks"))
        return impressions >= total(shown) and clicks >= total(clicked)

    return done


def test_gunicorn_frontend_counts_what_it_served(ads_v2, tmp_path):
    database = f"sqlite:///{tmp_path / 'exp.sqlite3'}"
    env = {"ADS_URL": ads_v2.url, "WEB_CONCURRENCY": "2", "DATABASE_URL": database}
    with run_service("frontend", env=env) as frontend, requests.Session() as customer:
        shown, clicked = shop_visit(frontend.url, customer, views=30, clicks=6)
        # Each worker batches its own writes (0.5 s): poll until everything arrived (bounded).
        report = wait_for(lambda: report_of(frontend.url), arrived(shown, clicked))
        page = requests.get(frontend.url + "/experiment", timeout=10)
    assert cells(report, "impressions") == shown
    assert cells(report, "clicks") == clicked
    assert set(cells(report, "customers").values()) == {1}, "one session is one customer"
    assert page.status_code == 200 and "<svg" in page.text


@pytest.fixture(scope="module")
def shared_postgres_url(postgres_cluster):
    return fresh_database(postgres_cluster).replace("postgresql+psycopg://", "postgresql://")


@pytest.mark.postgres
def test_two_frontends_share_one_postgres_store(ads_v1, ads_v2, shared_postgres_url):
    common = {"WEB_CONCURRENCY": "2", "DATABASE_URL": shared_postgres_url}
    with (
        run_service("frontend", env={**common, "ADS_URL": ads_v1.url}) as one,
        run_service("frontend", env={**common, "ADS_URL": ads_v2.url}) as two,
        requests.Session() as alice,
        requests.Session() as bob,
    ):
        shown_one, clicked_one = shop_visit(one.url, alice, views=15, clicks=3)
        shown_two, clicked_two = shop_visit(two.url, bob, views=15, clicks=4)
        shown, clicked = shown_one + shown_two, clicked_one + clicked_two
        report = wait_for(lambda: report_of(one.url), arrived(shown, clicked))
        other = report_of(two.url)
    assert cells(report, "impressions") == shown
    assert cells(report, "clicks") == clicked
    # Either replica reports the same shared numbers.
    assert cells(other, "impressions") == shown and cells(other, "clicks") == clicked
    assert report["experiment"]["store"] == "postgresql"
