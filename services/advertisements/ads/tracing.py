"""Tags for Datadog traces, so APM can split ads requests by page source."""

from __future__ import annotations

import sys


def tag_root_span(name: str, value: str) -> None:
    """Tag the request's root span when ddtrace is running; a no-op otherwise."""
    # Only when ddtrace-run already loaded it: importing ddtrace here would start a tracer.
    if "ddtrace" not in sys.modules:
        return
    from ddtrace.trace import tracer

    span = tracer.current_root_span()
    if span is not None:
        span.set_tag(name, value)
