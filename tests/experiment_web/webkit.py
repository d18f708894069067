"""Reading the shop's pages and the experiment's counts the way the tests need them."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from html import unescape
from typing import Optional

BANNER = re.compile(r'<aside class="ad-banner" data-ads-version="([^"]+)" data-ad-id="([^"]+)"\s+'
                    r'data-page-source="([^"]+)">\s*<a class="ad-link" href="([^"]+)"')
PRODUCT_LINK = re.compile(r'href="/products/([a-z0-9-]+)"')


def banner(html: str) -> Optional[dict]:
    """The page's banner: version, ad id, page source and (unescaped) link; None without one."""
    found = BANNER.findall(html)
    assert len(found) <= 1, f"more than one banner: {found}"
    if not found:
        return None
    version, ad_id, page_source, href = found[0]
    return {"version": version, "ad_id": ad_id, "page_source": page_source, "href": unescape(href)}


def cells(report: dict, field: str) -> Counter:
    """(page_source, version) -> report segment field."""
    return Counter({(s["page_source"], s["version"]): s[field] for s in report["segments"] if s[field]})


def wait_for(fetch: Callable[[], dict], done: Callable[[dict], bool], timeout: float = 15.0) -> dict:
    """Poll fetch() until done(result) (the writer batches every 0.5 s); the last result either way."""
    deadline = time.monotonic() + timeout
    result = fetch()
    while not done(result) and time.monotonic() < deadline:
        time.sleep(0.2)
        result = fetch()
    return result
