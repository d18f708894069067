"""Attach the A/B experiment to the storefront: store, writer, impressions, customer cookie, assignment.

init_app() is called by the app factory. Recording never touches a page's fate: the store is
reached only from the EventWriter's thread and from the /experiment pages, and a store that is
away at start-up is retried in the background, off the request thread.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, request
from sqlalchemy.engine import Engine, make_url
from werkzeug.wrappers import Response

from ..ads.banner import Banner, banner_shown
from . import assignment, store
from .settings import ExperimentSettings
from .writer import EventWriter

log = logging.getLogger(__name__)

EXTENSION = "experiment"
# Probes and static files neither need nor should get a customer cookie.
_NO_CUSTOMER_ENDPOINTS = {"health.healthz", "health.readyz", "static"}
COOKIE_MAX_AGE = 365 * 24 * 3600


class SchemaGuard:
    """Creates the schema; after a failure, retries at most every retry_every seconds, in a thread."""

    def __init__(self, engine: Engine, retry_every: float = 10.0) -> None:
        self.engine = engine
        self.retry_every = retry_every
        self.ready = False
        self._last_try = -float("inf")
        self._running = False
        self._lock = threading.Lock()

    def ensure_now(self) -> bool:
        try:
            store.ensure_schema(self.engine, attempts=1)
        except Exception as error:  # noqa: BLE001 - any store failure only loses metrics
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:200]
            log.warning("experiment store unavailable; events are dropped until it answers: %s", reason)
            return False
        self.ready = True
        return True

    def ensure_in_background(self) -> None:
        if self.ready:
            return
        with self._lock:
            now = time.monotonic()
            if self._running or now - self._last_try < self.retry_every:
                return
            self._last_try, self._running = now, True

        def attempt() -> None:
            try:
                self.ensure_now()
            finally:
                self._running = False

        threading.Thread(target=attempt, name="experiment-schema", daemon=True).start()


@dataclass
class Experiment:
    """What the views need: settings, engine, writer, and where the data lives (no password)."""

    settings: ExperimentSettings
    engine: Engine
    writer: EventWriter
    schema: SchemaGuard
    store_label: str


def init_app(app: Flask, config: ExperimentSettings) -> Experiment:
    """Wire the experiment into app with its settings (already checked)."""
    engine = store.make_engine(config.database_url)
    writer = EventWriter(engine, max_buffer=config.buffer, interval=config.write_interval)
    guard = SchemaGuard(engine)
    guard.ensure_now()
    experiment = Experiment(
        settings=config,
        engine=engine,
        writer=writer,
        schema=guard,
        store_label=make_url(config.database_url).render_as_string(hide_password=True),
    )
    app.extensions[EXTENSION] = experiment
    banner_shown.connect(_record_impression, sender=app)
    app.before_request(_identify_customer)
    app.after_request(_set_customer_cookie)
    from .views import bp

    app.register_blueprint(bp)
    log.info("experiment ready", extra={"ab_mode": config.mode, "store": experiment.store_label})
    return experiment


def current(app: Flask) -> Experiment:
    return app.extensions[EXTENSION]


def _identify_customer() -> None:
    """The customer id from the first-party cookie, or a new one (set on the response)."""
    if request.endpoint in _NO_CUSTOMER_ENDPOINTS:
        return
    cookie = request.cookies.get(assignment.COOKIE_NAME)
    if assignment.is_valid_customer_id(cookie):
        g.customer_id, g.customer_is_new = cookie, False
    else:
        g.customer_id, g.customer_is_new = assignment.new_customer_id(), True
    config = current(current_app).settings
    if config.mode == "sticky":
        arm = assignment.assign(g.customer_id, config.share)
        # Read by banner_for(): the sticky VirtualService routes products + x-ads-arm: v2 to v2.
        g.ads_headers = {assignment.ASSIGNMENT_HEADER: arm}


def _set_customer_cookie(response: Response) -> Response:
    if g.get("customer_is_new"):
        response.set_cookie(
            assignment.COOKIE_NAME,
            g.customer_id,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return response


def _record_impression(app: Flask, banner: Banner, **_: Any) -> None:
    experiment = current(app)
    experiment.schema.ensure_in_background()
    experiment.writer.record_impression(
        banner.ad.id, banner.version, banner.page_source, banner.category, g.get("customer_id")
    )
