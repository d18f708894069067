"""Each image `make images` builds, run for real with podman: user, health, version, contents, size."""

from __future__ import annotations

import json
import shutil
import urllib.request
import uuid
from pathlib import Path

import pytest
from testkit.processes import REPO_ROOT

from containers import engine
from containers.conftest import REPORT

# The first test pays for the cold build (debootstrap + three images, a few minutes on a fresh machine).
pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]

IMAGES = ["ecommerce/frontend:1.0", "ecommerce/advertisements:1.0", "ecommerce/advertisements:2.0"]
SECRET_ENV_WORDS = ("SECRET", "PASSWORD", "TOKEN", "API_KEY", "APP_KEY", "PRIVATE")


def _service(name: str) -> str:
    return name.split("/", 1)[1].split(":", 1)[0]


def _image_env(ref: str) -> dict:
    return dict(item.split("=", 1) for item in engine.inspect_image(ref)["Config"]["Env"])


def _container_port(ref: str) -> int:
    return int(_image_env(ref)["PORT"])


def _get(url: str) -> tuple:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def test_the_list_here_is_what_make_builds():
    assert sorted(engine.image_names()) == sorted(IMAGES)


@pytest.mark.parametrize("name", IMAGES)
def test_runs_as_non_root_numeric_user(built_images, name):
    ref = built_images[name]
    user = engine.inspect_image(ref)["Config"].get("User", "")
    # Kubernetes' runAsNonRoot can only verify a numeric USER.
    assert user.split(":")[0].isdigit(), f"{name}: USER {user!r} is not numeric"
    uid = engine.podman("run", "--rm", "--entrypoint", "id", ref, "-u").stdout.strip()
    assert uid.isdigit() and int(uid) not in (0, 1337), f"{name} runs as uid {uid}"


@pytest.mark.parametrize("name", IMAGES)
def test_starts_and_healthz_answers(built_images, name):
    ref = built_images[name]
    image = engine.inspect_image(ref)
    config = image["Config"]
    # podman shows a docker-format HEALTHCHECK at the top level, docker under Config.
    healthcheck = image.get("Healthcheck") or config.get("Healthcheck") or {}
    assert config["Cmd"] == ["ddtrace-run", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    assert config.get("WorkingDir") == "/app"
    assert "/healthz" in " ".join(healthcheck.get("Test", [])), f"{name}: no HEALTHCHECK"
    with engine.run_container(ref, _container_port(ref)) as container:
        status, body = _get(f"{container.url}/healthz")
        assert status == 200, body
        # The image's own HEALTHCHECK command, run by podman inside the container.
        health = engine.podman("healthcheck", "run", container.name, check=False)
        assert health.returncode == 0, f"{name}: HEALTHCHECK failed: {health.stdout}{health.stderr}"
        worker_uid = container.exec("sh", "-c", "grep '^Uid:' /proc/1/status").stdout.split()[1]
        assert worker_uid not in ("0", "1337")


@pytest.mark.parametrize("name", IMAGES)
def test_starts_with_a_read_only_root_filesystem(built_images, name):
    """k8s/ runs the containers with readOnlyRootFilesystem and only /tmp writable."""
    ref = built_images[name]
    with engine.run_container(ref, _container_port(ref), read_only=True) as container:
        status, body = _get(f"{container.url}/healthz")
        assert status == 200, body


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_advertisements_image_reports_its_version(built_images, version):
    ref = built_images[f"ecommerce/advertisements:{version}"]
    env = _image_env(ref)
    assert (env.get("ADS_VERSION"), env.get("DD_VERSION"), env.get("DD_SERVICE")) == (
        version, version, "advertisements"
    )
    with engine.run_container(ref, 5002) as container:
        status, body = _get(f"{container.url}/ads")
        assert status == 200
        payload = json.loads(body)
        assert payload["version"] == version
        assert all(f"version={version}" in ad["banner_url"] for ad in payload["ads"])


@pytest.mark.parametrize("name", IMAGES)
def test_spans_are_named_after_the_service_not_the_integration(built_images, name):
    # Without it ddtrace 4 names the web spans "flask" (no version tag) when DD_SERVICE equals
    # the service name it infers itself.
    env = _image_env(built_images[name])
    assert env.get("DD_SERVICE") == _service(name)
    assert env.get("DD_TRACE_REMOVE_INTEGRATION_SERVICE_NAMES_ENABLED") == "true"


def test_frontend_container_shows_the_banner_of_the_advertisements_container(built_images):
    """The frontend's default ADS_URL (http://advertisements:5002) resolves on a podman network."""
    network = f"shoptest-{uuid.uuid4().hex[:8]}"
    engine.podman("network", "create", network)
    try:
        with engine.run_container(
            built_images["ecommerce/advertisements:2.0"], 5002, network=network, alias="advertisements"
        ), engine.run_container(built_images["ecommerce/frontend:1.0"], 3000, network=network) as frontend:
            status, html = _get(f"{frontend.url}/")
            assert status == 200
            assert 'data-ads-version="2.0"' in html, html[:2000]
    finally:
        engine.podman("network", "rm", "--force", network, check=False)


# Paths that may hold certificates legitimately: the OS trust store and certifi's bundle.
_FIND_SUSPECTS = " ".join([
    "find / -xdev \\( -path /proc -o -path /sys -o -path /etc/ssl -o -path /usr/share/ca-certificates",
    "-o -path '/opt/venv/lib/*/site-packages/certifi' \\) -prune",
    "-o \\( -name .git -o -name .env -o -name '.env.*' -o -name '*.pem' -o -name '*.key' -o -name 'id_rsa*'",
    "-o -name '*.p12' -o -name conftest.py -o -name .pytest_cache -o -name .venv -o -name '*.sqlite3' \\)",
    "-print;",
    "find /app /opt/venv/lib/*/site-packages/shopcommon \\( -name tests -o -name 'test_*.py'",
    "-o -name __pycache__ -o -name Dockerfile \\) -print;",
    "[ ! -d /run/secrets ] || ls -A /run/secrets",
])


@pytest.mark.parametrize("name", IMAGES)
def test_no_secrets_or_test_files_inside(built_images, name):
    ref = built_images[name]
    found = engine.podman("run", "--rm", "--user", "0", "--entrypoint", "sh", ref, "-c", _FIND_SUSPECTS)
    found = found.stdout
    assert found.split() == [], f"{name} holds files it should not:\n{found}"
    env_names = [item.split("=", 1)[0] for item in engine.inspect_image(ref)["Config"]["Env"]]
    assert not [n for n in env_names if any(word in n.upper() for word in SECRET_ENV_WORDS)], env_names


_PLANTED = "PLANTED-5e1f-not-for-images"
_PLANT_FILES = [
    "advertisements/tests/test_planted.py",
    "advertisements/conftest.py",
    "advertisements/.env",
    "advertisements/server.key",
    "advertisements/tls.pem",
    "advertisements/.git/config",
    "advertisements/instance/experiment.sqlite3",
    "advertisements/__pycache__/planted.cpython-311.pyc",
    "common/shopcommon/tests/test_planted.py",
    "common/.venv/planted.txt",
]


def test_dockerignore_keeps_planted_files_out(built_images, tmp_path: Path):
    """Build advertisements from a copy of services/ with secrets and tests planted: none may get in."""
    context = tmp_path / "services"
    shutil.copytree(
        REPO_ROOT / "services", context, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".venv")
    )
    for relative in _PLANT_FILES:
        path = context / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{_PLANTED}\n")
    tag = f"localhost/shoptest/advertisements:planted-{uuid.uuid4().hex[:8]}"
    engine.podman(
        "build", "--format", "docker", *engine.ca_secret_args(), "--build-arg", "ADS_VERSION=1.0", "-t", tag,
        "-f", str(context / "advertisements" / "Dockerfile"), str(context), timeout=900,
    )
    try:
        found = engine.podman(
            "run", "--rm", "--user", "0", "--entrypoint", "grep", tag,
            "-rl", _PLANTED, "/app", "/opt/venv", "/home", "/tmp", check=False,
        )
        assert found.returncode == 1 and not found.stdout, f"planted files inside the image:\n{found.stdout}"
    finally:
        engine.podman("rmi", "--force", tag, check=False)


@pytest.mark.parametrize("name", IMAGES)
def test_image_size_is_reported_and_small(built_images, name):
    size_mb = engine.inspect_image(built_images[name])["Size"] / 1e6
    REPORT[f"{name} size, MB"] = round(size_mb, 1)
    # Debian's python3 and the venv (ddtrace alone is ~45 MB); build tools would push it far past this.
    assert size_mb < 350, f"{name} is {size_mb:.0f} MB"


def test_frontend_image_can_run_the_traffic_generator(built_images):
    """The traffic generator ships in the frontend image: its Locust/gevent imports survive the slimming."""
    result = engine.podman(
        "run", "--rm", "--entrypoint", "python3", built_images["ecommerce/frontend:1.0"],
        "-c", "import traffic.run, locust, gevent; print('ok')", check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
