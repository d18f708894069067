"""docker-compose.yml for the tests: read it as compose does; run it with podman-compose through make."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml
from testkit.processes import REPO_ROOT

from containers import engine

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
PROJECT_LABEL = "io.podman.compose.project"
# ${NAME}, ${NAME:-default} and ${NAME-default}, the forms docker-compose.yml uses.
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")
# Variables the host may set that would change what compose starts; the tests control them.
COMPOSE_VARIABLES = ("GATEWAY_PORT", "DD_ENV", "DD_AGENT_HOST", "DD_API_KEY", "DD_SITE", "COMPOSE_PROFILES",
                     "COMPOSE_PROJECT_NAME", "TRAFFIC_RATE", "TRAFFIC_DURATION", "TRAFFIC_CUSTOMERS")


def interpolate(node: object, environ: dict) -> object:
    """Substitute ${...} in every string as compose does (only the forms this file uses)."""
    if isinstance(node, dict):
        return {key: interpolate(value, environ) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, environ) for item in node]
    if not isinstance(node, str):
        return node

    def substitute(match: re.Match) -> str:
        value = environ.get(match["name"])
        if match["op"] == ":-" and not value:
            return match["default"]
        if match["op"] == "-" and value is None:
            return match["default"]
        return value or ""

    return _VARIABLE.sub(substitute, node)


def load(environ: Optional[dict] = None) -> dict:
    """The compose file as compose sees it with environ (default: no variables set, so the defaults)."""
    # PyYAML resolves the x-datadog-env anchor and its `<<` merge keys, as compose does.
    return interpolate(yaml.safe_load(COMPOSE_FILE.read_text()), environ or {})


def podman_compose() -> Optional[str]:
    """The podman-compose the Makefile would pick: PATH first, else the venv's pinned one."""
    found = shutil.which("podman-compose")
    venv = REPO_ROOT / ".venv" / "bin" / "podman-compose"
    return found or (str(venv) if venv.is_file() else None)


def clean_env(**overrides: str) -> dict:
    """podman's environment without the host's compose variables, plus overrides."""
    env = {k: v for k, v in engine.podman_env().items() if k not in COMPOSE_VARIABLES}
    env.update(overrides)
    return env


@dataclass
class Project:
    """One podman-compose project started by `make compose-up`, on its own gateway port."""

    name: str
    gateway_port: int
    env_file: Path
    # Extra environment for make and compose, e.g. COMPOSE_PROFILES.
    environment: dict = field(default_factory=dict)

    @property
    def compose_command(self) -> str:
        # --env-file: an empty one, so a developer's .env cannot change what the tests start.
        return f"{podman_compose()} -p {self.name} --env-file {self.env_file}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def make(self, target: str, timeout: float = 1800) -> str:
        """`make compose-up|compose-down` with this project's compose command; the output, or fail."""
        result = subprocess.run(
            ["make", "--no-print-directory", target, "CONTAINER_ENGINE=podman",
             f"COMPOSE={self.compose_command}", f"GATEWAY_PORT={self.gateway_port}"],
            cwd=REPO_ROOT, env=clean_env(**self.environment), capture_output=True, text=True, timeout=timeout,
        )
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise AssertionError(f"make {target} exited {result.returncode}:\n{output[-6000:]}")
        return output

    def container(self, service: str) -> str:
        """The container name podman-compose gives a service (project_service_1)."""
        return f"{self.name}_{service}_1"

    def leftovers(self) -> dict:
        """Everything of this project podman still has: containers, networks, pods."""
        label = f"label={PROJECT_LABEL}={self.name}"
        containers = engine.podman("ps", "--all", "--filter", label, "--format", "{{.Names}}").stdout.split()
        networks = engine.podman("network", "ls", "--filter", label, "--format", "{{.Name}}").stdout.split()
        pods = [p for p in engine.podman("pod", "ls", "--format", "{{.Name}}").stdout.split()
                if p == f"pod_{self.name}"]
        return {kind: found for kind, found in
                (("containers", containers), ("networks", networks), ("pods", pods)) if found}

    def logs(self, service: str) -> str:
        result = engine.podman("logs", self.container(service), check=False)
        return result.stdout + result.stderr

    def all_logs(self, tail: int = 1500) -> str:
        services = ("mesh", "frontend", "advertisements-v1", "advertisements-v2", "test-agent", "traffic")
        return "\n".join(f"--- {s} ---\n{self.logs(s)[-tail:]}" for s in services)


def get(url: str, timeout: float = 10) -> tuple:
    """(status, body) of one GET; an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def wait_until(check: object, timeout: float, what: str, logs: object) -> None:
    """Poll check() (True when done) every 0.5 s up to timeout; fail with what and the logs."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError as error:
            last = error
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout}s (last error: {last})\n{logs()}")

