"""The service's settings, read from the environment and checked once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Optional

SERVICE_NAME = "advertisements"
SUPPORTED_VERSIONS = ("1.0", "2.0")
DEFAULT_VERSION = "1.0"


class ConfigError(SystemExit):
    """A setting that keeps the service from starting.

    A SystemExit, so that left uncaught (in gunicorn.conf.py or a script) Python prints just
    the message, one line without a traceback, and exits with status 1.
    """


def version_from_env(environ: Optional[Mapping[str, str]] = None) -> tuple[str, str]:
    """The configured version and the variable it came from: ADS_VERSION, DD_VERSION, default.

    An empty variable counts as unset, as a blank line in a manifest would mean.
    """
    environ = os.environ if environ is None else environ
    for name in ("ADS_VERSION", "DD_VERSION"):
        value = environ.get(name, "").strip()
        if value:
            return value, name
    return DEFAULT_VERSION, "default"


def check_version(version: object, source: str) -> str:
    """Return version if this service can be it, else raise ConfigError naming source."""
    if version not in SUPPORTED_VERSIONS:
        shown = repr(version)[:60]
        raise ConfigError(
            f"{SERVICE_NAME}: {source}={shown} is not a supported version; use one of "
            f"{', '.join(SUPPORTED_VERSIONS)}"
        )
    return version  # type: ignore[return-value]


def load_settings(environ: Optional[Mapping[str, str]] = None) -> dict:
    """The Flask config keys this service reads from the environment, checked."""
    version, source = version_from_env(environ)
    return {"ADS_VERSION": check_version(version, source)}
