"""A background writer that batches impressions and clicks, so recording never slows a page.

record() only adds a row to a bounded buffer and returns; a daemon thread inserts what
gathered every `interval` seconds or `batch_size` rows, in one transaction. While the store is
unreachable (a PostgreSQL restart, a network cut, a locked SQLite file) the rows stay in the
buffer and the thread retries with a short back-off; when the store answers again everything
buffered is written, in order. Only what does not fit in the buffer is dropped: counted per
kind and reason, logged (at most once per log_interval), and stored with the next write so the
report shows every replica's losses. close() (at exit: a gunicorn worker stopping on SIGTERM)
writes what is buffered before the process ends.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections import Counter
from typing import Optional

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError

from . import store

log = logging.getLogger(__name__)

# Per worker: 60 s of a store outage at up to 160 events/s (the shop makes a few per page view).
DEFAULT_MAX_BUFFER = 10_000
# A SIGTERM'd gunicorn worker has graceful_timeout (10 s) to finish; this leaves it a margin.
EXIT_TIMEOUT = 8.0
DROP_REASONS = ("buffer_full", "closed", "rejected", "exit")


class _Marker:
    """Queued behind pending rows: the thread writes them, then signals (and maybe stops)."""

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
            if time.monotonic() - self.last < self.interval:
                return
        self.flush()

    def flush(self) -> None:
        """Log the drops not logged yet (the outage is over, or the process ends)."""
        with self.lock:
            self.last, pending, self.pending = time.monotonic(), self.pending, {}
        if pending:
            detail = ", ".join(f"{n} ({why})" for why, n in sorted(pending.items()))
            log.warning("experiment events dropped: %s", detail)


def store_unreachable(error: BaseException) -> bool:
    """True for errors that pass (the store is away, locked or not set up yet): retry the rows.

    False for a row the store refuses (a constraint): retrying it would block the buffer.
    """
    if isinstance(error, DBAPIError):
        return not isinstance(error, (IntegrityError, DataError)) or error.connection_invalidated
    return isinstance(error, (SQLAlchemyError, OSError))


class EventWriter:
    """Buffer impressions/clicks from request handlers and write them in batches."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = 500,
        interval: float = 0.5,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        retry_max: float = 1.0,
        log_interval: float = 60.0,
        register_atexit: bool = True,
    ) -> None:
        if batch_size < 1 or max_buffer < 1 or interval <= 0 or retry_max <= 0:
            raise ValueError("batch_size and max_buffer must be >= 1, interval and retry_max > 0")
        self.engine = engine
        self.batch_size = batch_size
        self.interval = interval
        self.max_buffer = max_buffer
        self.retry_max = retry_max
        self._drops = _DropLog(log_interval)
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._wake = threading.Event()  # cuts a retry back-off short (close)
        self._thread: Optional[threading.Thread] = None
        self._pid = os.getpid()
        self._closed = False
        # Accepted, not yet written (queued plus the batch in the thread's hands), per kind.
        self._buffered: Counter = Counter()
        self._unreachable_since: Optional[float] = None
        self._counts: Counter = Counter({"enqueued": 0, "written": 0})
        self._unsaved_drops: Counter = Counter()  # (kind, reason) -> count, stored with the next write
        if register_atexit:
            atexit.register(self.close, EXIT_TIMEOUT)

    # -- called from request handlers -------------------------------------------------------

    def record(
        self,
        kind: str,
        ad_id: str,
        ads_version: str,
        page_source: str,
        category: Optional[str] = None,
        customer_id: Optional[str] = None,
    ) -> bool:
        """Buffer one event of kind "impression" or "click"; False if it was dropped. Never raises."""
        try:
            if kind not in store.EVENT_TABLES:
                raise ValueError(f"no such event kind: {kind!r}")
            row = store.event_row(ad_id, ads_version, page_source, category, customer_id)
            with self._lock:
                if self._closed:
                    reason = "closed"
                elif sum(self._buffered.values()) >= self.max_buffer:
                    reason = "buffer_full"
                else:
                    reason = ""
                    self._buffered[kind] += 1
                    self._counts["enqueued"] += 1
            if reason:
                # After close nothing writes any more: such a drop is logged, not stored.
                self._drop(kind, 1, reason, persist=reason != "closed")
                return False
            self._ensure_thread()
            self._queue.put_nowait((kind, row))
        except Exception as error:  # noqa: BLE001 - recording must never break the page
            log.warning("experiment event not recorded: %s", type(error).__name__)
            return False
        return True

    # -- control ----------------------------------------------------------------------------

    @property
    def store_reachable(self) -> bool:
        """False while the last write failed because the store was away."""
        return self._unreachable_since is None

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything buffered so far; True once written, False if not done in time."""
        if self._thread is None or self._pid != os.getpid():
            return not sum(self._buffered.values())
        return self._send_marker(_Marker(), timeout)

    def close(self, timeout: float = EXIT_TIMEOUT) -> None:
        """Write what is buffered (waiting up to timeout for the store) and stop; later records drop."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            return
        self._wake.set()
        if self._send_marker(_Marker(stop=True), timeout):
            self._thread.join(timeout)
            self._drops.flush()
            return
        self._drops.flush()
        # The store stayed away through the whole grace period: what is still buffered is lost.
        with self._lock:
            lost = dict(self._buffered)
            self._counts["dropped_exit"] += sum(lost.values())
        if sum(lost.values()):
            log.error("experiment events lost at exit, the store did not answer within %gs: %s",
                      timeout, ", ".join(f"{n} {kind}s" for kind, n in sorted(lost.items()) if n))

    def stats(self) -> dict:
        """Counters: enqueued, written, buffered, dropped (and per reason), store_reachable."""
        with self._lock:
            counts = dict(self._counts)
            buffered = sum(self._buffered.values())
        for reason in DROP_REASONS:
            counts.setdefault(f"dropped_{reason}", 0)
        counts["dropped"] = sum(counts[f"dropped_{reason}"] for reason in DROP_REASONS)
        counts["buffered"] = buffered
        counts["store_reachable"] = self.store_reachable
        return counts

    # -- internals --------------------------------------------------------------------------

    def _send_marker(self, marker: _Marker, timeout: float) -> bool:
        self._queue.put(marker)
        return marker.done.wait(max(0.0, timeout))

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                # A gunicorn worker forked from a master that held this writer: the thread did
                # not survive the fork, the parent's buffer is the parent's to write, and pooled
                # connections belong to the parent.
                self._queue = queue.Queue()
                self._buffered = Counter()
                self._thread = None
                self._pid = os.getpid()
                self.engine.dispose(close=False)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="experiment-writer", daemon=True)
                self._thread.start()

    def _drop(self, kind: str, count: int, reason: str, persist: bool = True) -> None:
        if count <= 0:
            return
        with self._lock:
            self._counts[f"dropped_{reason}"] += count
            if persist:
                self._unsaved_drops[(kind, reason)] += count
        self._drops.note(count, reason)

    def _run(self) -> None:
        batch: list = []  # (kind, row) taken from the queue, not yet written
        markers: list = []
        due = 0.0  # when a partial batch is written
        while True:
            if markers and not batch:
                for marker in markers:
                    marker.done.set()
                if any(marker.stop for marker in markers):
                    return
                markers = []
            if batch and (markers or len(batch) >= self.batch_size or time.monotonic() >= due):
                self._write(batch)
                continue
            timeout = max(0.0, due - time.monotonic()) if batch else None
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                continue
            if isinstance(item, _Marker):
                markers.append(item)
                continue
            if not batch:
                due = time.monotonic() + self.interval
            batch.append(item)

    def _write(self, batch: list) -> None:
        """Write batch (emptied on success); while the store is away, wait and keep it."""
        if self._unreachable_since is not None:
            # Back-off: 0.1 s doubling up to retry_max since the outage began.
            waited = time.monotonic() - self._unreachable_since
            if self._wake.wait(min(self.retry_max, max(0.1, waited))):
                self._wake.clear()  # one retry right away, then the back-off again
        with self._lock:
            drops, self._unsaved_drops = self._unsaved_drops, Counter()
        try:
            if self._unreachable_since is not None:
                # Tables may be missing if the store was away when the app started.
                store.ensure_schema(self.engine, attempts=1)
            store.insert_events(self.engine, _by_kind(batch), drops)
        except Exception as error:  # noqa: BLE001 - the thread must outlive any store failure
            with self._lock:
                self._unsaved_drops.update(drops)
            if store_unreachable(error):
                self._note_unreachable(error, len(batch))
            else:
                self._write_one_by_one(batch)
            return
        self._written(batch)
        if drops:
            self._drops.flush()  # the drops are stored: the log tells the rest of them now

    def _write_one_by_one(self, batch: list) -> None:
        """A batch the store refused: keep the good rows, drop the ones it refuses."""
        while batch:
            kind, row = batch[0]
            try:
                store.insert_events(self.engine, {kind: [row]})
            except Exception as error:  # noqa: BLE001
                if store_unreachable(error):
                    self._note_unreachable(error, len(batch))
                    return
                batch.pop(0)
                with self._lock:
                    self._buffered[kind] -= 1
                self._drop(kind, 1, "rejected")
                continue
            self._written(batch[:1])
            del batch[:1]

    def _written(self, rows: list) -> None:
        with self._lock:
            self._counts["written"] += len(rows)
            self._buffered.subtract(kind for kind, _ in rows)
            buffered = sum(self._buffered.values())
        del rows[:]
        if self._unreachable_since is not None:
            log.warning("experiment store answers again after %.1fs; writing %d buffered events",
                        time.monotonic() - self._unreachable_since, buffered)
            self._unreachable_since = None

    def _note_unreachable(self, error: BaseException, in_hand: int) -> None:
        if self._unreachable_since is None:
            self._unreachable_since = time.monotonic()
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()
            log.warning("experiment store unreachable; buffering events (up to %d) until it answers: %s",
                        self.max_buffer, reason[0][:200] if reason else type(error).__name__)


def _by_kind(batch: list) -> dict:
    by_kind: dict = {}
    for kind, row in batch:
        by_kind.setdefault(kind, []).append(row)
    return by_kind
