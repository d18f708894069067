"""The kubelet part: run processes in their own process groups, probe, restart, stop.

Every process gets its own session (so its process group holds everything it forks and
a terminal's Ctrl-C reaches only `up`), its output prefixed with its name, readiness and
liveness probes as the kubelet runs them, and on a crash a restart after an exponential
back-off (CrashLoopBackOff). Stopping is SIGTERM to the group, then SIGKILL after the grace
period.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TextIO

from localmesh.runtime.processes import group_alive, signal_group

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
# A process that ran this long before crashing starts its back-off afresh (kubelet: 10 min).
BACKOFF_RESET_AFTER = 60.0
TICK = 0.2


def backoff_delay(crashes: int) -> float:
    """Seconds to wait before restart number `crashes` (1, 2, 4, ... capped)."""
    return min(BACKOFF_MAX, BACKOFF_FIRST * (2 ** max(0, crashes - 1)))


@dataclass(frozen=True)
class ProbeSpec:
    """An HTTP GET probe with the kubelet's timing (Kubernetes defaults)."""

    url: str
    initial_delay: float = 0.0  # seconds after the container started before the first probe
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1  # consecutive successes that make a failing probe pass
    failure_threshold: int = 3  # consecutive failures that make a passing probe fail


@dataclass
class ProcessSpec:
    name: str
    command: tuple[str, ...]
    cwd: str
    env: Mapping[str, str]
    grace_seconds: float = 30.0
    readiness: Optional[ProbeSpec] = None  # None: ready once started
    liveness: Optional[ProbeSpec] = None  # None: only an exit restarts the process
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
    generation: int = 0  # one per container start: probe results never carry over a restart
    kill_at: Optional[float] = None  # a liveness kill sent SIGTERM; SIGKILL at this time
    stopping: bool = False

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None and not self.stopping

    @property
    def pid(self) -> Optional[int]:
        return self.popen.pid if self.popen is not None and self.popen.poll() is None else None


def http_probe(url: str, timeout: float) -> bool:
    """The kubelet's httpGet: 200-399 within timeout passes; anything else fails."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 400
    except (urllib.error.URLError, OSError, ValueError):
        return False


class ProbeState:
    """One probe's result over consecutive outcomes, as the kubelet's prober worker keeps it.

    The result changes only after success_threshold successes (or failure_threshold failures)
    in a row; until then the previous result stands.
    """

    def __init__(self, spec: ProbeSpec, initial: bool) -> None:
        self.spec = spec
        self.passing = initial
        self._last: Optional[bool] = None
        self._run = 0

    def record(self, ok: bool) -> bool:
        """Add one outcome; True when the result changed."""
        self._run = self._run + 1 if ok == self._last else 1
        self._last = ok
        threshold = self.spec.success_threshold if ok else self.spec.failure_threshold
        if ok != self.passing and self._run >= threshold:
            self.passing = ok
            return True
        return False


class Supervisor:
    def __init__(
        self,
        log_dir: Path,
        echo: Optional[TextIO] = None,
        on_ready_change: Optional[Callable[[str, bool], None]] = None,
        on_group: Optional[Callable[[int, bool], None]] = None,
        before_kill: Optional[Callable[[str], None]] = None,
    ) -> None:
        """on_ready_change(name, ready) runs when a process's readiness changes (not for a stop);
        on_group(pgid, alive) when a process group starts or has been reaped; before_kill(name)
        after a failed liveness probe took the process out of readiness, before its SIGTERM."""
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self.on_ready_change = on_ready_change
        self.on_group = on_group
        self.before_kill = before_kill
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
        for kind, probe in (("readiness", spec.readiness), ("liveness", spec.liveness)):
            if probe is not None:
                threading.Thread(target=self._probe_worker, args=(managed, kind, probe),
                                 name=f"{kind}:{spec.name}", daemon=True).start()

    def names(self) -> list[str]:
        with self._lock:
            return list(self._processes)

    def is_ready(self, name: str) -> bool:
        with self._lock:
            managed = self._processes.get(name)
            return bool(managed and managed.ready)

    def ready_names(self) -> set[str]:
        with self._lock:
            return {name for name, managed in self._processes.items() if managed.ready}

    def wait_ready(self, names: list[str], timeout: float) -> list[str]:
        """Wait until every named process is ready; the names still not ready at timeout."""
        deadline = time.monotonic() + timeout
        while True:
            waiting = [name for name in names if not self.is_ready(name)]
            if not waiting or time.monotonic() >= deadline:
                return waiting
            time.sleep(TICK / 4)

    def wait_change(self, ready: set[str], timeout: float) -> None:
        """Wait until the set of ready processes differs from ready (or timeout)."""
        deadline = time.monotonic() + timeout
        while self.ready_names() == ready and time.monotonic() < deadline:
            time.sleep(TICK / 4)

    def stop(self, names: list[str], grace: Optional[float] = None) -> None:
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
                signal_group(managed.popen.pid, signal.SIGTERM)
        pending = [m for m in targets if m.popen is not None]
        killed: set = set()
        while pending:
            now = time.monotonic()
            still = []
            for managed in pending:
                managed.popen.poll()  # reap the leader so a dead group reads as empty
                if not group_alive(managed.popen.pid):
                    self._group_gone(managed.popen.pid)
                    continue
                limit = managed.spec.grace_seconds if grace is None else grace
                if now - started >= limit and managed.popen.pid not in killed:
                    self._say(managed.spec.name, f"did not stop within {limit:g}s of SIGTERM: SIGKILL")
                    signal_group(managed.popen.pid, signal.SIGKILL)
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

    def snapshot(self) -> list[dict]:
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

    # ---- internals ------------------------------------------------------------------

    def _say(self, name: str, text: str) -> None:
        line = f"[{name}] {text}\n"
        with self._echo_lock:
            if self.echo is not None:
                self.echo.write(line)
                self.echo.flush()
        with open(self.log_dir / f"{name}.log", "a", encoding="utf-8") as log:
            log.write(line)

    def _set_ready(self, managed: Managed, ready: bool) -> None:
        """Change readiness (lock held) and tell the listener outside the lock."""
        if managed.ready == ready:
            return
        managed.ready = ready
        if self.on_ready_change is not None and not managed.stopping:
            threading.Thread(target=self.on_ready_change, args=(managed.spec.name, ready),
                             daemon=True).start()

    def _group_gone(self, pgid: int) -> None:
        if self.on_group is not None:
            self.on_group(pgid, False)

    def _spawn(self, managed: Managed) -> None:
        spec = managed.spec
        managed.kill_at = None
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
        if self.on_group is not None:
            self.on_group(popen.pid, True)
        managed.popen = popen
        managed.state = "Running"
        managed.generation += 1
        managed.started_at = time.monotonic()
        if spec.readiness is None:
            self._set_ready(managed, True)
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
        while not self._stop.wait(TICK / 4):
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
            if managed.kill_at is not None and now >= managed.kill_at:
                self._say(managed.spec.name, f"did not stop within {managed.spec.grace_seconds:g}s "
                          "of SIGTERM: SIGKILL")
                signal_group(managed.popen.pid, signal.SIGKILL)
                managed.kill_at = None

    def _exited(self, managed: Managed) -> None:
        code = managed.popen.returncode
        managed.last_exit = code
        self._set_ready(managed, False)
        # Whatever the leader left behind in its group dies with it, as in a container.
        signal_group(managed.popen.pid, signal.SIGKILL)
        self._group_gone(managed.popen.pid)
        how = f"signal {-code}" if code < 0 else f"code {code}"
        managed.state = "Error"
        self._say(managed.spec.name, f"exited with {how}")
        self._schedule_restart(managed)

    # ---- probes ---------------------------------------------------------------------

    def _probe_worker(self, managed: Managed, kind: str, spec: ProbeSpec) -> None:
        """One probe of one process, as the kubelet's prober worker runs it.

        Each container start begins afresh: readiness starts failing, liveness passing; the
        first probe runs initial_delay after the start, then one every period. A readiness
        result sets the process's readiness; a failed liveness result kills the container
        (SIGTERM to its group, SIGKILL after its grace period) and the restart follows.
        """
        generation, state, due = 0, ProbeState(spec, kind == "liveness"), 0.0
        while not self._stop.is_set():
            with self._lock:
                if managed.stopping or self._processes.get(managed.spec.name) is not managed:
                    return
                if not managed.running or managed.kill_at is not None:
                    current = None
                else:
                    current = managed.generation
                    if current != generation:
                        generation, state = current, ProbeState(spec, kind == "liveness")
                        due = managed.started_at + spec.initial_delay
            now = time.monotonic()
            if current is None or now < due:
                self._stop.wait(min(TICK / 4, max(0.0, due - now)) if current else TICK / 4)
                continue
            due += spec.period * max(1, int((now - due) // spec.period) + 1)
            ok = http_probe(spec.url, spec.timeout)
            with self._lock:
                if managed.generation != generation or not managed.running:
                    continue
                if not state.record(ok):
                    continue
                if kind == "readiness":
                    self._set_ready(managed, state.passing)
                    self._say(managed.spec.name, f"readiness probe {'passed' if ok else 'failed'} "
                              f"{state.spec.success_threshold if ok else state.spec.failure_threshold}"
                              f" time(s) in a row: {'ready' if ok else 'not ready'}")
                elif not state.passing:
                    self._say(managed.spec.name, f"liveness probe failed {spec.failure_threshold} time(s)"
                              " in a row: killing the process group")
                    self._set_ready(managed, False)
                    # Until the SIGTERM, no other probe runs and readiness stays off.
                    managed.kill_at = float("inf")
                    if self.before_kill is None:
                        self._kill(managed)
            if kind == "liveness" and not state.passing and self.before_kill is not None:
                try:
                    self.before_kill(managed.spec.name)
                finally:
                    with self._lock:
                        if managed.generation == generation and managed.running:
                            self._kill(managed)

    def _kill(self, managed: Managed) -> None:
        """SIGTERM to the group now, SIGKILL after the grace period (lock held)."""
        signal_group(managed.popen.pid, signal.SIGTERM)
        managed.kill_at = time.monotonic() + managed.spec.grace_seconds
