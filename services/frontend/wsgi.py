"""WSGI entry point: `gunicorn -c gunicorn.conf.py wsgi:app`."""

from shopcommon.tracing import attribute_spans_to_service
from storefront import create_app

attribute_spans_to_service()

app = create_app()
