"""The orphan guard: when `up` ends, however it ended, every process group it started ends too.

`up` starts one guard process and tells it, through a pipe on the guard's stdin, each
process group it starts ("+PGID") and reaps ("-PGID"). Only `up` holds the pipe's write end,
so the kernel closes it when `up` dies, SIGKILL and OOM killer included. The guard then sends
SIGTERM to every group still listed, and SIGKILL to what is left after a short grace. Whole
groups go, so gunicorn's workers go with their master.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

from localmesh.runtime.processes import group_alive, signal_group

GRACE_SECONDS = 2.0


def end_groups(pgids: set, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM each group, SIGKILL those still alive after grace."""
    for pgid in pgids:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(group_alive(pgid) for pgid in pgids):
        time.sleep(0.05)
    for pgid in pgids:
        if group_alive(pgid):
            signal_group(pgid, signal.SIGKILL)


def main() -> int:
    # A terminal's Ctrl-C or a SIGTERM to `up` is for `up`, which stops its own processes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    groups: set = set()
    for line in sys.stdin:
        text = line.strip()
        if text[:1] in "+-" and text[1:].isdigit():
            (groups.add if text[0] == "+" else groups.discard)(int(text[1:]))
    if groups:
        end_groups(groups)
    return 0


class OrphanGuard:
    """The `up` side: starts the guard and reports process groups to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localmesh.runtime.guard"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True,
        )

    def group(self, pgid: int, alive: bool) -> None:
        with self._lock:
            try:
                self.process.stdin.write(f"{'+' if alive else '-'}{pgid}\n".encode())
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass  # the guard is gone: nothing left to tell it

    def close(self, timeout: float = 10.0) -> None:
        """After `up` stopped everything itself: the guard finds nothing left and exits."""
        with self._lock:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    sys.exit(main())
