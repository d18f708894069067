"""DogStatsD counters for the ads banner: impressions per shown banner, clicks from the click route.

Off unless an agent is configured (DD_DOGSTATSD_URL, or DD_AGENT_HOST as the manifests set it).
Sending never blocks a request: a background thread owns the UDP socket (and any DNS lookup),
and a full queue drops the metric. The datadog package adds env/service/version tags from DD_*.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Optional

from flask import Flask, current_app

from .ads.banner import Banner, banner_shown

IMPRESSIONS = "ads.banner.impressions"
CLICKS = "ads.banner.clicks"
EXTENSION = "ads_metrics"
_QUEUE_SIZE = 1024

log = logging.getLogger(__name__)


def statsd_configured(environ: Optional[Mapping[str, str]] = None) -> bool:
    """True when the environment names a DogStatsD agent."""
    environ = os.environ if environ is None else environ
    return any(environ.get(name, "").strip() for name in ("DD_DOGSTATSD_URL", "DD_AGENT_HOST"))


def banner_tags(ads_version: str, page_source: str) -> list:
    return [f"ads_version:{ads_version}", f"page_source:{page_source}"]


class BannerMetrics:
    """Counts banner impressions and clicks; client None means metrics are off."""

    def __init__(self, client: Any = None) -> None:
        self.client = client

    @property
    def enabled(self) -> bool:
        return self.client is not None

    def count(self, metric: str, ads_version: str, page_source: str) -> None:
        if self.client is None:
            return
        try:
            self.client.increment(metric, tags=banner_tags(ads_version, page_source))
        except Exception:  # a metric is never worth a failed page
            log.debug("metric %s dropped", metric, exc_info=True)


def _client() -> Any:
    from datadog.dogstatsd import DogStatsd

    # With no agent listening every UDP send fails; one warning a packet would drown the
    # shop's own logs, and a lost metric is all that happens.
    logging.getLogger("datadog.dogstatsd").setLevel(logging.ERROR)
    # host/port None: DogStatsd reads DD_DOGSTATSD_URL, DD_AGENT_HOST and DD_DOGSTATSD_PORT.
    return DogStatsd(
        disable_telemetry=True,
        disable_background_sender=False,
        sender_queue_size=_QUEUE_SIZE,
        sender_queue_timeout=0,  # queue full: drop, never wait
    )


def init_app(app: Flask, environ: Optional[Mapping[str, str]] = None) -> BannerMetrics:
    """Attach the metrics to app and count every banner it shows."""
    metrics = BannerMetrics(_client() if statsd_configured(environ) else None)
    app.extensions[EXTENSION] = metrics
    banner_shown.connect(_on_banner_shown, sender=app)
    return metrics


def _on_banner_shown(app: Flask, banner: Banner, **_: Any) -> None:
    app.extensions[EXTENSION].count(IMPRESSIONS, banner.version, banner.page_source)


def count_click(ads_version: str, page_source: str) -> None:
    """Count one banner click (call from the click route, inside a request)."""
    metrics = current_app.extensions.get(EXTENSION)
    if metrics is not None:
        metrics.count(CLICKS, ads_version, page_source)
