"""Loading the shipped manifests for the tests in this folder (plain PyYAML, no project code)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
# Everything under these is a Kubernetes resource to apply, or a kustomization naming a set of them.
# Inputs to other tools (kind, istioctl, helm) live in cluster/.
MANIFEST_ROOTS = ("k8s", "istio")
KUSTOMIZATION = "kustomization.yaml"


@dataclass(frozen=True)
class Resource:
    path: str  # relative to the repository root
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.doc["kind"]

    @property
    def name(self) -> str:
        return self.doc["metadata"]["name"]

    @property
    def namespace(self) -> str | None:
        return self.doc["metadata"].get("namespace")

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name} ({self.path})"


def yaml_files() -> list[str]:
    files = []
    for root in MANIFEST_ROOTS:
        files += [
            p.relative_to(REPO).as_posix() for p in (REPO / root).rglob("*") if p.suffix in (".yaml", ".yml")
        ]
    return sorted(files)


def load(path: str) -> list[dict[str, Any]]:
    """Every non-empty document of one file."""
    with open(REPO / path, encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def resources(under: str = "") -> list[Resource]:
    """Every Kubernetes/Istio resource shipped under a folder (the kustomizations name sets of them)."""
    found = []
    for path in yaml_files():
        if path.rsplit("/", 1)[-1] == KUSTOMIZATION or not path.startswith(under):
            continue
        found += [Resource(path, doc) for doc in load(path)]
    return found


def deployments() -> list[Resource]:
    return [r for r in resources() if r.kind == "Deployment"]


def one(path: str, kind: str) -> dict[str, Any]:
    """The single resource of a kind in a file."""
    docs = [d for d in load(path) if d.get("kind") == kind]
    assert len(docs) == 1, f"{path}: expected one {kind}, found {len(docs)}"
    return docs[0]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def walk_keys(node: Any) -> Iterator[str]:
    """Every mapping key anywhere in a parsed YAML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from walk_keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_keys(item)
