"""docker-compose.yml with podman and podman-compose through make: a smoke test of that path.

The full set of compose checks runs against docker compose (test_compose.py); this one proves that
`make compose-up` builds with podman, serves the canary through the gateway, and that `make compose-down`
leaves no container, network or pod behind.
"""

from __future__ import annotations

import re
import uuid

import pytest
from testkit.processes import free_port

from containers import compose

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]

BANNER = re.compile(r'data-ads-version="(?P<version>[^"]+)"')
PRODUCT_LINK = re.compile(r'href="(/products/[a-z0-9-]+)"')


def test_podman_compose_serves_the_canary_and_down_leaves_nothing(podman_engine, podman_base_image, tmp_path):
    try:
        podman_engine.compose_command()
    except AssertionError as error:
        pytest.skip(f"no podman-compose: {error}")
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    project = compose.Project(podman_engine, f"shoptest{uuid.uuid4().hex[:8]}", free_port(), env_file)
    try:
        output = project.make("compose-up")
        assert re.search(r"Starting docker-compose.yml with \S*podman-compose", output), output[-2000:]
        compose.wait_until(lambda: BANNER.search(compose.get(f"{project.url}/")[1]) is not None, 120,
                           "the home page with a banner through the gateway", project.all_logs)
        status, home = compose.get(f"{project.url}/")
        assert status == 200 and BANNER.search(home)["version"] == "1.0", home[:2000]
        product = PRODUCT_LINK.search(home)
        assert product, "the home page links no product"
        status, page = compose.get(f"{project.url}{product[1]}")
        assert status == 200 and BANNER.search(page)["version"] in ("1.0", "2.0"), page[:2000]
        assert project.leftovers()["containers"], "compose-up started no container"
    finally:
        if project.leftovers():
            output = project.make("compose-down", timeout=300)
    assert "Stopping docker-compose.yml with " in output
    assert project.leftovers() == {}, f"left behind: {project.leftovers()}"
