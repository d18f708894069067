"""The ads client: response validation, header forwarding, pooling and no retries.

Behaviour is checked over real HTTP against the stand-in server of storefront_standin
(a tiny loopback server that stands in for an ads service we need to misbehave or record).
"""

from __future__ import annotations

import json
import logging

import pytest
from storefront_pages import banner, log_lines
from storefront_standin import VALID_ADS, json_reply, stand_in


def _valid_payload() -> dict:
    return json.loads(VALID_ADS)


def test_valid_payload_parses():
    from storefront.ads.model import parse_ads_response

    answer = parse_ads_response(_valid_payload())
    assert answer.version == "2.0"
    assert answer.page_source == "products"
    assert [ad.id for ad in answer.ads] == ["standin-ad"]
    assert answer.ads[0].target_url == "/?category=kitchen"


def _broken(**changes) -> dict:
    payload = _valid_payload()
    for path, value in changes.items():
        target = payload["ads"][0] if path.startswith("ad_") else payload
        key = path[3:] if path.startswith("ad_") else path
        if value is KeyError:
            del target[key]
        else:
            target[key] = value
    return payload


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        None,
        _broken(version=2.0),
        _broken(version="two"),
        _broken(version=KeyError),
        _broken(page_source="checkout"),
        _broken(ads={"id": "x"}),
        _broken(ads=["not an object"]),
        _broken(ad_id="bad id"),
        _broken(ad_id="../x"),
        _broken(ad_id=KeyError),
        _broken(ad_title=7),
        _broken(ad_text="x" * 1000),
        _broken(ad_target_url="https://evil.example/"),
        _broken(ad_target_url="//evil.example/"),
        _broken(ad_target_url="/\\evil.example"),
        _broken(ad_target_url="javascript:alert(1)"),
        _broken(ad_target_url=KeyError),
    ],
)
def test_invalid_payloads_are_refused(payload):
    from storefront.ads.model import InvalidAdsResponse, parse_ads_response

    with pytest.raises(InvalidAdsResponse):
        parse_ads_response(payload)


def test_create_app_refuses_bad_settings(make_app):
    from shopcommon.settings import SettingError

    with pytest.raises(SettingError, match="ADS_CONNECT_TIMEOUT"):
        make_app("http://127.0.0.1:1", ADS_CONNECT_TIMEOUT="x")


def test_create_app_reads_the_environment(monkeypatch):
    from storefront import create_app

    monkeypatch.setenv("ADS_URL", "http://127.0.0.1:4999")
    monkeypatch.setenv("ADS_READ_TIMEOUT", "0.75")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    app = create_app()
    client = app.extensions["ads_client"]
    assert client.settings.url == "http://127.0.0.1:4999"
    assert client.timeout == (0.5, 0.75)
    assert app.config["SECRET_KEY"] == "from-env"


def test_missing_secret_key_is_generated_with_a_warning(capsys):
    from storefront import create_app

    # create_app installs the JSON log handler on stdout, so the warning is read there.
    first = create_app({"ADS_URL": "http://127.0.0.1:1"})
    second = create_app({"ADS_URL": "http://127.0.0.1:1"})
    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]
    warnings = [line for line in log_lines(capsys.readouterr().out) if line["level"] == "warning"]
    assert [line["message"] for line in warnings] == [
        "SECRET_KEY is not set: generated one; sessions end when this process stops"
    ] * 2
    assert {line["service"] for line in warnings} == {"frontend"}
    # Sessions work with the generated key.
    client = first.test_client()
    assert client.get("/cart").status_code == 200


def test_debug_is_never_on(make_app, closed_url):
    app = make_app(closed_url, DEBUG=True)
    assert app.debug is False


def test_retry_policy_is_no_retries(app):
    client = app.extensions["ads_client"]
    for prefix in ("http://", "https://"):
        retries = client.session.get_adapter(prefix + "ads").max_retries
        assert (retries.total, retries.connect, retries.read, retries.status) == (0, 0, False, 0)
    assert client.session.trust_env is False


@pytest.mark.parametrize("reply", [json_reply("{}", status=503), lambda path: None], ids=["503", "hang-up"])
def test_a_failed_call_is_not_retried(make_app, reply):
    with stand_in(reply) as server:
        client = make_app(server.url).test_client()
        response = client.get("/")
    assert response.status_code == 200
    assert banner(response.get_data(as_text=True)) is None
    assert len(server.requests) == 1


def test_every_page_view_makes_one_call_over_one_pooled_connection(make_app):
    with stand_in(json_reply(VALID_ADS)) as server:
        app = make_app(server.url)
        session = app.extensions["ads_client"].session
        client = app.test_client()
        for path in ("/", "/products/chef-knife", "/", "/products/rain-jacket", "/cart"):
            assert client.get(path).status_code == 200
        assert app.extensions["ads_client"].session is session
    # /cart shows no banner; each of the four other views asked the ads service afresh.
    assert [request["path"].split("?")[0] for request in server.requests] == ["/ads"] * 4
    # Keep-alive through the one pooled session: all calls share a connection.
    assert len({request["client_port"] for request in server.requests}) == 1


def test_forwards_page_source_context_and_every_tracing_header(make_app):
    from storefront.ads.client import TRACING_HEADERS

    inbound = {name: f"value-of-{name}" for name in TRACING_HEADERS}
    inbound["x-unrelated"] = "must not be forwarded"
    inbound["cookie"] = "session=secret"
    with stand_in(json_reply(VALID_ADS)) as server:
        client = make_app(server.url).test_client()
        client.get("/products/usb-c-hub", headers=inbound)
        client.get("/", headers={"x-request-id": "home-view"})
    product_call, home_call = server.requests
    assert product_call["path"] == "/ads?category=electronics&slug=usb-c-hub"
    assert product_call["headers"]["page-source"] == "products"
    for name in TRACING_HEADERS:
        assert product_call["headers"][name] == f"value-of-{name}"
    assert "x-unrelated" not in product_call["headers"]
    assert "cookie" not in product_call["headers"]
    assert home_call["path"] == "/ads"
    assert home_call["headers"]["page-source"] == "home"
    assert home_call["headers"]["x-request-id"] == "home-view"
    assert "traceparent" not in home_call["headers"]


def test_forwards_the_preview_routing_header(make_app):
    with stand_in(json_reply(VALID_ADS)) as server:
        client = make_app(server.url).test_client()
        client.get("/products/usb-c-hub", headers={"x-ads-preview": "v2"})
        client.get("/products/usb-c-hub")
    with_preview, without_preview = server.requests
    assert with_preview["headers"]["x-ads-preview"] == "v2"
    assert "x-ads-preview" not in without_preview["headers"]


def test_banner_shown_signal_fires_once_per_banner(make_app):
    from storefront.ads.banner import banner_shown

    seen = []

    def record(sender, banner):
        seen.append((banner.ad.id, banner.version, banner.page_source, banner.category, banner.slug))

    with stand_in(json_reply(VALID_ADS)) as server:
        app = make_app(server.url)
        banner_shown.connect(record, app)
        try:
            app.test_client().get("/products/chef-knife")
        finally:
            banner_shown.disconnect(record, app)
    assert seen == [("standin-ad", "2.0", "products", "kitchen", "chef-knife")]


def test_failure_is_logged_as_a_warning(client, caplog):
    with caplog.at_level(logging.WARNING, logger="storefront.ads.client"):
        assert client.get("/").status_code == 200
    [record] = [r for r in caplog.records if r.name == "storefront.ads.client"]
    assert record.levelno == logging.WARNING
    assert record.page_source == "home"
    assert "ConnectionError" in record.reason
