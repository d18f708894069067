"""WSGI entry point: `gunicorn -c gunicorn.conf.py wsgi:app`."""

from shopcommon.startup import load_app
from storefront import create_app

app = load_app("frontend", create_app)
