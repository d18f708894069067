"""The storefront against REAL advertisements servers (gunicorn processes on loopback ports).

What the ads server received is read from its own answers and its JSON log lines.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from storefront_pages import banner, log_lines

SVG = "{http://www.w3.org/2000/svg}"


def _ads_log(service, request_id: str) -> list:
    return [
        line
        for line in log_lines(service.output())
        if line.get("path") == "/ads" and line.get("request_id") == request_id
    ]


@pytest.fixture(params=["1.0", "2.0"])
def ads_server(request, ads_v1, ads_v2):
    return {"1.0": ads_v1, "2.0": ads_v2}[request.param], request.param


@pytest.mark.parametrize("path", ["/", "/products/smart-speaker", "/?category=outdoor"])
def test_banner_shows_the_version_that_answered(make_app, ads_server, path):
    server, version = ads_server
    client = make_app(server.url).test_client()
    response = client.get(path)
    assert response.status_code == 200
    shown = banner(response.get_data(as_text=True))
    assert shown is not None
    assert shown["data-ads-version"] == version
    # The picture carries the ad's title and text (and the alt text repeats them for screen
    # readers); the only words printed beside it are the sponsored label.
    assert " ".join(unescape(shown["text"]).split()) == f"Sponsored · Version {version}"
    assert shown["links"] == 1
    ad_id = shown["data-ad-id"]
    assert shown["img"] == f"/ads/{ad_id}/banner.svg?version={version}"
    assert shown["href"].startswith("/") and not shown["href"].startswith("//")
    # The picture behind the banner comes through the storefront and names the same version.
    picture = client.get(shown["img"])
    assert picture.status_code == 200
    assert f"Version {version}" in picture.get_data(as_text=True)
    # The alt text says what the picture says: the ad's title and text.
    root = ET.fromstring(picture.get_data())
    title = root.find(f"{SVG}title").text.removesuffix(f" (Version {version})")
    assert shown["alt"] == f"{title}: {root.find(f'{SVG}desc').text}"


def test_home_sends_page_source_home(make_app, ads_v2):
    request_id = f"home-{uuid.uuid4()}"
    client = make_app(ads_v2.url).test_client()
    shown = banner(client.get("/", headers={"x-request-id": request_id}).get_data(as_text=True))
    [line] = _ads_log(ads_v2, request_id)
    assert line["page_source"] == "home"
    assert line["status"] == 200
    # 2.0 serves house ads away from product pages: the home banner is a general one.
    from storefront.catalog.products import CATEGORIES

    assert shown is not None and not shown["data-ad-id"].startswith(CATEGORIES)


@pytest.mark.parametrize(
    "slug", ["cast-iron-skillet", "two-person-tent", "wireless-earbuds", "merino-beanie"]
)
def test_product_page_sends_page_source_products_and_its_category(make_app, ads_v2, slug):
    from storefront.catalog.products import get_product

    request_id = f"product-{uuid.uuid4()}"
    client = make_app(ads_v2.url).test_client()
    html = client.get(f"/products/{slug}", headers={"x-request-id": request_id}).get_data(as_text=True)
    [line] = _ads_log(ads_v2, request_id)
    assert line["page_source"] == "products"
    # 2.0 answers a product page of a category with an ad of that category: the
    # category reached the server, and the answer echoed page_source products.
    category = get_product(slug).category
    shown = banner(html)
    assert shown["data-ads-version"] == "2.0"
    assert shown["data-ad-id"].startswith(f"{category}-")
    # The link goes through the click route, which records the click and redirects to the ad's target.
    link = urlsplit(shown["href"])
    assert link.path == f"/ads/{shown['data-ad-id']}/click"
    assert parse_qs(link.query)["to"] == [f"/?category={category}"]


def test_ads_answer_echoes_the_page_source(make_app, ads_v1):
    """The server's JSON answer echoes page_source; the client keeps it for the banner."""
    client = make_app(ads_v1.url).test_client()
    assert banner(client.get("/").get_data(as_text=True))["data-page-source"] == "home"
    product = banner(client.get("/products/rain-jacket").get_data(as_text=True))
    assert product["data-page-source"] == "products"


def test_tracing_headers_reach_the_ads_server(make_app, ads_v1):
    request_id = f"trace-{uuid.uuid4()}"
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    client = make_app(ads_v1.url).test_client()
    response = client.get(
        "/products/usb-c-hub", headers={"x-request-id": request_id, "traceparent": traceparent}
    )
    assert response.status_code == 200
    assert len(_ads_log(ads_v1, request_id)) == 1


def test_every_page_view_is_a_fresh_call(make_app, ads_v1):
    client = make_app(ads_v1.url).test_client()
    request_ids = [f"fresh-{n}-{uuid.uuid4()}" for n in range(5)]
    for request_id in request_ids:
        assert banner(client.get("/", headers={"x-request-id": request_id}).get_data(as_text=True))
    assert [len(_ads_log(ads_v1, request_id)) for request_id in request_ids] == [1] * 5
