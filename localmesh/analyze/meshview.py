"""The Deployments and Services as the cluster would hold them after applying the files in order, in
the typed model, for this project's own rules. Nothing is refused: the rules must still run when
one resource is broken."""

from __future__ import annotations

from collections.abc import Iterable

from localmesh import model
from localmesh.analyze.cluster import latest
from localmesh.loader import ManifestError, Resource

_BUILDERS = {
    ("apps", "Deployment"): ("deployments", model.build_deployment),
    ("", "Service"): ("services", model.build_service),
}


def build_view(resources: Iterable[Resource]) -> model.Mesh:
    """The model of the latest resources. A resource whose values cannot be read is left out:
    the schema check has already reported it."""
    mesh = model.Mesh()
    for resource in latest(resources):
        entry = _BUILDERS.get((resource.group, resource.kind))
        if entry is None:
            mesh.inert.append(resource)
            continue
        attribute, builder = entry
        try:
            built = builder(resource)
        except (ManifestError, ValueError, TypeError, AttributeError):
            continue
        getattr(mesh, attribute).append(built)
    return mesh
