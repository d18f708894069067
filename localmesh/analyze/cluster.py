"""The resources as istioctl's analyzers read them from a cluster where the files were applied:
the latest resource for each kind/namespace/name, by kind, without the system namespaces that
istioctl never reads, plus the pods that the workloads would run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

from localmesh.fields import as_dict, as_list
from localmesh.loader import Resource, latest_by_key

# Namespaces istioctl analyze leaves out entirely (pkg/kube/inject IgnoredNamespaces, Istio 1.29).
IGNORED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "local-path-storage"})
# Workloads whose pod template stands for the pods they run (path to the template).
_POD_TEMPLATES = {
    ("apps", "Deployment"): ("template",),
    ("apps", "ReplicaSet"): ("template",),
    ("apps", "StatefulSet"): ("template",),
    ("apps", "DaemonSet"): ("template",),
    ("batch", "Job"): ("template",),
    ("batch", "CronJob"): ("jobTemplate", "spec", "template"),
}


def string_map(value: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in as_dict(value).items()}


@dataclass(frozen=True)
class Pod:
    """A pod as the analyzers match it: a real Pod, or one a workload's template would create."""

    namespace: str
    origin: str  # "Pod debug", "Deployment frontend"
    labels: dict
    node_name: str
    ports: tuple = ()  # (name or None, containerPort) of its containers


def _pod(namespace: str, origin: str, metadata: dict, spec: dict) -> Pod:
    ports = tuple(
        (as_dict(port).get("name"), as_dict(port).get("containerPort"))
        for container in as_list(spec.get("containers"))
        for port in as_list(as_dict(container).get("ports"))
    )
    return Pod(namespace, origin, string_map(metadata.get("labels")), str(spec.get("nodeName") or ""), ports)


class Object:
    """One resource with the accessors the analyzers use (absent fields read as empty)."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        metadata = as_dict(resource.body.get("metadata"))
        self.labels = string_map(metadata.get("labels"))
        self.annotations = string_map(metadata.get("annotations"))

    @property
    def namespace(self) -> str:
        return self.resource.namespace

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def spec(self) -> dict:
        return self.resource.spec


class Cluster:
    """The latest resources by (API group, kind), outside the namespaces istioctl ignores."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self._by_kind: dict = {}
        for resource in latest_by_key(resources).values():
            namespace = resource.name if resource.kind == "Namespace" else resource.namespace
            if namespace in IGNORED_NAMESPACES:
                continue
            self._by_kind.setdefault((resource.group, resource.kind), []).append(Object(resource))

    def of(self, group: str, kind: str) -> list[Object]:
        """Objects of one kind, whatever the version (Istio's v1alpha3, v1beta1 and v1 are one kind)."""
        return self._by_kind.get((group, kind), [])

    def find(self, group: str, kind: str, namespace: str, name: str) -> Optional[Object]:
        return next((o for o in self.of(group, kind) if (o.namespace, o.name) == (namespace, name)), None)

    def pods(self) -> list[Pod]:
        found = []
        for pod in self.of("", "Pod"):
            metadata = as_dict(pod.resource.body.get("metadata"))
            found.append(_pod(pod.namespace, f"Pod {pod.name}", metadata, pod.spec))
        for (group, kind), path in _POD_TEMPLATES.items():
            for workload in self.of(group, kind):
                template = workload.spec
                for key in path:
                    template = as_dict(template.get(key))
                origin = f"{kind} {workload.name}"
                found.append(_pod(workload.namespace, origin, as_dict(template.get("metadata")),
                                  as_dict(template.get("spec"))))
        return found

    def node_labels(self) -> dict[str, dict[str, str]]:
        return {node.name: node.labels for node in self.of("", "Node")}
