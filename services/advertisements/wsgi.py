"""The WSGI entry point: `gunicorn -c gunicorn.conf.py wsgi:app`."""

from ads import create_app
from ads.settings import SERVICE_NAME
from shopcommon.startup import load_app

app = load_app(SERVICE_NAME, create_app)
