"""Creating the store's schema without holding up a page: if the store is away, retried in the background."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.engine import Engine

from . import store

log = logging.getLogger(__name__)


class SchemaGuard:
    """Creates the schema; after a failure, retries at most every retry_every seconds, in a thread."""

    def __init__(self, engine: Engine, retry_every: float = 10.0) -> None:
        self.engine = engine
        self.retry_every = retry_every
        self.ready = False
        self._last_try = -float("inf")
        self._running = False
        self._lock = threading.Lock()

    def ensure_now(self) -> bool:
        """Create the schema in this thread; False (and a warning) while the store is away."""
        try:
            store.ensure_schema(self.engine, attempts=1)
        except Exception as error:  # noqa: BLE001 - any store failure only loses metrics
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:200]
            log.warning("experiment store unavailable; events are dropped until it answers: %s", reason)
            return False
        self.ready = True
        return True

    def ensure_in_background(self) -> None:
        """Start one attempt in a thread, unless the schema is there, an attempt runs, or one was recent."""
        if self.ready:
            return
        with self._lock:
            now = time.monotonic()
            if self._running or now - self._last_try < self.retry_every:
                return
            self._last_try, self._running = now, True

        def attempt() -> None:
            try:
                self.ensure_now()
            finally:
                self._running = False

        threading.Thread(target=attempt, name="experiment-schema", daemon=True).start()
