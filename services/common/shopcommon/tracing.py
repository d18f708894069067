"""Datadog tracing for the shop's Flask apps: one server span per request, from ddtrace's public API.

ddtrace's Flask integration makes a span for every hook, dispatch and teardown (about twenty a
product page view), which costs half the throughput on two cores and buries the path a request
takes. The services run with it off (DD_TRACE_FLASK_ENABLED=false in the manifests, compose file
and images); init_app() then gives each request one web span instead: the caller's trace context
continued, resource "<METHOD> <route>", 5xx and exceptions marked as errors, and one child span
per rendered template. The `requests` integration still makes the client span of the ads call,
and ddtrace's log injection puts the active span's ids on every log line.

Everything here is a no-op unless ddtrace-run already loaded ddtrace: importing it from here
would start a tracer in processes that run without tracing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, Callable, Optional
from urllib.parse import quote

from flask import Flask, g, has_request_context, request
from flask.signals import before_render_template, template_rendered

from shopcommon.jsonlog import PROBE_PATHS

# The operation names of Datadog's Flask integration, so service pages, monitors and saved
# queries built on them keep working.
SERVER_SPAN_NAME = "flask.request"
RENDER_SPAN_NAME = "flask.render_template"
_SPAN_KEY = "shopcommon.server_span"  # in the WSGI environ
_RENDER_STACK = "_shopcommon_render_spans"  # on flask.g

# The integrations whose spans make up the demo's service map: the web request and the
# outbound call to the ads service.
NAMED_INTEGRATIONS = ("flask", "requests")


def attribute_spans_to_service() -> None:
    """Name the web and HTTP-client spans after DD_SERVICE, so they carry its version tag.

    ddtrace 4 treats a DD_SERVICE equal to the name it infers from the command line (gunicorn
    in services/frontend infers "frontend") as unset, and falls back to integration names:
    service "flask" or "requests", without a version tag. The manifests set
    DD_TRACE_REMOVE_INTEGRATION_SERVICE_NAMES_ENABLED=true, which fixes this; a launcher that
    forgot it (a hand-typed ddtrace-run, an image without the variable) gets the same result
    for these spans from here. The server span of init_app() names its service itself.
    """
    if "ddtrace" not in sys.modules:
        return
    from ddtrace import config

    if not config.service:
        return
    for name in NAMED_INTEGRATIONS:
        getattr(config, name)["service"] = config.service


def integration_enabled(name: str) -> bool:
    """Whether ddtrace-run patches integration name (on unless DD_TRACE_<NAME>_ENABLED says
    otherwise; ddtrace reads only "true" and "1" as on)."""
    value = os.environ.get(f"DD_TRACE_{name.upper()}_ENABLED")
    return value is None or value.strip().lower() in ("true", "1")


def init_app(app: Flask) -> bool:
    """Trace every request of app (but the probes) as one server span; True when it does.

    Does nothing without ddtrace-run, with tracing off (DD_TRACE_ENABLED=false), or while
    ddtrace's own Flask integration is on: two request spans per request would be one too many.
    """
    if "ddtrace" not in sys.modules or integration_enabled("flask"):
        return False
    from ddtrace.trace import tracer

    if not tracer.enabled:
        return False
    spans = RequestSpans(tracer)
    app.extensions["shopcommon.tracing"] = spans  # the signals below hold their receivers weakly
    app.wsgi_app = spans.middleware(app.wsgi_app)
    app.teardown_request(spans.complete)
    before_render_template.connect(spans.start_render, app)
    template_rendered.connect(spans.finish_render, app)
    return True


class RequestSpans:
    """The server span of each request and the render spans under it."""

    def __init__(self, tracer: Any) -> None:
        from ddtrace import config
        from ddtrace.constants import SPAN_KIND
        from ddtrace.ext import SpanKind, SpanTypes, http
        from ddtrace.propagation.http import HTTPPropagator

        self.tracer = tracer
        self.service = config.service
        self.extract = HTTPPropagator.extract
        self.web, self.template = SpanTypes.WEB, SpanTypes.TEMPLATE
        self.kind = (SPAN_KIND, SpanKind.SERVER)
        self.http = http

    def middleware(self, wsgi_app: Callable) -> Callable:
        def traced_wsgi_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
            if environ.get("PATH_INFO") in PROBE_PATHS:
                return wsgi_app(environ, start_response)
            return self._traced(wsgi_app, environ, start_response)

        return traced_wsgi_app

    def _traced(self, wsgi_app: Callable, environ: dict, start_response: Callable) -> Iterable[bytes]:
        http = self.http
        context = self.extract(_request_headers(environ))
        # No trace headers: a trace of its own, whatever this thread served before.
        continued = context is not None and context.trace_id is not None
        self.tracer.context_provider.activate(context if continued else None)
        method = environ.get("REQUEST_METHOD", "GET")
        span = self.tracer.trace(SERVER_SPAN_NAME, service=self.service, resource=method, span_type=self.web)
        span.set_tag(*self.kind)
        span.set_tag(http.METHOD, method)
        span.set_tag(http.URL, _request_url(environ))
        environ[_SPAN_KEY] = span
        status = [""]

        def traced_start_response(status_line: str, headers: list, exc_info: Any = None) -> Callable:
            status[0] = status_line.split(" ", 1)[0]
            span.set_tag(http.STATUS_CODE, status[0])
            if status[0].startswith("5"):
                span.error = 1
            return start_response(status_line, headers, exc_info)

        try:
            # Flask has built the whole body by the time it returns (the shop streams nothing), so
            # the span ends with the app's work; waiting for the socket write would let it outlast
            # the caller's span whenever another thread holds the GIL.
            return wsgi_app(environ, traced_start_response)
        except BaseException:
            span.set_exc_info(*sys.exc_info())
            raise
        finally:
            if span.get_tag(http.ROUTE) is None:
                # No route matched: the status names the resource, never the (client's) path.
                span.resource = f"{method} {status[0]}".rstrip()
            span.finish()

    def complete(self, error: Optional[BaseException]) -> None:
        """teardown_request: the route as resource, an unhandled error, templates left open."""
        span = request.environ.get(_SPAN_KEY)
        if span is None:
            return
        rule = request.url_rule
        if rule is not None:
            span.resource = f"{request.method} {rule.rule}"
            span.set_tag(self.http.ROUTE, rule.rule)
        if error is not None:
            span.set_exc_info(type(error), error, error.__traceback__)
        for render in reversed(g.pop(_RENDER_STACK, [])):
            render.error = 1  # its template raised before template_rendered could close it
            render.finish()

    def start_render(self, sender: Flask, template: Any, context: dict, **extra: Any) -> None:
        if not has_request_context() or _SPAN_KEY not in request.environ:
            return
        name = template.name or "<string>"
        span = self.tracer.trace(RENDER_SPAN_NAME, resource=name, span_type=self.template)
        g.setdefault(_RENDER_STACK, []).append(span)

    def finish_render(self, sender: Flask, template: Any, context: dict, **extra: Any) -> None:
        stack = g.get(_RENDER_STACK) if has_request_context() else None
        if stack:
            stack.pop().finish()


def _request_headers(environ: dict) -> dict:
    """The request's HTTP headers by lower-case name, as HTTPPropagator.extract reads them."""
    return {
        key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
    }


def _request_url(environ: dict) -> str:
    """scheme://host/path of the request, without its query string (which may carry anything)."""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    # WSGI hands the path over as latin-1 text of the raw bytes: quote those bytes back.
    quoted = quote(path.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=~")
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{quoted}"


def _request_span() -> Any:
    if "ddtrace" not in sys.modules:
        return None
    from ddtrace.trace import tracer

    return tracer.current_root_span()


def tag_request_span(**tags: Optional[str]) -> None:
    """Tag the request's server span (None values are left out), so Datadog can split by them."""
    span = _request_span()
    if span is None:
        return
    for key, value in tags.items():
        if value is not None:
            span.set_tag(key, value)


def record_exception(error: BaseException) -> None:
    """Mark the request's span failed with error (type, message, stack).

    For catch-all error handlers: Flask reports an exception that a handler turned into a 500 to
    nobody, so the handler has to.
    """
    span = _request_span()
    if span is not None:
        span.set_exc_info(type(error), error, error.__traceback__)
