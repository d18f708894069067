"""ddtrace settings both services need, whichever launcher started them."""

from __future__ import annotations

import sys

# The integrations whose spans make up the demo's service map: the web request and the
# outbound call to the ads service.
NAMED_INTEGRATIONS = ("flask", "requests")


def attribute_spans_to_service() -> None:
    """Name the web and HTTP-client spans after DD_SERVICE, so they carry its version tag.

    ddtrace 4 treats a DD_SERVICE equal to the name it infers from the command line (gunicorn
    in services/frontend infers "frontend") as unset, and falls back to integration names:
    service "flask" or "requests", without a version tag. The manifests set
    DD_TRACE_REMOVE_INTEGRATION_SERVICE_NAMES_ENABLED=true, which fixes this; a launcher that
    forgot it (a hand-typed ddtrace-run, an image without the variable) gets the same result
    for these spans from here. A no-op without ddtrace-run: importing ddtrace would start it.
    """
    if "ddtrace" not in sys.modules:
        return
    from ddtrace import config

    if not config.service:
        return
    for name in NAMED_INTEGRATIONS:
        getattr(config, name)["service"] = config.service
