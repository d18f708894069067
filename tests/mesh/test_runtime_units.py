"""The runtime's pure decisions: pod specs, env resolution, Service rewriting, ports, diffs, routes."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from testkit.manifests import deployment, service

from localmesh.cli import main as localmesh_main
from localmesh.loader import Kustomization, ManifestError, load_paths, load_text
from localmesh.model import build_mesh
from localmesh.runtime.diff import resource_changes
from localmesh.runtime.pods import (
    expand_vars,
    find_services_dir,
    pod_spec,
    pod_template,
    resolve_env,
    service_folder,
)
from localmesh.runtime.ports import PortInUse, check_ports_free, describe_port_needs, plan_listener_ports
from localmesh.runtime.routetext import describe_routes
from localmesh.runtime.servicenames import ServiceAddressBook
from localmesh.runtime.supervisor import BACKOFF_MAX, backoff_delay
from mesh.meshkit import ADS_V2, BASE, CANARY, DESTINATION_RULE, ISTIO

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "services"

SERVICE = service("advertisements", "ns3", """
    selector: {app: advertisements}
    ports: [{name: http, port: 5002, targetPort: 5002}]
""") + service("frontend", "ns3", """
    selector: {app: frontend}
    ports: [{name: http, port: 80, targetPort: 3000}]
""")

DEPLOYMENT = deployment("web", "ns3", """
  replicas: 2
  selector: {matchLabels: {app: frontend}}
  template:
    metadata:
      labels: {app: frontend, version: v1, tags.datadoghq.com/version: "1.0"}
      annotations: {note: hello}
    spec:
      containers:
        - name: web
          image: IMAGE
          command: ["ddtrace-run", "gunicorn"]
          args: ["--port", "$(PORT)"]
          env:
            - {name: ADS_URL, value: "http://advertisements:5002"}
            - {name: ADS_FQDN, value: "advertisements.ns3.svc.cluster.local"}
            - {name: ADS_SVC, value: "http://advertisements.ns3.svc:5002/ads"}
            - {name: DD_SERVICE, value: advertisements}
            - {name: OTHER, value: "http://example.com:5002"}
            - name: DD_VERSION
              valueFrom: {fieldRef: {fieldPath: "metadata.labels['tags.datadoghq.com/version']"}}
            - name: POD
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: NS
              valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
            - name: HOST_IP
              valueFrom: {fieldRef: {fieldPath: status.hostIP}}
            - name: NOTE
              valueFrom: {fieldRef: {fieldPath: "metadata.annotations['note']"}}
            - {name: AGENT, value: "http://$(HOST_IP):8126"}
            - {name: DOLLARS, value: "$$(HOST_IP)"}
            - name: KEY
              valueFrom: {secretKeyRef: {name: web-secret, key: key}}
            - name: MAYBE
              valueFrom: {secretKeyRef: {name: missing, key: key, optional: true}}
            - name: COLOR
              valueFrom: {configMapKeyRef: {name: web-config, key: color}}
          readinessProbe: {httpGet: {path: /readyz, port: 3000}, periodSeconds: 5}
""")

SECRETS = f"""
apiVersion: v1
kind: Secret
metadata: {{name: web-secret, namespace: ns3}}
data: {{key: {base64.b64encode(b"s3cret").decode()}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: web-config, namespace: ns3}}
data: {{color: blue}}
"""


def _mesh(text: str):
    return build_mesh(load_text(text, "test.yaml"))


def _setup(image: str = "ecommerce/frontend:1.0", extra: str = SECRETS):
    mesh = _mesh(SERVICE + "---" + DEPLOYMENT.replace("IMAGE", image) + "\n---\n" + extra)
    ports = plan_listener_ports(mesh)
    book = ServiceAddressBook(mesh, ports)
    deployment = next(d for d in mesh.deployments if d.name == "web")
    return mesh, book, deployment


def test_image_names_the_service_folder():
    assert service_folder("ecommerce/advertisements", SERVICES) == SERVICES / "advertisements"
    assert service_folder("localhost/ecommerce/frontend", SERVICES) == SERVICES / "frontend"
    assert service_folder("ecommerce/nothing-here", SERVICES) is None


def test_services_dir_is_the_nearest_above_the_first_manifest_that_has_one(tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("")
    assert find_services_dir([ISTIO / "ads_v2" / "virtualservice.yaml"]) == SERVICES
    assert find_services_dir([ISTIO / "ecommerce-istio"]) == SERVICES  # a folder counts from itself
    assert find_services_dir([Kustomization(ISTIO / "ecommerce-istio")]) == SERVICES  # -k DIR too
    assert find_services_dir([outside, ISTIO / "ecommerce-istio"]) == SERVICES
    assert find_services_dir([outside]) is None
    (tmp_path / "services").mkdir()
    assert find_services_dir([outside, ISTIO / "ecommerce-istio"]) == tmp_path / "services"


def test_up_without_a_services_dir_is_one_line_before_anything_starts(tmp_path, capsys):
    manifest = tmp_path / "m" / "ads.yaml"
    manifest.parent.mkdir()
    manifest.write_text((ISTIO / "ecommerce-istio" / "advertisements.yaml").read_text())
    state = tmp_path / "state"
    assert localmesh_main(["up", "-f", str(manifest), "--state-dir", str(state)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no services/ folder" in error and "--services-dir" in error, error
    assert not state.exists()


def test_image_without_folder_is_one_error_naming_file_and_field():
    mesh, _, deployment = _setup(image="ecommerce/unknown:1.0")
    with pytest.raises(ManifestError) as caught:
        pod_template(deployment, mesh, SERVICES)
    text = str(caught.value)
    assert text.startswith("test.yaml:") and "image 'ecommerce/unknown:1.0'" in text
    line = int(text.split(":")[1])
    assert "image:" in (SERVICE + "---" + DEPLOYMENT).splitlines()[line - 1]


def test_env_resolution_like_the_kubelet():
    mesh, book, deployment = _setup()
    template = pod_template(deployment, mesh, SERVICES)
    env = resolve_env(template, "web-abc12-0", book)
    assert env["ADS_URL"] == "http://127.0.0.1:5002"
    assert env["ADS_FQDN"] == "127.0.0.1:5002"
    assert env["ADS_SVC"] == "http://127.0.0.1:5002/ads"
    assert env["DD_SERVICE"] == "advertisements"  # a bare name is not an address
    assert env["OTHER"] == "http://example.com:5002"
    assert env["DD_VERSION"] == "1.0"
    assert env["POD"] == "web-abc12-0"
    assert env["NS"] == "ns3"
    assert env["HOST_IP"] == "127.0.0.1"
    assert env["NOTE"] == "hello"
    assert env["AGENT"] == "http://127.0.0.1:8126"
    assert env["DOLLARS"] == "$(HOST_IP)"
    assert env["KEY"] == "s3cret"
    assert "MAYBE" not in env
    assert env["COLOR"] == "blue"


def test_pod_spec_adds_port_bind_host_path_and_expands_args():
    mesh, book, deployment = _setup()
    template = pod_template(deployment, mesh, SERVICES)
    host = {"PATH": "/usr/bin", "SECRET": "x"}
    spec = pod_spec(template, "abc12", 1, 43210, book, "/venv/bin", host_env=host)
    assert spec.name == "web-abc12-1"
    assert spec.env["PORT"] == "43210" and spec.env["BIND_HOST"] == "127.0.0.1"
    assert spec.env["PATH"].split(":")[0] == "/venv/bin"
    assert "SECRET" not in spec.env  # the host's environment does not leak into pods
    assert spec.command == ("ddtrace-run", "gunicorn", "--port", "43210")
    assert spec.cwd == str(SERVICES / "frontend")
    assert spec.readiness_path == "/readyz" and spec.readiness.period_seconds == 5


@pytest.mark.parametrize("extra, expected", [
    ("", "Secret 'web-secret' not found in namespace ns3"),
    (SECRETS.replace("key:", "other:", 1), "Secret 'web-secret' has no key 'key'"),
    (SECRETS.split("---")[0], "ConfigMap 'web-config' not found"),
])
def test_unresolvable_key_refs_are_one_error(extra, expected):
    mesh, _, deployment = _setup(extra=extra or "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns3}\n")
    with pytest.raises(ManifestError) as caught:
        pod_template(deployment, mesh, SERVICES)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("test.yaml:")


def test_fingerprint_follows_what_the_pod_sees():
    mesh, book, deployment = _setup()
    first = pod_template(deployment, mesh, SERVICES).fingerprint(book)
    assert pod_template(deployment, mesh, SERVICES).fingerprint(book) == first
    changed = _mesh(SERVICE + "---" + DEPLOYMENT.replace("IMAGE", "ecommerce/frontend:1.0")
                    .replace("value: advertisements}", "value: ads}") + "---" + SECRETS)
    other = next(d for d in changed.deployments if d.name == "web")
    assert pod_template(other, changed, SERVICES).fingerprint(book) != first
    ports = plan_listener_ports(mesh)
    moved = ServiceAddressBook(mesh, {**ports, next(iter(ports)): 6000})
    assert pod_template(deployment, mesh, SERVICES).fingerprint(moved) != first


def test_expand_vars_leaves_unknown_references():
    assert expand_vars("$(A)-$(B)-$$", {"A": "1"}) == "1-$(B)-$"


def test_listener_plan_defaults_keeps_previous_and_picks_free():
    mesh = _mesh(SERVICE)
    plan = plan_listener_ports(mesh)
    assert plan == {("advertisements.ns3.svc.cluster.local", 5002): 5002,
                    ("frontend.ns3.svc.cluster.local", 80): 10080}
    kept = plan_listener_ports(mesh, previous={("frontend.ns3.svc.cluster.local", 80): 20001})
    assert kept[("frontend.ns3.svc.cluster.local", 80)] == 20001
    picks = iter([5002, 31000, 31001])
    free = plan_listener_ports(mesh, pick_free=lambda: next(picks), reserved=(5002,))
    assert sorted(free.values()) == [31000, 31001]


def test_port_in_use_names_port_and_owner():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUse) as caught:
            check_ports_free(describe_port_needs({}, port, 1))
    assert f"127.0.0.1:{port} is already in use" in str(caught.value)
    assert "gateway" in str(caught.value)


def test_resource_changes_read_like_kubectl():
    lines = resource_changes({("VirtualService", "ns3", "a"): {"x": 1}},
                             {("VirtualService", "ns3", "a"): {"x": 2}, ("Deployment", "ns3", "b"): {}})
    assert lines == ["virtualservice/a configured", "deployment/b created"]


def test_routes_in_force_are_readable():
    mesh = build_mesh(load_paths(CANARY))
    lines = describe_routes(mesh)
    ads = next(line for line in lines if line.startswith("advertisements.ns3:"))
    assert "page-source=products -> v1 50%, v2 50%; * -> v1" in ads
    assert "frontend.ns3: * -> every ready pod of frontend (LEAST_REQUEST)" in describe_routes(
        build_mesh(load_paths(BASE)), {"outbound|80||frontend.ns3.svc.cluster.local": "LEAST_REQUEST"})
    ninety_file = ISTIO / "scenarios" / "products-90-10.yaml"
    ninety = build_mesh(load_paths([*BASE, ADS_V2, DESTINATION_RULE, ninety_file]))
    assert "v1 90%, v2 10%" in "\n".join(describe_routes(ninety))


def test_backoff_doubles_up_to_a_cap():
    assert [backoff_delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_delay(50) == BACKOFF_MAX
