"""build_bootstrap + discovery_files through a REAL Envoy: routes change by atomic file rename,
without a restart, without touching the listener, and without failing requests in flight."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
import requests
from test_builders import BASE as SERVICE
from test_builders import FQDN
from testkit.envoy import run_envoy
from testkit.manifests import destination_rule, virtual_service
from testkit.processes import free_port, run_service

from localmesh.envoy import build_bootstrap, build_resources, discovery_files
from localmesh.loader import load_text
from localmesh.model import build_mesh
from localmesh.topology import Endpoint, Topology

pytestmark = pytest.mark.envoy

BASE = SERVICE + destination_rule("ads", "t", """
    host: ads
    subsets:
    - {name: v1, labels: {version: v1}}
    - {name: v2, labels: {version: v2}}
""")
ALL_TO_V2 = virtual_service("ads", "t", """
    hosts: [ads]
    http:
    - route: [{destination: {host: ads, subset: v2}}]
""")


def write_files(config_dir, mesh, topology):
    """As the runtime does: each file replaced by an atomic rename."""
    for name, body in discovery_files(build_resources(mesh, topology, config_dir=str(config_dir))).items():
        temporary = config_dir / f".{name}.tmp"
        temporary.write_text(json.dumps(body))
        os.replace(temporary, config_dir / name)


@pytest.fixture(scope="module")
def backends():
    with run_service("advertisements", env={"ADS_VERSION": "1.0"}) as v1:
        with run_service("advertisements", env={"ADS_VERSION": "2.0"}) as v2:
            yield v1, v2


def test_route_change_by_file_rename_reaches_envoy_without_draining(backends, tmp_path):
    v1, v2 = backends
    topology = Topology(
        endpoints=(
            Endpoint("ads-v1-0", "t", {"app": "ads", "version": "v1"}, "127.0.0.1", v1.port, "/readyz"),
            Endpoint("ads-v2-0", "t", {"app": "ads", "version": "v2"}, "127.0.0.1", v2.port, "/readyz"),
        ),
        service_ports={(FQDN, 5002): free_port()},
        admin_port=free_port(),
        gateway_port=free_port(),
    )
    url = f"http://127.0.0.1:{topology.service_ports[(FQDN, 5002)]}/ads"
    write_files(tmp_path, build_mesh(load_text(BASE)), topology)
    with run_envoy(build_bootstrap(topology, str(tmp_path))) as envoy, requests.Session() as session:
        envoy.wait_for_healthy(f"outbound|5002||{FQDN}", 2)
        before = {session.get(url, timeout=5).json()["version"] for _ in range(20)}
        assert before == {"1.0", "2.0"}  # no VirtualService: both endpoints
        created = envoy.counter("listener_manager.listener_create_success")

        failures: list = []
        stop = threading.Event()

        def steady_stream():
            with requests.Session() as own:
                for _ in range(5000):  # bounded, stopped long before in practice
                    if stop.is_set():
                        return
                    try:
                        status = own.get(url, timeout=5).status_code
                    except requests.RequestException as error:
                        failures.append(repr(error))
                        continue
                    if status != 200:
                        failures.append(status)

        stream = threading.Thread(target=steady_stream)
        stream.start()
        try:
            write_files(tmp_path, build_mesh(load_text(BASE + ALL_TO_V2)), topology)
            deadline = time.monotonic() + 20
            seen: set = {"1.0"}
            while time.monotonic() < deadline:
                seen = {session.get(url, timeout=5).json()["version"] for _ in range(20)}
                if seen == {"2.0"}:
                    break
                time.sleep(0.2)
            assert seen == {"2.0"}
            write_files(tmp_path, build_mesh(load_text(BASE)), topology)  # and back: delete the VS
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and seen != {"1.0", "2.0"}:
                seen = {session.get(url, timeout=5).json()["version"] for _ in range(20)}
            assert seen == {"1.0", "2.0"}
        finally:
            stop.set()
            stream.join(30)
        assert failures == []
        assert envoy.process.poll() is None  # the same Envoy, never restarted
        # Only the route configuration changed: no listener was created, modified or drained.
        assert envoy.counter("listener_manager.listener_create_success") == created
        assert envoy.counter("listener_manager.listener_modified") == 0
        # One route configuration, loaded at start and reloaded for each of the two changes.
        reloads = f"http.{FQDN}_5002.rds.{FQDN}_5002.config_reload"
        assert envoy.counter(reloads) == 3
