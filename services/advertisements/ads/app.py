"""The application factory: settings, logging, blueprints and error handlers."""

from __future__ import annotations

from typing import Optional

from flask import Flask, current_app, g, request
from shopcommon.jsonlog import configure_logging, install_request_logging
from shopcommon.tracing import init_app as init_tracing
from shopcommon.tracing import tag_request_span

from ads import api, banners, health
from ads.errors import register_error_handlers
from ads.selection import normalize_page_source
from ads.settings import SERVICE_NAME, check_version, load_settings

MAX_REQUEST_ID_LENGTH = 128


def create_app(config: Optional[dict] = None) -> Flask:
    """Build the service; config overrides the environment (ADS_VERSION, TESTING...).

    Raises ConfigError (a SystemExit with a one-line message) for an unsupported version.
    """
    overrides = dict(config or {})
    # An explicit version wins, so a bad ADS_VERSION in the environment does not matter then.
    settings = {} if "ADS_VERSION" in overrides else load_settings()
    settings.update(overrides)
    settings["ADS_VERSION"] = check_version(settings.get("ADS_VERSION"), "ADS_VERSION")

    # No static route: the service serves JSON and SVG banners only (openapi.yaml lists every route).
    app = Flask(__name__, static_folder=None)
    app.config.update(settings)
    configure_logging(SERVICE_NAME, app.config["ADS_VERSION"])

    app.before_request(_read_request_context)
    install_request_logging(app, extra_fields=_request_log_fields)
    for blueprint in (api.bp, banners.bp, health.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    init_tracing(app)
    return app


def _read_request_context() -> None:
    # Read once here, so the ads, the log line and the trace all see the same page source.
    g.page_source = normalize_page_source(request.headers.get("page-source"))
    tag_request_span(page_source=g.page_source, ads_version=current_app.config["ADS_VERSION"])


def _request_log_fields() -> dict:
    request_id = request.headers.get("x-request-id")
    return {
        "page_source": g.get("page_source"),
        "request_id": request_id[:MAX_REQUEST_ID_LENGTH] if request_id else None,
    }
