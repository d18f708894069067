"""Session fixtures for the container tests: podman present, base image, and every image built once.

Compose tests can reuse `built_images` (the localhost/ refs by ecommerce/ name) and `engine.podman_env()`.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from containers import engine

# Filled by the tests, printed after the run (sizes and build time are part of the report).
REPORT: dict = {}


@pytest.fixture(scope="session")
def podman_ready() -> None:
    if not engine.podman_available():
        pytest.skip(f"podman not found: {engine.INSTALL_HINT}")


@pytest.fixture(scope="session")
def built_images(podman_ready: None) -> dict:
    """Base image (debootstrap, skipped when present) and all images via the Makefile's targets.

    Reruns are fast: `make base-image` skips an existing base and podman's layer cache serves the rest.
    """
    if engine.podman("image", "exists", engine.BASE_IMAGE, check=False).returncode != 0:
        if shutil.which("debootstrap") is None:
            pytest.skip(f"no {engine.BASE_IMAGE} and no debootstrap to make it: {engine.INSTALL_HINT}")
        if os.geteuid() != 0:
            pytest.skip(f"no {engine.BASE_IMAGE}; `make base-image` runs debootstrap, which needs root")
        started = time.monotonic()
        engine.make("base-image")
        REPORT["base image (debootstrap + import), s"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    engine.make("images")
    REPORT["make images, s"] = round(time.monotonic() - started, 1)
    return {name: f"localhost/{name}" for name in engine.image_names()}


def pytest_terminal_summary(terminalreporter) -> None:
    if REPORT:
        terminalreporter.section("container images")
        for key, value in REPORT.items():
            terminalreporter.write_line(f"{key}: {value}")
