"""Recording the experiment's events: an impression for every banner shown, a click from the click route.

Recording never touches a page's fate: the writer buffers the event and its thread writes it.
"""

from __future__ import annotations

from typing import Any, Optional

from flask import Flask, g

from ..ads.banner import Banner
from .extension import current


def record_impression(app: Flask, banner: Banner, **_: Any) -> None:
    """banner_shown receiver: one impression of banner, for the customer of this request."""
    _record(app, "impression", banner.ad.id, banner.version, banner.page_source, banner.category)


def record_click(app: Flask, ad_id: str, version: str, page_source: str, category: Optional[str]) -> None:
    """One click on a banner (the click route checked the values), for the customer of this request."""
    _record(app, "click", ad_id, version, page_source, category)


def _record(
    app: Flask, kind: str, ad_id: str, version: str, page_source: str, category: Optional[str]
) -> None:
    experiment = current(app)
    # A store that was away at start-up gets its schema now, off this thread.
    experiment.schema.ensure_in_background()
    experiment.writer.record(kind, ad_id, version, page_source, category, g.get("customer_id"))
