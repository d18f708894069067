"""The analyzer's entry point: every check over a set of resources, as istioctl analyze runs them."""

from __future__ import annotations

from collections.abc import Iterable

from localmesh.analyze.crossref import check_cross_references
from localmesh.analyze.istio_rules import check_istio_rules
from localmesh.analyze.meshview import build_view
from localmesh.analyze.project_rules import check_deployment, check_project_rules
from localmesh.analyze.schema import check_schema
from localmesh.loader import Resource


def analyze(resources: Iterable[Resource]) -> list:
    """Messages for the resources, in file and line order. Every resource given is checked on its
    own (schema, Istio validation); references are checked over the set as applied in order, where
    a later resource with the same kind/namespace/name replaces the earlier one."""
    resources = list(resources)
    found = []
    for resource in resources:
        found += check_schema(resource)
        found += check_istio_rules(resource)
        found += check_deployment(resource)
    view = build_view(resources)
    found += check_cross_references(view)
    found += check_project_rules(view)
    return sorted(set(found), key=lambda m: m.sort_key)
