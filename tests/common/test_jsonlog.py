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
    trace_id = "6930a1b2c3d4e5f60000000000000001"
    entry = _format(**{"dd.trace_id": trace_id, "dd.span_id": "42", "dd.env": "local"})
    assert entry["dd.trace_id"] == trace_id
    assert entry["dd.span_id"] == "42"
    assert entry["dd.env"] == "local"


def test_empty_trace_ids_outside_a_span_are_left_out():
    # ddtrace's log injection writes "0" and "" when no span is active.
    entry = _format(**{"dd.trace_id": "0", "dd.span_id": "0", "dd.env": "", "dd.service": "frontend"})
    assert "dd.trace_id" not in entry
    assert "dd.span_id" not in entry
    assert "dd.env" not in entry
    assert entry["dd.service"] == "frontend"


def test_probe_requests_log_at_debug_and_others_at_info(caplog):
    from flask import Flask
    from shopcommon.jsonlog import install_request_logging

    app = Flask(__name__)
    app.add_url_rule("/healthz", "healthz", lambda: "ok")
    app.add_url_rule("/readyz", "readyz", lambda: "ok")
    app.add_url_rule("/ads", "ads", lambda: "ok")
    install_request_logging(app)
    client = app.test_client()
    with caplog.at_level(logging.DEBUG, logger="request"):
        for path in ("/healthz", "/readyz", "/ads"):
            client.get(path)
    levels = {record.path: record.levelno for record in caplog.records}
    assert levels == {"/healthz": logging.DEBUG, "/readyz": logging.DEBUG, "/ads": logging.INFO}
