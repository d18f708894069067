"""The shop's pages in Debian's headless Chromium, served by real gunicorn processes (storefront and
advertisements 2.0 on loopback ports): they fit a phone and a desktop, axe-core finds nothing serious,
the keyboard alone can shop, and every product has a picture of its own.

One screenshot per page and size lands in test-artifacts/pages/ for a person to look at.
"""

from __future__ import annotations

import hashlib

import pytest
from axe_playwright_python.sync_playwright import Axe
from storefront.catalog.products import PRODUCTS, get_product
from testkit.browser import ARTIFACTS, launch_chromium
from testkit.processes import run_service

pytestmark = pytest.mark.browser

SCREENSHOTS = ARTIFACTS / "pages"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
PAGES = {
    "home": "/",
    "product": "/products/chef-knife",
    "cart": "/cart",
    "experiment": "/experiment",
}
BLOCKING_IMPACTS = ("serious", "critical")
# Enough Tab presses to cross any page of the shop; a page needing more is a keyboard trap.
MAX_TABS = 80


@pytest.fixture(scope="module")
def shop():
    """Base URL of a storefront (gunicorn) whose banners come from a real advertisements 2.0."""
    with run_service("advertisements", env={"ADS_VERSION": "2.0"}) as ads:
        with run_service("frontend", env={"ADS_URL": ads.url, "SECRET_KEY": "browser-test"}) as frontend:
            yield frontend.url


@pytest.fixture(scope="module")
def browser():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def new_page(browser):
    contexts = []

    def make(viewport: str = "desktop"):
        context = browser.new_context(viewport=VIEWPORTS[viewport])
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def every_image_loaded(page) -> bool:
    """Every picture on the page loaded and decoded (the pages load them eagerly, before `load`)."""
    return page.evaluate("Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")


def add_to_cart(page, shop: str, slug: str) -> None:
    assert page.goto(f"{shop}/products/{slug}").status == 200
    with page.expect_navigation():
        page.get_by_role("button", name="Add to cart").click()
    assert page.url == f"{shop}/cart"


def blocking_violations(page) -> list:
    results = Axe().run(page)
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]],
        }
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


def focused(page) -> dict:
    """What has the keyboard focus: its tag, classes, name and whether an outline shows."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {
                tag: el.tagName.toLowerCase(),
                classes: Array.from(el.classList),
                href: el.getAttribute("href"),
                text: (el.innerText || el.value || "").trim(),
                label: el.getAttribute("aria-label") || (el.labels?.[0]?.innerText ?? ""),
                outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
            };
        }"""
    )


def tab_to(page, matches) -> dict:
    """Press Tab until matches(focused element) holds; every stop on the way must show its focus."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        element = focused(page)
        if element["tag"] != "body":
            assert element["outline"], f"no visible focus on {element}"
        if matches(element):
            return element
    raise AssertionError(f"not reached with {MAX_TABS} Tab presses; last focus: {focused(page)}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("name", PAGES)
def test_page_fits_the_screen_and_passes_axe(shop, new_page, name, viewport):
    page = new_page(viewport)
    if name == "cart":
        add_to_cart(page, shop, "chef-knife")
        add_to_cart(page, shop, "rain-jacket")
    assert page.goto(shop + PAGES[name]).status == 200
    assert every_image_loaded(page)
    if name in ("home", "product"):
        assert page.locator(".ad-banner").count() == 1, "the ads service answered, so a banner shows"
    if name == "cart":
        assert page.locator("tr.cart-line").count() == 2

    page.screenshot(path=str(SCREENSHOTS / f"{name}-{viewport}.png"), full_page=True)
    widths = page.evaluate("({scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth})")
    assert widths["scroll"] <= widths["inner"], f"{name} scrolls sideways at {viewport}: {widths}"
    assert blocking_violations(page) == []


def test_the_grid_shows_sixteen_different_pictures(shop, new_page):
    page = new_page("desktop")
    assert page.goto(shop + "/").status == 200
    assert every_image_loaded(page)
    pictures = page.locator(".product-grid .product-card img")
    assert pictures.count() == len(PRODUCTS) == 16
    # What the browser drew, pixel for pixel: no two products share a picture.
    drawn = {hashlib.sha256(pictures.nth(n).screenshot()).hexdigest() for n in range(pictures.count())}
    assert len(drawn) == len(PRODUCTS)


def test_the_banner_is_one_link_with_its_words_once(shop, new_page):
    page = new_page("desktop")
    assert page.goto(shop + "/products/smart-speaker").status == 200
    banner = page.locator(".ad-banner")
    links = banner.locator("a")
    assert links.count() == 1
    href = links.first.get_attribute("href")
    assert href.startswith(f"/ads/{banner.get_attribute('data-ad-id')}/click?")
    image = banner.locator("img")
    alt = image.get_attribute("alt")
    title, _, text = alt.partition(": ")
    assert title and text, alt
    # The picture carries the words; the page around it does not print them again.
    assert banner.inner_text().strip() == "Sponsored · Version 2.0"
    assert banner.get_attribute("data-ads-version") == "2.0"


def test_shopping_with_the_keyboard_alone(shop, new_page):
    page = new_page("desktop")
    assert page.goto(shop + "/").status == 200

    # The first stop skips the header and the banner.
    skip = tab_to(page, lambda element: True)
    assert skip["classes"] == ["skip-link"], skip

    # The banner link, and Enter follows it through the click route to a page of the shop.
    banner = tab_to(page, lambda element: "ad-link" in element["classes"])
    assert banner["href"].startswith("/ads/")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.startswith(shop + "/") and page.locator(".product-grid").count() == 1

    # A product, then its quantity and the Add to cart button.
    assert page.goto(shop + "/").status == 200
    product = tab_to(page, lambda element: "product-link" in element["classes"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == shop + product["href"]
    tab_to(page, lambda element: element["tag"] == "input" and element["label"] == "Quantity")
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    tab_to(page, lambda element: element["tag"] == "button" and element["text"] == "Add to cart")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == shop + "/cart"
    line = page.locator("tr.cart-line")
    assert line.count() == 1 and line.get_attribute("data-quantity") == "2"
    assert page.locator(".cart-count").inner_text() == "2"

    # In the cart: change the quantity and submit with Enter; the line total and total follow.
    tab_to(page, lambda element: element["tag"] == "input" and element["label"].startswith("Quantity of"))
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    line = page.locator("tr.cart-line")
    assert line.get_attribute("data-quantity") == "3"
    price = get_product(product["href"].rsplit("/", 1)[-1]).price
    assert line.locator(".line-total").inner_text() == f"${price * 3:,.2f}"
    assert page.locator(".cart-total").inner_text() == f"${price * 3:,.2f}"
