"""JSON-lines logging on stdout, with request lines and Datadog trace ids."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from datetime import datetime, timezone

from flask import Flask, Response, g, request

# Attributes ddtrace's log injection puts on every record while a span is active.
_DD_ATTRIBUTES = ("dd.trace_id", "dd.span_id", "dd.service", "dd.env", "dd.version")
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Probes call these every few seconds; at INFO their lines would drown the real requests.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
# A client sets x-request-id; a log line never carries more of it than this.
MAX_REQUEST_ID_LENGTH = 128


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, service, version, message and extras."""

    def __init__(self, service: str, version: str) -> None:
        super().__init__()
        self.service = service
        self.version = version

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "service": self.service,
            "version": self.version,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and key not in _DD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        for key in _DD_ATTRIBUTES:
            value = getattr(record, key, None)
            # Outside a span ddtrace injects "0" and "": leave those out.
            if value not in (None, "", "0"):
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, version: str, level: str = "INFO") -> None:
    """Send every log record to stdout as JSON lines."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service, version))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def install_request_logging(app: Flask, logger_name: str = "request", fields: Iterable[str] = ()) -> None:
    """Log one line per request: method, path, status, duration in ms and request id (probes at DEBUG).

    fields names values the request noted on flask.g (note_request) that its line carries too,
    None when it noted none: the page_source and ads_version a log search splits by.
    """
    logger = logging.getLogger(logger_name)
    noted = tuple(fields)

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response: Response) -> Response:
        started = g.get("request_started")
        duration_ms = (time.perf_counter() - started) * 1000 if started is not None else None
        request_id = request.headers.get("x-request-id")
        line = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(duration_ms, 3) if duration_ms is not None else None,
            # Joins the lines of one page view across services: the mesh passes the id along.
            "request_id": request_id[:MAX_REQUEST_ID_LENGTH] if request_id else None,
            **{name: g.get(name) for name in noted},
        }
        level = logging.DEBUG if request.path in PROBE_PATHS else logging.INFO
        logger.log(level, "%s %s %s", request.method, request.path, response.status_code, extra=line)
        return response
