"""Cart page and its POST forms: add, update, remove (each redirects back, 303)."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from . import storage
from .forms import MAX_QUANTITY, AddToCartForm, RemoveFromCartForm, UpdateCartForm

bp = Blueprint("cart", __name__, template_folder="templates")


def _valid(form: FlaskForm) -> FlaskForm:
    """The form if its input is valid; otherwise a 400 page naming the problem."""
    if not form.validate():
        # CSRF failures never get here: CSRFProtect rejects them before the view runs.
        problems = [message for messages in form.errors.values() for message in messages]
        abort(400, description=" ".join(problems) or "The form is incomplete.")
    return form


def _back_to_cart() -> Response:
    return redirect(url_for("cart.show"), code=303)


@bp.get("/cart")
def show() -> str:
    lines = storage.lines()
    total = sum((line.subtotal for line in lines), Decimal("0"))
    return render_template("cart/cart.html", lines=lines, total=total)


@bp.post("/cart/add")
def add() -> Response:
    form = _valid(AddToCartForm())
    quantity = storage.quantities().get(form.slug.data, 0) + int(form.quantity.data)
    if quantity > MAX_QUANTITY:
        abort(400, description=f"At most {MAX_QUANTITY} of one product fit in a cart.")
    storage.set_quantity(form.slug.data, quantity)
    return _back_to_cart()


@bp.post("/cart/update")
def update() -> Response:
    form = _valid(UpdateCartForm())
    if form.slug.data not in storage.quantities():
        abort(400, description="That product is not in your cart.")
    storage.set_quantity(form.slug.data, int(form.quantity.data))
    return _back_to_cart()


@bp.post("/cart/remove")
def remove() -> Response:
    form = _valid(RemoveFromCartForm())
    # Removing what is already gone is fine: a double submit must not be an error.
    storage.remove(form.slug.data)
    return _back_to_cart()
