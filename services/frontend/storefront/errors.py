"""HTML error pages: a message for every client error, a generic page for our own faults."""

from __future__ import annotations

import logging

from flask import Flask, make_response, render_template
from flask_wtf.csrf import CSRFError
from shopcommon.tracing import record_exception
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)
_GENERIC = "Sorry, something broke on our side. Please try again."


def _page(code: int, title: str, message: str, headers: tuple = ()) -> Response:
    body = render_template("errors/error.html", code=code, title=title, message=message)
    response = make_response(body, code)
    response.headers.extend(headers)
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Response:
        message = f"{error.description} Please go back, reload the page and try again."
        return _page(400, "Form expired", message)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        code = error.code or 500
        if code >= 500:
            return _page(code, "Something went wrong", _GENERIC)
        # Keep headers such as Allow on a 405; the body is ours.
        headers = tuple((k, v) for k, v in error.get_headers() if k.lower() != "content-type")
        return _page(code, error.name, error.description or error.name, headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.error("unhandled error", exc_info=error)
        record_exception(error)
        return _page(500, "Something went wrong", _GENERIC)
