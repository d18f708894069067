"""gunicorn settings for the advertisements service (PORT, WEB_CONCURRENCY, BIND_HOST)."""

from ads.settings import check_version, version_from_env
from shopcommon.serving import gunicorn_settings

# Refuse a bad version here, in the master: one line on stderr and exit 1, before any
# worker starts (a worker failing instead would leave gunicorn respawning it).
check_version(*version_from_env())

globals().update(gunicorn_settings(default_port=5002))
