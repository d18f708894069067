"""Datadog's test agent and the traced shop (real gunicorn, real Envoy) for the tracing tests.

    with run_test_agent(tmp) as agent:
        agent.start_session()
        ... requests ...
        traces = agent.wait_for_traces(lambda traces: ..., what="the page view")
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import yaml
from testkit.envoy import run_envoy
from testkit.processes import (
    REPO_ROOT,
    VENV_BIN,
    LoggedProcess,
    ServiceProcess,
    free_port,
    run_service,
    wait_for_http,
)

from localmesh.envoy import build_static_config
from localmesh.loader import kustomization_files, load_paths
from localmesh.model import build_mesh
from localmesh.topology import Endpoint, Topology, TracingConfig

ISTIO = REPO_ROOT / "istio"
CANARY_FILES = [*kustomization_files(ISTIO / "ecommerce-istio"), *kustomization_files(ISTIO / "ads_v2")]
ENV = "tracing-test"
VERSION_ATTR = re.compile(r'data-ads-version="([^"]+)"')


class TestAgent(LoggedProcess):
    """A running ddapm-test-agent; spans are read through its /test/session API."""

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return response.read()

    def start_session(self) -> None:
        """From now on, /test/session/traces holds only what arrives after this call."""
        self._get("/test/session/start")

    def traces(self) -> list:
        return json.loads(self._get("/test/session/traces"))

    def wait_for_traces(self, ready: Callable[[list], bool], what: str, timeout: float = 30.0) -> list:
        """Poll until ready(traces) holds (tracers flush every second or two), bounded."""
        deadline = time.monotonic() + timeout
        traces: list = []
        while time.monotonic() < deadline:
            traces = self.traces()
            if ready(traces):
                return traces
            time.sleep(0.3)
        raise AssertionError(f"the test agent never got {what} within {timeout}s; it has:\n"
                             + "\n".join(describe(trace) for trace in traces)[-6000:])


@contextmanager
def run_test_agent(workdir: Path) -> Iterator[TestAgent]:
    """ddapm-test-agent on free loopback ports (its OTLP and web UI ports too)."""
    port = free_port()
    # At INFO it would pretty-print every trace it gets, which costs it more than decoding them.
    command = [str(VENV_BIN / "ddapm-test-agent"), "--host", "127.0.0.1", "--port", str(port),
               "--otlp-http-port", str(free_port()), "--otlp-grpc-port", str(free_port()),
               "--web-ui-port", str(free_port()), "--log-level", "WARNING"]
    log_path = workdir / "test-agent.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    agent = TestAgent(port, process, log_path)
    try:
        wait_for_http(f"{agent.url}/info", process=process)
        yield agent
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---- reading traces ----------------------------------------------------------------------


def describe(trace: list) -> str:
    return "; ".join(f"{s['service']}:{s['name']}:{s['resource']}" for s in trace)


def by_id(trace: list) -> dict:
    return {span["span_id"]: span for span in trace}


def roots(trace: list) -> list:
    ids = by_id(trace)
    return [span for span in trace if span.get("parent_id") not in ids]


def is_page_view(trace: list, path: str) -> bool:
    """A trace that began at the gateway Envoy for path (not a health check)."""
    return any(
        span["service"] == "istio-ingressgateway" and span["meta"].get("http.url", "").endswith(path)
        for span in trace
    )


def app_request_span(trace: list, service: str) -> Optional[dict]:
    """The web framework's request span of service in trace (the one tags go on)."""
    found = [s for s in trace if s["service"] == service and s["name"] == "flask.request"]
    assert len(found) <= 1, f"{service} served this trace more than once: {describe(trace)}"
    return found[0] if found else None


def full_trace_id(span: dict) -> str:
    """The 128-bit id as logs carry it: the _dd.p.tid high half, then the 64-bit trace_id."""
    high = span["meta"].get("_dd.p.tid", "")
    return f"{high}{span['trace_id']:016x}" if high else str(span["trace_id"])


# ---- the traced shop ----------------------------------------------------------------------


@dataclass
class Shop:
    gateway_port: int
    ads_listener_port: int
    services: dict = field(default_factory=dict)  # pod name -> ServiceProcess
    envoy: object = None

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"


def manifest_settings(service: str) -> dict:
    """The literal DD_* values (tracer tuning, span naming) and the worker count the canary
    manifests give the service's pods, so the tests and bench/ run the services as the cluster does."""
    settings: dict = {}
    for path in CANARY_FILES:
        for manifest in sorted(path.glob("*.yaml")) if path.is_dir() else [path]:
            for doc in yaml.safe_load_all(manifest.read_text()):
                if not doc or doc.get("kind") != "Deployment":
                    continue
                if doc["spec"]["template"]["metadata"]["labels"].get("app") != service:
                    continue
                for item in doc["spec"]["template"]["spec"]["containers"][0].get("env", []):
                    wanted = item["name"].startswith("DD_") or item["name"] == "WEB_CONCURRENCY"
                    if wanted and "value" in item:
                        settings[item["name"]] = item["value"]
    assert settings, f"no Deployment of {service} in {CANARY_FILES}"
    return settings


def service_env(service: str, version: str, agent_url: Optional[str]) -> dict:
    """What the manifests give each pod (unified service tagging), pointed at agent_url."""
    env = {
        **manifest_settings(service),
        "DD_ENV": ENV, "DD_SERVICE": service, "DD_VERSION": version,
    }
    if agent_url is None:
        env["DD_TRACE_ENABLED"] = "false"
    else:
        env.update({"DD_TRACE_ENABLED": "true", "DD_TRACE_AGENT_URL": agent_url})
    return env


def canary_topology(frontend: ServiceProcess, ads: dict, ports: dict, tracing: Optional[TracingConfig],
                    gateway_port: int, admin_port: int) -> tuple:
    """The shop's canary manifests and where their pods and listeners live here."""
    mesh = build_mesh(load_paths(CANARY_FILES))
    endpoints = []
    for deployment in mesh.deployments:
        labels = dict(deployment.pod_labels)
        process = frontend if labels.get("app") == "frontend" else ads[labels.get("version")]
        endpoints.append(Endpoint(pod=f"{deployment.name}-0", namespace=deployment.namespace, labels=labels,
                                  host="127.0.0.1", port=process.port, health_path="/healthz"))
    topology = Topology(endpoints=tuple(endpoints), service_ports=ports, gateway_port=gateway_port,
                        admin_port=admin_port, tracing=tracing)
    return mesh, topology


@contextmanager
def run_shop(workdir: Path, agent_url: Optional[str], tracing: Optional[TracingConfig],
             extra_env: Optional[dict] = None) -> Iterator[Shop]:
    """Frontend 1.0, advertisements 1.0 and 2.0 under ddtrace-run gunicorn, behind one Envoy that
    plays the ingress gateway and the mesh, built from the canary manifests.

    agent_url None: ddtrace off (DD_TRACE_ENABLED=false); tracing None: Envoy's tracer off."""
    mesh = build_mesh(load_paths(CANARY_FILES))
    ports = {(service.fqdn, port.port): free_port() for service in mesh.services for port in service.ports}
    ads_port = next(local for (fqdn, _), local in ports.items() if fqdn.startswith("advertisements."))
    shop = Shop(gateway_port=free_port(), ads_listener_port=ads_port)
    extra_env = extra_env or {}
    with ExitStack() as stack:
        ads = {}
        for subset, version in (("v1", "1.0"), ("v2", "2.0")):
            env = {**service_env("advertisements", version, agent_url), "ADS_VERSION": version, **extra_env}
            ads[subset] = stack.enter_context(run_service("advertisements", env=env, traced=True))
            shop.services[f"advertisements-{subset}"] = ads[subset]
        env = {**service_env("frontend", "1.0", agent_url), "ADS_URL": f"http://127.0.0.1:{ads_port}",
               "SECRET_KEY": "tracing-test",
               # The experiment's impression store: this test's own, not the repo's instance folder.
               "DATABASE_URL": f"sqlite:///{workdir / 'experiment.sqlite3'}", **extra_env}
        frontend = stack.enter_context(run_service("frontend", env=env, traced=True))
        shop.services["frontend"] = frontend
        mesh, topology = canary_topology(frontend, ads, ports, tracing, shop.gateway_port, free_port())
        envoy = stack.enter_context(run_envoy(build_static_config(mesh, topology)))
        for cluster in ("outbound|5002|v1|advertisements.ns3.svc.cluster.local",
                        "outbound|5002|v2|advertisements.ns3.svc.cluster.local",
                        "outbound|80||frontend.ns3.svc.cluster.local"):
            envoy.wait_for_healthy(cluster, 1)
        shop.envoy = envoy
        yield shop


def run_traced_script(script: str, service: str, version: str, agent_url: str) -> subprocess.CompletedProcess:
    """`ddtrace-run python -c script` with the manifests' DD_* settings of service, sending to agent_url."""
    env = {**service_env(service, version, agent_url), "PATH": str(VENV_BIN)}
    command = [str(VENV_BIN / "ddtrace-run"), str(VENV_BIN / "python"), "-c", script]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    return result


def get_page(url: str) -> tuple:
    """(status, body text) without raising on 4xx/5xx."""
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def shown_version(html: str) -> Optional[str]:
    found = VERSION_ATTR.findall(html)
    assert len(found) <= 1, "a page shows at most one banner"
    return found[0] if found else None
