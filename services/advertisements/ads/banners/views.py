"""GET /banners/<ad_id>.svg: the banner picture of one ad, labelled with a version."""

from __future__ import annotations

import hashlib
import textwrap

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.exceptions import NotFound

from ads.inventory import BY_ID, Ad
from ads.settings import SUPPORTED_VERSIONS
from ads.validation import version_param

bp = Blueprint("banners", __name__, template_folder="templates")

# Each version its own colours, so a glance at the page tells which one answered.
PALETTES = {
    "1.0": {"background": "#1e3a8a", "accent": "#93c5fd", "label_text": "#0b1f4d"},
    "2.0": {"background": "#9a3412", "accent": "#fde047", "label_text": "#431407"},
}
TEXT_WIDTH = 40  # characters a line of the text holds, below the title and the version badge
TEXT_LINES = 2
# An explicit ?version= names one picture forever; without it the picture depends on
# which version answered, so caches must check back each time (the ETag makes that cheap).
MAX_AGE_EXPLICIT = 86400


def render_banner(ad: Ad, version: str) -> str:
    """The SVG for ad labelled with version: a pure function of the two."""
    lines = textwrap.wrap(ad.text, TEXT_WIDTH, max_lines=TEXT_LINES, placeholder="...")
    return render_template(
        "banners/banner.svg", ad=ad, version=version, lines=lines, colours=PALETTES[version]
    )


@bp.get("/banners/<ad_id>.svg")
def banner(ad_id: str) -> Response:
    ad = BY_ID.get(ad_id)
    if ad is None:
        raise NotFound(f"no ad with id {ad_id[:64]!r}")
    explicit = request.args.get("version") not in (None, "")
    version = version_param(request.args, SUPPORTED_VERSIONS, current_app.config["ADS_VERSION"])
    svg = render_banner(ad, version)
    response = Response(svg, mimetype="image/svg+xml")
    response.set_etag(hashlib.sha256(svg.encode()).hexdigest()[:32])
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE_EXPLICIT if explicit else 0
    if not explicit:
        response.cache_control.must_revalidate = True
    return response.make_conditional(request)
