"""The shop's products. Categories are shared with the ads service's relevance rules."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

CATEGORIES = ("kitchen", "outdoor", "electronics", "apparel")


@dataclass(frozen=True)
class Product:
    slug: str
    name: str
    price: Decimal
    category: str
    description: str
    # The name of the Lucide icon that pictures the product (images.py draws it).
    icon: str


def _product(slug: str, name: str, price: str, category: str, icon: str, description: str) -> Product:
    assert category in CATEGORIES, category
    return Product(slug, name, Decimal(price), category, description, icon)


PRODUCTS = (
    _product("chef-knife", "Chef's Knife", "49.00", "kitchen", "slice",
             "A 20 cm forged steel knife with a full tang, balanced for everyday chopping."),
    _product("cast-iron-skillet", "Cast Iron Skillet", "34.50", "kitchen", "cooking-pot",
             "Pre-seasoned 26 cm skillet that goes from the stove top to the oven."),
    _product("pour-over-coffee-set", "Pour-Over Coffee Set", "27.00", "kitchen", "coffee",
             "Ceramic dripper, glass carafe and 100 filters for a clean morning cup."),
    _product("bamboo-cutting-board", "Bamboo Cutting Board", "19.90", "kitchen", "utensils-crossed",
             "Knife-friendly bamboo board with a juice groove on one side."),
    _product("trail-backpack", "Trail Backpack 28L", "89.00", "outdoor", "backpack",
             "Light day pack with a ventilated back panel and a rain cover."),
    _product("camping-lantern", "Camping Lantern", "24.99", "outdoor", "lamp-ceiling",
             "Rechargeable LED lantern with three brightness levels and a hook."),
    _product("insulated-bottle", "Insulated Bottle", "21.00", "outdoor", "milk",
             "Keeps drinks cold for 24 hours or hot for 12; 750 ml."),
    _product("two-person-tent", "Two-Person Tent", "149.00", "outdoor", "tent",
             "Freestanding three-season tent that pitches in five minutes."),
    _product("wireless-earbuds", "Wireless Earbuds", "59.00", "electronics", "headphones",
             "Bluetooth earbuds with a charging case and 20 hours of play time."),
    _product("portable-charger", "Portable Charger", "29.99", "electronics", "battery-charging",
             "10,000 mAh power bank with USB-C in and out."),
    _product("smart-speaker", "Smart Speaker", "79.00", "electronics", "speaker",
             "Room-filling sound with voice control and multi-room pairing."),
    _product("usb-c-hub", "USB-C Hub", "39.50", "electronics", "usb",
             "Seven ports: HDMI, SD, three USB-A, USB-C power and Ethernet."),
    _product("rain-jacket", "Rain Jacket", "99.00", "apparel", "umbrella",
             "Waterproof, breathable shell that packs into its own pocket."),
    _product("merino-beanie", "Merino Beanie", "25.00", "apparel", "snowflake",
             "Soft merino wool beanie that stays warm without itching."),
    _product("trail-socks", "Trail Socks (2 pairs)", "14.00", "apparel", "footprints",
             "Cushioned hiking socks with reinforced heels and toes."),
    _product("canvas-sneakers", "Canvas Sneakers", "64.00", "apparel", "sport-shoe",
             "Classic low-top sneakers with a vulcanised rubber sole."),
)
_BY_SLUG = {product.slug: product for product in PRODUCTS}


def get_product(slug: str) -> Optional[Product]:
    return _BY_SLUG.get(slug)


def products_in(category: Optional[str] = None) -> list:
    """All products, or those of one category (the caller validated it)."""
    return [product for product in PRODUCTS if category is None or product.category == category]


def related_to(product: Product) -> list:
    """The other products of product's category, in catalog order."""
    return [other for other in products_in(product.category) if other.slug != product.slug]
