"""The click route: validates its query, records the click, and never redirects out of the shop."""

from __future__ import annotations

from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from testkit.processes import free_port

SHOP = "http://shop.example"
GOOD = {"version": "2.0", "page_source": "products", "category": "kitchen"}


@pytest.fixture
def app(make_app):
    return make_app(f"http://127.0.0.1:{free_port()}")  # no ads needed: clicks come from the query


def click(client, target=None, ad_id="kitchen-coffee", **changes):
    query = {**GOOD, **changes}
    if target is not None:
        query["to"] = target
    query = {key: value for key, value in query.items() if value is not None}
    return client.get(f"/ads/{ad_id}/click?{urlencode(query)}", base_url=SHOP)


def stored_clicks(app) -> list:
    from sqlalchemy import select
    from storefront.experiment import store

    experiment = app.extensions["experiment"]
    assert experiment.writer.flush(timeout=10)
    with experiment.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(store.clicks))]


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.com/",
        "http://evil.com",
        "//evil.com",
        "//evil.com/?category=kitchen",
        "/\\evil.com",
        "\\\\evil.com",
        "/\\/evil.com",
        "javascript:alert(document.cookie)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "http:/evil.com",
        "https:evil.com",
        "evil.com",
        " /?category=kitchen",
        "/\t/evil.com",
        "/\n/evil.com",
        "/" + "a" * 600,
        "",
    ],
)
def test_the_redirect_refuses_anything_outside_the_shop(app, target):
    response = click(app.test_client(), target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    # What a browser would do with it: stay on the shop's own origin.
    assert urlsplit(urljoin(SHOP + "/ads/x/click", response.headers["Location"])).netloc == "shop.example"


def test_no_target_at_all_goes_home(app):
    response = click(app.test_client(), None)
    assert (response.status_code, response.headers["Location"]) == (303, "/")


@pytest.mark.parametrize("target", ["/", "/?category=kitchen", "/products/cast-iron-skillet", "/cart"])
def test_a_path_in_the_shop_is_followed(app, target):
    response = click(app.test_client(), target)
    assert response.status_code == 303
    assert response.headers["Location"] == target
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("ad_id", "changes", "message"),
    [
        ("bad id!", {}, "not a valid ad id"),
        ("-leading-dash", {}, "not a valid ad id"),
        ("kitchen-coffee", {"version": "latest"}, "version query parameter"),
        ("kitchen-coffee", {"version": None}, "version query parameter"),
        ("kitchen-coffee", {"page_source": "checkout"}, "page_source query parameter"),
        ("kitchen-coffee", {"page_source": None}, "page_source query parameter"),
        ("kitchen-coffee", {"category": "weapons"}, "category query parameter"),
    ],
)
def test_bad_input_is_a_400_page_with_a_message_and_records_nothing(app, ad_id, changes, message):
    response = click(app.test_client(), "/", ad_id=ad_id, **changes)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert "text/html" in response.headers["Content-Type"]
    assert stored_clicks(app) == []


def test_a_click_is_stored_with_its_fields_and_the_customer(app):
    client = app.test_client()
    first = click(client, "/?category=kitchen")
    cookie = client.get_cookie("customer_id", domain="shop.example")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    click(client, "/", category=None, page_source="home", version="1.0", ad_id="home-sale")
    [kitchen, home] = sorted(stored_clicks(app), key=lambda row: row["id"])
    assert first.status_code == 303
    assert (kitchen["ad_id"], kitchen["ads_version"], kitchen["page_source"], kitchen["category"]) == (
        "kitchen-coffee", "2.0", "products", "kitchen"
    )
    assert (home["ad_id"], home["ads_version"], home["page_source"], home["category"]) == (
        "home-sale", "1.0", "home", None
    )
    assert kitchen["customer_id"] == home["customer_id"] == cookie.value


def test_the_customer_cookie_is_set_once_and_kept(app):
    client = app.test_client()
    first = client.get("/cart", base_url=SHOP)
    assert "customer_id=" in first.headers.get("Set-Cookie", "")
    value = client.get_cookie("customer_id", domain="shop.example").value
    second = client.get("/cart", base_url=SHOP)
    assert "customer_id=" not in second.headers.get("Set-Cookie", "")
    assert client.get_cookie("customer_id", domain="shop.example").value == value


def test_a_forged_customer_cookie_is_replaced(app):
    client = app.test_client()
    client.set_cookie("customer_id", "<script>", domain="shop.example")
    click(client, "/")
    new = client.get_cookie("customer_id", domain="shop.example").value
    assert new != "<script>" and len(new) == 32
    assert [row["customer_id"] for row in stored_clicks(app)] == [new]


def test_probes_get_no_cookie(app):
    client = app.test_client()
    for path in ("/healthz", "/readyz"):
        assert "Set-Cookie" not in client.get(path).headers


def test_safe_target_unit():
    from storefront.experiment.views import safe_target

    assert safe_target("/?category=outdoor") == "/?category=outdoor"
    assert safe_target(None) == "/"
    assert safe_target("//evil.com") == "/"
    assert safe_target("/\\evil.com") == "/"
