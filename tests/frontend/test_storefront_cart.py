"""Cart: add, update, remove through POST forms with CSRF; every bad input is a 400 page."""

from __future__ import annotations

import re

import pytest
from storefront_pages import csrf_token, elements


@pytest.fixture
def token(client) -> str:
    return csrf_token(client.get("/products/chef-knife").get_data(as_text=True))


def _lines(client) -> dict:
    html = client.get("/cart").get_data(as_text=True)
    rows = elements(html, tag="tr", css_class="cart-line")
    return {row["data-slug"]: int(row["data-quantity"]) for row in rows}


def _post(client, path, token, **form):
    return client.post(path, data={"csrf_token": token, **form})


def test_empty_cart(client):
    response = client.get("/cart")
    assert response.status_code == 200
    assert "Your cart is empty" in response.get_data(as_text=True)


def test_add_update_remove(client, token):
    response = _post(client, "/cart/add", token, slug="chef-knife", quantity="2")
    assert response.status_code == 303
    assert response.headers["Location"] == "/cart"
    assert _lines(client) == {"chef-knife": 2}

    _post(client, "/cart/add", token, slug="chef-knife", quantity="3")
    _post(client, "/cart/add", token, slug="rain-jacket", quantity="1")
    assert _lines(client) == {"chef-knife": 5, "rain-jacket": 1}
    html = client.get("/cart").get_data(as_text=True)
    assert "$344.00" in html  # 5 x 49.00 + 99.00
    assert '<span class="cart-count">6</span>' in html

    assert _post(client, "/cart/update", token, slug="chef-knife", quantity="1").status_code == 303
    assert _lines(client) == {"chef-knife": 1, "rain-jacket": 1}

    assert _post(client, "/cart/remove", token, slug="chef-knife").status_code == 303
    assert _lines(client) == {"rain-jacket": 1}
    # Removing again (a double submit) is not an error.
    assert _post(client, "/cart/remove", token, slug="chef-knife").status_code == 303


def test_cart_shows_line_totals_and_the_total(client, token):
    _post(client, "/cart/add", token, slug="chef-knife", quantity="3")
    _post(client, "/cart/add", token, slug="trail-socks", quantity="2")
    html = client.get("/cart").get_data(as_text=True)
    line_totals = re.findall(r'<td class="num line-total"[^>]*>([^<]+)</td>', html)
    assert line_totals == ["$147.00", "$28.00"]  # 3 x 49.00, 2 x 14.00
    assert re.search(r'<td class="num cart-total">\$175.00</td>', html)


def test_cart_forms_carry_csrf_tokens(client, token):
    _post(client, "/cart/add", token, slug="usb-c-hub", quantity="1")
    html = client.get("/cart").get_data(as_text=True)
    forms = elements(html, tag="form")
    assert {form["action"] for form in forms} == {"/cart/update", "/cart/remove"}
    assert html.count('name="csrf_token"') == len(forms)


@pytest.mark.parametrize("quantity", ["0", "100", "-1", "abc", "1.5", "", " 5", "\u0663", "1e2", "007x"])
def test_bad_quantity_is_a_400_with_a_message(client, token, quantity):
    response = _post(client, "/cart/add", token, slug="chef-knife", quantity=quantity)
    assert response.status_code == 400
    assert "Quantity must be a whole number from 1 to 99." in response.get_data(as_text=True)
    assert _lines(client) == {}


def test_missing_quantity_is_a_400(client, token):
    response = _post(client, "/cart/add", token, slug="chef-knife")
    assert response.status_code == 400
    assert "Quantity must be" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/cart/add", "/cart/update", "/cart/remove"])
@pytest.mark.parametrize("slug", ["no-such-product", "", "../etc"])
def test_unknown_product_is_a_400(client, token, path, slug):
    response = _post(client, path, token, slug=slug, quantity="1")
    assert response.status_code == 400
    assert "Unknown product." in response.get_data(as_text=True)


def test_adding_beyond_99_is_a_400(client, token):
    _post(client, "/cart/add", token, slug="trail-socks", quantity="60")
    response = _post(client, "/cart/add", token, slug="trail-socks", quantity="40")
    assert response.status_code == 400
    assert "At most 99" in response.get_data(as_text=True)
    assert _lines(client) == {"trail-socks": 60}


def test_updating_a_product_not_in_the_cart_is_a_400(client, token):
    response = _post(client, "/cart/update", token, slug="smart-speaker", quantity="2")
    assert response.status_code == 400
    assert "not in your cart" in response.get_data(as_text=True)


def test_missing_csrf_token_is_a_400_with_a_message(client):
    response = client.post("/cart/add", data={"slug": "chef-knife", "quantity": "1"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The CSRF token is missing." in html
    assert "reload the page" in html
    assert _lines(client) == {}


def test_wrong_csrf_token_is_a_400(client, token):
    response = _post(client, "/cart/add", token[:-2] + "xx", slug="chef-knife", quantity="1")
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_csrf_token_of_another_session_is_refused(make_app, closed_url, token):
    other = make_app(closed_url).test_client()
    response = _post(other, "/cart/add", token, slug="chef-knife", quantity="1")
    assert response.status_code == 400


def test_oversized_form_is_a_413_page(client, token):
    response = _post(client, "/cart/add", token, slug="chef-knife", quantity="1", padding="x" * 100_000)
    assert response.status_code == 413
    assert response.mimetype == "text/html"


def test_get_on_a_form_endpoint_is_a_405(client):
    assert client.get("/cart/add").status_code == 405


def test_tampered_session_cookie_gives_an_empty_cart(client, token):
    _post(client, "/cart/add", token, slug="chef-knife", quantity="1")
    client.set_cookie("session", "eyJjYXJ0Ijp7ImNoZWYta25pZmUiOjV9fQ.forged.signature")
    assert _lines(client) == {}
