"""The Deployment controller's rollout: which pods to start and stop next, by the strategy.

Pure functions. A rollout goes in steps: `rollout_step` looks at the pods a Deployment has
now (old template or new, ready or not) and says what to start and what to stop; the engine
does that, waits for the new pods' readiness, and asks again until the step is empty.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Union

from localmesh.loader import ManifestError
from localmesh.model import Deployment

ROLLING, RECREATE = "RollingUpdate", "Recreate"
DEFAULT_SURGE = DEFAULT_UNAVAILABLE = "25%"
_PERCENT = re.compile(r"^(\d+)%$")


@dataclass(frozen=True)
class Strategy:
    kind: str = ROLLING
    max_surge: Union[int, str] = DEFAULT_SURGE
    max_unavailable: Union[int, str] = DEFAULT_UNAVAILABLE


@dataclass(frozen=True)
class PodState:
    name: str
    fingerprint: str
    index: int
    ready: bool


@dataclass
class Step:
    start: list[int] = field(default_factory=list)  # indexes of new pods to start
    stop: list[str] = field(default_factory=list)  # names of pods to stop

    @property
    def empty(self) -> bool:
        return not self.start and not self.stop


def _scaled(value: Union[int, str], replicas: int, round_up: bool) -> int:
    """An int-or-percent of replicas, rounded as Kubernetes does (GetScaledValueFromIntOrPercent)."""
    if isinstance(value, int):
        return value
    percent = int(_PERCENT.match(value).group(1))
    exact = percent * replicas / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def fenceposts(strategy: Strategy, replicas: int) -> tuple[int, int]:
    """(max surge, max unavailable) in pods: surge rounds up, unavailable down; if both come
    to 0, one pod may be unavailable (the Deployment controller's ResolveFenceposts)."""
    surge = _scaled(strategy.max_surge, replicas, True)
    unavailable = _scaled(strategy.max_unavailable, replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def strategy_of(deployment: Deployment) -> Strategy:
    """spec.strategy of a Deployment; ManifestError naming the field for a value it cannot use."""
    resource = deployment.resource
    raw = resource.spec.get("strategy") or {}
    kind = raw.get("type", ROLLING) if isinstance(raw, dict) else ROLLING
    if kind not in (ROLLING, RECREATE):
        raise ManifestError(resource.source.path, resource.line_of("spec", "strategy", "type"),
                            f"spec.strategy.type: {kind!r} is neither {ROLLING} nor {RECREATE}")
    if kind == RECREATE:
        return Strategy(RECREATE)
    rolling = raw.get("rollingUpdate") or {}
    values = []
    for key, default in (("maxSurge", DEFAULT_SURGE), ("maxUnavailable", DEFAULT_UNAVAILABLE)):
        value = rolling.get(key, default) if isinstance(rolling, dict) else default
        if isinstance(value, bool) or not (isinstance(value, int) and value >= 0
                                           or isinstance(value, str) and _PERCENT.match(value)):
            raise ManifestError(
                resource.source.path, resource.line_of("spec", "strategy", "rollingUpdate", key),
                f"spec.strategy.rollingUpdate.{key}: {value!r} is neither a number of pods nor a percentage",
            )
        values.append(value)
    return Strategy(ROLLING, values[0], values[1])


def rollout_step(pods: Iterable[PodState], fingerprint: str, replicas: int, strategy: Strategy) -> Step:
    """The next step towards `replicas` ready pods of template `fingerprint`.

    New pods: the template's, with indexes below replicas; every other pod is old. Old pods
    that are not ready go first, as the controller cleans up unhealthy replicas first.
    """
    pods = list(pods)
    new = [p for p in pods if p.fingerprint == fingerprint and p.index < replicas]
    old = sorted((p for p in pods if p not in new), key=lambda p: (p.ready, -p.index))
    missing = sorted(set(range(replicas)) - {p.index for p in new})
    step = Step()
    if strategy.kind == RECREATE:
        # Every old pod is gone before a new one starts.
        if old:
            step.stop = [p.name for p in old]
        else:
            step.start = missing
        return step
    surge, unavailable = fenceposts(strategy, replicas)
    room = replicas + surge - len(pods)
    step.start = missing[:max(0, room)]
    ready = sum(p.ready for p in pods)
    removable = ready - (replicas - unavailable)
    # A pod that is not ready does not count as available: removing it costs nothing.
    for pod in old:
        if not pod.ready:
            step.stop.append(pod.name)
        elif removable > 0:
            step.stop.append(pod.name)
            removable -= 1
    return step
