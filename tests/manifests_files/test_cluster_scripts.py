"""The kind/minikube scripts: dry-run output, missing-tool messages, shellcheck.

No cluster can run here, so the real commands are checked as DRY_RUN=1 prints them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from manifests_files.manifests import REPO

SCRIPTS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "k8s/cluster").glob("*.sh"))

APPLY_AND_WAIT = [
    "kubectl --context {ctx} apply -f k8s/namespace.yaml",
    "kubectl --context {ctx} apply -f k8s/frontend.yaml -f k8s/advertisements.yaml",
    "kubectl --context {ctx} apply -f istio/ecommerce-istio/namespace.yaml",
    "kubectl --context {ctx} apply -f istio/ecommerce-istio/",
    "kubectl --context {ctx} apply -f istio/frontend-gateway.yaml",
    "kubectl --context {ctx} -n istio-system rollout status deployment/istio-ingressgateway",
    "kubectl --context {ctx} -n ns1 wait --for=condition=Available deployment --all",
    "kubectl --context {ctx} -n ns3 wait --for=condition=Available deployment --all",
]
IMAGES = "ecommerce/frontend:1.0 ecommerce/advertisements:1.0 ecommerce/advertisements:2.0"

EXPECTED = {
    "kind-up": [
        "kind create cluster --name ecommerce --config k8s/cluster/kind.yaml",
        "istioctl install --context kind-ecommerce -y -f istio/install/istio-operator.yaml",
        "make images CONTAINER_ENGINE=docker",
        f"kind load docker-image --name ecommerce {IMAGES}",
        *[c.format(ctx="kind-ecommerce") for c in APPLY_AND_WAIT],
    ],
    "kind-down": ["kind delete cluster --name ecommerce"],
    "minikube-up": [
        "minikube start -p ecommerce",
        "istioctl install --context ecommerce -y -f istio/install/istio-operator.yaml",
        "make images CONTAINER_ENGINE=docker",
        *[f"minikube -p ecommerce image load {image}" for image in IMAGES.split()],
        *[c.format(ctx="ecommerce") for c in APPLY_AND_WAIT],
        "minikube -p ecommerce ip",
    ],
    "minikube-down": ["minikube delete -p ecommerce"],
}
TOOLS = {
    "kind-up": ["kind", "kubectl", "istioctl", "docker", "make"],
    "kind-down": ["kind"],
    "minikube-up": ["minikube", "kubectl", "istioctl", "docker", "make"],
    "minikube-down": ["minikube"],
}
URLS = {"kind-up": "http://127.0.0.1:8080", "minikube-up": ":30080"}


def dry_run(target, **env):
    if shutil.which("make") is None:
        pytest.skip("`make` is not installed")
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", target, "DRY_RUN=1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def commands(output):
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


@pytest.mark.parametrize("target", sorted(EXPECTED))
def test_dry_run_prints_the_expected_commands_in_order(target):
    printed = commands(dry_run(target))
    position = 0
    for expected in EXPECTED[target]:
        found = next((i for i in range(position, len(printed)) if printed[i].startswith(expected)), None)
        assert found is not None, f"{target}: {expected!r} missing or out of order in:\n" + "\n".join(printed)
        position = found + 1
    # Nothing beyond what the test knows about: every printed command is an expected one.
    assert len(printed) == len(EXPECTED[target]), "\n".join(printed)


@pytest.mark.parametrize("target", sorted(EXPECTED))
def test_dry_run_refers_only_to_files_that_exist(target):
    for command in commands(dry_run(target)):
        words = shlex.split(command)
        for flag, value in zip(words, words[1:]):
            if flag in ("-f", "--config"):
                assert (REPO / value).exists(), f"{target}: {command!r} names a missing {value}"


@pytest.mark.parametrize("target", ["kind-up", "minikube-up"])
def test_up_prints_the_url_after_waiting(target):
    lines = dry_run(target).splitlines()
    last_wait = max(i for i, line in enumerate(lines) if " wait " in line)
    url_lines = [i for i, line in enumerate(lines) if URLS[target] in line]
    assert url_lines and min(url_lines) > last_wait, "the URL comes once the shop is ready"


def test_dry_run_follows_the_cluster_name():
    printed = commands(dry_run("kind-up", CLUSTER_NAME="demo2"))
    assert printed[0].startswith("kind create cluster --name demo2 ")
    assert any(c.startswith("kubectl --context kind-demo2 apply") for c in printed)


def test_make_images_exists_for_the_scripts_to_call():
    assert re.search(r"^images:", (REPO / "Makefile").read_text(encoding="utf-8"), re.M)


def write_stand_in(folder: Path, name: str, marker: Path) -> None:
    # Stand-in executables exist only to be found on PATH; running one is a test failure.
    path = folder / name
    path.write_text(f"#!/bin/sh\necho ran >> {shlex.quote(str(marker))}\nexit 99\n", encoding="utf-8")
    path.chmod(0o755)


@pytest.mark.parametrize("present", [(), ("kubectl", "make")], ids=["no-tools", "some-tools"])
@pytest.mark.parametrize("script", sorted(TOOLS))
def test_missing_tools_one_line_each_and_nothing_runs(script, present, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "ran"
    for tool in present:
        write_stand_in(bin_dir, tool, marker)
    result = subprocess.run(
        ["/bin/bash", str(REPO / f"k8s/cluster/{script}.sh")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
    )
    missing = [t for t in TOOLS[script] if t not in present]
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == len(missing), result.stderr
    for line, tool in zip(lines, missing):
        assert line.startswith(f"{script}: missing tool: {tool} "), line
    assert "+ " not in result.stdout and result.stdout == ""
    assert not marker.exists(), "a tool ran although the check should have stopped the script"


def shellcheck():
    path = shutil.which("shellcheck")
    if path is None:
        pytest.skip("`shellcheck` is not installed (Debian package shellcheck; .ci/run installs it)")
    return path


def test_scripts_are_shellcheck_clean():
    assert len(SCRIPTS) == 5, SCRIPTS
    result = subprocess.run(
        [shellcheck(), "-x", *SCRIPTS], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_does_flag_a_bad_script(tmp_path):
    # Proves the check above can fail.
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n", encoding="utf-8")
    result = subprocess.run([shellcheck(), str(bad)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0 and "SC2086" in result.stdout
