"""Drive podman for the container tests: the project's containers.conf, builds, and running images."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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
INSTALL_HINT = "install podman: apt-get install podman runc debootstrap (Debian 12), see README 'Containers'"


def podman_env() -> dict:
    env = dict(os.environ)
    if "CONTAINERS_CONF" not in env:
        if not CONTAINERS_CONF_FILE.exists():
            # The Makefile's rule writes it; any test may be the first to call podman.
            subprocess.run(["make", "--no-print-directory", str(CONTAINERS_CONF_FILE)], cwd=REPO_ROOT,
                           check=True, capture_output=True, timeout=60)
        env["CONTAINERS_CONF"] = str(CONTAINERS_CONF_FILE)
    return env


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run one podman command, failing with its output (not just an exit code) when check is set."""
    result = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


def make(*targets: str, timeout: float = 1800) -> str:
    """Run make targets with podman as the engine; return the output, or fail showing its tail."""
    result = subprocess.run(
        ["make", "--no-print-directory", *targets, "CONTAINER_ENGINE=podman"],
        cwd=REPO_ROOT,
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise AssertionError(f"make {' '.join(targets)} exited {result.returncode}:\n{output[-6000:]}")
    return output


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


def podman_available() -> bool:
    return shutil.which("podman") is not None


def inspect_image(ref: str) -> dict:
    return json.loads(podman("image", "inspect", ref).stdout)[0]


@dataclass
class Container:
    name: str
    url: str

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def exec(self, *command: str) -> subprocess.CompletedProcess:
        return podman("exec", self.name, *command, check=False)


@contextmanager
def run_container(
    image: str,
    container_port: int,
    env: Optional[dict] = None,
    network: Optional[str] = None,
    alias: Optional[str] = None,
    publish: bool = True,
    read_only: bool = False,
) -> Iterator[Container]:
    """Run image detached (its own CMD) on a free 127.0.0.1 port until /healthz answers; always remove it."""
    name = f"shoptest-{uuid.uuid4().hex[:10]}"
    port = free_port()
    args = ["run", "--detach", "--name", name]
    if read_only:
        # As the Kubernetes manifests run it: read-only root, tmpfs on /tmp (podman's --read-only-tmpfs).
        args += ["--read-only"]
    if publish:
        args += ["--publish", f"127.0.0.1:{port}:{container_port}"]
    if network:
        args += ["--network", network]
        if alias:
            args += ["--network-alias", alias]
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    podman(*args, image)
    container = Container(name, f"http://127.0.0.1:{port}")
    try:
        if publish:
            try:
                wait_for_http(f"{container.url}/healthz", timeout=60)
            except TimeoutError as error:
                log = container.logs()[-4000:]
                raise AssertionError(f"{image}: {error}\n--- container log ---\n{log}") from None
        yield container
    finally:
        podman("rm", "--force", "--time", "5", name, check=False)
