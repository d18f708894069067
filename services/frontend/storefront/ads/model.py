"""The shape of an /ads answer, checked before anything of it reaches a page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

# Ids and versions end up in storefront URLs, so they are held to a strict alphabet.
AD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", re.ASCII)
VERSION = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}", re.ASCII)
PAGE_SOURCES = ("home", "products")
_MAX_TEXT = 500


class InvalidAdsResponse(ValueError):
    """The ads service answered, but not in the shape of an /ads answer (its openapi.yaml)."""


@dataclass(frozen=True)
class Ad:
    id: str
    title: str
    text: str
    target_url: str
    category: Optional[str]


@dataclass(frozen=True)
class AdsResponse:
    version: str
    page_source: str
    ads: tuple


def is_shop_path(url: str) -> bool:
    """True for a path inside this shop: no scheme, no host, no protocol-relative //."""
    return (
        url.startswith("/")
        and not url.startswith("//")
        and "\\" not in url
        and not any(ord(char) < 0x20 or char.isspace() for char in url)
    )


def _text(item: dict, key: str, required: bool = True) -> Optional[str]:
    value = item.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value) or len(value) > _MAX_TEXT:
        raise InvalidAdsResponse(f"ads[].{key} is not a short string: {value!r:.80}")
    return value


def _ad(item: Any) -> Ad:
    if not isinstance(item, dict):
        raise InvalidAdsResponse(f"ads[] entry is not an object: {item!r:.80}")
    ad_id = _text(item, "id")
    if not AD_ID.fullmatch(ad_id):
        raise InvalidAdsResponse(f"ads[].id is not a valid id: {ad_id!r:.80}")
    target_url = _text(item, "target_url")
    if not is_shop_path(target_url):
        raise InvalidAdsResponse(f"ads[].target_url is not a path in the shop: {target_url!r:.80}")
    return Ad(
        id=ad_id,
        title=_text(item, "title"),
        text=_text(item, "text"),
        target_url=target_url,
        category=_text(item, "category", required=False),
    )


def parse_ads_response(payload: Any) -> AdsResponse:
    """Validate a decoded /ads JSON body; raise InvalidAdsResponse naming the first problem."""
    if not isinstance(payload, dict):
        raise InvalidAdsResponse(f"body is not a JSON object: {type(payload).__name__}")
    version = payload.get("version")
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise InvalidAdsResponse(f"version is not like '1.0': {version!r:.80}")
    page_source = payload.get("page_source")
    if page_source not in PAGE_SOURCES:
        raise InvalidAdsResponse(f"page_source is not home or products: {page_source!r:.80}")
    ads = payload.get("ads")
    if not isinstance(ads, list):
        raise InvalidAdsResponse("ads is not a list")
    return AdsResponse(version=version, page_source=page_source, ads=tuple(_ad(item) for item in ads))
