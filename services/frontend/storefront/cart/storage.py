"""Cart lines in the session: {slug: quantity}, re-checked on every read."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask import session

from ..catalog.products import Product, get_product
from .forms import MAX_QUANTITY, MIN_QUANTITY

_KEY = "cart"


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int

    @property
    def subtotal(self) -> Decimal:
        return self.product.price * self.quantity


def quantities() -> dict:
    """The cart as {slug: quantity}, dropping entries for products the catalog no longer has."""
    raw = session.get(_KEY)
    if not isinstance(raw, dict):
        return {}
    return {
        slug: quantity
        for slug, quantity in raw.items()
        if get_product(slug) is not None
        and isinstance(quantity, int)
        and MIN_QUANTITY <= quantity <= MAX_QUANTITY
    }


def lines() -> list:
    return [CartLine(get_product(slug), quantity) for slug, quantity in quantities().items()]


def item_count() -> int:
    return sum(quantities().values())


def set_quantity(slug: str, quantity: int) -> None:
    cart = quantities()
    cart[slug] = quantity
    session[_KEY] = cart


def remove(slug: str) -> None:
    cart = quantities()
    cart.pop(slug, None)
    session[_KEY] = cart
