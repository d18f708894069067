"""Reading storefront HTML the way a browser or a tool would: by element and attribute."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Optional

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def elements(html: str, tag: Optional[str] = None, css_class: Optional[str] = None) -> list:
    """Attributes of every start tag matching tag and/or a class name."""
    parser = _Elements()
    parser.feed(html)
    return [
        attrs
        for name, attrs in parser.elements
        if (tag is None or name == tag)
        and (css_class is None or css_class in (attrs.get("class") or "").split())
    ]


def banner(html: str) -> Optional[dict]:
    """The banner element's attributes plus its image, alt text, link(s) and printed words, or None."""
    found = elements(html, css_class="ad-banner")
    if not found:
        return None
    assert len(found) == 1, "a page shows at most one banner"
    start = html.index('class="ad-banner"')
    end = html.index("</aside>", start)
    fragment = html[start:end]
    [image] = elements(fragment, tag="img")
    links = elements(fragment, tag="a")
    return {
        **found[0],
        "img": image["src"],
        "alt": image.get("alt"),
        "href": links[0]["href"],
        "links": len(links),
        # The words shown on the page around the picture (the first match is the opening tag's rest).
        "text": re.sub(r"<[^>]+>", " ", fragment.split(">", 1)[1]),
    }


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def log_lines(output: str) -> list:
    """The JSON log lines of a service's captured output (other lines are skipped)."""
    lines = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines
