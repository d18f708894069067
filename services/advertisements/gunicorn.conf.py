"""gunicorn settings for the advertisements service (PORT, WEB_CONCURRENCY, BIND_HOST...)."""

from ads.settings import SERVICE_NAME, AdsServiceSettings
from shopcommon.settings import read_settings
from shopcommon.startup import gunicorn_config

globals().update(gunicorn_config(SERVICE_NAME, 5002, check=lambda: read_settings(AdsServiceSettings)))
