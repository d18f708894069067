"""The one HTTP client to the ads service: pooled, bounded by timeouts, never retrying."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Optional

import requests
import urllib3
from shopcommon.httpclient import TracedHTTPAdapter
from urllib3.util.retry import Retry

from ..settings import AdsSettings
from .model import AdsResponse, InvalidAdsResponse, parse_ads_response
from .pool import MAX_IDLE_SECONDS, IdleLimitedAdapter

log = logging.getLogger(__name__)


class AdsAdapter(TracedHTTPAdapter, IdleLimitedAdapter):
    """The ads client's transport: a client span per call, pools that give up idle connections."""


# Istio/Envoy need the application to copy these from the inbound request to its
# outbound calls, or the trace breaks at this hop.
TRACING_HEADERS = (
    "x-request-id",
    "traceparent",
    "tracestate",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "b3",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "x-datadog-origin",
    "x-datadog-tags",
)
# Headers the Istio routing rules match on, passed through from the browser: the preview
# scenario (istio/scenarios/preview-header.yaml) lets testers force v2 with x-ads-preview.
ROUTING_HEADERS = ("x-ads-preview",)
MAX_BANNER_BYTES = 256 * 1024
_MAX_ADS_BYTES = 64 * 1024


def tracing_headers(inbound: Mapping[str, str]) -> dict:
    """The tracing headers of an inbound request, ready to send on an outbound one."""
    return {name: inbound[name] for name in TRACING_HEADERS if inbound.get(name)}


def routing_headers(inbound: Mapping[str, str]) -> dict:
    """The headers the mesh routes on, copied from the inbound request."""
    return {name: inbound[name] for name in ROUTING_HEADERS if inbound.get(name)}


@dataclass(frozen=True)
class UpstreamBanner:
    """A banner answer from the ads service, body already read."""

    status: int
    headers: dict
    body: bytes


class BannerFetchError(Exception):
    """The banner image could not be fetched; status is 502 or 504 for the browser."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class AdsClient:
    """One pooled requests.Session per app, shared by all its threads."""

    def __init__(
        self,
        settings: AdsSettings,
        pool_size: int = 16,
        max_idle: float = MAX_IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.timeout = (settings.connect_timeout, settings.read_timeout)
        self.session = requests.Session()
        # Service-to-service calls never go through a proxy from the environment.
        self.session.trust_env = False
        # No client retries: the mesh (Istio/Envoy) owns retries, and retrying here too
        # would multiply load on a struggling ads service. read=False re-raises a read
        # error as itself, so requests still reports a read timeout as a Timeout.
        # A pooled connection idle for max_idle is closed before reuse: the server (Envoy, or
        # gunicorn without a mesh) must never be the one closing it under a new request.
        # Each call is a client span in the page view's trace when tracing runs.
        adapter = AdsAdapter(
            max_idle=max_idle,
            clock=clock,
            pool_connections=1,
            pool_maxsize=pool_size,
            max_retries=Retry(
                total=0, connect=0, read=False, redirect=0, status=0, other=0, raise_on_status=False
            ),
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def fetch_ads(
        self,
        page_source: str,
        inbound_headers: Mapping[str, str],
        params: Optional[dict] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
    ) -> Optional[AdsResponse]:
        """Ask the ads service for ads; None (and a warning) on any failure, never an exception.

        extra_headers: routing headers the app decided itself (the sticky A/B arm); they win over
        anything of the same name from the browser.
        """
        url = f"{self.settings.url}/ads"
        headers = {
            **tracing_headers(inbound_headers),
            **routing_headers(inbound_headers),
            **(extra_headers or {}),
            "page-source": page_source,
            "accept": "application/json",
        }
        context = {"ads_url": url, "page_source": page_source}
        try:
            response = self.session.get(
                url, params=params or {}, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.Timeout as error:
            log.warning("ads call timed out", extra={**context, "reason": f"timeout: {error}"})
            return None
        except requests.RequestException as error:
            log.warning("ads call failed", extra={**context, "reason": f"{type(error).__name__}: {error}"})
            return None
        if not 200 <= response.status_code < 300:
            log.warning(
                "ads call answered %s",
                response.status_code,
                extra={**context, "status": response.status_code, "reason": "non-2xx status"},
            )
            return None
        if len(response.content) > _MAX_ADS_BYTES:
            log.warning("ads answer too large", extra={**context, "reason": f"{len(response.content)} bytes"})
            return None
        try:
            return parse_ads_response(response.json())
        except ValueError as error:  # JSON decode errors and InvalidAdsResponse alike
            kind = "invalid shape" if isinstance(error, InvalidAdsResponse) else "not JSON"
            log.warning("ads answer unusable", extra={**context, "reason": f"{kind}: {error}"})
            return None

    def fetch_banner(self, ad_id: str, version: str, inbound_headers: Mapping[str, str]) -> UpstreamBanner:
        """GET /banners/<ad_id>.svg from the ads service; the caller validated ad_id and version.

        The body is read up to MAX_BANNER_BYTES. Raises BannerFetchError.
        """
        url = f"{self.settings.url}/banners/{ad_id}.svg"
        headers = tracing_headers(inbound_headers)
        for name in ("if-none-match", "if-modified-since"):
            if inbound_headers.get(name):
                headers[name] = inbound_headers[name]
        try:
            response = self.session.get(
                url,
                params={"version": version},
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
            try:
                # Reading the raw stream raises urllib3's errors, not requests' ones.
                body = response.raw.read(MAX_BANNER_BYTES + 1, decode_content=True)
            finally:
                response.close()
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            log.warning("banner fetch timed out", extra={"ads_url": url, "reason": "timeout"})
            raise BannerFetchError(504, "The ads service did not answer in time.") from None
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            log.warning("banner fetch failed", extra={"ads_url": url, "reason": type(error).__name__})
            raise BannerFetchError(502, "The ads service is unavailable.") from None
        if len(body) > MAX_BANNER_BYTES:
            log.warning("banner too large", extra={"ads_url": url, "reason": "oversized body"})
            raise BannerFetchError(502, "The ads service sent an oversized banner.")
        headers = {key.lower(): value for key, value in response.headers.items()}
        return UpstreamBanner(status=response.status_code, headers=headers, body=body)
