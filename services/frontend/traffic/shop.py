"""Reading the shop's HTML the way a customer's eyes would: product links, the ad banner, forms."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Optional
from urllib.parse import unquote, urljoin, urlsplit

_PRODUCT_PATH = re.compile(r"/products/([^/?#]+)/?")
_CLICK_PATH = re.compile(r"/ads/([^/?#]+)/click")


@dataclass
class Banner:
    ad_id: str
    version: str
    page_source: Optional[str]
    href: Optional[str] = None


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    classes: tuple[str, ...] = ()


@dataclass
class Page:
    product_slugs: list[str] = field(default_factory=list)
    banner: Optional[Banner] = None
    forms: list[Form] = field(default_factory=list)

    def cart_form(self) -> Optional[Form]:
        """The add-to-cart form (a POST form aimed at the cart), if the page has one."""
        for form in self.forms:
            if form.method == "post" and ("add-to-cart" in form.classes or "cart" in form.action):
                return form
        return None


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._banner_tag: Optional[str] = None
        self._banner_depth = 0  # open elements named like the banner's, to find its end
        self._form: Optional[Form] = None
        self._click_links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        href = attributes.get("href", "")
        if tag == "a" and href:
            path = urlsplit(href).path
            match = _PRODUCT_PATH.fullmatch(path)
            if match:
                slug = unquote(match.group(1))
                if slug not in self.page.product_slugs:
                    self.page.product_slugs.append(slug)
            if _CLICK_PATH.match(path):
                self._click_links.append(href)
        if "data-ad-id" in attributes and self.page.banner is None:
            self.page.banner = Banner(
                ad_id=attributes["data-ad-id"],
                version=attributes.get("data-ads-version", ""),
                page_source=attributes.get("data-page-source") or None,
                href=href if tag == "a" and href else None,
            )
            self._banner_tag, self._banner_depth = tag, 1
        elif self._banner_tag is not None:
            if tag == self._banner_tag:
                self._banner_depth += 1
            if tag == "a" and href and self.page.banner.href is None:
                self.page.banner.href = href
        if tag == "form":
            self._form = Form(
                action=attributes.get("action", ""),
                method=attributes.get("method", "get").lower(),
                classes=tuple(attributes.get("class", "").split()),
            )
            self.page.forms.append(self._form)
        elif tag in ("input", "button", "select", "textarea") and self._form is not None:
            name = attributes.get("name")
            if name and attributes.get("type", "").lower() not in ("submit", "button", "image", "reset"):
                self._form.fields[name] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if self._banner_tag is not None and tag == self._banner_tag:
            self._banner_depth -= 1
            if self._banner_depth == 0:
                self._banner_tag = None
        if tag == "form":
            self._form = None

    def close(self) -> None:
        super().close()
        banner = self.page.banner
        if banner is not None and banner.href is None:
            # The link may wrap the banner element instead of sitting inside it.
            for href in self._click_links:
                if _CLICK_PATH.match(urlsplit(href).path).group(1) == banner.ad_id:
                    banner.href = href
                    break


def parse_page(html: str) -> Page:
    """Product slugs linked from the page, its ad banner (if any) and its forms."""
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser.page


def same_site_path(base_url: str, location: str) -> Optional[str]:
    """The path+query of location if it stays on base_url's site, else None (no open redirects)."""
    target = urlsplit(urljoin(base_url + "/", location))
    base = urlsplit(base_url)
    if (target.scheme, target.netloc) != (base.scheme, base.netloc):
        return None
    return target.path + (f"?{target.query}" if target.query else "")


def page_source_of(path: str, banner: Banner) -> str:
    """The banner's own data-page-source, else what the shop's routes imply."""
    if banner.page_source:
        return banner.page_source
    return "products" if urlsplit(path).path.startswith("/products/") else "home"
