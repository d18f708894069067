"""Impressions and clicks through the real app (Flask test client, real ads servers), and the report."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from testkit.processes import free_port

from experiment_web.webkit import banner, cells

PRODUCTS = ["cast-iron-skillet", "two-person-tent", "wireless-earbuds", "merino-beanie"]


def browse(client, views: int) -> Counter:
    """views product pages and views // 2 home pages; the banners shown, per (page_source, version)."""
    shown: Counter = Counter()
    for index in range(views):
        for path in (f"/products/{PRODUCTS[index % len(PRODUCTS)]}",) + (("/",) if index % 2 == 0 else ()):
            response = client.get(path)
            assert response.status_code == 200
            found = banner(response.get_data(as_text=True))
            assert found is not None, f"{path}: no banner"
            shown[(found["page_source"], found["version"])] += 1
    return shown


def test_one_impression_per_banner_shown_with_its_fields(make_app, ads_v2):
    from sqlalchemy import select
    from storefront.experiment import store

    app = make_app(ads_v2.url)
    client = app.test_client()
    client.get("/products/cast-iron-skillet")
    client.get("/")
    experiment = app.extensions["experiment"]
    assert experiment.writer.flush(timeout=10)
    with experiment.engine.connect() as conn:
        query = select(store.impressions).order_by(store.impressions.c.id)
        rows = [dict(r._mapping) for r in conn.execute(query)]
    customer = client.get_cookie("customer_id").value
    assert [(r["page_source"], r["ads_version"], r["category"], r["customer_id"]) for r in rows] == [
        ("products", "2.0", "kitchen", customer),
        ("home", "2.0", None, customer),
    ]
    assert rows[0]["ad_id"].startswith("kitchen-")
    assert all(r["created_at"] is not None for r in rows)


def test_no_banner_no_impression(make_app):
    app = make_app(f"http://127.0.0.1:{free_port()}")  # ads down: the page renders without a banner
    client = app.test_client()
    assert client.get("/products/cast-iron-skillet").status_code == 200
    assert client.get("/experiment.json").get_json()["segments"] == []


def test_counts_and_report_match_what_the_pages_showed(make_app, ads_v1, ads_v2):
    # Two apps, one store: like two frontend replicas, one on each ads version.
    first, second = make_app(ads_v1.url), make_app(ads_v2.url)
    shown = browse(first.test_client(), 12) + browse(second.test_client(), 8)
    client = second.test_client()
    clicked: Counter = Counter()
    for path in ("/products/two-person-tent", "/", "/products/merino-beanie"):
        found = banner(client.get(path).get_data(as_text=True))
        shown[(found["page_source"], found["version"])] += 1
        response = client.get(found["href"])
        assert response.status_code == 303 and response.headers["Location"].startswith("/")
        clicked[(found["page_source"], found["version"])] += 1
    first.extensions["experiment"].writer.flush(timeout=10)
    report = client.get("/experiment.json").get_json()

    assert cells(report, "impressions") == shown
    assert cells(report, "clicks") == clicked
    # Customers: one test client browsed on each app, a third one clicked (3 distinct cookies).
    customers = cells(report, "customers")
    assert customers[("products", "1.0")] == 1 and customers[("products", "2.0")] == 2
    check_report_consistency(report)
    srm = report["srm"]
    assert srm["observed"] == {"1.0": shown[("products", "1.0")], "2.0": shown[("products", "2.0")]}
    assert srm["unit"] == "impressions" and report["experiment"]["mode"] == "off"


def check_report_consistency(report: dict) -> None:
    assert set(report) >= {"segments", "test", "srm", "decision"}
    for segment in report["segments"]:
        fields = {"page_source", "version", "impressions", "clicks", "customers", "ctr", "ctr_ci"}
        assert set(segment) >= fields
        assert segment["impressions"] >= segment["clicks"] >= 0
        assert 0 < segment["customers"] <= segment["impressions"]
        assert math.isclose(segment["ctr"], segment["clicks"] / segment["impressions"], abs_tol=1e-6)
        low, high = segment["ctr_ci"]
        assert 0 <= low <= segment["ctr"] <= high <= 1
    test = report["test"]
    assert (test["page_source"], test["control"], test["treatment"]) == ("products", "1.0", "2.0")
    assert set(test) >= {"p_value", "uplift_abs", "uplift_ci", "method"}
    products = {s["version"]: s for s in report["segments"] if s["page_source"] == "products"}
    if {"1.0", "2.0"} <= set(products):
        uplift = products["2.0"]["ctr"] - products["1.0"]["ctr"]
        assert math.isclose(test["uplift_abs"], uplift, abs_tol=1e-5)
        assert test["uplift_ci"][0] <= test["uplift_abs"] <= test["uplift_ci"][1]
        assert 0 <= test["p_value"] <= 1
    assert set(report["srm"]) >= {"p_value", "expected_share", "observed"}
    assert report["srm"]["expected_share"] == {"1.0": 0.5, "2.0": 0.5}
    decision = report["decision"]
    assert decision["required_sample_per_arm"] > 0 and decision["verdict"]


def test_the_html_page_shows_table_chart_test_srm_and_verdict(make_app, ads_v2):
    app = make_app(ads_v2.url)
    client = app.test_client()
    browse(client, 20)  # only 2.0 answers product pages: a glaring sample-ratio mismatch
    page = client.get("/experiment")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    report = client.get("/experiment.json").get_json()
    for segment in report["segments"]:
        row = f'<tr data-page-source="{segment["page_source"]}" data-version="{segment["version"]}">'
        assert row in html
    assert html.count("<svg") == 1 and 'class="bar"' in html and 'class="interval"' in html
    assert 'class="srm-warning" role="alert"' in html and "Sample ratio mismatch" in html
    assert report["srm"]["warning"] is True
    assert "Not enough data yet" in html and report["decision"]["status"] == "insufficient_data"
    assert "two-proportion z-test" in html


def test_a_balanced_split_shows_no_warning(make_app, ads_v2):
    from storefront.experiment import store

    app = make_app(ads_v2.url)
    engine = app.extensions["experiment"].engine
    # 50/50 within noise, written straight into the store the page reads.
    for version, count, clicks in (("1.0", 1010, 30), ("2.0", 990, 60)):
        store.insert_rows(engine, "impression", [store.event_row("x", version, "products")] * count)
        store.insert_rows(engine, "click", [store.event_row("x", version, "products")] * clicks)
    html = app.test_client().get("/experiment").get_data(as_text=True)
    assert "srm-warning" not in html and "(fine)" in html


def test_sticky_mode_counts_customers_for_the_srm_check(make_app, ads_v2):
    app = make_app(ads_v2.url, AB_MODE="sticky")
    report = app.test_client().get("/experiment.json").get_json()
    assert report["srm"]["unit"] == "customers" and report["experiment"]["mode"] == "sticky"


def test_a_store_outage_loses_the_metric_never_the_page(make_app, ads_v2):
    # PostgreSQL on a port nothing listens on: every write and read of the store fails.
    app = make_app(ads_v2.url, DATABASE_URL=f"postgresql://shop@127.0.0.1:{free_port()}/experiment")
    client = app.test_client()
    for path in ("/", "/products/cast-iron-skillet"):
        response = client.get(path)
        assert response.status_code == 200 and banner(response.get_data(as_text=True)) is not None
    assert client.get("/ads/kitchen-coffee/click?version=2.0&page_source=products&to=/").status_code == 303
    data = client.get("/experiment.json")
    assert data.status_code == 503 and "unavailable" in data.get_json()["error"]
    page = client.get("/experiment")
    assert page.status_code == 503 and "store is unavailable" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("AB_MODE", "always", "AB_MODE"),
        ("AB_SHARE", "half", "AB_SHARE"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL"),
        ("EXPERIMENT_BUFFER", "lots", "EXPERIMENT_BUFFER"),
        ("EXPERIMENT_BUFFER", "0", "EXPERIMENT_BUFFER"),
        ("EXPERIMENT_WRITE_INTERVAL", "0", "EXPERIMENT_WRITE_INTERVAL"),
        ("EXPERIMENT_WRITE_INTERVAL", "soon", "EXPERIMENT_WRITE_INTERVAL"),
    ],
)
def test_bad_settings_are_refused_with_a_line_naming_them(make_app, ads_v2, setting, value, named):
    with pytest.raises(ValueError, match=named):
        make_app(ads_v2.url, **{setting: value})
