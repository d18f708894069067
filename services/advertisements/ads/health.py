"""Liveness and readiness probes for Kubernetes and the local mesh."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok", "version": current_app.config["ADS_VERSION"]})


@bp.get("/readyz")
def readyz() -> Response:
    # Nothing to wait for: the inventory is in memory and the version was checked at start.
    return jsonify({"status": "ready", "version": current_app.config["ADS_VERSION"]})
