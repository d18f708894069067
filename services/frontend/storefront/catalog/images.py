"""Product pictures: the product's Lucide icon on its category's colour, as a small SVG.

The icons come from the `lucide` package, which ships Lucide's icon set (ISC licence, parts MIT
from Feather) with a Jinja/Python renderer (MIT). Every picture is built once, when this module is
imported, so serving one is a dictionary look-up, and a misspelt icon name stops the app at start-up.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from lucide.jinja import lucide

from .products import PRODUCTS, Product

# (background, icon stroke) per category; the strokes keep a contrast of at least 4.5:1 on their
# backgrounds, so a picture reads for low-vision shoppers too.
CATEGORY_COLOURS = {
    "kitchen": ("#fde8d7", "#9a3412"),
    "outdoor": ("#dff3e4", "#166534"),
    "electronics": ("#e1e8fb", "#1e40af"),
    "apparel": ("#f6e1f0", "#9d174d"),
}
SIZE = 200
ICON_SIZE = 112


@dataclass(frozen=True)
class Picture:
    svg: str
    etag: str


def _picture(product: Product) -> Picture:
    background, stroke = CATEGORY_COLOURS[product.category]
    offset = (SIZE - ICON_SIZE) // 2
    icon = lucide(product.icon, size=ICON_SIZE, x=offset, y=offset, stroke=stroke, stroke_width="1.5")
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}" width="{SIZE}" height="{SIZE}" '
        f'role="img" aria-label={quoteattr(product.name)}>'
        f'<rect width="{SIZE}" height="{SIZE}" fill="{background}"/>'
        f'<circle cx="{SIZE // 2}" cy="{SIZE // 2}" r="{SIZE * 2 // 5}" fill="#ffffff" fill-opacity="0.6"/>'
        f"{icon}</svg>"
    )
    return Picture(svg=svg, etag=hashlib.sha256(svg.encode()).hexdigest()[:32])


_PICTURES = {product.slug: _picture(product) for product in PRODUCTS}


def product_picture(product: Product) -> Picture:
    return _PICTURES[product.slug]
