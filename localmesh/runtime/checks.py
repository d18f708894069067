"""The analyzer's verdict on a resource set, split into errors (refuse) and the rest (print)."""

from __future__ import annotations

from collections.abc import Iterable

from localmesh.analyze.engine import analyze
from localmesh.analyze.messages import ERROR, INFO
from localmesh.loader import Resource


def analyzer_report(resources: Iterable[Resource]) -> tuple:
    """(error lines, warning lines) from localmesh.analyze over resources, as istioctl prints them.

    Info messages are left to `localmesh analyze`; up and apply show what needs attention.
    """
    messages = analyze(list(resources))
    errors = [str(m) for m in messages if m.level == ERROR]
    others = [str(m) for m in messages if m.level not in (ERROR, INFO)]
    return errors, others
