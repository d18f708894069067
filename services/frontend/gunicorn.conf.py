"""Gunicorn settings for the storefront. This file runs in the master, before workers fork."""

import os
import secrets

from shopcommon.serving import gunicorn_settings
from storefront.config import ConfigError, ads_settings
from storefront.experiment import settings as experiment_settings
from storefront.experiment.wiring import ab_mode

try:
    # Fail once, with one line, instead of every worker crashing at boot.
    ads_settings()
    experiment_settings.from_env()
    ab_mode(os.environ.get("AB_MODE"))
except (ConfigError, ValueError) as error:
    raise SystemExit(f"frontend: {error}") from None

if not os.environ.get("SECRET_KEY", "").strip():
    # Generated here, in the master, so every forked worker inherits the same key and
    # a session cookie signed by one worker is valid on all. Never a committed secret.
    os.environ["SECRET_KEY"] = secrets.token_hex(32)

globals().update(gunicorn_settings(default_port=3000))
