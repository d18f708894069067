"""Tags on the current Datadog root span, a no-op when ddtrace is not running."""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)


def tag_root_span(tags: dict) -> None:
    """Set tags on the request's root span so Datadog queries can split by them.

    Only acts when ddtrace is already loaded (by ddtrace-run): importing it here
    would start a tracer in processes that run without tracing.
    """
    if "ddtrace" not in sys.modules:
        return
    try:
        from ddtrace.trace import tracer
    except ImportError:  # an older or partial ddtrace: tracing tags are optional
        return
    span = tracer.current_root_span()
    if span is None:
        return
    for key, value in tags.items():
        if value is not None:
            span.set_tag(key, value)
