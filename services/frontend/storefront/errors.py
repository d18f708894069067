"""HTML error pages: a message for every client error, a generic page for our own faults."""

from __future__ import annotations

from flask import make_response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

_GENERIC = "Sorry, something broke on our side. Please try again."


def render_error(error: HTTPException) -> Response:
    """The error page of error: its own message for a client error, a generic one for ours."""
    code = error.code or 500
    if isinstance(error, CSRFError):
        title, message = "Form expired", f"{error.description} Please go back, reload the page and try again."
    elif code >= 500:
        title, message = "Something went wrong", _GENERIC
    else:
        title, message = error.name, error.description or error.name
    return make_response(render_template("errors/error.html", code=code, title=title, message=message))
