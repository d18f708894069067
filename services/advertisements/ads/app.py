"""The application factory: settings, logging, blueprints and error handlers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from flask import Flask, current_app, request
from shopcommon.errors import register_error_handlers
from shopcommon.jsonlog import configure_logging, install_request_logging
from shopcommon.requestnotes import note_request
from shopcommon.settings import environ_with, read_settings, setting_variables
from shopcommon.tracing import init_app as init_tracing

from ads.api import bp as api_bp
from ads.banners import bp as banners_bp
from ads.errors import render_error
from ads.health import bp as health_bp
from ads.selection import normalize_page_source
from ads.settings import SERVICE_NAME, AdsServiceSettings


def create_app(config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Build the service; config overrides the environment (ADS_VERSION, TESTING...).

    Raises shopcommon.settings.SettingError (one line) for an unsupported version.
    """
    settings = read_settings(AdsServiceSettings, environ_with(config, AdsServiceSettings))
    # No static route: the service serves JSON and SVG banners only (openapi.yaml lists every route).
    app = Flask(__name__, static_folder=None)
    variables = setting_variables(AdsServiceSettings)
    app.config.update({key: value for key, value in (config or {}).items() if key not in variables})
    app.config["ADS_VERSION"] = settings.version
    configure_logging(SERVICE_NAME, settings.version)

    app.before_request(_note_page_source)
    install_request_logging(app, fields=("page_source",))
    for blueprint in (api_bp, banners_bp, health_bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app, render_error)
    init_tracing(app)
    return app


def _note_page_source() -> None:
    # Read once here, so the ads, the log line and the trace all see the same page source.
    note_request(
        page_source=normalize_page_source(request.headers.get("page-source")),
        ads_version=current_app.config["ADS_VERSION"],
    )
