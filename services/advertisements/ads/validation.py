"""Checks on client input: a bad value becomes a 400 naming the field, never a 500."""

from __future__ import annotations

import re
from typing import Optional

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

MAX_SLUG_LENGTH = 64
SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_LIMIT = 5


class InvalidField(BadRequest):
    """A 400 that also says which field was wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


def _single(args: MultiDict, field: str) -> Optional[str]:
    """The one value of a query parameter; None if absent or empty."""
    values = args.getlist(field)
    if len(values) > 1:
        raise InvalidField(field, "given more than once")
    return values[0] if values and values[0] != "" else None


def slug_param(args: MultiDict, field: str) -> Optional[str]:
    """An optional lowercase slug such as 'kitchen' or 'chef-knife'."""
    value = _single(args, field)
    if value is None:
        return None
    if len(value) > MAX_SLUG_LENGTH:
        raise InvalidField(field, f"longer than {MAX_SLUG_LENGTH} characters")
    if not SLUG_PATTERN.fullmatch(value):
        raise InvalidField(field, "must be lowercase letters, digits and single hyphens")
    return value


def limit_param(args: MultiDict, default: int = 1) -> int:
    """How many ads to return: a whole number from 1 to MAX_LIMIT."""
    value = _single(args, "limit")
    if value is None:
        return default
    # Checked as text first: int() would accept ' 3', '+3', '3_0' and huge digit strings.
    if not (value.isascii() and value.isdigit() and len(value) <= 2) or not 1 <= int(value) <= MAX_LIMIT:
        raise InvalidField("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def version_param(args: MultiDict, supported: tuple[str, ...], default: str) -> str:
    """An optional version label such as '2.0', one of supported."""
    value = _single(args, "version")
    if value is None:
        return default
    if value not in supported:
        shown = value if len(value) <= 10 else value[:10] + "..."
        raise InvalidField("version", f"{shown!r} is not one of {', '.join(supported)}")
    return value
