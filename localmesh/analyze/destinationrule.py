"""istioctl's DestinationRule subset analyzer (pkg/config/analysis/analyzers/destinationrule/subset.go,
Istio 1.29): a host that no Service or ServiceEntry visible to the rule defines is IST0174; a subset
whose labels, with the ServiceEntry's workload selector, select no pod is IST0173.

Pods are real Pods and the pods a workload's template stands for, in any namespace, with the
labels Istio adds from their node's topology (region, zone, subzone, hostname)."""

from __future__ import annotations

from localmesh.analyze.cluster import Cluster, Pod, string_map
from localmesh.analyze.hosts import ServiceRegistry
from localmesh.analyze.messages import Message, message
from localmesh.fields import as_dict, as_list

REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
SUBZONE_LABEL = "topology.istio.io/subzone"
HOSTNAME_LABEL = "kubernetes.io/hostname"


def check_destination_rules(cluster: Cluster, registry: ServiceRegistry) -> list[Message]:
    found = []
    node_labels = cluster.node_labels()
    pod_labels = [_augmented_labels(pod, node_labels) for pod in cluster.pods()]
    for rule in cluster.of("networking.istio.io", "DestinationRule"):
        host = str(rule.spec.get("host") or "")
        export_to = [str(e) for e in as_list(rule.spec.get("exportTo"))]
        target = registry.lookup(rule.namespace, export_to, host)
        if target is None:
            found.append(message(
                "IST0174", rule.resource, ("spec", "host"),
                f"The host {host} defined in the DestinationRule does not match any services in the mesh.",
            ))
            continue
        selectors: dict = {}  # a later subset of the same name replaces an earlier one
        for index, subset in enumerate(as_list(rule.spec.get("subsets"))):
            subset = as_dict(subset)
            selector = {**target.workload_labels, **string_map(subset.get("labels"))}
            selectors[str(subset.get("name") or "")] = (index, selector)
        for name, (index, selector) in selectors.items():
            if any(_selects(selector, labels) for labels in pod_labels):
                continue
            found.append(message(
                "IST0173", rule.resource, ("spec", "subsets", index, "name"),
                f"The Subset {name} defined in the DestinationRule does not select any pods. Which may lead"
                " to 503 UH (NoHealthyUpstream).",
            ))
    return found


def _selects(selector: dict, labels: dict) -> bool:
    """A Kubernetes equality selector: every key present with that value."""
    return all(key in labels and labels[key] == value for key, value in selector.items())


def _augmented_labels(pod: Pod, node_labels: dict) -> dict:
    """The pod's labels plus its node's locality and hostname, as istiod's AugmentLabels adds them."""
    labels = dict(pod.labels)
    locality = ""
    if pod.node_name in node_labels:
        node = node_labels[pod.node_name]
        locality = _locality(
            node.get(REGION_LABEL, ""), node.get(ZONE_LABEL, ""), node.get(SUBZONE_LABEL, "")
        )
    parts = locality.split("/")
    region, zone, subzone = (parts + ["", ""])[:3]
    for key, value in ((REGION_LABEL, region), (ZONE_LABEL, zone), (SUBZONE_LABEL, subzone)):
        if value:
            labels[key] = value
    if pod.node_name:
        labels[HOSTNAME_LABEL] = pod.node_name
    return labels


def _locality(region: str, zone: str, subzone: str) -> str:
    """region[/zone[/subzone]], stopping at the first empty part after the region."""
    if not zone:
        return region
    return f"{region}/{zone}" if not subzone else f"{region}/{zone}/{subzone}"
