"""shopcommon.jsonlog: one JSON object a line, with trace ids only when a span is active."""

import json
import logging

from shopcommon.jsonlog import JsonFormatter


def _format(**attributes) -> dict:
    record = logging.makeLogRecord({"msg": "hello %s", "args": ("world",), "levelname": "INFO", **attributes})
    return json.loads(JsonFormatter("frontend", "1.0").format(record))


def test_line_carries_service_version_and_message():
    entry = _format(path="/cart")
    assert entry["service"] == "frontend"
    assert entry["version"] == "1.0"
    assert entry["message"] == "hello world"
    assert entry["level"] == "info"
    assert entry["path"] == "/cart"


def test_trace_ids_present_inside_a_span():
    entry = _format(**{"dd.trace_id": "6930a1b2c3d4e5f60000000000000001", "dd.span_id": "42", "dd.env": "local"})
    assert entry["dd.trace_id"] == "6930a1b2c3d4e5f60000000000000001"
    assert entry["dd.span_id"] == "42"
    assert entry["dd.env"] == "local"


def test_empty_trace_ids_outside_a_span_are_left_out():
    # ddtrace's log injection writes "0" and "" when no span is active.
    entry = _format(**{"dd.trace_id": "0", "dd.span_id": "0", "dd.env": "", "dd.service": "frontend"})
    assert "dd.trace_id" not in entry
    assert "dd.span_id" not in entry
    assert "dd.env" not in entry
    assert entry["dd.service"] == "frontend"
