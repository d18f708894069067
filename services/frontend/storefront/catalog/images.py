"""Product pictures drawn as SVG from the product itself, so the repo ships no binary assets."""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

from .products import Product

# Background colour and a simple pictogram per category.
_STYLE = {
    "kitchen": (
        "#fde8d7",
        '<path d="M60 95h80v10a30 30 0 0 1-30 30h-20a30 30 0 0 1-30-30z" />'
        '<rect x="140" y="97" width="30" height="6" rx="3" />',
    ),
    "outdoor": (
        "#dff3e4",
        '<path d="M40 140l45-70 25 38 15-20 35 52z" /><circle cx="150" cy="60" r="12" />',
    ),
    "electronics": (
        "#e1e8fb",
        '<rect x="55" y="60" width="90" height="62" rx="6" />'
        '<rect x="80" y="128" width="40" height="8" rx="3" />',
    ),
    "apparel": (
        "#f6e1f0",
        '<path d="M75 55l-35 20 12 25 15-8v55h66v-55l15 8 12-25-35-20a25 20 0 0 1-50 0z" />',
    ),
}


def product_svg(product: Product) -> str:
    background, shape = _STYLE[product.category]
    # A stable hue per product, so pictures in one category still differ.
    hue = int(hashlib.sha256(product.slug.encode()).hexdigest()[:4], 16) % 360
    name = escape(product.name)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200" width="200" height="200" '
        f'role="img" aria-label="{name}">'
        f'<rect width="200" height="200" fill="{background}" />'
        f'<g fill="hsl({hue}, 55%, 45%)">{shape}</g>'
        f'<text x="100" y="175" font-family="sans-serif" font-size="13" text-anchor="middle" '
        f'fill="#333">{name}</text>'
        "</svg>"
    )
