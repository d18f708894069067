"""Pooled HTTP connections that the client gives up before the server does.

A server closes a keep-alive connection after it has been idle for a while (gunicorn: its
keepalive; Envoy: its idle timeout, an hour). A client that reuses the connection at that very
moment sends its request into a closing socket and gets a reset: the page loses its banner.
urllib3 keeps pooled connections forever, so these pools close a connection that has been idle
for max_idle seconds before reusing it; max_idle must stay below every server's idle timeout.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable, Optional

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# Below gunicorn's keep-alive (shopcommon.serving.KEEPALIVE_SECONDS) and Envoy's idle timeout.
MAX_IDLE_SECONDS = 30.0


class _IdleLimit:
    """Mixed into a urllib3 pool: stamp a connection when it comes back, check it going out."""

    def __init__(self, *args: Any, max_idle: float, clock: Callable[[], float], **kwargs: Any) -> None:
        self.max_idle = max_idle
        self.clock = clock
        super().__init__(*args, **kwargs)

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.idle_since = self.clock()
        super()._put_conn(conn)  # type: ignore[misc]

    def _get_conn(self, timeout: Optional[float] = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        idle_since = getattr(conn, "idle_since", None)
        if idle_since is not None and self.clock() - idle_since >= self.max_idle:
            # As urllib3 does with a connection it finds dropped: closed here, the next request
            # on it opens a fresh socket.
            conn.close()
        return conn


class IdleLimitedHTTPPool(_IdleLimit, HTTPConnectionPool):
    pass


class IdleLimitedHTTPSPool(_IdleLimit, HTTPSConnectionPool):
    pass


class IdleLimitedAdapter(HTTPAdapter):
    """A requests adapter whose pools close connections idle for max_idle seconds or more."""

    def __init__(
        self, *args: Any, max_idle: float = MAX_IDLE_SECONDS, clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        if max_idle <= 0:
            raise ValueError(f"max_idle={max_idle!r}: must be more than 0 seconds")
        self.max_idle = max_idle
        self.clock = clock
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        limit = {"max_idle": self.max_idle, "clock": self.clock}
        self.poolmanager.pool_classes_by_scheme = {
            "http": functools.partial(IdleLimitedHTTPPool, **limit),
            "https": functools.partial(IdleLimitedHTTPSPool, **limit),
        }
