"""istioctl's Sidecar selector check (pkg/config/analysis/analyzers/sidecar/selector.go, Istio 1.29):
a Sidecar whose workloadSelector selects no pod of its namespace is IST0101."""

from __future__ import annotations

from localmesh.analyze.cluster import Cluster, string_map
from localmesh.analyze.messages import Message, go_quote, message
from localmesh.fields import as_dict


def check_sidecars(cluster: Cluster) -> list[Message]:
    found = []
    pods = cluster.pods()
    for sidecar in cluster.of("networking.istio.io", "Sidecar"):
        selector = string_map(as_dict(sidecar.spec.get("workloadSelector")).get("labels"))
        if not selector:
            continue  # a namespace-wide Sidecar selects no workload in particular
        if any(
            pod.namespace == sidecar.namespace and all(pod.labels.get(k) == v for k, v in selector.items())
            for pod in pods
        ):
            continue
        # Kubernetes writes a selector as key=value pairs sorted by key.
        written = ",".join(f"{key}={selector[key]}" for key in sorted(selector))
        first = sorted(selector)[0]
        found.append(message(
            "IST0101", sidecar.resource, ("spec", "workloadSelector", "labels", first),
            f"Referenced selector not found: {go_quote(written)}", analyzer="sidecar.SelectorAnalyzer",
        ))
    return found
