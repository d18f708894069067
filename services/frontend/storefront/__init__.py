"""The storefront: a Flask app factory wiring settings, logging, CSRF, blueprints and errors."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any, Optional

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from shopcommon.errors import register_error_handlers
from shopcommon.jsonlog import configure_logging, install_request_logging
from shopcommon.settings import environ_with, setting_variables
from shopcommon.tracing import init_app as init_tracing

from . import metrics
from .ads.client import AdsClient
from .errors import render_error
from .experiment import wiring as experiment_wiring
from .settings import StorefrontSettings, load_settings

log = logging.getLogger(__name__)
csrf = CSRFProtect()


def create_app(config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Build the storefront from its settings: the environment, with config on top.

    config's keys that name a setting (ADS_URL, DATABASE_URL, AB_MODE...) override the
    environment; the others (TESTING...) go to the Flask config. Raises shopcommon.settings.
    SettingError (a ValueError, one line naming the variable) for a bad setting.
    """
    config = dict(config or {})
    app = Flask(__name__)
    settings = load_settings(environ_with(config, StorefrontSettings), app.instance_path)
    configure_logging("frontend", settings.version, settings.log_level)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SECRET_KEY=settings.secret_key,
        # Forms are tiny; anything bigger is not a real shopper.
        MAX_CONTENT_LENGTH=16 * 1024,
        MAX_FORM_MEMORY_SIZE=16 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
    )
    variables = setting_variables(StorefrontSettings)
    app.config.update({key: value for key, value in config.items() if key not in variables})
    # Debug mode exposes an interactive console: never on, whatever the config says.
    app.config["DEBUG"] = False
    app.debug = False
    if not app.config.get("SECRET_KEY"):
        # gunicorn.conf.py sets one for all workers; this covers tests and `flask run`.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        log.warning("SECRET_KEY is not set: generated one; sessions end when this process stops")

    app.extensions["ads_client"] = AdsClient(settings.ads)
    metrics.init_app(app)
    csrf.init_app(app)
    install_request_logging(app, fields=("page_source", "ads_version"))
    _register_blueprints(app)
    experiment_wiring.init_app(app, settings.experiment)
    _register_template_helpers(app)
    register_error_handlers(app, render_error)
    # Last, so its span covers every middleware and hook above.
    init_tracing(app)
    log.info("storefront ready", extra={"ads_url": settings.ads.url})
    return app


def _register_blueprints(app: Flask) -> None:
    from .ads.views import bp as ads_bp
    from .cart.views import bp as cart_bp
    from .catalog.views import bp as catalog_bp
    from .health.views import bp as health_bp

    for blueprint in (catalog_bp, cart_bp, ads_bp, health_bp):
        app.register_blueprint(blueprint)


def _register_template_helpers(app: Flask) -> None:
    from decimal import Decimal

    from .cart import storage
    from .catalog.products import CATEGORIES

    @app.template_filter("money")
    def _money(value: Decimal) -> str:
        return f"${value:,.2f}"

    @app.context_processor
    def _globals() -> dict:
        return {"categories": CATEGORIES, "cart_count": storage.item_count}
