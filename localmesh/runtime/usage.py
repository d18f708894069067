"""CPU and memory of process groups, as `kubectl top pods` shows them for containers.

A pod here is a process group (gunicorn's master and its workers): its CPU is the sum of
its processes' user + system time over a short window, its memory the sum of their PSS
(proportional set size, /proc/<pid>/smaps_rollup), so pages the workers share with their
master count once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WINDOW_SECONDS = 0.5


def _stat_fields(pid: str) -> list:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    return (PROC / pid / "stat").read_text().rsplit(")", 1)[1].split()


def group_members(pgids: Iterable[int]) -> dict[int, list[int]]:
    """pgid -> pids of the live processes in that group."""
    wanted = set(pgids)
    members: dict = {pgid: [] for pgid in wanted}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(entry.name)
        except OSError:
            continue  # gone meanwhile
        if fields[0] != "Z" and int(fields[2]) in wanted:
            members[int(fields[2])].append(int(entry.name))
    return members


def cpu_seconds(pid: int) -> float:
    fields = _stat_fields(str(pid))
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def pss_bytes(pid: int) -> int:
    for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def _group_cpu(members: dict) -> dict:
    totals: dict = {}
    for pgid, pids in members.items():
        total = 0.0
        for pid in pids:
            try:
                total += cpu_seconds(pid)
            except OSError:
                pass
        totals[pgid] = total
    return totals


def group_usage(pgids: Iterable[int], window: float = WINDOW_SECONDS) -> dict[int, dict]:
    """pgid -> {"cpu_percent": % of one core over window, "memory_bytes": PSS summed}.

    A process that starts or ends within the window counts for the part it was seen."""
    pgids = list(pgids)
    before = _group_cpu(group_members(pgids))
    started = time.monotonic()
    time.sleep(window)
    members = group_members(pgids)
    after = _group_cpu(members)
    elapsed = time.monotonic() - started
    usage: dict = {}
    for pgid in pgids:
        memory = 0
        for pid in members.get(pgid, []):
            try:
                memory += pss_bytes(pid)
            except OSError:
                pass
        used = max(0.0, after.get(pgid, 0.0) - before.get(pgid, 0.0))
        usage[pgid] = {"cpu_percent": round(100.0 * used / elapsed, 1), "memory_bytes": memory}
    return usage
