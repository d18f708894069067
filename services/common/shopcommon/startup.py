"""Starting a service: its settings checked in gunicorn's master, its app built in each worker.

A bad setting ends the start with one line on stderr, `<service>: NAME='value': reason`, and a
non-zero status, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Callable

from flask import Flask

from shopcommon.serving import gunicorn_settings
from shopcommon.settings import SettingError
from shopcommon.tracing import attribute_spans_to_service

# gunicorn's "app failed to load" status: its master stops, where another status from a worker
# would make it boot the worker again and again.
APP_LOAD_ERROR = 4


def gunicorn_config(service: str, default_port: int, check: Callable[[], object]) -> dict:
    """A gunicorn.conf.py's settings, after check() read the service's own settings.

    Refused here, in the master, a bad setting stops gunicorn before any worker starts.
    """
    try:
        check()
        return gunicorn_settings(default_port)
    except SettingError as error:
        raise SystemExit(f"{service}: {error}") from None


def load_app(service: str, create_app: Callable[[], Flask]) -> Flask:
    """The app a wsgi.py serves, its spans named after DD_SERVICE.

    gunicorn.conf.py refuses bad settings in the master already; should a worker meet one anyway
    (gunicorn started without that file), it exits with APP_LOAD_ERROR after one line.
    """
    attribute_spans_to_service()
    try:
        return create_app()
    except SettingError as error:
        print(f"{service}: {error}", file=sys.stderr, flush=True)
        raise SystemExit(APP_LOAD_ERROR) from None
