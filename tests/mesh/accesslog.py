"""Envoy's access log of a running `localmesh up`, as `localmesh logs envoy` prints it."""

from __future__ import annotations

import time


def request_lines(mesh) -> list:
    """The access-log lines (one per request) in `localmesh logs envoy`."""
    result = mesh.cli("logs", "envoy")
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("[envoy] [") and '] "' in line]


def wait_for_lines(mesh, at_least: int, timeout: float = 30.0) -> list:
    """The request lines once there are at_least of them (Envoy flushes its log every few seconds)."""
    deadline = time.monotonic() + timeout
    lines = request_lines(mesh)
    while len(lines) < at_least and time.monotonic() < deadline:
        time.sleep(0.5)
        lines = request_lines(mesh)
    assert len(lines) >= at_least, f"{len(lines)} access-log lines after {timeout:g}s, expected {at_least}"
    return lines


def status_and_flags(line: str) -> tuple:
    """(status code, response flags) of one line: the two fields after the quoted request."""
    fields = line.split('" ', 1)[1].split()
    return int(fields[0]), fields[1]


def flagged(lines: list) -> list:
    """Lines whose response flags are not '-' (Envoy did something other than pass an answer on)."""
    return [line for line in lines if status_and_flags(line)[1] != "-"]
