"""Cart forms. Flask-WTF adds the CSRF token; these check the slug and the quantity."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField
from wtforms.validators import ValidationError

from ..catalog.products import get_product

MIN_QUANTITY = 1
MAX_QUANTITY = 99
# ASCII digits only: int() would also accept " 7", "7_0" or non-Latin digits.
_DIGITS = re.compile(r"[0-9]{1,3}", re.ASCII)


def _known_product(form: FlaskForm, field: Field) -> None:
    if not field.data or get_product(field.data) is None:
        raise ValidationError("Unknown product.")


def _quantity(form: FlaskForm, field: Field) -> None:
    raw = field.data if isinstance(field.data, str) else ""
    if not _DIGITS.fullmatch(raw) or not MIN_QUANTITY <= int(raw) <= MAX_QUANTITY:
        raise ValidationError(f"Quantity must be a whole number from {MIN_QUANTITY} to {MAX_QUANTITY}.")


class ProductForm(FlaskForm):
    slug = HiddenField(validators=[_known_product])


class AddToCartForm(ProductForm):
    quantity = StringField("Quantity", validators=[_quantity])


class UpdateCartForm(ProductForm):
    quantity = StringField("Quantity", validators=[_quantity])


class RemoveFromCartForm(ProductForm):
    pass
