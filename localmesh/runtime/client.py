"""The commands that work on a running `up`: apply and delete (through its control API), status,
and logs (read from its state dir). Each returns the command's exit status."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from localmesh.loader import ManifestSource, expand_paths, load_paths
from localmesh.runtime.control import NotRunning, call
from localmesh.runtime.statusview import format_status


def send_change(state: Path, files: list[ManifestSource], deleting: bool) -> int:
    """Send the manifests to the running `up` to apply or delete; print what it did."""
    sent = []
    for file in expand_paths(files):
        load_paths([file])  # one-line errors for bad YAML before anything is sent
        sent.append({"path": str(file), "text": file.read_text(encoding="utf-8")})
    try:
        status, body = call(state, "POST", "/delete" if deleting else "/apply", {"files": sent})
    except NotRunning as error:
        print(f"localmesh: {error}", file=sys.stderr)
        return 1
    for line in body.get("lines", []):
        print(line)
    if body.get("error"):
        print(f"localmesh: {body['error']}", file=sys.stderr)
    return 0 if status == 200 else 1


def show_status(state: Path, as_json: bool) -> int:
    try:
        status, body = call(state, "GET", "/status", timeout=30)
    except NotRunning as error:
        print(f"localmesh: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"localmesh: {body.get('error', status)}", file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2) if as_json else format_status(body))
    return 0


def show_logs(state: Path, pod: str, tail: int) -> int:
    """The log of one pod (or envoy, trace-agent); with tail > 0 only its last lines."""
    logs = state / "logs"
    path = logs / f"{pod}.log"
    if "/" in pod or not path.is_file():
        known = sorted(p.stem for p in logs.glob("*.log"))
        print(f"localmesh: no logs for {pod!r}; known: {', '.join(known) or 'none'}", file=sys.stderr)
        return 1
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in lines[-tail:] if tail else lines:
        print(line)
    return 0
