"""The storefront's settings: one dataclass, read from the environment once and checked.

create_app() reads them for the app (a test's config on top of the environment); gunicorn.conf.py
reads them in the master first, so a bad value stops gunicorn with one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

from shopcommon.settings import Number, OneOf, env_setting, flag, read_settings

from .experiment.settings import ExperimentSettings
from .experiment.settings import load_settings as load_experiment_settings

DEFAULT_ADS_URL = "http://advertisements:5002"
# A page must never hang on the ads service for long: the banner is optional.
_TIMEOUT = Number(low=0, high=30, low_open=True, unit="seconds")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def ads_url(raw: str) -> str:
    """The ads service's base URL, http(s)://host[:port][/path], without a trailing slash."""
    url = raw.strip()
    parts = urlsplit(url)
    parts.port  # noqa: B018 - raises ValueError (the reason) on a malformed port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must look like http://host:port")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment")
    return url.rstrip("/")


@dataclass(frozen=True)
class AdsSettings:
    """How the storefront calls the ads service."""

    url: str = env_setting("ADS_URL", ads_url, DEFAULT_ADS_URL)
    connect_timeout: float = env_setting("ADS_CONNECT_TIMEOUT", _TIMEOUT, 0.5)
    read_timeout: float = env_setting("ADS_READ_TIMEOUT", _TIMEOUT, 1.5)


@dataclass(frozen=True)
class StorefrontSettings:
    ads: AdsSettings
    experiment: ExperimentSettings
    # Signs the session cookie (the cart). Unset: gunicorn.conf.py makes one for all workers.
    secret_key: Optional[str] = env_setting("SECRET_KEY", secret=True)
    # The session and customer cookies only over HTTPS.
    session_cookie_secure: bool = env_setting("SESSION_COOKIE_SECURE", flag, False)
    # The version on the JSON log lines (ddtrace reads it too: unified service tagging).
    version: str = env_setting("DD_VERSION", default="1.0")
    log_level: str = env_setting("LOG_LEVEL", OneOf(LOG_LEVELS), "info")


def load_settings(
    environ: Optional[Mapping[str, str]] = None, instance_path: Optional[str] = None
) -> StorefrontSettings:
    """The settings from environ (the environment by default); shopcommon's SettingError if one is bad.

    instance_path: Flask's instance folder, where the experiment's default SQLite file lives.
    """
    return read_settings(
        StorefrontSettings, environ, experiment=load_experiment_settings(environ, instance_path)
    )
