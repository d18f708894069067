"""Who the customer is: a first-party cookie with a random id, and in sticky mode the arm it is assigned."""

from __future__ import annotations

from flask import current_app, g, request
from werkzeug.wrappers import Response

from . import assignment
from .extension import current

COOKIE_MAX_AGE = 365 * 24 * 3600
# Probes and static files neither need nor should get a customer cookie.
_NO_CUSTOMER_ENDPOINTS = {"health.healthz", "health.readyz", "static"}


def identify_customer() -> None:
    """before_request: the customer id from the cookie, or a new one (set on the response)."""
    if request.endpoint in _NO_CUSTOMER_ENDPOINTS:
        return
    cookie = request.cookies.get(assignment.COOKIE_NAME)
    if assignment.is_valid_customer_id(cookie):
        g.customer_id, g.customer_is_new = cookie, False
    else:
        g.customer_id, g.customer_is_new = assignment.new_customer_id(), True
    settings = current(current_app).settings
    if settings.mode == "sticky":
        arm = assignment.assign(g.customer_id, settings.share)
        # Read by banner_for(): the sticky VirtualService routes products + x-ads-arm: v2 to v2.
        g.ads_headers = {assignment.ASSIGNMENT_HEADER: arm}


def set_customer_cookie(response: Response) -> Response:
    """after_request: hand a new customer its cookie."""
    if g.get("customer_is_new"):
        response.set_cookie(
            assignment.COOKIE_NAME,
            g.customer_id,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return response
