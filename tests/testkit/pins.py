"""The project's pinned versions, as constraints.txt (the full pinned set) lists them."""

from __future__ import annotations

import re

from testkit.processes import REPO_ROOT


def canonical(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): case and runs of "-", "_", "." do not matter."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def constraint_pins() -> dict[str, str]:
    """{canonical name: version} of every pin in constraints.txt."""
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[canonical(name)] = version.strip()
    return pins
