"""Cross-checks that need no engine: the pins the images install and the image names the manifests use."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from testkit.pins import canonical, constraint_pins
from testkit.processes import REPO_ROOT

from containers import engine

pytestmark = pytest.mark.containers

MANIFEST_DIRS = ("k8s", "istio")


def test_services_constraints_is_the_root_constraints():
    """The build context is services/, so it carries a copy of ../constraints.txt; a stale copy drifts."""
    root = (REPO_ROOT / "constraints.txt").read_text()
    copy = (REPO_ROOT / "services" / "constraints.txt").read_text()
    body = "".join(line for line in copy.splitlines(keepends=True) if not line.startswith("# Generated from")
                   and not line.startswith("# Do not edit"))
    assert body == root, "services/constraints.txt is stale: run `make services/constraints.txt`"


def test_requirements_are_pinned_in_constraints():
    pins = constraint_pins()
    for requirements in sorted((REPO_ROOT / "services").glob("*/requirements.txt")):
        service = requirements.parent.name
        for line in requirements.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, version = line.split("==", 1)
            name = canonical(name.split("[", 1)[0])
            assert pins.get(name) == version.strip(), f"{service}: {line} not pinned alike in constraints.txt"


def _images_in(node: object) -> list:
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k == "image" and isinstance(v, str)]
        return found + [image for value in node.values() for image in _images_in(value)]
    if isinstance(node, list):
        return [image for item in node for image in _images_in(item)]
    return []


def _normalise(image: str) -> str:
    for prefix in ("docker.io/", "localhost/"):
        if image.startswith(prefix):
            image = image[len(prefix):]
    return image


def manifest_images() -> dict:
    """image -> the manifest files naming it, over every YAML document under k8s/ and istio/."""
    images: dict = {}
    for folder in MANIFEST_DIRS:
        for path in sorted((REPO_ROOT / folder).rglob("*.y*ml")):
            for document in yaml.safe_load_all(path.read_text()):
                for image in _images_in(document):
                    images.setdefault(_normalise(image), []).append(str(path.relative_to(REPO_ROOT)))
    return images


def test_manifests_name_exactly_the_images_make_builds():
    built = set(engine.image_names())
    named = manifest_images()
    ours = {image for image in named if image.split(":")[0].startswith("ecommerce/")}
    assert ours == built, (
        f"manifests name {sorted(ours)}, `make images` builds {sorted(built)}; "
        f"only in manifests: {sorted(ours - built)} ({[named[i] for i in sorted(ours - built)]}), "
        f"never named: {sorted(built - ours)}"
    )


def test_manifest_image_normalising_sees_every_form(tmp_path: Path):
    """The walker must find images in a Deployment's containers and initContainers, in any form."""
    document = {
        "kind": "Deployment",
        "spec": {"template": {"spec": {
            "initContainers": [{"name": "init", "image": "docker.io/ecommerce/frontend:1.0"}],
            "containers": [{"name": "app", "image": "localhost/ecommerce/advertisements:2.0"}],
        }}},
    }
    assert sorted(_normalise(i) for i in _images_in(document)) == [
        "ecommerce/advertisements:2.0", "ecommerce/frontend:1.0"
    ]
