"""When the ads service fails, pages still render 200, without a banner, and a warning is logged.

The stopped server is the real advertisements service. Slow and garbage-answering servers
are stand-ins (storefront_standin: a tiny real HTTP server on a loopback port), because the
real service cannot be made to misbehave on purpose.
"""

from __future__ import annotations

import pytest
from storefront_pages import banner, log_lines
from storefront_standin import VALID_ADS, json_reply, stand_in
from testkit.processes import run_service

PAGES = ("/", "/products/camping-lantern")


def _warnings(output: str) -> list:
    return [
        line
        for line in log_lines(output)
        if line["level"] == "warning" and line["logger"] == "storefront.ads.client"
    ]


def _assert_pages_without_banner(client) -> None:
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert banner(html) is None
        assert "data-ads-version" not in html
        assert 'class="product-' in html  # the page itself is complete


def test_stopped_ads_server(make_app, capsys):
    with run_service("advertisements", env={"ADS_VERSION": "1.0"}) as ads:
        client = make_app(ads.url).test_client()
        assert banner(client.get("/").get_data(as_text=True))["data-ads-version"] == "1.0"
        assert ads.stop() is not None
        assert ads.process.poll() is not None
        _assert_pages_without_banner(client)
    warnings = _warnings(capsys.readouterr().out)
    assert [line["page_source"] for line in warnings] == ["home", "products"]
    assert all("ConnectionError" in line["reason"] for line in warnings)


def test_ads_server_slower_than_the_read_timeout(make_app, capsys):
    """Stand-in: answers valid ads, but only after 3 s, beyond a 0.3 s read timeout."""
    with stand_in(json_reply(VALID_ADS), delay=3) as server:
        _assert_pages_without_banner(make_app(server.url, ADS_READ_TIMEOUT="0.3").test_client())
        assert len(server.requests) == len(PAGES)
    warnings = _warnings(capsys.readouterr().out)
    assert [line["message"] for line in warnings] == ["ads call timed out"] * len(PAGES)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (lambda path: (200, "text/html", b"<html><body>Bad gateway</body></html>"), "not JSON"),
        (lambda path: (200, "application/json", b'{"version": "1.0", "ads": [tru'), "not JSON"),
        (json_reply('{"version": "1.0", "page_source": "home"}'), "invalid shape"),
        (json_reply(VALID_ADS.replace('"/?category=', '"https://example.org/?category=')), "invalid shape"),
        (json_reply(VALID_ADS, status=500), "non-2xx status"),
        (json_reply(VALID_ADS, status=404), "non-2xx status"),
    ],
    ids=["html", "truncated-json", "missing-ads", "external-target", "status-500", "status-404"],
)
def test_ads_server_answering_garbage(make_app, capsys, reply, reason):
    """Stand-in: a loopback server answering what the real ads service never would."""
    with stand_in(reply) as server:
        _assert_pages_without_banner(make_app(server.url).test_client())
    warnings = _warnings(capsys.readouterr().out)
    assert len(warnings) == len(PAGES)
    assert all(reason in line["reason"] for line in warnings)


def test_ads_server_with_no_ads_is_not_an_error(make_app, capsys):
    """Stand-in: a valid answer with an empty ads list; no banner, and nothing to warn about."""
    with stand_in(json_reply('{"version": "1.0", "page_source": "home", "ads": []}')) as server:
        _assert_pages_without_banner(make_app(server.url).test_client())
    assert _warnings(capsys.readouterr().out) == []
