"""Each image `make images` builds, run for real with docker: user, health, version, contents, size, stop."""

from __future__ import annotations

import contextlib
import json
import platform
import shutil
import urllib.request
import uuid
from pathlib import Path

import pytest
from testkit.processes import REPO_ROOT

from containers import compose, engine
from containers.conftest import REPORT

# The first test pays for the cold build (base image + every image, minutes on a fresh machine).
pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]

SERVICE_IMAGES = ["ecommerce/frontend:1.0", "ecommerce/advertisements:1.0", "ecommerce/advertisements:2.0"]
TRAFFIC_IMAGE = "ecommerce/traffic-generator:1.0"
IMAGES = [*SERVICE_IMAGES, TRAFFIC_IMAGE]
SECRET_ENV_WORDS = ("SECRET", "PASSWORD", "TOKEN", "API_KEY", "APP_KEY", "PRIVATE")
# docker's name for the machine's architecture (platform.machine()).
DOCKER_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def _service(name: str) -> str:
    return name.split("/", 1)[1].split(":", 1)[0]


def _image_env(docker: engine.Engine, ref: str) -> dict:
    return dict(item.split("=", 1) for item in docker.inspect_image(ref)["Config"]["Env"])


def _container_port(docker: engine.Engine, ref: str) -> int:
    return int(_image_env(docker, ref)["PORT"])


def _get(url: str, headers: dict = None) -> tuple:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode()


def test_the_list_here_is_what_make_builds():
    assert sorted(engine.image_names()) == sorted(IMAGES)


@pytest.mark.parametrize("name", [*IMAGES, "ecommerce/mesh:1.0"])
def test_built_for_this_machines_architecture(docker_engine, docker_images, name):
    architecture = docker_engine.inspect_image(docker_engine.ref(name))["Architecture"]
    assert architecture == DOCKER_ARCH[platform.machine()], f"{name} is {architecture}"


@pytest.mark.parametrize("name", IMAGES)
def test_runs_as_non_root_numeric_user(docker_engine, docker_images, name):
    ref = docker_images[name]
    user = docker_engine.inspect_image(ref)["Config"].get("User", "")
    # Kubernetes' runAsNonRoot can only verify a numeric USER.
    assert user.split(":")[0].isdigit(), f"{name}: USER {user!r} is not numeric"
    uid = docker_engine.run("run", "--rm", "--entrypoint", "id", ref, "-u").stdout.strip()
    assert uid.isdigit() and int(uid) not in (0, 1337), f"{name} runs as uid {uid}"


@pytest.mark.parametrize("name", SERVICE_IMAGES)
def test_spans_are_named_after_the_service_not_the_integration(docker_engine, docker_images, name):
    # Without it ddtrace 4 names the web spans "flask" (no version tag) when DD_SERVICE equals
    # the service name it infers itself.
    env = _image_env(docker_engine, docker_images[name])
    assert env.get("DD_SERVICE") == _service(name)
    assert env.get("DD_TRACE_REMOVE_INTEGRATION_SERVICE_NAMES_ENABLED") == "true"


@pytest.fixture(scope="module")
def shop(docker_engine, docker_images):
    """The three service images running at once, as k8s/ runs them (read-only root; emptyDirs on /tmp, and
    on /app/instance for the frontend's SQLite store), on one docker network where ads 2.0 answers as
    `advertisements`; no trace agent anywhere. name -> Container."""
    network = f"shoptest-{uuid.uuid4().hex[:8]}"
    docker_engine.run("network", "create", network)
    try:
        with contextlib.ExitStack() as stack:
            running = {}
            for name, alias in (("ecommerce/advertisements:2.0", "advertisements"),
                                ("ecommerce/advertisements:1.0", None), ("ecommerce/frontend:1.0", None)):
                ref = docker_images[name]
                writable = ("/tmp", "/app/instance") if "frontend" in name else ("/tmp",)
                running[name] = stack.enter_context(engine.run_container(
                    docker_engine, ref, _container_port(docker_engine, ref), network=network, alias=alias,
                    read_only=True, writable=writable,
                ))
            yield running
    finally:
        docker_engine.run("network", "rm", network, check=False)


@pytest.mark.parametrize("name", SERVICE_IMAGES)
def test_answers_healthz_and_its_own_healthcheck_as_non_root(docker_engine, shop, name):
    container = shop[name]
    config = docker_engine.inspect_image(docker_engine.ref(name))["Config"]
    healthcheck = docker_engine.healthcheck(docker_engine.ref(name))
    assert config["Cmd"] == ["ddtrace-run", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    assert config.get("WorkingDir") == "/app"
    assert "/healthz" in " ".join(healthcheck.get("Test", [])), f"{name}: no HEALTHCHECK"
    status, body = _get(f"{container.url}/healthz")
    assert status == 200, body
    health = docker_engine.run_healthcheck(container.name, healthcheck["Test"])
    assert health.returncode == 0, f"{name}: HEALTHCHECK failed: {health.stdout}{health.stderr}"
    worker_uid = container.exec("sh", "-c", "grep '^Uid:' /proc/1/status").stdout.split()[1]
    assert worker_uid not in ("0", "1337")


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_advertisements_image_reports_its_version(docker_engine, shop, version):
    name = f"ecommerce/advertisements:{version}"
    env = _image_env(docker_engine, docker_engine.ref(name))
    assert (env.get("ADS_VERSION"), env.get("DD_VERSION"), env.get("DD_SERVICE")) == (
        version, version, "advertisements"
    )
    status, body = _get(f"{shop[name].url}/ads", {"page-source": "home"})
    assert status == 200
    payload = json.loads(body)
    assert payload["version"] == version
    assert all(f"version={version}" in ad["banner_url"] for ad in payload["ads"])


def test_frontend_container_shows_the_banner_of_the_advertisements_container(shop):
    """The frontend's default ADS_URL (http://advertisements:5002) resolves on a docker network."""
    for _ in range(3):
        status, html = _get(f"{shop['ecommerce/frontend:1.0'].url}/")
        assert status == 200
        assert 'data-ads-version="2.0"' in html, html[:2000]


@pytest.mark.parametrize("name", SERVICE_IMAGES)
def test_stops_on_sigterm_within_5_s_with_no_trace_agent(docker_engine, shop, name):
    """`docker stop --time 5` right after a traced request, with no agent listening: the
    engine's SIGTERM ends it, so the engine never sends its SIGKILL (ddtrace's last flush is bounded,
    remote configuration is off)."""
    container = shop[name]
    path, headers = ("/ads", {"page-source": "home"}) if "advertisements" in name else ("/", {})
    assert _get(f"{container.url}{path}", headers)[0] == 200
    record = engine.stop_and_record(docker_engine, container.name, grace_seconds=5)
    REPORT[f"docker stop of {name} without an agent, s"] = round(record.seconds or -1, 2)
    assert record.ended_on_sigterm, (record, container.logs()[-3000:])


# Paths that may hold certificates legitimately: the OS trust store and certifi's bundle.
_FIND_SUSPECTS = " ".join([
    "find / -xdev \\( -path /proc -o -path /sys -o -path /etc/ssl -o -path /usr/share/ca-certificates",
    "-o -path '/opt/venv/lib/*/site-packages/certifi' \\) -prune",
    "-o \\( -name .git -o -name .env -o -name '.env.*' -o -name '*.pem' -o -name '*.key' -o -name 'id_rsa*'",
    "-o -name '*.p12' -o -name conftest.py -o -name .pytest_cache -o -name .venv -o -name '*.sqlite3' \\)",
    "-print;",
    "find /app /opt/venv/lib/*/site-packages/shopcommon \\( -name tests -o -name 'test_*.py'",
    "-o -name __pycache__ -o -name Dockerfile \\) -print 2>/dev/null;",
    "[ ! -d /run/secrets ] || ls -A /run/secrets",
])


@pytest.mark.parametrize("name", IMAGES)
def test_no_secrets_or_test_files_inside(docker_engine, docker_images, name):
    ref = docker_images[name]
    found = docker_engine.run("run", "--rm", "--user", "0", "--entrypoint", "sh", ref, "-c", _FIND_SUSPECTS)
    found = found.stdout
    assert found.split() == [], f"{name} holds files it should not:\n{found}"
    env_names = [item.split("=", 1)[0] for item in docker_engine.inspect_image(ref)["Config"]["Env"]]
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


@pytest.mark.parametrize("engine_fixture", ["docker_engine", "podman_engine"])
def test_dockerignore_keeps_planted_files_out(request, engine_fixture, docker_images, tmp_path: Path):
    """Build advertisements from a copy of services/ with secrets and tests planted: none may get in.

    Both engines: docker's BuildKit and podman's buildah read services/.dockerignore each their own way.
    """
    chosen = request.getfixturevalue(engine_fixture)
    if chosen.name == "podman":
        request.getfixturevalue("podman_base_image")
    context = tmp_path / "services"
    shutil.copytree(
        REPO_ROOT / "services", context, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".venv")
    )
    for relative in _PLANT_FILES:
        path = context / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{_PLANTED}\n")
    tag = f"localhost/shoptest/advertisements:planted-{uuid.uuid4().hex[:8]}"
    build = ["build", "--format", "docker"] if chosen.name == "podman" else ["build"]
    result = engine.subprocess.run(
        [chosen.cli, *build, *engine.ca_secret_args(), "--build-arg", "ADS_VERSION=1.0", "-t", tag,
         "-f", str(context / "advertisements" / "Dockerfile"), str(context)],
        env={**chosen.env(), "DOCKER_BUILDKIT": "1"}, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    try:
        found = chosen.run(
            "run", "--rm", "--user", "0", "--entrypoint", "grep", tag,
            "-rl", _PLANTED, "/app", "/opt/venv", "/home", "/tmp", check=False,
        )
        assert found.returncode == 1 and not found.stdout, f"planted files inside the image:\n{found.stdout}"
    finally:
        chosen.run("rmi", "--force", tag, check=False)


@pytest.mark.parametrize("name", [*IMAGES, "ecommerce/mesh:1.0"])
def test_image_size_is_reported_and_small(docker_engine, docker_images, name):
    size_mb = docker_engine.inspect_image(docker_engine.ref(name))["Size"] / 1e6
    REPORT[f"{name} size, MB"] = round(size_mb, 1)
    # Debian's python3 and the venv (ddtrace alone is ~45 MB); build tools would push it far past this.
    assert size_mb < 350, f"{name} is {size_mb:.0f} MB"


def test_mesh_image_renders_the_canary_without_the_analyzer(docker_engine, docker_images):
    """The mesh image carries localmesh's builders but not the analyzer's schema packages (over 100 MB):
    its entrypoint renders docker-compose.yml's arguments with what it has."""
    mesh = docker_engine.ref("ecommerce/mesh:1.0")
    command = compose.load()["services"]["mesh"]["command"]
    result = docker_engine.run("run", "--rm", mesh, *command, "--print", check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["static_resources"]["listeners"], result.stdout[:2000]
    missing = docker_engine.run("run", "--rm", "--entrypoint", "python3", mesh,
                                "-c", _IMPORTABLE, "kubernetes_validate", "re2", "yaml")
    assert missing.stdout.split() == ["yaml"], missing.stdout


_IMPORTABLE = "import importlib.util as u, sys; print(' '.join(m for m in sys.argv[1:] if u.find_spec(m)))"
_TRAFFIC_ONLY = ["locust", "gevent", "greenlet", "zmq", "pytest"]


def test_frontend_image_carries_only_what_the_shop_runs(docker_engine, docker_images):
    """Locust and gevent live in the traffic generator's image; the storefront's has none of them."""
    ref = docker_images["ecommerce/frontend:1.0"]
    found = docker_engine.run("run", "--rm", "--entrypoint", "python3", ref, "-c", _IMPORTABLE,
                              *_TRAFFIC_ONLY, "flask", "ddtrace")
    assert found.stdout.split() == ["flask", "ddtrace"], found.stdout
    assert docker_engine.run("run", "--rm", "--entrypoint", "ls", ref, "/app").stdout.split() == [
        "gunicorn.conf.py", "instance", "storefront", "wsgi.py"
    ]


def test_traffic_generator_image_runs_the_generator(docker_engine, docker_images):
    """Its entrypoint is `python -m traffic`: --help lists the options, a bad one is one line and exit 2."""
    ref = docker_images[TRAFFIC_IMAGE]
    usage = docker_engine.run("run", "--rm", ref, "--help", check=False)
    assert usage.returncode == 0 and "--host" in usage.stdout and "--rate" in usage.stdout, usage.stderr
    bad = docker_engine.run("run", "--rm", ref, "--host", "http://127.0.0.1:9", "--rate", "0", check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    imports = docker_engine.run("run", "--rm", "--entrypoint", "python3", ref, "-c",
                                "import traffic.run, locust, gevent; print('ok')", check=False)
    assert imports.returncode == 0 and imports.stdout.strip() == "ok", imports.stderr[-3000:]
