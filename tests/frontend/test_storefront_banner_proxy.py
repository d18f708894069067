"""/ads/<ad_id>/banner.svg: the storefront's proxy for the ads service's banner pictures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from storefront_standin import json_reply, stand_in


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/ads/bad.id/banner.svg?version=1.0", "not a valid ad id"),
        ("/ads/-leading-dash/banner.svg?version=1.0", "not a valid ad id"),
        ("/ads/" + "a" * 65 + "/banner.svg?version=1.0", "not a valid ad id"),
        ("/ads/free-shipping/banner.svg", "must look like 1.0"),
        ("/ads/free-shipping/banner.svg?version=latest", "must look like 1.0"),
        ("/ads/free-shipping/banner.svg?version=1.0%0d%0ax", "must look like 1.0"),
    ],
)
def test_bad_ad_id_or_version_is_a_400(client, path, message):
    response = client.get(path)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_ads_service_down_is_a_502_with_a_short_message(client):
    response = client.get("/ads/free-shipping/banner.svg?version=1.0")
    assert response.status_code == 502
    assert response.get_data(as_text=True) == "The ads service is unavailable.\n"


def test_slow_ads_service_is_a_504(make_app):
    """Stand-in: a loopback server that answers after the read timeout."""
    svg = lambda path: (200, "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>")  # noqa: E731
    with stand_in(svg, delay=3) as server:
        client = make_app(server.url, ADS_READ_TIMEOUT="0.3").test_client()
        response = client.get("/ads/free-shipping/banner.svg?version=1.0")
    assert response.status_code == 504
    assert "did not answer in time" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (json_reply('{"error": "boom"}', status=500), 502),
        (lambda path: (200, "text/html", b"<html>not a picture</html>"), 502),
        (lambda path: (200, "image/svg+xml", b"<svg>" + b"x" * 300_000 + b"</svg>"), 502),
        (json_reply('{"error": "no such ad"}', status=404), 404),
    ],
    ids=["upstream-500", "not-svg", "oversized", "upstream-404"],
)
def test_upstream_failures_are_mapped(make_app, reply, status):
    """Stand-in: a loopback server answering what the real ads service would not."""
    with stand_in(reply) as server:
        response = make_app(server.url).test_client().get("/ads/free-shipping/banner.svg?version=1.0")
    assert response.status_code == status


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_proxies_the_real_banner_with_its_cache_headers(make_app, ads_v1, version):
    import requests

    client = make_app(ads_v1.url).test_client()
    response = client.get(f"/ads/free-shipping/banner.svg?version={version}")
    direct = requests.get(f"{ads_v1.url}/banners/free-shipping.svg", params={"version": version}, timeout=5)
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.data == direct.content
    assert f"Version {version}" in response.get_data(as_text=True)
    ET.fromstring(response.data)
    assert response.headers["Cache-Control"] == direct.headers["Cache-Control"]
    assert response.headers["ETag"] == direct.headers["ETag"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # A revalidation passes through as a 304.
    again = client.get(
        f"/ads/free-shipping/banner.svg?version={version}", headers={"If-None-Match": direct.headers["ETag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path", ["/ads/no-such-ad/banner.svg?version=1.0", "/ads/free-shipping/banner.svg?version=3.0"]
)
def test_banner_the_ads_service_lacks_is_a_404(make_app, ads_v1, path):
    response = make_app(ads_v1.url).test_client().get(path)
    assert response.status_code == 404
    assert response.get_data(as_text=True) == "No such banner.\n"
