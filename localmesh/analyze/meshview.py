"""The Deployments and Services as the cluster would hold them after applying the files in order, in
the typed model, for this project's own rules. Nothing is refused: the rules must still run when
one resource is broken."""

from __future__ import annotations

from collections.abc import Iterable

from localmesh import model
from localmesh.loader import ManifestError, Resource, latest_by_key

_VIEWED_KINDS = (("apps", "Deployment"), ("", "Service"))


def build_view(resources: Iterable[Resource]) -> model.Mesh:
    """The model of the latest Deployments and Services; other kinds are kept as inert. A resource
    whose values cannot be read is left out: the schema check has already reported it."""
    mesh = model.Mesh()
    for resource in latest_by_key(resources).values():
        kind = (resource.group, resource.kind)
        if kind not in _VIEWED_KINDS:
            mesh.inert.append(resource)
            continue
        attribute, builder = model.BUILDERS[kind]
        try:
            built = builder(resource)
        except (ManifestError, ValueError, TypeError, AttributeError):
            continue
        getattr(mesh, attribute).append(built)
    return mesh
