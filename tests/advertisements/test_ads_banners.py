"""GET /banners/<ad_id>.svg: a well-formed picture with the version label, cacheable."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from ads import create_app
from ads.banners import render_banner
from ads.inventory import ADS, Ad

SVG = "{http://www.w3.org/2000/svg}"


def all_text(root: ET.Element) -> str:
    return " ".join("".join(element.itertext()) for element in root.iter(f"{SVG}text"))


def fills(root: ET.Element) -> set[str]:
    return {element.get("fill") for element in root.iter() if element.get("fill")}


@pytest.mark.parametrize("ad", ADS, ids=lambda ad: ad.id)
@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_every_banner_is_well_formed_svg_with_label_and_title(make_client, ad, version):
    response = make_client("1.0").get(f"/banners/{ad.id}.svg?version={version}")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == f"{SVG}svg"
    text = all_text(root)
    assert f"Version {version}" in text
    assert ad.title in text
    assert root.get("data-ads-version") == version and root.get("data-ad-id") == ad.id
    # No external assets: nothing links out, fonts are generic families only.
    raw = response.get_data(as_text=True)
    assert "href" not in raw and "url(" not in raw and "@import" not in raw
    assert {e.get("font-family") for e in root.iter() if e.get("font-family")} == {"sans-serif"}


def test_text_is_escaped(make_client):
    response = make_client("1.0").get("/banners/kitchen-pots-pans.svg?version=1.0")
    raw = response.get_data(as_text=True)
    assert "Pots &amp; Pans week" in raw
    assert "Pots & Pans" not in raw
    assert "Pots & Pans week" in all_text(ET.fromstring(raw))


def test_markup_in_ad_text_cannot_break_out():
    hostile = Ad("x", 'Big <script>alert("1")</script> & co', "It's <b>bold</b> & \"quoted\"", "general", "/")
    with create_app({"ADS_VERSION": "1.0"}).test_request_context():
        svg = render_banner(hostile, "2.0")
    root = ET.fromstring(svg)
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
    assert not list(root.iter("b")) and not list(root.iter(f"{SVG}b"))
    text = all_text(root)
    assert 'Big <script>alert("1")</script> & co' in text
    assert "It's <b>bold</b> & \"quoted\"" in text


def test_versions_have_distinct_colours(make_client):
    client = make_client("1.0")
    one = ET.fromstring(client.get("/banners/free-shipping.svg?version=1.0").get_data())
    two = ET.fromstring(client.get("/banners/free-shipping.svg?version=2.0").get_data())
    assert fills(one) - {"#ffffff"} and not (fills(one) - {"#ffffff"}) & (fills(two) - {"#ffffff"})


def test_banner_is_the_same_whichever_version_serves_it(make_client):
    url = "/banners/outdoor-camping.svg?version=2.0"
    from_1 = make_client("1.0").get(url)
    from_2 = make_client("2.0").get(url)
    assert from_1.get_data() == from_2.get_data()
    assert from_1.headers["ETag"] == from_2.headers["ETag"]


@pytest.mark.parametrize("server_version", ["1.0", "2.0"])
def test_version_defaults_to_the_servers_own(make_client, server_version):
    response = make_client(server_version).get("/banners/gift-cards.svg")
    assert response.status_code == 200
    assert f"Version {server_version}" in all_text(ET.fromstring(response.get_data()))
    # Without ?version= the picture depends on who answered: caches must revalidate.
    assert response.cache_control.public and response.cache_control.max_age == 0
    assert response.cache_control.must_revalidate


def test_cache_headers_and_etag(make_client):
    client = make_client("1.0")
    response = client.get("/banners/gift-cards.svg?version=2.0")
    assert response.cache_control.public
    assert response.cache_control.max_age and response.cache_control.max_age >= 3600
    etag = response.headers["ETag"]
    assert etag
    again = client.get("/banners/gift-cards.svg?version=2.0", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    other = client.get("/banners/gift-cards.svg?version=1.0")
    assert other.headers["ETag"] != etag


@pytest.mark.parametrize("version", ["3.0", "1", "v1", "1.0 ", "x" * 300])
def test_unsupported_version_parameter_is_400(make_client, version):
    response = make_client("1.0").get("/banners/gift-cards.svg", query_string={"version": version})
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == "version" and "1.0, 2.0" in body["error"]
    assert len(body["error"]) < 120


def test_repeated_version_parameter_is_400(make_client):
    response = make_client("1.0").get("/banners/gift-cards.svg?version=1.0&version=2.0")
    assert response.status_code == 400 and response.get_json()["field"] == "version"


@pytest.mark.parametrize("ad_id", ["no-such-ad", "GIFT-CARDS", "gift-cards.svg", "x" * 1000, "%3Cb%3E"])
def test_unknown_ad_is_404_json(make_client, ad_id):
    response = make_client("1.0").get(f"/banners/{ad_id}.svg?version=1.0")
    assert response.status_code == 404
    body = response.get_json()
    assert body["status"] == 404 and body["error"].startswith("no ad with id")
    assert len(body["error"]) < 120


@pytest.mark.parametrize("ad", ADS, ids=lambda ad: ad.id)
def test_every_ad_text_fits_its_banner_uncut(ad):
    # The storefront's alt text repeats the ad's text whole; the picture must not show less of it.
    with create_app({"ADS_VERSION": "1.0"}).test_request_context():
        root = ET.fromstring(render_banner(ad, "1.0"))
    lines = [span.text for span in root.iter(f"{SVG}tspan")]
    assert " ".join(lines) == ad.text
