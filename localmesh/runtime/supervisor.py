"""The kubelet part: run processes in their own process groups, probe, restart, stop.

Every process gets its own session (so its process group holds everything it forks and
a terminal's Ctrl-C reaches only `up`), its output prefixed with its name, a readiness
probe, and on a crash a restart after an exponential back-off (CrashLoopBackOff).
Stopping is SIGTERM to the group, then SIGKILL after the grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TextIO

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
# A process that ran this long before crashing starts its back-off afresh (kubelet: 10 min).
BACKOFF_RESET_AFTER = 60.0
# Until a process is first ready it is probed often, so a new pod joins quickly.
STARTUP_PROBE_PERIOD = 0.5
TICK = 0.2


def backoff_delay(crashes: int) -> float:
    """Seconds to wait before restart number `crashes` (1, 2, 4, ... capped)."""
    return min(BACKOFF_MAX, BACKOFF_FIRST * (2 ** max(0, crashes - 1)))


@dataclass
class ProcessSpec:
    name: str
    command: tuple
    cwd: str
    env: Mapping[str, str]
    grace_seconds: float = 30.0
    readiness_url: Optional[str] = None  # None: ready once started
    liveness_url: Optional[str] = None
    liveness_failures: int = 3
    probe_period: float = 10.0  # after the first success; before it, every STARTUP_PROBE_PERIOD
    info: dict = field(default_factory=dict)  # shown in status (deployment, labels, port...)


@dataclass
class Managed:
    spec: ProcessSpec
    popen: Optional[subprocess.Popen] = None
    restarts: int = 0
    crashes_in_row: int = 0
    ready: bool = False
    state: str = "Pending"
    last_exit: Optional[int] = None
    started_at: float = 0.0
    next_start: float = 0.0
    next_probe: float = 0.0
    liveness_misses: int = 0
    ever_ready: bool = False
    stopping: bool = False

    @property
    def pid(self) -> Optional[int]:
        return self.popen.pid if self.popen is not None and self.popen.poll() is None else None


def _probe(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 400
    except (urllib.error.URLError, OSError, ValueError):
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Supervisor:
    def __init__(self, log_dir: Path, echo: Optional[TextIO] = None) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self._lock = threading.RLock()
        self._echo_lock = threading.Lock()
        self._processes: dict = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()

    # ---- public ---------------------------------------------------------------------

    def start(self, spec: ProcessSpec) -> None:
        with self._lock:
            if spec.name in self._processes:
                raise ValueError(f"{spec.name} is already running")
            managed = Managed(spec)
            self._processes[spec.name] = managed
            self._spawn(managed)

    def names(self) -> list:
        with self._lock:
            return list(self._processes)

    def is_ready(self, name: str) -> bool:
        with self._lock:
            managed = self._processes.get(name)
            return bool(managed and managed.ready)

    def wait_ready(self, names: list, timeout: float) -> list:
        """Wait until every named process is ready; the names still not ready at timeout."""
        deadline = time.monotonic() + timeout
        while True:
            waiting = [name for name in names if not self.is_ready(name)]
            if not waiting or time.monotonic() >= deadline:
                return waiting
            time.sleep(TICK)

    def stop(self, names: list, grace: Optional[float] = None) -> None:
        """SIGTERM each named process group at once; SIGKILL what is left after its grace."""
        with self._lock:
            targets = [self._processes[n] for n in names if n in self._processes]
            for managed in targets:
                managed.stopping = True
                managed.state = "Terminating"
                managed.ready = False
        started = time.monotonic()
        for managed in targets:
            if managed.popen is not None:
                _signal_group(managed.popen.pid, signal.SIGTERM)
        pending = [m for m in targets if m.popen is not None]
        killed: set = set()
        while pending:
            now = time.monotonic()
            still = []
            for managed in pending:
                managed.popen.poll()  # reap the leader so a dead group reads as empty
                if not group_alive(managed.popen.pid):
                    continue
                limit = managed.spec.grace_seconds if grace is None else grace
                if now - started >= limit and managed.popen.pid not in killed:
                    self._say(managed.spec.name, f"did not stop within {limit:g}s of SIGTERM: SIGKILL")
                    _signal_group(managed.popen.pid, signal.SIGKILL)
                    killed.add(managed.popen.pid)
                still.append(managed)
            pending = still
            if pending:
                time.sleep(0.05)
        with self._lock:
            for managed in targets:
                managed.state = "Terminated"
                self._processes.pop(managed.spec.name, None)

    def stop_all(self, grace: Optional[float] = None) -> None:
        self._stop.set()
        self.stop(self.names(), grace)

    def snapshot(self) -> list:
        """Status rows: name, pid, ready, state, restarts, last exit code and the spec's info."""
        with self._lock:
            rows = []
            for managed in self._processes.values():
                rows.append({
                    "name": managed.spec.name,
                    "pid": managed.pid,
                    "ready": managed.ready,
                    "state": managed.state,
                    "restarts": managed.restarts,
                    "last_exit": managed.last_exit,
                    **managed.spec.info,
                })
            return rows

    def pid_of(self, name: str) -> Optional[int]:
        with self._lock:
            managed = self._processes.get(name)
            return managed.pid if managed else None

    # ---- internals ------------------------------------------------------------------

    def _say(self, name: str, text: str) -> None:
        line = f"[{name}] {text}\n"
        with self._echo_lock:
            if self.echo is not None:
                self.echo.write(line)
                self.echo.flush()
        with open(self.log_dir / f"{name}.log", "a", encoding="utf-8") as log:
            log.write(line)

    def _spawn(self, managed: Managed) -> None:
        spec = managed.spec
        managed.ready = False
        managed.ever_ready = False
        managed.liveness_misses = 0
        try:
            popen = subprocess.Popen(
                list(spec.command),
                cwd=spec.cwd,
                env=dict(spec.env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            managed.popen = None
            managed.last_exit = None
            managed.state = f"Error: {error.strerror or error}"
            self._say(spec.name, f"cannot start {spec.command[0]!r}: {error.strerror or error}")
            self._schedule_restart(managed)
            return
        managed.popen = popen
        managed.state = "Running"
        managed.started_at = time.monotonic()
        managed.next_probe = managed.started_at + 0.3
        if spec.readiness_url is None:
            managed.ready = True
        threading.Thread(target=self._pump, args=(spec.name, popen), daemon=True).start()

    def _pump(self, name: str, popen: subprocess.Popen) -> None:
        """Copy a process's output, line by line, prefixed with its name."""
        prefix = f"[{name}] "
        with open(self.log_dir / f"{name}.log", "a", encoding="utf-8") as log:
            for raw in iter(popen.stdout.readline, b""):
                line = prefix + raw.decode("utf-8", "replace").rstrip("\n") + "\n"
                log.write(line)
                log.flush()
                if self.echo is not None:
                    with self._echo_lock:
                        try:
                            self.echo.write(line)
                            self.echo.flush()
                        except (OSError, ValueError):
                            pass
        popen.stdout.close()

    def _schedule_restart(self, managed: Managed) -> None:
        ran = time.monotonic() - managed.started_at if managed.started_at else 0.0
        if ran >= BACKOFF_RESET_AFTER:
            managed.crashes_in_row = 0
        managed.crashes_in_row += 1
        delay = backoff_delay(managed.crashes_in_row)
        managed.next_start = time.monotonic() + delay
        if managed.crashes_in_row > 1:
            managed.state = "CrashLoopBackOff"
        self._say(managed.spec.name, f"restarting in {delay:g}s (back-off)")

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            with self._lock:
                processes = list(self._processes.values())
            for managed in processes:
                try:
                    self._tend(managed)
                except Exception as error:  # noqa: BLE001 - the loop must keep every pod tended
                    sys.stderr.write(f"localmesh: supervising {managed.spec.name}: {error}\n")

    def _tend(self, managed: Managed) -> None:
        with self._lock:
            if managed.stopping or self._stop.is_set():
                return
            now = time.monotonic()
            if managed.popen is None or managed.popen.poll() is not None:
                if managed.popen is not None and managed.state in ("Running",):
                    self._exited(managed)
                if now >= managed.next_start and managed.state != "Running":
                    managed.restarts += 1
                    self._spawn(managed)
                return
        if now < managed.next_probe:
            return
        spec = managed.spec
        if spec.readiness_url is not None:
            ready = _probe(spec.readiness_url)
            with self._lock:
                if not managed.stopping:
                    managed.ready = ready and managed.popen is not None and managed.popen.poll() is None
                    managed.ever_ready = managed.ever_ready or managed.ready
        managed.next_probe = now + (spec.probe_period if managed.ever_ready else STARTUP_PROBE_PERIOD)
        if spec.liveness_url is not None and now - managed.started_at > 5.0:
            alive = _probe(spec.liveness_url)
            managed.liveness_misses = 0 if alive else managed.liveness_misses + 1
            if managed.liveness_misses >= spec.liveness_failures:
                self._say(spec.name, "liveness probe failed; killing the process group")
                _signal_group(managed.popen.pid, signal.SIGKILL)

    def _exited(self, managed: Managed) -> None:
        code = managed.popen.returncode
        managed.last_exit = code
        managed.ready = False
        # Whatever the leader left behind in its group dies with it, as in a container.
        _signal_group(managed.popen.pid, signal.SIGKILL)
        how = f"signal {-code}" if code < 0 else f"code {code}"
        managed.state = "Error"
        self._say(managed.spec.name, f"exited with {how}")
        self._schedule_restart(managed)
