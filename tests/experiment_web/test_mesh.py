"""The whole shop through a real `localmesh up` (Envoy gateway + gunicorn pods from the istio/ files
`make run` uses): a short traffic run fills /experiment.json with consistent counts, and a real
headless Chromium clicks a banner and reads /experiment.

The one change to the shipped files: the frontend's DATABASE_URL points at a file of the test
session (the shared `canary_mesh`), so the test neither reads nor wipes the data of a `make run` on
the same checkout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from urllib.parse import urlsplit

import pytest
import requests
from testkit.browser import ARTIFACTS as ALL_ARTIFACTS
from testkit.browser import launch_chromium
from testkit.processes import SERVICES

from experiment_web.webkit import cells, wait_for

pytestmark = pytest.mark.envoy

ARTIFACTS = ALL_ARTIFACTS / "experiment"


@pytest.fixture(scope="module")
def shop(canary_mesh):
    """Gateway URL of the running canary (home: v1; products: 50/50), shared with other readers."""
    return canary_mesh.gateway


def report(gateway: str) -> dict:
    response = requests.get(gateway + "/experiment.json", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def nested(counter: Counter) -> dict:
    out: dict = {}
    for (source, version), count in sorted(counter.items()):
        if count:
            out.setdefault(source, {})[version] = count
    return out


def test_a_traffic_run_fills_the_report_with_consistent_counts(shop, tmp_path):
    before = report(shop)
    summary_path = tmp_path / "summary.json"
    run = subprocess.run(
        [sys.executable, "-m", "traffic", "--host", shop, "--rate", "8", "--duration", "20",
         "--customers", "10", "--seed", "11", "--click-relevant", "0.3", "--click-general", "0.1",
         "--summary-json", str(summary_path)],
        cwd=SERVICES / "frontend", capture_output=True, text=True, timeout=180,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[done" in run.stdout, run.stdout
    summary = json.loads(summary_path.read_text())
    assert summary["failures"] == 0 and summary["refused_redirects"] == 0, summary

    def delta(now: dict, field: str) -> dict:
        return nested(cells(now, field) - cells(before, field))

    after = wait_for(lambda: report(shop), lambda now: delta(now, "impressions") == summary["banners"], 20)
    # Every banner the customers saw is one impression, per page source and version ...
    assert delta(after, "impressions") == summary["banners"]
    # ... and every click they made went through the click route and was counted.
    assert delta(after, "clicks") == summary["clicks"]
    for segment in after["segments"]:
        assert segment["impressions"] >= segment["clicks"], segment
    # The canary itself: home only ever 1.0, product pages both versions.
    assert set(summary["banners"]["home"]) == {"1.0"}
    assert set(summary["banners"]["products"]) == {"1.0", "2.0"}
    assert sum(summary["clicks"].get("products", {}).values()) > 0
    assert after["srm"]["unit"] == "impressions"
    products = {v: n for (s, v), n in cells(after, "impressions").items() if s == "products"}
    assert after["srm"]["observed"] == products


# ---- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with launch_chromium() as chromium:
        yield chromium


def clicks_of(gateway: str, page_source: str, version: str) -> int:
    return cells(report(gateway), "clicks")[(page_source, version)]


@pytest.mark.browser
def test_in_a_real_browser(shop, browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    try:
        # The home banner is always 1.0.
        assert page.goto(shop + "/").status == 200
        home_banner = page.locator(".ad-banner")
        assert home_banner.get_attribute("data-ads-version") == "1.0"
        assert "Version 1.0" in home_banner.inner_text()
        page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)

        # Clicking it lands on a shop page and counts one click.
        before = clicks_of(shop, "home", "1.0")
        with page.expect_navigation():
            page.locator(".ad-banner a.ad-link").click()
        landed = urlsplit(page.url)
        assert (landed.scheme, landed.netloc) == tuple(urlsplit(shop)[:2]), page.url
        assert landed.path == "/" and page.locator(".product-grid").count() == 1
        page.screenshot(path=str(ARTIFACTS / "after-click.png"), full_page=True)
        counted = wait_for(lambda: {"n": clicks_of(shop, "home", "1.0")}, lambda r: r["n"] >= before + 1)
        assert counted["n"] == before + 1

        # A product page shows both versions across reloads (the 50/50 canary); bounded.
        product = shop + page.locator(".product-grid a").first.get_attribute("href")
        seen: dict = {}
        for _ in range(40):
            assert page.goto(product).status == 200
            version = page.locator(".ad-banner").get_attribute("data-ads-version")
            if version not in seen:
                seen[version] = True
                page.screenshot(path=str(ARTIFACTS / f"product-{version}.png"), full_page=True)
            if len(seen) == 2:
                break
        assert set(seen) == {"1.0", "2.0"}, f"one version in 40 reloads: {set(seen)}"

        # /experiment renders its chart, with the click in the table.
        assert page.goto(shop + "/experiment").status == 200
        chart = page.locator("figure.experiment-chart svg")
        assert chart.count() == 1 and chart.is_visible()
        box = chart.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 150
        assert page.locator("figure.experiment-chart svg rect.bar").count() >= 2
        row = page.locator('tr[data-page-source="home"][data-version="1.0"] td').nth(3)
        assert int(row.inner_text().replace(",", "")) >= 1
        assert page.locator(".verdict-text").inner_text().strip()
        page.screenshot(path=str(ARTIFACTS / "experiment.png"), full_page=True)
    finally:
        context.close()
