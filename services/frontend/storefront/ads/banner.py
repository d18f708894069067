"""The banner of a page view: one fresh /ads call, and the one place a shown banner is known."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from blinker import Namespace
from flask import current_app, g, request, url_for
from shopcommon.requestnotes import note_request

from .client import AdsClient
from .model import Ad

_signals = Namespace()
# Sent once per banner put on a page, with banner=<Banner>. The experiment's impression
# recording and the metrics connect here instead of touching the views.
banner_shown = _signals.signal("banner-shown")


@dataclass(frozen=True)
class Banner:
    ad: Ad
    version: str
    page_source: str
    category: Optional[str]
    slug: Optional[str]

    @property
    def image_url(self) -> str:
        """The storefront's proxy for the ads service's SVG, so browsers never reach it directly."""
        return url_for("ads.banner_image", ad_id=self.ad.id, version=self.version)

    @property
    def href(self) -> str:
        """Where a click on the banner goes: the click route, which records it and then redirects to
        the ad's target (a path in the shop, checked in model.py and again by the click route)."""
        return url_for(
            "experiment.click",
            ad_id=self.ad.id,
            version=self.version,
            page_source=self.page_source,
            category=self.category,  # None is left out of the URL
            to=self.ad.target_url,
        )


def ads_client() -> AdsClient:
    return current_app.extensions["ads_client"]


def banner_for(
    page_source: str, category: Optional[str] = None, slug: Optional[str] = None
) -> Optional[Banner]:
    """Fetch this page view's banner; None when the ads service fails or has nothing.

    Never cached: the canary demo relies on every view asking the ads service anew.
    """
    params = {key: value for key, value in (("category", category), ("slug", slug)) if value}
    # g.ads_headers: extra routing headers for this view, e.g. the sticky A/B arm (experiment/customer.py).
    answer = ads_client().fetch_ads(page_source, request.headers, params, g.get("ads_headers"))
    note_request(page_source=page_source, ads_version=answer.version if answer else None)
    if answer is None or not answer.ads:
        return None
    banner = Banner(
        ad=answer.ads[0], version=answer.version, page_source=page_source, category=category, slug=slug
    )
    banner_shown.send(current_app._get_current_object(), banner=banner)
    return banner
