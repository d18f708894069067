"""Every error as JSON: clients (the storefront, curl, tests) never get an HTML page."""

from __future__ import annotations

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound


def render_error(error: HTTPException) -> Response:
    """The JSON body of an error: what went wrong, the status, and the field at fault if any."""
    body: dict = {"error": error.description or error.name, "status": error.code}
    if isinstance(error, NotFound) and error.description == NotFound.description:
        # Werkzeug's stock text talks about URLs typed by hand; say which path instead.
        body["error"] = f"no such resource: {request.path}"
    if isinstance(error, MethodNotAllowed):
        allowed = ", ".join(sorted(error.valid_methods or ()))
        body["error"] = f"method {request.method} is not allowed on {request.path}; use {allowed}"
    field = getattr(error, "field", None)
    if field:
        body["field"] = field
    return jsonify(body)
