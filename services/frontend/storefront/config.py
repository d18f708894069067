"""Settings read from the environment, validated once when the app is created."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit

DEFAULT_ADS_URL = "http://advertisements:5002"
DEFAULT_ADS_CONNECT_TIMEOUT = 0.5
DEFAULT_ADS_READ_TIMEOUT = 1.5
# A page must never hang on the ads service for long: the banner is optional.
MAX_TIMEOUT_SECONDS = 30.0


class ConfigError(ValueError):
    """A setting from the environment that the storefront cannot run with."""


@dataclass(frozen=True)
class AdsSettings:
    url: str
    connect_timeout: float
    read_timeout: float


def _timeout(name: str, raw: Any, default: float) -> float:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={raw!r}: not a number of seconds") from None
    if not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise ConfigError(f"{name}={raw!r}: must be more than 0 and at most {MAX_TIMEOUT_SECONDS:g} seconds")
    return value


def _ads_url(raw: Any) -> str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return DEFAULT_ADS_URL
    url = str(raw).strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ConfigError(f"ADS_URL={url!r}: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"ADS_URL={url!r}: must look like http://host:port")
    if parts.query or parts.fragment:
        raise ConfigError(f"ADS_URL={url!r}: must not carry a query or fragment")
    del port  # parsed only to reject a malformed port early
    return url.rstrip("/")


def ads_settings(source: Optional[Mapping[str, Any]] = None) -> AdsSettings:
    """The ads client settings from a mapping (the environment by default).

    Raises ConfigError with a one-line message naming the variable and the reason.
    """
    source = os.environ if source is None else source
    return AdsSettings(
        url=_ads_url(source.get("ADS_URL")),
        connect_timeout=_timeout(
            "ADS_CONNECT_TIMEOUT", source.get("ADS_CONNECT_TIMEOUT"), DEFAULT_ADS_CONNECT_TIMEOUT
        ),
        read_timeout=_timeout("ADS_READ_TIMEOUT", source.get("ADS_READ_TIMEOUT"), DEFAULT_ADS_READ_TIMEOUT),
    )


def from_env() -> dict:
    """Flask config keys taken from the environment (unset ones keep their defaults)."""
    config: dict = {}
    for name in ("ADS_URL", "ADS_CONNECT_TIMEOUT", "ADS_READ_TIMEOUT", "SECRET_KEY"):
        value = os.environ.get(name, "").strip()
        if value:
            config[name] = value
    config["SESSION_COOKIE_SECURE"] = os.environ.get("SESSION_COOKIE_SECURE", "").lower() in ("1", "true")
    return config
