"""Attach the A/B experiment to the storefront: store, writer, impressions, customer cookie, pages.

The store is reached only from the EventWriter's thread, the schema guard's and the /experiment
pages, never from a shop page's request.
"""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy.engine import make_url

from ..ads.banner import banner_shown
from . import store
from .customer import identify_customer, set_customer_cookie
from .extension import EXTENSION, Experiment
from .recording import record_impression
from .schema import SchemaGuard
from .settings import ExperimentSettings
from .views import bp
from .writer import EventWriter

log = logging.getLogger(__name__)


def init_app(app: Flask, settings: ExperimentSettings) -> Experiment:
    """Wire the experiment into app with settings (already checked)."""
    engine = store.make_engine(settings.database_url)
    guard = SchemaGuard(engine)
    guard.ensure_now()
    experiment = Experiment(
        settings=settings,
        engine=engine,
        writer=EventWriter(engine, max_buffer=settings.buffer, interval=settings.write_interval),
        schema=guard,
        store_label=make_url(settings.database_url).render_as_string(hide_password=True),
    )
    app.extensions[EXTENSION] = experiment
    banner_shown.connect(record_impression, sender=app)
    app.before_request(identify_customer)
    app.after_request(set_customer_cookie)
    app.register_blueprint(bp)
    log.info("experiment ready", extra={"ab_mode": settings.mode, "store": experiment.store_label})
    return experiment
