"""State diffing: which pods to start and stop to go from what runs to what is wanted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunningPod:
    deployment: tuple  # (namespace, name)
    fingerprint: str
    index: int
    name: str


@dataclass
class PodPlan:
    start: list = field(default_factory=list)  # (deployment key, fingerprint, index)
    stop: list = field(default_factory=list)  # pod names
    keep: list = field(default_factory=list)  # pod names

    @property
    def empty(self) -> bool:
        return not self.start and not self.stop


def plan_pods(running: Iterable[RunningPod], desired: Mapping) -> PodPlan:
    """desired: deployment key -> (fingerprint, replicas).

    Like a Deployment controller: a changed template replaces every pod (new pods get the
    new hash in their name), a changed replica count adds or removes the highest indexes,
    a deleted Deployment loses all its pods.
    """
    plan = PodPlan()
    have: dict = {}
    for pod in running:
        have.setdefault(pod.deployment, []).append(pod)
    for key, pods in have.items():
        fingerprint, replicas = desired.get(key, (None, 0))
        for pod in sorted(pods, key=lambda p: p.index):
            if pod.fingerprint == fingerprint and pod.index < replicas:
                plan.keep.append(pod.name)
            else:
                plan.stop.append(pod.name)
    for key, (fingerprint, replicas) in desired.items():
        kept = {p.index for p in have.get(key, []) if p.fingerprint == fingerprint and p.name in plan.keep}
        for index in range(replicas):
            if index not in kept:
                plan.start.append((key, fingerprint, index))
    return plan


def resource_changes(before: Mapping, after: Mapping) -> list:
    """kubectl-style lines for resources keyed (kind, namespace, name) -> body."""
    lines = []
    for key, body in after.items():
        if key not in before:
            verb = "created"
        elif before[key] != body:
            verb = "configured"
        else:
            verb = "unchanged"
        lines.append(f"{key[0].lower()}/{key[2]} {verb}")
    return lines
