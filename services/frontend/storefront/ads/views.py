"""The banner image proxy: /ads/<ad_id>/banner.svg?version=X.0 -> the ads service's SVG."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from .banner import ads_client
from .client import BannerFetchError
from .model import AD_ID, VERSION

bp = Blueprint("ads", __name__, template_folder="templates")

# Headers of the upstream answer worth passing to the browser (caching and type).
_PASSED_HEADERS = ("cache-control", "etag", "last-modified", "expires", "vary")
# An SVG opened directly must not run scripts in the shop's origin.
_SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _text(message: str, status: int) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


@bp.get("/ads/<ad_id>/banner.svg")
def banner_image(ad_id: str) -> Response:
    version = request.args.get("version", "")
    if not AD_ID.fullmatch(ad_id):
        abort(400, description="That is not a valid ad id.")
    if not VERSION.fullmatch(version):
        abort(400, description="The version query parameter must look like 1.0.")
    try:
        upstream = ads_client().fetch_banner(ad_id, version, request.headers)
    except BannerFetchError as error:
        return _text(error.message, error.status)
    if upstream.status in (400, 404):
        # An unknown ad, or a version the ads service does not have (such as 3.0).
        return _text("No such banner.", 404)
    if upstream.status == 304:
        response = Response(status=304)
    elif upstream.status == 200 and upstream.headers.get("content-type", "").startswith("image/svg+xml"):
        response = Response(upstream.body, status=200, mimetype="image/svg+xml")
    else:
        return _text("The ads service did not send a banner.", 502)
    for name in _PASSED_HEADERS:
        if name in upstream.headers:
            response.headers[name] = upstream.headers[name]
    response.headers["Content-Security-Policy"] = _SVG_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
