"""requests' HTTP adapter with one Datadog client span per call, from ddtrace's public API.

ddtrace's requests integration wraps Session.send and HTTPAdapter.send and runs every call
through its event hub, URL redaction and telemetry: on a product page it cost more than the
server span and the render span together. With it off (DD_TRACE_REQUESTS_ENABLED=false, as the
manifests set), TracedHTTPAdapter makes the span itself: tracer.trace() under the request's span,
HTTPPropagator.inject() into the outbound headers, so the next hop continues the trace. A plain
HTTPAdapter when tracing is not running.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlsplit

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from shopcommon.tracing import integration_enabled

# The operation name of ddtrace's requests integration, so Datadog views built on it still work.
CLIENT_SPAN_NAME = "requests.request"


class TracedHTTPAdapter(HTTPAdapter):
    """An HTTPAdapter whose every send is a client span carrying the trace to the callee."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tracing = _ClientSpans() if _tracing_wanted() else None

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        if self._tracing is None:
            return super().send(request, *args, **kwargs)
        span = self._tracing.open(request)
        try:
            response = super().send(request, *args, **kwargs)
        except BaseException:
            span.set_exc_info(*sys.exc_info())
            span.finish()
            raise
        self._tracing.close(span, response.status_code)
        return response


def _tracing_wanted() -> bool:
    """ddtrace-run loaded ddtrace, tracing is on, and its own requests integration is off."""
    if "ddtrace" not in sys.modules or integration_enabled("requests"):
        return False
    from ddtrace.trace import tracer

    return bool(tracer.enabled)


class _ClientSpans:
    def __init__(self) -> None:
        from ddtrace import config
        from ddtrace.constants import SPAN_KIND
        from ddtrace.ext import SpanKind, SpanTypes, http
        from ddtrace.propagation.http import HTTPPropagator
        from ddtrace.trace import tracer

        self.tracer = tracer
        self.service = config.service
        self.inject = HTTPPropagator.inject
        self.span_type = SpanTypes.HTTP
        self.kind = (SPAN_KIND, SpanKind.CLIENT)
        self.http = http

    def open(self, request: PreparedRequest) -> Any:
        http = self.http
        url = urlsplit(request.url or "")
        method = request.method or "GET"
        resource = f"{method} {url.path or '/'}"
        span = self.tracer.trace(
            CLIENT_SPAN_NAME, service=self.service, resource=resource, span_type=self.span_type
        )
        span.set_tag(*self.kind)
        span.set_tag(http.METHOD, method)
        # Without the query string: it may carry what the page was asked for.
        span.set_tag(http.URL, f"{url.scheme}://{url.netloc}{url.path}")
        span.set_tag("out.host", url.hostname or "")
        # The callee (the mesh, then the ads service) continues this span's trace.
        self.inject(span, request.headers)
        return span

    def close(self, span: Any, status: int) -> None:
        span.set_tag(self.http.STATUS_CODE, str(status))
        if status >= 400:
            span.error = 1
        span.finish()
