"""Drive docker and podman for the container tests: which CLI, make with the engine, running images.

docker: the CLI is $DOCKER, else the first `docker` on PATH that builds with BuildKit (the Dockerfiles
need it); its daemon must answer. podman: with the project's containers.conf (runc, no RLIMIT defaults).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from testkit.processes import REPO_ROOT, free_port, wait_for_http

BASE_IMAGE = "docker.io/library/debian:bookworm-slim"
# What the Makefile writes (build/ is gitignored); a CONTAINERS_CONF the user set wins, as in make.
CONTAINERS_CONF_FILE = REPO_ROOT / "build" / "containers" / "containers.conf"
SCRIPT = REPO_ROOT / "scripts" / "containers.sh"
PODMAN_HINT = ("install podman: apt-get install podman runc debootstrap (Debian 12), "
               "see docs/reference/containers.md")
DOCKER_HINT = "install docker: apt-get install docker.io, and start dockerd (.ci/run does both)"
# Exit statuses of a container whose main process ended on SIGTERM: handled (0) or by the signal (128+15).
SIGTERM_EXITS = {0, 143}


def podman_env() -> dict:
    env = dict(os.environ)
    if "CONTAINERS_CONF" not in env:
        if not CONTAINERS_CONF_FILE.exists():
            # The Makefile's rule writes it; any test may be the first to call podman.
            subprocess.run(["make", "--no-print-directory", str(CONTAINERS_CONF_FILE)], cwd=REPO_ROOT,
                           check=True, capture_output=True, timeout=60)
        env["CONTAINERS_CONF"] = str(CONTAINERS_CONF_FILE)
    return env


def docker_clis() -> list:
    """Every distinct `docker` executable on PATH, in PATH order."""
    found = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".") / "docker"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            resolved = str(candidate.resolve())
            if resolved not in [str(Path(f).resolve()) for f in found]:
                found.append(str(candidate))
    return found


def buildkit_kind(cli: str) -> Optional[str]:
    """How cli builds with BuildKit: 'buildx' (plugin), 'builtin' (DOCKER_BUILDKIT=1), or None."""
    if subprocess.run([cli, "buildx", "version"], capture_output=True, timeout=60).returncode == 0:
        return "buildx"
    help_text = subprocess.run([cli, "build", "--help"], capture_output=True, text=True, timeout=60,
                               env={**os.environ, "DOCKER_BUILDKIT": "1"})
    return "builtin" if "--secret" in help_text.stdout else None


def daemon_answers(cli: str) -> bool:
    result = subprocess.run([cli, "version", "--format", "{{.Server.Version}}"], capture_output=True,
                            timeout=60)
    return result.returncode == 0


@dataclass(frozen=True)
class Engine:
    """One container engine as the Makefile's CONTAINER_ENGINE and DOCKER name it."""

    name: str  # docker or podman
    cli: str

    def env(self) -> dict:
        return podman_env() if self.name == "podman" else dict(os.environ)

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        """One CLI command, failing with its output (not just an exit code) when check is set."""
        result = subprocess.run([self.cli, *args], env=self.env(), capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{self.name} {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stderr[-4000:]}")
        return result

    def make_variables(self) -> list:
        return [f"CONTAINER_ENGINE={self.name}", f"DOCKER={self.cli if self.name == 'docker' else 'docker'}"]

    def make(self, *targets: str, timeout: float = 1800, env: Optional[dict] = None,
             check: bool = True) -> subprocess.CompletedProcess:
        """make targets (and VAR=value arguments) with this engine; fails showing the output's tail."""
        result = subprocess.run(
            ["make", "--no-print-directory", *targets, *self.make_variables()],
            cwd=REPO_ROOT, env=env or self.env(), capture_output=True, text=True, timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"make {' '.join(targets)} exited {result.returncode}:\n"
                                 f"{(result.stdout + result.stderr)[-6000:]}")
        return result

    def compose_command(self) -> str:
        """The compose command scripts/containers.sh picks for this engine (as `make compose-up` would)."""
        result = subprocess.run(
            ["bash", str(SCRIPT), "compose"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
            env={**self.env(), "CONTAINER_ENGINE": self.name, "DOCKER": self.cli},
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def ref(self, image: str) -> str:
        """The name the engine stores an image under (podman refuses short names)."""
        return f"localhost/{image}" if self.name == "podman" else image

    def inspect_image(self, ref: str) -> dict:
        return json.loads(self.run("image", "inspect", ref).stdout)[0]

    def image_exists(self, ref: str) -> bool:
        return self.run("image", "inspect", ref, check=False).returncode == 0

    def healthcheck(self, ref: str) -> dict:
        """The image's HEALTHCHECK (podman shows a docker-format one at the top level, docker in Config)."""
        image = self.inspect_image(ref)
        return image.get("Healthcheck") or image["Config"].get("Healthcheck") or {}

    def run_healthcheck(self, container: str, test: list) -> subprocess.CompletedProcess:
        """The HEALTHCHECK command once, inside the container, as the engine runs it."""
        if self.name == "podman":
            return self.run("healthcheck", "run", container, check=False)
        kind, *command = test
        if kind == "CMD-SHELL":
            command = ["/bin/sh", "-c", *command]
        assert kind in ("CMD", "CMD-SHELL"), test
        return self.run("exec", container, *command, check=False)


def image_names() -> list:
    """The names `make images` builds, from the Makefile itself (ecommerce/<service>:<tag>)."""
    output = subprocess.run(
        ["make", "--no-print-directory", "-s", "image-list"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    return output.split()


def ca_secret_args() -> list:
    """The host CA bundle as the pip step's build secret, as `make images` passes it."""
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    return ["--secret", f"id=ca,src={bundle}"] if bundle.is_file() else []


def find_podman() -> Optional[Engine]:
    found = shutil.which("podman")
    return Engine("podman", found) if found else None


def find_docker() -> tuple:
    """(Engine, None), or (None, why not): a docker CLI with BuildKit whose daemon answers."""
    chosen = os.environ.get("DOCKER")
    candidates = [chosen] if chosen else docker_clis()
    if not candidates:
        return None, f"no docker CLI on PATH: {DOCKER_HINT}"
    builders = [cli for cli in candidates if buildkit_kind(cli)]
    if not builders:
        return None, (f"no docker CLI that builds with BuildKit among {candidates}: install the buildx "
                      "plugin or Debian's docker.io (its CLI has BuildKit built in)")
    if not daemon_answers(builders[0]):
        return None, f"the docker daemon does not answer {builders[0]}: {DOCKER_HINT}"
    return Engine("docker", builders[0]), None


@dataclass
class Container:
    engine: Engine
    name: str
    url: str

    def logs(self) -> str:
        result = self.engine.run("logs", self.name, check=False)
        return result.stdout + result.stderr

    def exec(self, *command: str) -> subprocess.CompletedProcess:
        return self.engine.run("exec", self.name, *command, check=False)


@contextmanager
def run_container(engine: Engine, image: str, container_port: int, env: Optional[dict] = None,
                  network: Optional[str] = None, alias: Optional[str] = None, publish: bool = True,
                  read_only: bool = False, writable: tuple = ("/tmp",)) -> Iterator[Container]:
    """Run image detached (its own CMD) on a free 127.0.0.1 port until /healthz answers; always remove it.

    read_only: as the Kubernetes manifests run it, a read-only root with empty folders (emptyDir) on writable.
    """
    name = f"shoptest-{uuid.uuid4().hex[:10]}"
    port = free_port()
    args = ["run", "--detach", "--name", name]
    if read_only:
        # The pod's fsGroup makes an emptyDir the user's; a tmpfs over a folder of the image is root's
        # 755 (the engines copy up its mode, not its owner), so it is handed to the image's user.
        uid, _, gid = engine.inspect_image(image)["Config"].get("User", "0").partition(":")
        owner = f"uid={uid},gid={gid or uid}"
        args += ["--read-only", *(arg for folder in writable for arg in ("--tmpfs", f"{folder}:{owner}"))]
    if publish:
        args += ["--publish", f"127.0.0.1:{port}:{container_port}"]
    if network:
        args += ["--network", network]
        if alias:
            args += ["--network-alias", alias]
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    engine.run(*args, image)
    container = Container(engine, name, f"http://127.0.0.1:{port}")
    try:
        if publish:
            try:
                wait_for_http(f"{container.url}/healthz", timeout=60)
            except TimeoutError as error:
                log = container.logs()[-4000:]
                raise AssertionError(f"{image}: {error}\n--- container log ---\n{log}") from None
        yield container
    finally:
        engine.run("rm", "--force", name, check=False)


@dataclass
class StopRecord:
    """How docker stopped one container, from the engine's own events."""

    name: str
    signals: list  # every signal the engine sent, in order ("15", and "9" if it had to kill)
    exit_code: Optional[int]
    seconds: Optional[float]  # from the first SIGTERM to the container's death

    @property
    def ended_on_sigterm(self) -> bool:
        return self.signals == ["15"] and self.exit_code in SIGTERM_EXITS


def stop_records(engine: Engine, since: float, until: float, filters: list) -> dict:
    """container name -> StopRecord from `docker events` between since and until (unix seconds)."""
    assert engine.name == "docker", "stop events are read from docker"
    output = engine.run("events", "--since", f"{since:.3f}", "--until", f"{until:.3f}",
                        *[arg for f in filters for arg in ("--filter", f)],
                        "--filter", "type=container", "--format", "{{json .}}").stdout
    kills: dict = {}
    deaths: dict = {}
    for line in output.splitlines():
        event = json.loads(line)
        attributes = event["Actor"]["Attributes"]
        name = attributes.get("name", event["Actor"]["ID"][:12])
        if event["Action"] == "kill":
            kills.setdefault(name, []).append((attributes.get("signal", "?"), event["timeNano"]))
        elif event["Action"] == "die":
            deaths[name] = (int(attributes.get("exitCode", -1)), event["timeNano"])
    records = {}
    for name in sorted(set(kills) | set(deaths)):
        sent = kills.get(name, [])
        code, died = deaths.get(name, (None, None))
        first_term = next((at for signal, at in sent if signal == "15"), None)
        seconds = (died - first_term) / 1e9 if died is not None and first_term is not None else None
        records[name] = StopRecord(name, [signal for signal, _ in sent], code, seconds)
    return records


def stop_and_record(engine: Engine, container: str, grace_seconds: int) -> StopRecord:
    """`docker stop --time grace_seconds`: the engine sends SIGTERM, and SIGKILL once the grace is over."""
    since = time.time() - 1
    engine.run("stop", "--time", str(grace_seconds), container, timeout=grace_seconds + 60)
    records = stop_records(engine, since, time.time(), [f"container={container}"])
    assert container in records, f"no stop events for {container}: {records}"
    return records[container]
