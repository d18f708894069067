"""The traffic generator: argument checks, HTML reading, and short real runs against the real shop."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
from testkit.processes import REPO_ROOT, SERVICES, run_service

FRONTEND = SERVICES / "frontend"


def run_traffic(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "traffic", *args],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# Each a command line whose first word is the argument the one-line error must name.
BAD_ARGUMENTS = [
    "--rate 0", "--rate fast", "--rate nan", "--duration -5", "--customers 0", "--customers 2.5",
    "--click-relevant 1.5", "--click-general -0.1", "--host ftp://127.0.0.1", "--host http://127.0.0.1:8080/shop",
    "--host http://127.0.0.1:99999", "--summary-json /nonexistent-dir/summary.json", "--bogus",
]


@pytest.mark.parametrize("command_line", BAD_ARGUMENTS)
def test_bad_arguments_give_one_line_and_a_nonzero_exit(command_line):
    args = command_line.split()
    result = run_traffic(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert args[0] in lines[0] and "Traceback" not in result.stderr
    assert result.stdout == ""


BANNER_PAGE = """
<html><body>
<nav><a href="/?category=kitchen">Kitchen</a> <a href="/cart">Cart</a></nav>
<ul><li><a href="/products/chef-knife">Knife</a></li><li><a href="/products/tent%202p/">Tent</a></li>
<li><a href="/products/chef-knife">again</a></li></ul>
<form class="add-to-cart" method="post" action="/cart/add">
  <input id="csrf_token" name="csrf_token" type="hidden" value="tok.en">
  <input name="slug" type="hidden" value="chef-knife"><input name="quantity" type="number" value="1">
  <button type="submit">Add</button>
</form>
<aside class="ad-banner" data-ads-version="2.0" data-ad-id="ad-7" data-page-source="products">
  <aside>nested</aside><img src="/ads/ad-7/banner.svg">
  <a class="ad-link" href="/ads/ad-7/click?page_source=products">Buy</a>
</aside>
<a href="/ads/other/click">not the banner</a>
</body></html>
"""


def test_reading_a_page():
    from traffic.shop import parse_page

    page = parse_page(BANNER_PAGE)
    assert page.product_slugs == ["chef-knife", "tent 2p"]
    assert (page.banner.ad_id, page.banner.version, page.banner.page_source) == ("ad-7", "2.0", "products")
    assert page.banner.href == "/ads/ad-7/click?page_source=products"
    form = page.cart_form()
    assert form.action == "/cart/add" and form.fields == {
        "csrf_token": "tok.en",
        "slug": "chef-knife",
        "quantity": "1",
    }
    wrapped = parse_page(
        '<a href="/ads/a1/click?x=1"><div data-ad-id="a1" data-ads-version="1.0">b</div></a>'
    )
    assert wrapped.banner.href == "/ads/a1/click?x=1" and wrapped.banner.page_source is None
    assert parse_page("<p>no banner</p>").banner is None and parse_page("").cart_form() is None


def test_redirects_off_the_shop_are_refused():
    from traffic.shop import same_site_path

    base = "http://127.0.0.1:8080"
    assert same_site_path(base, "/?category=kitchen") == "/?category=kitchen"
    assert same_site_path(base, "http://127.0.0.1:8080/cart") == "/cart"
    for outside in [
        "//evil.example/",
        "https://evil.example/",
        "http://127.0.0.1:9999/",
        "javascript:alert(1)",
    ]:
        assert same_site_path(base, outside) is None, outside


def request_lines(service) -> list[dict]:
    lines = []
    for line in service.output().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "request" and entry.get("path") not in ("/healthz", "/readyz"):
                lines.append(entry)
    return lines


@pytest.fixture(params=["1.0", "2.0"])
def shop(request):
    """The real storefront in front of a real advertisements service of one version."""
    with run_service("advertisements", env={"ADS_VERSION": request.param}) as ads:
        with run_service("frontend", env={"ADS_URL": ads.url}) as frontend:
            yield request.param, frontend


def test_short_real_run_browses_adds_to_cart_and_clicks_by_relevance(shop, tmp_path):
    version, frontend = shop
    summary_path = tmp_path / "summary.json"
    rate, duration, customers = 5, 5, 3
    result = run_traffic(
        "--host",
        frontend.url,
        "--rate",
        str(rate),
        "--duration",
        str(duration),
        "--customers",
        str(customers),
        "--click-relevant",
        "1",
        "--click-general",
        "0",
        "--cart",
        "0.5",
        "--progress",
        "2",
        "--seed",
        "1",
        "--summary-json",
        str(summary_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[done" in result.stdout and result.stdout.count("requests") >= 2  # progress lines
    summary = json.loads(summary_path.read_text())
    assert summary["failures"] == 0 and summary["page_views"] > 0
    banners = summary["banners"]
    assert set(banners) <= {"home", "products"} and banners.get("products", {}).get(version, 0) > 0
    assert all(set(per_version) == {version} for per_version in banners.values())
    clicks = summary["clicks"]
    if version == "2.0":
        # Relevance: only 2.0 banners on product pages are clicked (propensity 1 vs 0).
        assert set(clicks) == {"products"} and 0 < clicks["products"]["2.0"] <= banners["products"]["2.0"]
    else:
        assert clicks == {}
        # A cart add passes Flask-WTF's CSRF check only with the form's token and the session cookie.
        assert summary["cart_adds"] > 0
    # The server saw what the customers did: every request, no CSRF rejections.
    lines = request_lines(frontend)
    assert summary["requests"] <= len(lines) <= summary["requests"] + customers
    statuses = Counter((entry["method"], entry["status"]) for entry in lines)
    assert all(status < 400 for _method, status in statuses), statuses
    assert sum(n for (method, _status), n in statuses.items() if method == "POST") >= summary["cart_adds"]
    # Bounded in rate: without the throughput cap three customers would make hundreds of requests.
    assert summary["requests"] <= 2 * rate * duration + customers


def test_unreachable_shop_fails_with_one_line():
    from testkit.processes import free_port

    result = run_traffic(
        "--host",
        f"http://127.0.0.1:{free_port()}",
        "--rate",
        "5",
        "--duration",
        "1",
        "--customers",
        "1",
        "--progress",
        "5",
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "requests failed" in lines[0], result.stderr


def test_make_traffic_takes_duration_rate_and_host(shop):
    """`make traffic DURATION=<s> RATE=<views/s>`, pointed at this test's shop."""
    _, frontend = shop
    result = subprocess.run(
        ["make", "--no-print-directory", "traffic", "DURATION=3", "RATE=4", "CUSTOMERS=2",
         f"HOST={frontend.url}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"--host \"{frontend.url}\"" in result.stdout and "--rate \"4\"" in result.stdout
    assert "--duration \"3\"" in result.stdout and "[done" in result.stdout
