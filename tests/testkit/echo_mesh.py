"""Echo pods behind one real Envoy built by localmesh's builders, and calls as Istio's echo
client makes them (the routing conformance cases and the Envoy-level semantics tests).

Istio's routing cases (tests/integration/pilot/common/routing.go, Istio 1.29.6) call an echo
Service with ports http 80, auto-http 81, http2 85, grpc 7070 and tcp 9090 and read what the
echo received. Here every case can have a Service of its own (one Envoy serves them all, a
listener each) over the same echo processes.

    with echo_pods({"b-0": {"app": "b"}}) as pods, run_mesh(manifests, pods) as mesh:
        mesh.call("b", path="/foo").echo["path"]
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Optional

from scipy.stats import binom

from localmesh.envoy import build_resources, build_static_config
from localmesh.loader import load_text
from localmesh.model import Mesh, build_mesh
from localmesh.topology import Endpoint, Topology
from testkit.envoy import EnvoyProcess, run_envoy
from testkit.manifests import destination_rule
from testkit.manifests import service as k8s_service
from testkit.processes import free_port, stop_process, wait_for_http

ECHO = Path(__file__).with_name("echo_server.py")
NAMESPACE = "echo"
# Istio's echo ports: Service port -> workload (target) port.
HTTP, AUTO_HTTP, HTTP2, GRPC, TCP = 80, 81, 85, 7070, 9090
TARGET = {HTTP: 18080, AUTO_HTTP: 18081, HTTP2: 18085, GRPC: 17070, TCP: 19090}
GRPC_METHOD = "/echo.Echo/Call"
# A statistical check may fail by chance at most this often.
FALSE_ALARM = 1e-6


@dataclass
class EchoPod:
    name: str
    labels: dict
    http: int
    grpc: int
    tcp: int
    process: subprocess.Popen = field(repr=False)


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"echo exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def echo_pods(pods: dict) -> Iterator[list]:
    """{pod name: labels} -> one running echo process each, stopped when the block ends."""
    running: list = []
    try:
        for name, labels in pods.items():
            ports = dict(zip(("http", "grpc", "tcp"), distinct_free_ports(3)))
            command = [sys.executable, str(ECHO), "--name", name]
            for key, port in ports.items():
                command += [f"--{key}", str(port)]
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
            running.append(EchoPod(name, dict(labels), ports["http"], ports["grpc"], ports["tcp"], process))
        for pod in running:
            wait_for_http(f"http://127.0.0.1:{pod.http}/ready", process=pod.process)
            _wait_for_port(pod.grpc, pod.process)
            _wait_for_port(pod.tcp, pod.process)
        yield running
    finally:
        for pod in running:
            stop_process(pod.process, 5)


def service(name: str, selector: dict) -> str:
    """An echo Service (Istio's echo ports) selecting pods by labels."""
    labels = ", ".join(f"{k}: {v}" for k, v in selector.items())
    named = (("http", HTTP), ("auto-http", AUTO_HTTP), ("http2", HTTP2), ("grpc", GRPC), ("tcp", TCP))
    ports = "".join(f"\n- {{name: {key}, port: {port}, targetPort: {TARGET[port]}}}" for key, port in named)
    return k8s_service(name, NAMESPACE, f"selector: {{{labels}}}\nports:{ports}")


def use_client_protocol(name: str, host: str) -> str:
    """routing.go's useClientProtocolDestinationRuleTmpl: plain text upstream, in the HTTP version
    the client spoke."""
    return destination_rule(name, NAMESPACE, f"""
        host: {host}
        trafficPolicy:
          tls: {{mode: DISABLE}}
          connectionPool: {{http: {{useClientProtocol: true}}}}
    """)


def configure(template: str, **names: str) -> str:
    """Istio resources for one case, written in namespace `echo` ($svc etc. substituted)."""
    text = Template(template).substitute(names)
    out = []
    for document in text.split("\n---"):
        if document.strip() and "namespace:" not in document:
            document = document.replace("metadata:\n", f"metadata:\n  namespace: {NAMESPACE}\n", 1)
        out.append(document)
    return "\n---" + "\n---".join(out) + "\n"


@dataclass
class Reply:
    status: int
    headers: list  # [(name lower-case, value)]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        return next((v for k, v in self.headers if k == name.lower()), None)

    def header_values(self, name: str) -> list:
        return [v for k, v in self.headers if k == name.lower()]

    @property
    def echo(self) -> dict:
        """What the echo pod received (its JSON report)."""
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"{self.status} {self.headers} {self.body[:300]!r}"


class MeshUnderTest:
    """One Envoy with localmesh's configuration for a set of manifests and echo pods."""

    def __init__(self, mesh: Mesh, topology: Topology, envoy: EnvoyProcess, warnings: list) -> None:
        self.mesh = mesh
        self.topology = topology
        self.envoy = envoy
        self.warnings = warnings

    def local_port(self, name: str, port: int = HTTP) -> int:
        return self.topology.service_ports[(f"{name}.{NAMESPACE}.svc.cluster.local", port)]

    def call(
        self,
        name: str,
        port: int = HTTP,
        path: str = "/",
        method: str = "GET",
        headers: Optional[dict] = None,
        host: Optional[str] = None,
        http2: bool = False,
    ) -> Reply:
        """One request to Service `name` as Istio's echo client sends it: Host is the Service
        name, with the port unless it is 80 (Go's http client); HTTP/2 with prior knowledge
        when http2."""
        if host is None:
            host = name if port == HTTP else f"{name}:{port}"
        send = request_h2 if http2 else request
        return send(self.local_port(name, port), path, method, {"Host": host, **(headers or {})})

    def gateway_call(
        self, path: str = "/", headers: Optional[dict] = None, host: str = "", http2: bool = False
    ) -> Reply:
        send = request_h2 if http2 else request
        return send(self.topology.gateway_port, path, "GET", {"Host": host, **(headers or {})})

    def grpc_call(self, name: str, port: int = GRPC) -> bytes:
        """One unary gRPC call (HTTP/2) through the Service's listener; grpc.RpcError on failure."""
        import grpc

        target = f"127.0.0.1:{self.local_port(name, port)}"
        with grpc.insecure_channel(target, options=[("grpc.default_authority", f"{name}:{port}")]) as channel:
            return channel.unary_unary(GRPC_METHOD)(b"", timeout=10)

    def tcp_call(self, name: str, port: int = TCP) -> str:
        """One TCP connection through the Service's listener: the echo pod's name."""
        with socket.create_connection(("127.0.0.1", self.local_port(name, port)), timeout=10) as sock:
            sock.sendall(b"hello\n")
            return sock.makefile().readline().strip()


def request(port: int, path: str, method: str, headers: dict) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return Reply(response.status, [(k.lower(), v) for k, v in response.getheaders()], body)
    finally:
        connection.close()


def request_h2(port: int, path: str, method: str, headers: dict) -> Reply:
    """The same over HTTP/2 cleartext with prior knowledge (Host becomes :authority)."""
    import httpx

    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        response = client.request(method, f"http://127.0.0.1:{port}{path}", headers=headers)
        assert response.http_version == "HTTP/2", response.http_version
        return Reply(response.status_code, [(k.lower(), v) for k, v in response.headers.multi_items()],
                     response.content)


def topology_for(mesh: Mesh, pods: list) -> Topology:
    endpoints = []
    for pod in pods:
        # The echo's HTTP port speaks HTTP/1.1 and HTTP/2: it serves the three HTTP ports.
        target_ports = ((TARGET[HTTP], pod.http), (TARGET[AUTO_HTTP], pod.http), (TARGET[HTTP2], pod.http),
                        (TARGET[GRPC], pod.grpc), (TARGET[TCP], pod.tcp))
        endpoints.append(Endpoint(pod.name, NAMESPACE, pod.labels, "127.0.0.1", pod.http, None, target_ports))
    keys = [(s.fqdn, p.port) for s in mesh.services for p in s.ports]
    *listeners, admin, gateway = distinct_free_ports(len(keys) + 2)
    return Topology(
        endpoints=tuple(endpoints),
        service_ports=dict(zip(keys, listeners)),
        admin_port=admin,
        gateway_port=gateway,
    )


def distinct_free_ports(count: int) -> list:
    """count different free loopback ports (free_port hands them out in turn, from this worker's
    own range: another worker or an outgoing connection cannot take one before it is bound)."""
    return [free_port() for _ in range(count)]


@contextmanager
def run_mesh(manifests: str, pods: list) -> Iterator[MeshUnderTest]:
    """Build the manifests with localmesh's builders and run them in one real Envoy."""
    mesh = build_mesh(load_text(manifests, "conformance.yaml"))
    topology = topology_for(mesh, pods)
    warnings = build_resources(mesh, topology).warnings
    with run_envoy(build_static_config(mesh, topology)) as envoy:
        yield MeshUnderTest(mesh, topology, envoy, warnings)


@contextmanager
def serve_echo(pods: dict, manifests: str) -> Iterator[MeshUnderTest]:
    """Echo pods ({name: labels}) behind one Envoy for manifests that localmesh expresses whole:
    the builders warn about nothing."""
    with echo_pods(pods) as running, run_mesh(manifests, running) as mesh:
        assert mesh.warnings == [], mesh.warnings
        yield mesh


def requests_for_one_host_by_chance(hosts: int) -> int:
    """How many requests make "all on one host" a chance event rarer than FALSE_ALARM when the
    load balancer spreads them evenly over `hosts` (exact binomial probability)."""
    count = 2
    while hosts * binom.pmf(count, count, 1 / hosts) >= FALSE_ALARM:
        count += 1
    return count

