"""What an apply changes, in kubectl's words."""

from __future__ import annotations

from collections.abc import Mapping


def resource_changes(before: Mapping, after: Mapping) -> list:
    """kubectl-style lines for resources keyed (kind, namespace, name) -> body."""
    lines = []
    for key, body in after.items():
        if key not in before:
            verb = "created"
        elif before[key] != body:
            verb = "configured"
        else:
            verb = "unchanged"
        lines.append(f"{key[0].lower()}/{key[2]} {verb}")
    return lines
