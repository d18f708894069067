"""The kind/minikube scripts: dry-run output, missing-tool messages; shellcheck on them and scripts/.

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

from localmesh.versions import ISTIO_MINOR, ISTIO_VERSION
from manifests_files.manifests import REPO

SCRIPTS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "cluster").glob("*.sh"))
MAKE_SCRIPTS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "scripts").glob("*.sh"))

APPLY_AND_WAIT = [
    "kubectl --context {ctx} apply -f k8s/namespace.yaml",
    "kubectl --context {ctx} apply -f k8s/frontend.yaml -f k8s/advertisements.yaml",
    "kubectl --context {ctx} apply -k istio/ecommerce-istio",
    "kubectl --context {ctx} -n istio-system rollout status deployment/istio-ingressgateway",
    "kubectl --context {ctx} -n ns1 wait --for=condition=Available deployment --all",
    "kubectl --context {ctx} -n ns3 wait --for=condition=Available deployment --all",
]
IMAGES = ("ecommerce/frontend:1.0 ecommerce/advertisements:1.0 ecommerce/advertisements:2.0 "
          "ecommerce/traffic-generator:1.0")

EXPECTED = {
    "kind-up": [
        "kind create cluster --name ecommerce --config cluster/kind.yaml",
        "istioctl install --context kind-ecommerce -y -f cluster/istio-operator.yaml",
        "make images CONTAINER_ENGINE=docker",
        f"kind load docker-image --name ecommerce {IMAGES}",
        *[c.format(ctx="kind-ecommerce") for c in APPLY_AND_WAIT],
    ],
    "kind-down": ["kind delete cluster --name ecommerce"],
    "minikube-up": [
        "minikube start -p ecommerce",
        "istioctl install --context ecommerce -y -f cluster/istio-operator.yaml",
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


def run_script(script: str, folder: Path, env: dict) -> subprocess.CompletedProcess:
    """cluster/<script>.sh run from folder with env as its whole environment."""
    return subprocess.run(
        ["/bin/bash", str(REPO / f"cluster/{script}.sh")],
        cwd=folder, capture_output=True, text=True, timeout=60, check=False, env=env,
    )


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
    result = run_script(script, tmp_path, {"PATH": str(bin_dir), "HOME": str(tmp_path)})
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
    assert "scripts/check-manifests.sh" in MAKE_SCRIPTS, MAKE_SCRIPTS
    result = subprocess.run(
        [shellcheck(), "-x", *SCRIPTS, *MAKE_SCRIPTS],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_script_stops_on_the_first_error():
    for path in [*SCRIPTS, *MAKE_SCRIPTS]:
        text = (REPO / path).read_text(encoding="utf-8")
        if "Sourced, not run" not in text:
            assert "\nset -euo pipefail\n" in text, path


def test_shellcheck_does_flag_a_bad_script(tmp_path):
    # Proves the check above can fail.
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n", encoding="utf-8")
    result = subprocess.run([shellcheck(), str(bad)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0 and "SC2086" in result.stdout


def istio_minor_versions() -> tuple[int, int]:
    major, minor = ISTIO_MINOR.split(".")
    return int(major), int(minor)


def other_minor() -> str:
    major, minor = istio_minor_versions()
    return f"{major}.{minor - 7}.3"


def prefix_lookalike() -> str:
    # 1.2.9 against 1.29: a version compared as a string prefix would pass.
    major, minor = istio_minor_versions()
    return f"{major}.{minor // 10}.{minor % 10}"


# What the stand-in istioctl prints for `version --remote=false --short`, and what the one warning
# line must name (None: no warning). istioctl >= 1.24 prints "client version: X"; older releases
# print the bare version (pkg/version/cobra.go at 1.22.0 and 1.29.6).
ISTIOCTL_OUTPUTS = {
    "same-release": (f"client version: {ISTIO_VERSION}", None),
    "same-minor-other-patch": (f"client version: {ISTIO_MINOR}.0", None),
    "same-minor-prerelease": (f"client version: {ISTIO_MINOR}.0-beta.1", None),
    "other-minor": (f"client version: {other_minor()}", f"istioctl is {other_minor()}, "),
    "other-minor-old-format": (other_minor(), f"istioctl is {other_minor()}, "),
    "prefix-lookalike": (f"client version: {prefix_lookalike()}", f"istioctl is {prefix_lookalike()}, "),
    "no-version": ("Error: unknown flag: --remote", "cannot tell istioctl's version"),
}


def write_istioctl_stand_in(folder: Path, prints: str, calls: Path) -> None:
    # Stand-in for istioctl (no cluster or Istio release exists here): it answers only the
    # client-version query and records every call; anything else (an install) fails.
    path = folder / "istioctl"
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {shlex.quote(str(calls))}\n'
        '[ "$*" = "version --remote=false --short" ] || exit 99\n'
        f"echo {shlex.quote(prints)}\n",
        encoding="utf-8",
    )
    path.chmod(0o755)


@pytest.mark.parametrize("case", sorted(ISTIOCTL_OUTPUTS))
@pytest.mark.parametrize("script", ["kind-up", "minikube-up"])
def test_up_warns_once_only_when_istioctl_is_another_minor(script, case, tmp_path):
    prints, warning_names = ISTIOCTL_OUTPUTS[case]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "istioctl-calls"
    marker = tmp_path / "ran"
    write_istioctl_stand_in(bin_dir, prints, calls)
    for tool in TOOLS[script]:
        if tool != "istioctl":
            write_stand_in(bin_dir, tool, marker)
    # The stand-ins first; then only the folder of the shell utilities the scripts use.
    utilities = Path(shutil.which("sed")).parent
    env = {"PATH": f"{bin_dir}:{utilities}", "HOME": str(tmp_path), "DRY_RUN": "1"}
    result = run_script(script, tmp_path, env)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert result.stderr.splitlines() == warnings, result.stderr
    if warning_names is None:
        assert warnings == [], result.stderr
    else:
        assert len(warnings) == 1, result.stderr
        assert warnings[0].startswith(f"{script}: warning: {warning_names}"), warnings[0]
        assert f"checked against Istio {ISTIO_VERSION}" in warnings[0], warnings[0]
    # The dry run still prints the install; istioctl itself only answered the version query.
    assert any(c.startswith("istioctl install ") for c in commands(result.stdout))
    assert calls.read_text(encoding="utf-8").splitlines() == ["version --remote=false --short"]
    assert not marker.exists(), "a dry run ran a tool"


def test_the_scripts_read_the_projects_istio_version():
    # The sed in lib.sh must keep finding the constant if versions.py is reformatted.
    result = subprocess.run(
        ["/bin/bash", "-c", ". cluster/lib.sh && project_istio_version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == f"{ISTIO_VERSION}\n"
