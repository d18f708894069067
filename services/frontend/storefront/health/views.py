"""/healthz (the process serves) and /readyz (it can take traffic).

Readiness does not depend on the ads service: pages render without a banner when it
is down, so taking the storefront out of rotation would only make things worse.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    return jsonify(status="ready")
