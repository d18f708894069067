"""The error handlers both services install: every error answered in the service's own format.

An HTTP error (404, 405, a 400 from a check) keeps its status and headers (such as Allow); any
other exception is logged, marked on the request's span and answered as a bare 500, so a client
never learns about the internals and never gets Werkzeug's default page.
"""

from __future__ import annotations

import logging
from typing import Callable

from flask import Flask
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from shopcommon.tracing import record_exception

log = logging.getLogger(__name__)


def register_error_handlers(app: Flask, render: Callable[[HTTPException], Response]) -> None:
    """Answer every error of app with render(error), an HTTPException (a 500 for anything else)."""

    def http_error(error: HTTPException) -> Response:
        response = render(error)
        response.status_code = error.code or 500
        for name, value in error.get_headers():
            if name.lower() != "content-type":  # the body is render's, and so is its type
                response.headers[name] = value
        return response

    def unexpected_error(error: Exception) -> Response:
        log.error("unhandled error", exc_info=error)
        # Flask tells no one about an exception a handler turned into a 500: the span learns it here.
        record_exception(error)
        return http_error(InternalServerError())

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
