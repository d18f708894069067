"""Every shipped manifest set passes the analyzer: the same sets `make check-manifests` checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from localmesh.analyze import ERROR, WARNING, analyze
from localmesh.loader import Kustomization, expand_paths, kustomization_files, load_paths

ROOT = Path(__file__).resolve().parents[2]
K8S_SHOP = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "k8s").glob("*.yaml"))
ISTIO_SHOP = kustomization_files(ROOT / "istio" / "ecommerce-istio")
ISTIO_CANARY = ISTIO_SHOP + kustomization_files(ROOT / "istio" / "ads_v2")
SCENARIOS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "istio" / "scenarios").glob("*.yaml"))

SETS = {
    "k8s-shop": K8S_SHOP,
    "k8s-service-networking": K8S_SHOP + ["k8s/service-networking"],
    "istio-v1-only": ISTIO_SHOP,
    "istio-canary": ISTIO_CANARY,
    "istio-canary+experiment-store": ISTIO_CANARY + ["istio/experiment/postgres.yaml"],
    **{f"istio-canary+{Path(s).stem}": ISTIO_CANARY + [s] for s in SCENARIOS},
}


def test_the_shipped_sets_exist():
    assert K8S_SHOP and SCENARIOS
    for paths in SETS.values():
        expand_paths(ROOT / p for p in paths)  # raises for a missing file or an empty folder


@pytest.mark.parametrize("name", sorted(SETS))
def test_shipped_set_has_no_errors_or_warnings(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    resources = load_paths(SETS[name])
    assert resources
    bad = [m for m in analyze(resources) if m.level in (ERROR, WARNING)]
    assert bad == [], "\n".join(str(m) for m in bad)


def test_each_scenario_replaces_a_resource_of_the_canary():
    # A scenario that adds a second VirtualService for a host instead of replacing the canary's
    # would be IST0109; this checks the layering the test above relies on.
    canary = {r.key for r in load_paths([ROOT / p for p in ISTIO_CANARY])}
    for scenario in SCENARIOS:
        keys = {r.key for r in load_paths([ROOT / scenario])}
        routing = {k for k in keys if k[0] in ("VirtualService", "DestinationRule")}
        assert routing <= canary, f"{scenario} adds {routing - canary} instead of replacing"


def test_cli_passes_the_canary_set():
    import subprocess
    import sys

    result = subprocess.run(
        [str(Path(sys.executable).parent / "localmesh"), "analyze",
         "-k", "istio/ecommerce-istio", "-k", "istio/ads_v2"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("localmesh analyze: 0 errors")


def test_make_check_manifests_checks_every_set_and_reports_a_failing_one(tmp_path):
    import subprocess

    calls = tmp_path / "calls"
    standin = tmp_path / "localmesh"
    # Stands in for localmesh to record what the script asks; it fails the service-networking set.
    standin.write_text(f'#!/bin/sh\necho "$*" >> {calls}\ncase "$*" in *service-networking*) exit 1;; esac\n')
    standin.chmod(0o755)
    result = subprocess.run(["bash", "scripts/check-manifests.sh"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={"PATH": "/usr/bin:/bin", "LOCALMESH": str(standin)})
    assert result.returncode == 1, result.stdout + result.stderr
    checked = []
    for line in calls.read_text().splitlines():
        command, *args = line.split()
        assert command == "analyze", line
        sources = []
        while args:
            token = args.pop(0)
            sources.append(Kustomization(ROOT / args.pop(0)) if token == "-k" else ROOT / token)
        checked.append(expand_paths(sources))
    expected = [expand_paths(ROOT / p for p in paths) for paths in SETS.values()]
    assert sorted(checked) == sorted(expected)
