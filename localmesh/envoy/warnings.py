"""Warnings for what Envoy or localmesh cannot express: never silent, always where it was written."""

from __future__ import annotations

from localmesh.fields import dotted
from localmesh.loader import Resource


def warning(resource: Resource, path: tuple, reason: str) -> str:
    """'Warning (VirtualService ns3/ads file.yaml:17) spec.http[0].mirror: reason'."""
    where = resource.source_of(*path)
    return f"Warning ({resource.kind} {resource.namespace}/{resource.name} {where}) {dotted(path)}: {reason}"


def unsupported(resource: Resource, path: tuple, why: str = "") -> str:
    reason = "not supported by localmesh; ignored" + (f" ({why})" if why else "")
    return warning(resource, path, reason)
