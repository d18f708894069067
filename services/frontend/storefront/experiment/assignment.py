"""Sticky per-customer A/B assignment: a stable hash of the customer id picks the arm.

Istio's route weights split requests, not people; hashing the first-party customer id gives
every customer one arm for the whole experiment, and the frontend forwards it as a header the
sticky VirtualService routes on.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Optional

COOKIE_NAME = "customer_id"
# Header the frontend sends to the ads service; istio/scenarios/sticky-ab.yaml matches it.
ASSIGNMENT_HEADER = "x-ads-arm"
DEFAULT_SALT = "ads-relevance-2"
DEFAULT_SHARE = 0.5

_UUID4_HEX = re.compile(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}")


def new_customer_id() -> str:
    """A fresh random customer id (uuid4, 32 lower-case hex digits)."""
    return uuid.uuid4().hex


def is_valid_customer_id(value: Optional[str]) -> bool:
    """True for a uuid4 in the 32-hex-digit form new_customer_id() makes; cookies are untrusted."""
    return isinstance(value, str) and _UUID4_HEX.fullmatch(value) is not None


def bucket(customer_id: str, salt: str = DEFAULT_SALT) -> float:
    """A number in [0, 1) fixed for (salt, customer); a new salt reshuffles everyone."""
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign(customer_id: str, share: float = DEFAULT_SHARE, salt: str = DEFAULT_SALT) -> str:
    """'v2' for the share of customers whose bucket is below share, else 'v1'."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    return "v2" if bucket(customer_id, salt) < share else "v1"
