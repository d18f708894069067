"""GET /ads: the ads for one page view, as JSON."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from shopcommon.tracing import tag_request_span

from ads.inventory import Ad
from ads.selection import choose_ads
from ads.validation import limit_param, slug_param

bp = Blueprint("api", __name__)


def _as_json(ad: Ad, version: str) -> dict:
    return {
        "id": ad.id,
        "title": ad.title,
        "text": ad.text,
        "category": ad.category,
        # Names its version, so the picture matches whichever version answered this call.
        "banner_url": url_for("banners.banner", ad_id=ad.id, version=version),
        "target_url": ad.target_url,
    }


@bp.get("/ads")
def list_ads() -> Response:
    category = slug_param(request.args, "category")
    # The slug is context the ads do not use yet; it is still checked like the rest.
    slug_param(request.args, "slug")
    limit = limit_param(request.args)
    tag_request_span(category=category)
    version = current_app.config["ADS_VERSION"]
    page_source = g.page_source
    chosen = choose_ads(version, page_source, category, limit)
    response = jsonify(
        {
            "version": version,
            "page_source": page_source,
            "ads": [_as_json(ad, version) for ad in chosen],
        }
    )
    # Every page view must ask again: the canary demo is "refresh and see the other version".
    response.headers["Cache-Control"] = "no-store"
    return response
