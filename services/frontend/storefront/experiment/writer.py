"""A background writer that batches impressions and clicks, so recording never slows a page.

record_*() only puts a row on a bounded queue and returns; a daemon thread inserts what
gathered every `interval` seconds or `batch_size` rows, in one executemany per table. A full
queue or a failing database drops the events and counts them (logged at most once per
log_interval): a storage outage loses the metric, never the page.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from typing import Optional

from sqlalchemy.engine import Engine

from . import store

log = logging.getLogger(__name__)


class _Marker:
    """Queued behind pending rows: the thread writes its batch, then signals (and maybe stops)."""

    def __init__(self, stop: bool = False) -> None:
        self.stop = stop
        self.done = threading.Event()


class _DropLog:
    """Counts drops and logs them at most once per interval, so an outage cannot flood the log."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.pending: dict[str, int] = {}
        self.last = -float("inf")
        self.lock = threading.Lock()

    def note(self, count: int, reason: str) -> None:
        with self.lock:
            self.pending[reason] = self.pending.get(reason, 0) + count
            now = time.monotonic()
            if now - self.last < self.interval:
                return
            self.last, pending, self.pending = now, self.pending, {}
        detail = ", ".join(f"{n} ({why})" for why, n in sorted(pending.items()))
        log.warning("experiment events dropped: %s", detail)


class EventWriter:
    """Queue impressions/clicks from request handlers and write them in batches."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = 500,
        interval: float = 0.5,
        max_queue: int = 10_000,
        log_interval: float = 60.0,
        register_atexit: bool = True,
    ) -> None:
        if batch_size < 1 or max_queue < 1 or interval <= 0:
            raise ValueError("batch_size and max_queue must be >= 1 and interval > 0")
        self.engine = engine
        self.batch_size = batch_size
        self.interval = interval
        self.max_queue = max_queue
        self._drops = _DropLog(log_interval)
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue(max_queue)
        self._thread: Optional[threading.Thread] = None
        self._pid = os.getpid()
        self._closed = False
        self._counts = {"enqueued": 0, "written": 0, "dropped_queue_full": 0, "dropped_db_error": 0}
        if register_atexit:
            atexit.register(self.close, 5.0)

    # -- called from request handlers -------------------------------------------------------

    def record_impression(
        self,
        ad_id: str,
        ads_version: str,
        page_source: str,
        category: Optional[str] = None,
        customer_id: Optional[str] = None,
    ) -> bool:
        """Queue one banner impression; False if it was dropped. Never raises."""
        return self._record("impression", ad_id, ads_version, page_source, category, customer_id)

    def record_click(
        self,
        ad_id: str,
        ads_version: str,
        page_source: str,
        category: Optional[str] = None,
        customer_id: Optional[str] = None,
    ) -> bool:
        """Queue one banner click; False if it was dropped. Never raises."""
        return self._record("click", ad_id, ads_version, page_source, category, customer_id)

    def _record(self, kind: str, *fields: Optional[str]) -> bool:
        try:
            row = store.event_row(*fields)
            if self._closed:
                self._drop(1, "dropped_queue_full", "writer closed")
                return False
            self._ensure_thread()
            self._queue.put_nowait((kind, row))
        except queue.Full:
            self._drop(1, "dropped_queue_full", "queue full")
            return False
        except Exception as error:  # noqa: BLE001 - recording must never break the page
            self._drop(1, "dropped_queue_full", f"queue error: {type(error).__name__}")
            return False
        with self._lock:
            self._counts["enqueued"] += 1
        return True

    # -- control ----------------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything queued so far (rows that fail are dropped); True if done in time."""
        if self._thread is None or self._pid != os.getpid():
            return self._queue.empty()
        return self._send_marker(_Marker(), timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Flush and stop the thread; later records are dropped. Used by atexit."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            if self._send_marker(_Marker(stop=True), timeout):
                self._thread.join(timeout)

    def stats(self) -> dict[str, int]:
        """Counters: enqueued, written, dropped_queue_full (also after close), dropped_db_error, dropped."""
        with self._lock:
            counts = dict(self._counts)
        counts["dropped"] = counts["dropped_queue_full"] + counts["dropped_db_error"]
        counts["queued"] = self._queue.qsize()
        return counts

    # -- internals --------------------------------------------------------------------------

    def _send_marker(self, marker: _Marker, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(max(0.0, deadline - time.monotonic()))

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                # A gunicorn worker forked from a master that held this writer: the thread did
                # not survive the fork and pooled connections belong to the parent.
                self._queue = queue.Queue(self.max_queue)
                self._thread = None
                self._pid = os.getpid()
                self.engine.dispose(close=False)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="experiment-writer", daemon=True)
                self._thread.start()

    def _drop(self, count: int, counter: str, reason: str) -> None:
        with self._lock:
            self._counts[counter] += count
        self._drops.note(count, reason)

    def _run(self) -> None:
        batch: list[tuple[str, dict]] = []
        deadline = 0.0
        while True:
            timeout = None if not batch else max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if isinstance(item, _Marker):
                self._write(batch)
                batch = []
                item.done.set()
                if item.stop:
                    return
                continue
            if item is not None:
                if not batch:
                    deadline = time.monotonic() + self.interval
                batch.append(item)
            if item is None or len(batch) >= self.batch_size:
                self._write(batch)
                batch = []

    def _write(self, batch: list[tuple[str, dict]]) -> None:
        by_kind: dict[str, list[dict]] = {}
        for kind, row in batch:
            by_kind.setdefault(kind, []).append(row)
        for kind, rows in by_kind.items():
            try:
                store.insert_rows(self.engine, kind, rows)
            except Exception as error:  # noqa: BLE001 - the thread must outlive any DB failure
                self._drop(len(rows), "dropped_db_error", f"database error: {type(error).__name__}")
            else:
                with self._lock:
                    self._counts["written"] += len(rows)
