"""Session fixtures for the container tests: the engines, their base image, and every image built once.

docker is the main path (its images are tested in test_images.py, its compose in test_compose.py);
podman gets a compose smoke test (test_compose_podman.py), which builds its images through make.

Images live in the engine's storage, which the whole machine shares: each pytest-xdist worker that
needs them builds under a machine-wide lock (the first builds, the others find the layer cache
warm), so the test modules can run on several workers.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest
from testkit.grouping import each_worker_sets_up, machine_lock
from testkit.summary import summary_section

from containers import engine

# Filled by the tests, printed after the run (sizes, build and stop times are part of the report).
REPORT = summary_section("container images")


@pytest.fixture(scope="session")
@each_worker_sets_up
def docker_engine() -> engine.Engine:
    found, why_not = engine.find_docker()
    if found is None:
        pytest.skip(why_not)
    return found


@pytest.fixture(scope="session")
@each_worker_sets_up
def podman_engine() -> engine.Engine:
    found = engine.find_podman()
    if found is None:
        pytest.skip(f"podman not found: {engine.PODMAN_HINT}")
    return found


def ensure_base_image(chosen: engine.Engine) -> None:
    """`make base-image`: skipped when present; docker copies podman's, else debootstrap (root)."""
    if chosen.image_exists(engine.BASE_IMAGE):
        return
    podman = engine.find_podman()
    copyable = chosen.name == "docker" and podman is not None and podman.image_exists(engine.BASE_IMAGE)
    if not copyable:
        if shutil.which("debootstrap") is None:
            pytest.skip(f"no {engine.BASE_IMAGE} and no debootstrap to make it: {engine.PODMAN_HINT}")
        if os.geteuid() != 0:
            pytest.skip(f"no {engine.BASE_IMAGE}; `make base-image` runs debootstrap, which needs root")
    started = time.monotonic()
    chosen.make("base-image")
    REPORT[f"{chosen.name}: base image, s"] = round(time.monotonic() - started, 1)


@pytest.fixture(scope="session")
@each_worker_sets_up
def docker_images(docker_engine) -> dict:
    """Base image and every image (`make images mesh-image`) with docker; ecommerce/ name -> ref.

    Reruns are fast: the base is kept and BuildKit's layer cache serves the rest.
    """
    with machine_lock("container-images"):
        ensure_base_image(docker_engine)
        started = time.monotonic()
        docker_engine.make("images", "mesh-image")
        REPORT["docker: make images mesh-image, s"] = round(time.monotonic() - started, 1)
    return {name: docker_engine.ref(name) for name in engine.image_names()}


@pytest.fixture(scope="session")
@each_worker_sets_up
def podman_base_image(podman_engine) -> None:
    with machine_lock("container-images"):
        ensure_base_image(podman_engine)

