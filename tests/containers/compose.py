"""docker-compose.yml for the tests: read it as compose does; run it through make with either engine."""

from __future__ import annotations

import re
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


def clean_env(chosen: Optional[engine.Engine] = None, **overrides: str) -> dict:
    """The engine's environment without the host's compose variables, plus overrides."""
    base = chosen.env() if chosen else engine.podman_env()
    env = {k: v for k, v in base.items() if k not in COMPOSE_VARIABLES}
    env.update(overrides)
    return env


@dataclass
class Project:
    """One compose project started by `make compose-up`, under its own name and gateway port."""

    engine: engine.Engine
    name: str
    gateway_port: int
    env_file: Path
    # Extra environment for make and compose, e.g. COMPOSE_PROFILES.
    environment: dict = field(default_factory=dict)

    @property
    def compose_command(self) -> str:
        # --env-file: an empty one, so a developer's .env cannot change what the tests start.
        return f"{self.engine.compose_command()} -p {self.name} --env-file {self.env_file}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def make(self, target: str, timeout: float = 1800) -> str:
        """`make compose-up|compose-down` with this project's compose command; the output, or fail."""
        result = self.engine.make(
            target, f"COMPOSE={self.compose_command}", f"GATEWAY_PORT={self.gateway_port}",
            env=clean_env(self.engine, **self.environment), timeout=timeout,
        )
        return result.stdout + result.stderr

    def container(self, service: str) -> str:
        """Compose v2 names a container project-service-1, podman-compose project_service_1."""
        separator = "_" if self.engine.name == "podman" else "-"
        return separator.join((self.name, service, "1"))

    @property
    def label(self) -> str:
        key = "io.podman.compose.project" if self.engine.name == "podman" else "com.docker.compose.project"
        return f"label={key}={self.name}"

    def leftovers(self) -> dict:
        """Everything of this project the engine still has: containers, networks (and podman's pods)."""
        run = self.engine.run
        containers = run("ps", "--all", "--filter", self.label, "--format", "{{.Names}}").stdout.split()
        networks = run("network", "ls", "--filter", self.label, "--format", "{{.Name}}").stdout.split()
        pods = []
        if self.engine.name == "podman":
            names = run("pod", "ls", "--format", "{{.Name}}").stdout.split()
            pods = [pod for pod in names if pod == f"pod_{self.name}"]
        return {kind: found for kind, found in
                (("containers", containers), ("networks", networks), ("pods", pods)) if found}

    def logs(self, service: str) -> str:
        result = self.engine.run("logs", self.container(service), check=False)
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

