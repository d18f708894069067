"""The Locust user: one simulated customer with its own cookie jar, browsing and clicking ads."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from typing import Optional
from urllib.parse import quote, urljoin, urlsplit

from locust import HttpUser, task

from .config import TrafficConfig
from .shop import Page, page_source_of, parse_page, same_site_path

_REDIRECTS = (301, 302, 303, 307, 308)


class Tally:
    """What the customers saw and did (all greenlets share one thread, so plain counters do)."""

    def __init__(self) -> None:
        self.page_views = 0
        self.banners: Counter = Counter()  # (page_source, version) -> banners seen
        self.clicks: Counter = Counter()  # (page_source, version) -> banners clicked
        self.cart_adds = 0
        self.refused_redirects = 0

    def as_dict(self) -> dict:
        def nested(counter: Counter) -> dict:
            out: dict = {}
            for (source, version), count in sorted(counter.items()):
                out.setdefault(source, {})[version] = count
            return out

        return {
            "page_views": self.page_views,
            "banners": nested(self.banners),
            "clicks": nested(self.clicks),
            "cart_adds": self.cart_adds,
            "refused_redirects": self.refused_redirects,
        }


def _request_name(path: str) -> str:
    """Group statistics by route rather than by product or ad."""
    parts = urlsplit(path)
    if parts.path.startswith("/products/"):
        return "/products/[slug]"
    if parts.path.startswith("/ads/"):
        return "/ads/[id]/click"
    return parts.path + ("?category=[c]" if "category=" in parts.query else "")


class ShopCustomer(HttpUser):
    """Browses home and product pages, sometimes adds to cart, clicks banners by relevance.

    Each task run is one action (a page view, a click or an add-to-cart), so
    constant_throughput bounds the actions per second. run.py sets config, tally and wait_time.
    """

    abstract = True
    config: TrafficConfig
    tally: Tally
    _numbers = itertools.count()

    def on_start(self) -> None:
        seed = self.config.seed
        self.rng = random.Random(None if seed is None else seed * 100_003 + next(self._numbers))
        self.slugs: list[str] = []
        self.path = "/"
        self.page = Page()
        self.next_action: Optional[str] = None

    @task
    def act(self) -> None:
        action, self.next_action = self.next_action, None
        if action == "click":
            self.click_banner()
        elif action == "cart":
            self.add_to_cart()
        elif not self.slugs or self.rng.random() < self.config.home_share:
            self.view("/")
        else:
            self.view(f"/products/{quote(self.rng.choice(self.slugs), safe='')}")

    def view(self, path: str) -> None:
        with self.client.get(path, name=_request_name(path), catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
        self.path, self.page = path, parse_page(response.text)
        self.tally.page_views += 1
        for slug in self.page.product_slugs:
            if slug not in self.slugs:
                self.slugs.append(slug)
        banner = self.page.banner
        on_product = urlsplit(path).path.startswith("/products/")
        if banner is not None:
            source = page_source_of(path, banner)
            self.tally.banners[(source, banner.version)] += 1
            relevant = on_product and banner.version == "2.0"
            propensity = self.config.click_relevant if relevant else self.config.click_general
            if banner.href and self.rng.random() < propensity:
                self.next_action = "click"
                return
        if on_product and self.page.cart_form() is not None and self.rng.random() < self.config.cart:
            self.next_action = "cart"

    def _follow(self, response: object, what: str) -> Optional[str]:
        """The in-shop path a redirect points to; an off-site target is a failure, never followed."""
        location = response.headers.get("Location", "")
        target = same_site_path(self.host, location)
        if target is None:
            self.tally.refused_redirects += 1
            response.failure(f"{what} redirected off the shop: {location!r}")
        return target

    def click_banner(self) -> None:
        banner = self.page.banner
        href = same_site_path(self.host, urljoin(self.path, banner.href))
        if href is None:
            self.tally.refused_redirects += 1
            return
        source = page_source_of(self.path, banner)
        with self.client.get(
            href, name=_request_name(href), allow_redirects=False, catch_response=True
        ) as response:
            done, target = self._outcome(response, "ad click")
        if not done:
            return
        self.tally.clicks[(source, banner.version)] += 1
        if target is not None:
            self.view(target)

    def add_to_cart(self) -> None:
        form = self.page.cart_form()
        action = same_site_path(self.host, urljoin(self.path, form.action or self.path))
        if action is None:
            return
        # The form's hidden csrf_token travels with the session cookie in our jar, as a browser's.
        with self.client.post(
            action, data=form.fields, name=_request_name(action), allow_redirects=False, catch_response=True
        ) as response:
            done, target = self._outcome(response, "add to cart")
        if not done:
            return
        self.tally.cart_adds += 1
        if target is not None:
            self.view(target)

    def _outcome(self, response: object, what: str) -> tuple:
        """(done, target) of a form post or click: not done when it failed or its redirect was refused."""
        if response.status_code in _REDIRECTS:
            target = self._follow(response, what)
            return target is not None, target
        if response.status_code == 200:
            return True, None
        response.failure(f"status {response.status_code}")
        return False, None
