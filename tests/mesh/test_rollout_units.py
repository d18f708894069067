"""The Deployment controller's decisions, pure: strategy fields, fenceposts, rollout steps."""

from __future__ import annotations

import pytest
from testkit.manifests import deployment

from localmesh.loader import ManifestError, load_text
from localmesh.model import build_mesh
from localmesh.runtime.rollout import (
    RECREATE,
    PodState,
    Strategy,
    fenceposts,
    rollout_step,
    strategy_of,
)


def _deployment(strategy: str) -> str:
    """Three pods of web, with this spec.strategy line (flow style, or empty for none)."""
    return deployment("web", "t", f"""
        replicas: 3
        selector: {{matchLabels: {{app: web}}}}
        {strategy.strip()}
        template:
          metadata: {{labels: {{app: web}}}}
          spec: {{containers: [{{name: web, image: test/web:1.0}}]}}
    """)


def _strategy(text: str) -> Strategy:
    (found,) = build_mesh(load_text(_deployment(text), "d.yaml")).deployments
    return strategy_of(found)


def test_strategy_defaults_and_fields():
    assert _strategy("") == Strategy("RollingUpdate", "25%", "25%")
    assert _strategy("  strategy: {type: Recreate}") == Strategy(RECREATE)
    rolling = "  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: '50%'}}"
    assert _strategy(rolling) == Strategy("RollingUpdate", 1, "50%")


@pytest.mark.parametrize("text, field", [
    ("  strategy: {type: Sometimes}", "spec.strategy.type"),
    ("  strategy: {rollingUpdate: {maxSurge: 'lots'}}", "spec.strategy.rollingUpdate.maxSurge"),
    ("  strategy: {rollingUpdate: {maxUnavailable: -1}}", "spec.strategy.rollingUpdate.maxUnavailable"),
])
def test_a_bad_strategy_is_one_line_naming_file_and_field(text, field):
    with pytest.raises(ManifestError) as caught:
        _strategy(text)
    assert str(caught.value).startswith("d.yaml:") and field in str(caught.value)


@pytest.mark.parametrize("surge, unavailable, replicas, expected", [
    # Kubernetes rounds surge up and unavailable down (deployment/util ResolveFenceposts).
    ("25%", "25%", 1, (1, 0)),
    ("25%", "25%", 4, (1, 1)),
    ("25%", "25%", 10, (3, 2)),
    ("50%", "30%", 3, (2, 0)),
    (1, 0, 3, (1, 0)),
    ("0%", "0%", 5, (0, 1)),  # both zero: one pod may be unavailable
    (0, 0, 1, (0, 1)),
])
def test_fenceposts_round_like_kubernetes(surge, unavailable, replicas, expected):
    assert fenceposts(Strategy("RollingUpdate", surge, unavailable), replicas) == expected


def _simulate(strategy: Strategy, replicas: int, old: int, new_replicas: int = None) -> list:
    """Run steps to the end; started pods become ready before the next step. (pods, ready) per state."""
    new_replicas = replicas if new_replicas is None else new_replicas
    pods = {f"old-{i}": PodState(f"old-{i}", "aaaaa", i, True) for i in range(old)}
    seen = [(len(pods), sum(p.ready for p in pods.values()))]
    for _ in range(100):
        step = rollout_step(pods.values(), "bbbbb", new_replicas, strategy)
        if step.empty:
            if all(p.ready for p in pods.values()):
                return seen
            pods = {name: PodState(p.name, p.fingerprint, p.index, True) for name, p in pods.items()}
            seen.append((len(pods), sum(p.ready for p in pods.values())))
            continue
        for index in step.start:
            pods[f"new-{index}"] = PodState(f"new-{index}", "bbbbb", index, False)
        seen.append((len(pods), sum(p.ready for p in pods.values())))
        for name in step.stop:
            del pods[name]
        seen.append((len(pods), sum(p.ready for p in pods.values())))
    raise AssertionError("the rollout did not end")


def test_surge_one_unavailable_zero_keeps_three_ready_and_at_most_four_pods():
    seen = _simulate(Strategy("RollingUpdate", 1, 0), 3, 3)
    assert max(pods for pods, _ in seen) == 4
    assert min(ready for _, ready in seen) == 3
    assert seen[-1] == (3, 3)


def test_surge_zero_unavailable_one_never_exceeds_replicas():
    seen = _simulate(Strategy("RollingUpdate", 0, 1), 3, 3)
    assert max(pods for pods, _ in seen) == 3
    assert min(ready for _, ready in seen) == 2
    assert seen[-1] == (3, 3)


def test_recreate_stops_every_old_pod_before_a_new_one_starts():
    pods = [PodState(f"old-{i}", "aaaaa", i, True) for i in range(3)]
    first = rollout_step(pods, "bbbbb", 3, Strategy(RECREATE))
    assert sorted(first.stop) == ["old-0", "old-1", "old-2"] and first.start == []
    then = rollout_step([], "bbbbb", 3, Strategy(RECREATE))
    assert then.start == [0, 1, 2] and then.stop == []


def test_scale_down_removes_the_highest_indexes_and_deleting_removes_all():
    pods = [PodState(f"web-aaaaa-{i}", "aaaaa", i, True) for i in range(3)]
    down = rollout_step(pods, "aaaaa", 1, Strategy())
    assert sorted(down.stop) == ["web-aaaaa-1", "web-aaaaa-2"] and down.start == []
    gone = rollout_step(pods, "", 0, Strategy())
    assert len(gone.stop) == 3


def test_old_pods_that_are_not_ready_go_first():
    pods = [PodState("old-0", "aaaaa", 0, True), PodState("old-1", "aaaaa", 1, False),
            PodState("new-0", "bbbbb", 0, True)]
    step = rollout_step(pods, "bbbbb", 2, Strategy("RollingUpdate", 1, 0))
    assert step.stop == ["old-1"]
