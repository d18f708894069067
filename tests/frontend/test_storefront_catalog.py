"""Home grid, category filter, product pages and product images (ads at a closed port)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from storefront_pages import banner, elements


def _cards(html: str) -> list:
    return elements(html, tag="li", css_class="product-card")


def test_home_lists_the_whole_catalog(client):
    from storefront.catalog.products import CATEGORIES, PRODUCTS

    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    cards = _cards(html)
    assert [card["data-slug"] for card in cards] == [product.slug for product in PRODUCTS]
    assert len(cards) >= 12
    for category in ("kitchen", "outdoor", "electronics", "apparel"):
        assert category in CATEGORIES
        assert sum(card["data-category"] == category for card in cards) >= 3
    for product in PRODUCTS:
        assert f"/products/{product.slug}/image.svg" in html
        assert f"${product.price:,.2f}" in html
    # The ads service is unreachable: the page still renders, without a banner.
    assert banner(html) is None


@pytest.mark.parametrize("category", ["kitchen", "outdoor", "electronics", "apparel"])
def test_home_filters_by_category(client, category):
    response = client.get(f"/?category={category}")
    assert response.status_code == 200
    cards = _cards(response.get_data(as_text=True))
    assert len(cards) >= 3
    assert {card["data-category"] for card in cards} == {category}


def test_empty_category_means_all(client):
    assert len(_cards(client.get("/?category=").get_data(as_text=True))) == len(
        _cards(client.get("/").get_data(as_text=True))
    )


@pytest.mark.parametrize("category", ["garden", "Kitchen", "<script>alert(1)</script>", "x" * 5000])
def test_unknown_category_is_a_400_page_with_a_message(client, category):
    response = client.get("/", query_string={"category": category})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Unknown category" in html
    assert "kitchen, outdoor, electronics, apparel" in html
    assert "<script>alert" not in html


def test_product_page_shows_details_and_form(client):
    response = client.get("/products/cast-iron-skillet")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Cast Iron Skillet</h1>" in html
    assert "$34.50" in html
    assert "Pre-seasoned" in html
    [article] = elements(html, tag="article")
    assert article["data-category"] == "kitchen"
    [form] = elements(html, tag="form", css_class="add-to-cart")
    assert form["method"] == "post" and form["action"] == "/cart/add"
    names = {field.get("name") for field in elements(html, tag="input")}
    assert {"csrf_token", "slug", "quantity"} <= names
    assert banner(html) is None


def test_product_page_has_a_breadcrumb_and_related_products(client):
    from storefront.catalog.products import products_in

    html = client.get("/products/trail-socks").get_data(as_text=True)
    [crumbs] = elements(html, tag="nav", css_class="breadcrumb")
    assert crumbs["aria-label"] == "Breadcrumb"
    start = html.index('class="breadcrumb"')
    trail = html[start:html.index("</nav>", start)]
    assert [link["href"] for link in elements(trail, tag="a")] == ["/", "/?category=apparel"]
    assert '<li aria-current="page">Trail Socks (2 pairs)</li>' in trail
    related = [card["data-slug"] for card in _cards(html)]
    assert related == [p.slug for p in products_in("apparel") if p.slug != "trail-socks"]
    assert {card["data-category"] for card in _cards(html)} == {"apparel"}


NO_PRODUCT = "We have no product at this address."


@pytest.mark.parametrize(("method", "path", "status", "shown", "allowed"), [
    ("GET", "/products/no-such-thing", 404, NO_PRODUCT, None),
    ("GET", "/products/CHEF-KNIFE", 404, NO_PRODUCT, None),
    ("GET", "/products/a%20b", 404, NO_PRODUCT, None),
    ("GET", "/products/nope/image.svg", 404, NO_PRODUCT, None),
    ("GET", "/no/such/page", 404, "Back to the shop", None),
    ("POST", "/", 405, "Method Not Allowed", {"GET", "HEAD", "OPTIONS"}),
])
def test_a_client_error_is_an_html_page_saying_what_went_wrong(client, method, path, status, shown, allowed):
    response = client.open(path, method=method)
    assert (response.status_code, response.mimetype) == (status, "text/html")
    assert shown in response.get_data(as_text=True)
    # A 405 keeps the header that says what would work.
    assert (set(response.headers["Allow"].split(", ")) if "Allow" in response.headers else None) == allowed


def test_product_image_is_a_cacheable_svg(client):
    response = client.get("/products/trail-backpack/image.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "Trail Backpack 28L" in response.get_data(as_text=True)
    assert "max-age=86400" in response.headers["Cache-Control"]
    etag = response.headers["ETag"]
    again = client.get("/products/trail-backpack/image.svg", headers={"If-None-Match": etag})
    assert again.status_code == 304


def _drawing(svg: bytes) -> bytes:
    """The icon's shapes inside a product picture, without its colours."""
    root = ET.fromstring(svg)
    [icon] = root.findall("{http://www.w3.org/2000/svg}svg")
    for element in icon.iter():
        element.attrib.pop("stroke", None)
    return ET.tostring(icon)


def test_every_product_has_a_picture_of_its_own(client):
    from storefront.catalog.images import CATEGORY_COLOURS
    from storefront.catalog.products import PRODUCTS

    assert len({product.icon for product in PRODUCTS}) == len(PRODUCTS) == 16
    drawings = set()
    for product in PRODUCTS:
        response = client.get(f"/products/{product.slug}/image.svg")
        assert response.status_code == 200
        root = ET.fromstring(response.data)
        # The category's colours stay: its background, and its stroke on the icon.
        background, stroke = CATEGORY_COLOURS[product.category]
        assert root.find("{http://www.w3.org/2000/svg}rect").get("fill") == background
        assert f'stroke="{stroke}"' in response.get_data(as_text=True)
        drawings.add(_drawing(response.data))
    # Different shapes, not the same shape in different colours.
    assert len(drawings) == len(PRODUCTS)


def test_product_pictures_are_built_once():
    from storefront.catalog.images import product_picture
    from storefront.catalog.products import get_product

    knife = get_product("chef-knife")
    assert product_picture(knife) is product_picture(knife)


def test_stylesheet_is_served(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert ".product-grid" in response.get_data(as_text=True)
    response.close()
