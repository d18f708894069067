"""What an apply changes, in kubectl's words."""

from __future__ import annotations

from collections.abc import Mapping

from localmesh.loader import ResourceKey


def kubectl_name(key: ResourceKey) -> str:
    """'deployment/advertisements', as kubectl names a resource in what it prints."""
    kind, _namespace, name = key
    return f"{kind.lower()}/{name}"


def resource_changes(before: Mapping[ResourceKey, dict], after: Mapping[ResourceKey, dict]) -> list[str]:
    """kubectl-style lines for resources keyed (kind, namespace, name) -> body."""
    lines = []
    for key, body in after.items():
        if key not in before:
            verb = "created"
        elif before[key] != body:
            verb = "configured"
        else:
            verb = "unchanged"
        lines.append(f"{kubectl_name(key)} {verb}")
    return lines
