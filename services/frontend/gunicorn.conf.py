"""Gunicorn settings for the storefront. This file runs in the master, before workers fork."""

import os
import secrets

from shopcommon.startup import gunicorn_config
from storefront.settings import load_settings

# Every setting checked once here: a bad one stops gunicorn with one line, before any worker boots.
globals().update(gunicorn_config("frontend", 3000, check=load_settings))

if not os.environ.get("SECRET_KEY", "").strip():
    # Generated here, in the master, so every forked worker inherits the same key and
    # a session cookie signed by one worker is valid on all. Never a committed secret.
    os.environ["SECRET_KEY"] = secrets.token_hex(32)
