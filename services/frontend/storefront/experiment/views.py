"""The experiment's pages: the banner click redirect, /experiment (HTML) and /experiment.json."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Optional
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, jsonify, make_response, redirect, render_template, request
from markupsafe import Markup
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from ..ads.model import AD_ID, PAGE_SOURCES, VERSION, is_shop_path
from ..catalog.products import CATEGORIES
from ..metrics import count_click
from . import store
from .chart import ctr_chart_svg
from .extension import Experiment, current
from .recording import record_click
from .report import build_report

log = logging.getLogger(__name__)
bp = Blueprint("experiment", __name__, template_folder="templates")

MAX_TARGET_LENGTH = 512
_UNAVAILABLE = (
    "The experiment's store is unavailable right now; the shop itself is not affected. Try again shortly."
)


def safe_target(raw: Optional[str]) -> str:
    """raw if it is a path inside this shop, else "/": the click redirect must never leave the shop.

    is_shop_path refuses schemes, hosts, protocol-relative //, backslashes (browsers read /\\ as //)
    and control or space characters; urlsplit is asked as well, as a second opinion.
    """
    if not raw or len(raw) > MAX_TARGET_LENGTH or not is_shop_path(raw):
        return "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return "/"
    return raw


@bp.get("/ads/<ad_id>/click")
def click(ad_id: str) -> Response:
    """Record a banner click, then go to the ad's target inside the shop."""
    version = request.args.get("version", "")
    page_source = request.args.get("page_source", "")
    category = request.args.get("category") or None
    if not AD_ID.fullmatch(ad_id):
        abort(400, description="That is not a valid ad id.")
    if not VERSION.fullmatch(version):
        abort(400, description="The version query parameter must look like 1.0.")
    if page_source not in PAGE_SOURCES:
        abort(400, description=f"The page_source query parameter must be one of: {', '.join(PAGE_SOURCES)}.")
    if category is not None and category not in CATEGORIES:
        choices = ", ".join(CATEGORIES)
        abort(400, description=f"The category query parameter must be empty or one of: {choices}.")
    record_click(current_app, ad_id, version, page_source, category)
    count_click(version, page_source)
    response = redirect(safe_target(request.args.get("to")), 303)
    # Each click must reach us to be counted: no cached redirect.
    response.headers["Cache-Control"] = "no-store"
    return response


def _report(experiment: Experiment) -> dict:
    # Read-your-writes for this worker's own buffer; other workers write within their interval.
    # While the store is away the read below fails anyway: no point waiting for the buffer.
    if experiment.writer.store_reachable:
        experiment.writer.flush(timeout=2.0)
    counts = store.segment_counts(experiment.engine)
    dropped = store.dropped_counts(experiment.engine)
    config = experiment.settings
    report = build_report(counts, config.weights, config.mde, config.baseline, srm_unit=config.srm_unit)
    report["experiment"] = {
        "question": "Do customers click relevant ads (2.0) more than general ones (1.0) on product pages?",
        "mode": config.mode,
        "assignment": (
            "per customer: hash of the customer cookie, sent as the x-ads-arm header"
            if config.mode == "sticky"
            else "per request: Istio VirtualService weights"
        ),
        "treatment_share": config.share,
        "store": make_url(config.database_url).get_backend_name(),
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    writer = experiment.writer.stats()
    report["recording"] = {
        # Stored by every worker and replica: events lost while the store was away too long.
        "dropped": {"impressions": dropped["impression"], "clicks": dropped["click"]},
        "this_worker": {key: writer[key] for key in ("buffered", "written", "dropped", "store_reachable")},
    }
    return report


def _report_or_none() -> Optional[dict]:
    """The report, or None when the store cannot be read (the pages answer 503, the shop goes on)."""
    experiment = current(current_app)
    try:
        return _report(experiment)
    except SQLAlchemyError as error:
        experiment.schema.ensure_in_background()
        log.warning("experiment report failed: %s", type(error).__name__)
        return None


@bp.get("/experiment.json")
def report_json() -> Response:
    report = _report_or_none()
    if report is None:
        response = jsonify(error=_UNAVAILABLE)
        response.status_code = 503
        return response
    response = jsonify(report)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/experiment")
def report_page() -> Response:
    report = _report_or_none()
    if report is None:
        body = render_template(
            "errors/error.html", code=503, title="Experiment unavailable", message=_UNAVAILABLE
        )
        return make_response(body, 503)
    # The SVG escapes every text it holds (chart.py), so it can be inlined as markup.
    chart = Markup(ctr_chart_svg(report["segments"]))
    response = make_response(render_template("experiment/experiment.html", report=report, chart=chart))
    response.headers["Cache-Control"] = "no-store"
    return response
