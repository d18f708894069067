"""Home page with the product grid, product pages and product images."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from ..ads.banner import banner_for
from ..cart.forms import AddToCartForm
from .images import product_picture
from .products import CATEGORIES, get_product, products_in, related_to

bp = Blueprint("catalog", __name__, template_folder="templates")


@bp.get("/")
def home() -> str:
    category = request.args.get("category") or None
    if category is not None and category not in CATEGORIES:
        abort(400, description=f"Unknown category {category[:40]!r}. Choose one of: {', '.join(CATEGORIES)}.")
    return render_template(
        "catalog/home.html",
        products=products_in(category),
        category=category,
        banner=banner_for("home"),
    )


@bp.get("/products/<slug>")
def product(slug: str) -> str:
    item = get_product(slug)
    if item is None:
        abort(404, description="We have no product at this address.")
    form = AddToCartForm(slug=item.slug, quantity=1)
    return render_template(
        "catalog/product.html",
        product=item,
        related=related_to(item),
        form=form,
        banner=banner_for("products", category=item.category, slug=item.slug),
    )


@bp.get("/products/<slug>/image.svg")
def product_image(slug: str) -> Response:
    item = get_product(slug)
    if item is None:
        abort(404, description="We have no product at this address.")
    picture = product_picture(item)
    response = Response(picture.svg, mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    response.set_etag(picture.etag)
    return response.make_conditional(request)
