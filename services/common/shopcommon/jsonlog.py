"""JSON-lines logging on stdout, with request lines and Datadog trace ids."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime, timezone
from typing import Callable, Optional

from flask import Flask, Response, g, request

# Attributes ddtrace's log injection puts on every record while a span is active.
_DD_ATTRIBUTES = ("dd.trace_id", "dd.span_id", "dd.service", "dd.env", "dd.version")
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Probes call these every few seconds; at INFO their lines would drown the real requests.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


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


def install_request_logging(
    app: Flask,
    logger_name: str = "request",
    extra_fields: Optional[Callable[[], dict]] = None,
) -> None:
    """Log one line per request: method, path, status and duration in ms (probes at DEBUG).

    extra_fields, if given, is called inside the request and its dict is added to the line
    (a service's own fields, such as the ads service's page_source and request_id).
    """
    logger = logging.getLogger(logger_name)

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response: Response) -> Response:
        started = g.get("request_started")
        duration_ms = (time.perf_counter() - started) * 1000 if started is not None else None
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(duration_ms, 3) if duration_ms is not None else None,
        }
        if extra_fields is not None:
            fields.update(extra_fields())
        level = logging.DEBUG if request.path in PROBE_PATHS else logging.INFO
        logger.log(level, "%s %s %s", request.method, request.path, response.status_code, extra=fields)
        return response
