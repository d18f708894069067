"""The analyzer's entry point: every check over a set of resources, as istioctl analyze runs them."""

from __future__ import annotations

from collections.abc import Iterable

from localmesh.analyze.cluster import Cluster
from localmesh.analyze.destinationrule import check_destination_rules
from localmesh.analyze.hosts import ServiceRegistry
from localmesh.analyze.istio_rules import check_istio_rules
from localmesh.analyze.meshview import build_view
from localmesh.analyze.messages import Message
from localmesh.analyze.project_rules import check_deployment, check_project_rules
from localmesh.analyze.schema import check_schema, not_validated
from localmesh.analyze.service import check_port_names
from localmesh.analyze.sidecar import check_sidecars
from localmesh.analyze.unreachable import check_unreachable
from localmesh.analyze.virtualservice import check_virtual_services
from localmesh.loader import Resource


def analyze(resources: Iterable[Resource]) -> list[Message]:
    """Messages for the resources, in file and line order. Every resource given is checked on its
    own (schema, Istio's validation webhook); references are checked over the set as applied in
    order, where a later resource with the same kind/namespace/name replaces the earlier one."""
    resources = list(resources)
    found = []
    for resource in resources:
        found += check_schema(resource)
        found += check_istio_rules(resource)
        found += check_unreachable(resource)
        found += check_deployment(resource)
    found += not_validated(resources)
    cluster = Cluster(resources)
    registry = ServiceRegistry(cluster)
    found += check_virtual_services(cluster, registry)
    found += check_destination_rules(cluster, registry)
    found += check_port_names(cluster)
    found += check_sidecars(cluster)
    found += check_project_rules(build_view(resources), cluster.pods())
    return sorted(set(found), key=lambda m: m.sort_key)
