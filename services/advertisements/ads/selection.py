"""Which ads a request gets: the one place where 1.0 and 2.0 differ."""

from __future__ import annotations

import random
from typing import Optional

from ads.inventory import CATEGORIES, GENERAL, Ad, ads_in

HOME = "home"
PRODUCTS = "products"


def normalize_page_source(raw: Optional[str]) -> str:
    """The page-source header read as the mesh reads it: products, or else home.

    Exact and case-sensitive, like the Istio route that matches `exact: products`, so the
    service and the mesh always agree on what a product page is.
    """
    return PRODUCTS if raw == PRODUCTS else HOME


def eligible_ads(version: str, page_source: str, category: Optional[str]) -> tuple[Ad, ...]:
    """1.0 always serves house ads; 2.0 serves category ads on product pages of a known category."""
    if version == "2.0" and page_source == PRODUCTS and category in CATEGORIES:
        return ads_in(category)
    return ads_in(GENERAL)


def choose_ads(
    version: str,
    page_source: str,
    category: Optional[str],
    limit: int,
    rng: Optional[random.Random] = None,
) -> list[Ad]:
    """Up to limit distinct ads, picked at random among the eligible ones."""
    pool = eligible_ads(version, page_source, category)
    return (rng or random).sample(pool, min(limit, len(pool)))
