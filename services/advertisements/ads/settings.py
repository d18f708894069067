"""The service's settings, read from the environment and checked once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from shopcommon.settings import OneOf, env_setting

SERVICE_NAME = "advertisements"
SUPPORTED_VERSIONS = ("1.0", "2.0")
DEFAULT_VERSION = "1.0"


@dataclass(frozen=True)
class AdsServiceSettings:
    # Which version this process is; DD_VERSION (unified service tagging) when ADS_VERSION is unset.
    version: str = env_setting(
        "ADS_VERSION",
        OneOf(SUPPORTED_VERSIONS, reason=f"not a supported version; use {' or '.join(SUPPORTED_VERSIONS)}"),
        DEFAULT_VERSION,
        fallback=("DD_VERSION",),
    )
