"""What a request is about (page source, ads version), noted once for its log line and its span."""

from __future__ import annotations

from typing import Optional

from flask import g

from shopcommon.tracing import tag_request_span


def note_request(**facts: Optional[str]) -> None:
    """Keep facts on flask.g, where the request's log line reads them (install_request_logging's
    fields), and tag the request's span with them (None values are left off the span)."""
    for name, value in facts.items():
        setattr(g, name, value)
    tag_request_span(**facts)
