"""The WSGI entry point: `gunicorn -c gunicorn.conf.py wsgi:app`."""

import sys

from ads import ConfigError, create_app
from shopcommon.tracing import attribute_spans_to_service

attribute_spans_to_service()

try:
    app = create_app()
except ConfigError as error:
    # gunicorn.conf.py already refuses a bad version in the master. Should a worker get here
    # anyway (gunicorn run without that file), exit with gunicorn's "app failed to load"
    # status 4: the master then stops, where a plain SystemExit would make it respawn forever.
    print(error, file=sys.stderr, flush=True)
    sys.exit(4)
