"""Warnings for what Envoy or localmesh cannot express: never silent, always where it was written.

Every builder in localmesh.envoy reports the same way: `build_resources` makes one `Warnings`
collector and passes it down, and a builder that meets something it cannot express adds a
warning and goes on with what it can build. A collector, rather than `(value, warnings)`
tuples returned up the call chain, because the builders already return a value of their own
(a route, a cluster, a list of virtual hosts): with tuples every caller would unpack the pair
and concatenate lists, and each signature would say less about what it builds. The collector
also keeps each warning once, in the order found.
"""

from __future__ import annotations

from localmesh.fields import FieldPath, dotted
from localmesh.loader import Resource


class Warnings:
    """The warnings of one build, each once, in the order they were found."""

    def __init__(self) -> None:
        self._lines: dict[str, None] = {}  # a dict keeps insertion order and drops repeats

    def add(self, resource: Resource, path: FieldPath, reason: str) -> None:
        """'Warning (VirtualService ns3/ads file.yaml:17) spec.http[0].mirror: reason'."""
        where = f"{resource.kind} {resource.namespace}/{resource.name} {resource.source_of(*path)}"
        self._lines.setdefault(f"Warning ({where}) {dotted(path)}: {reason}", None)

    def unsupported(self, resource: Resource, path: FieldPath, why: str = "") -> None:
        """A field localmesh ignores: 'not supported by localmesh; ignored (why)'."""
        self.add(resource, path, "not supported by localmesh; ignored" + (f" ({why})" if why else ""))

    def lines(self) -> list[str]:
        return list(self._lines)
