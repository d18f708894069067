"""Is a process, or a process group, still there; signal a group that may be gone already."""

from __future__ import annotations

import os
from collections.abc import Callable


def _exists(send: Callable[[int, int], None], target: int) -> bool:
    """Signal 0 checks without sending anything: EPERM means it exists but is someone else's."""
    try:
        send(target, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_alive(pid: int) -> bool:
    return _exists(os.kill, pid)


def group_alive(pgid: int) -> bool:
    return _exists(os.killpg, pgid)


def signal_group(pgid: int, sig: int) -> None:
    """Send sig to every process of the group; nothing when the group is gone or not ours."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
