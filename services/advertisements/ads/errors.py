"""Every error as JSON: clients (the storefront, curl, tests) never get an HTML page."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from shopcommon.tracing import record_exception
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, NotFound

logger = logging.getLogger(__name__)


def _http_error(error: HTTPException) -> Response:
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
    response = jsonify(body)
    response.status_code = error.code or 500
    # Keep the headers the error carries, such as Allow on a 405.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected_error(error: Exception) -> Response:
    # Details stay in the log; the client learns nothing about the internals.
    logger.error("unhandled error", exc_info=error)
    record_exception(error)
    response = jsonify({"error": InternalServerError.description, "status": 500})
    response.status_code = 500
    return response


def register_error_handlers(app: Flask) -> None:
    """JSON bodies for HTTP errors (404, 405, 400...) and for anything unexpected."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
