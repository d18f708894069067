"""exportTo through a REAL Envoy: the ingress gateway sees what a proxy in istio-system sees.

Istio 1.29.6, pilot/pkg/model/push_context.go: VirtualServicesForGateway(proxy namespace, gateway)
and destinationRule(proxy namespace, service). The gateway proxy runs in istio-system, so a
VirtualService or DestinationRule exported only to its own namespace does not reach it, while
the sidecars of that namespace use it. Builder-level cases: test_visibility.py.
"""

from __future__ import annotations

import pytest
from testkit.echo_mesh import NAMESPACE, echo_pods, run_mesh, service
from testkit.manifests import destination_rule, gateway, virtual_service

pytestmark = pytest.mark.envoy

PODS = {"b-0": {"app": "b", "version": "v1"}}

CONFIG = (
    gateway("gateway", NAMESPACE, """
        selector: {istio: ingressgateway}
        servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
    """)
    + virtual_service("private", NAMESPACE, """
        hosts: [private.example.com]
        gateways: [gateway]
        exportTo: ["."]
        http: [{route: [{destination: {host: plain}}]}]
    """)
    + virtual_service("shared", NAMESPACE, """
        hosts: [shared.example.com]
        gateways: [gateway]
        exportTo: [istio-system]
        http: [{route: [{destination: {host: plain}}]}]
    """)
    + virtual_service("subset", NAMESPACE, """
        hosts: [subset.example.com, subset]
        gateways: [gateway, mesh]
        http: [{route: [{destination: {host: subset, subset: v1}}]}]
    """)
    + destination_rule("subset", NAMESPACE, """
        host: subset
        exportTo: ["."]
        subsets: [{name: v1, labels: {version: v1}}]
    """)
)


@pytest.fixture(scope="module")
def mesh():
    with echo_pods(PODS) as pods:
        manifests = service("plain", {"app": "b"}) + service("subset", {"app": "b"}) + CONFIG
        with run_mesh(manifests, pods) as running:
            yield running


def no_cluster(mesh) -> int:
    return mesh.envoy.counter(f"http.gateway:{mesh.topology.gateway_port}.no_cluster")


def test_a_virtual_service_exported_to_its_namespace_only_is_not_served_by_the_gateway(mesh):
    assert mesh.gateway_call(host="private.example.com").status == 404
    reply = mesh.gateway_call(host="shared.example.com")
    assert reply.status == 200 and reply.echo["instance"] == "b-0"


def test_a_destination_rule_exported_to_its_namespace_only_leaves_the_gateway_without_subsets(mesh):
    before = no_cluster(mesh)
    assert mesh.gateway_call(host="subset.example.com").status == 503
    assert no_cluster(mesh) == before + 1
    # The sidecars of the rule's namespace have the subset.
    reply = mesh.call("subset")
    assert reply.status == 200 and reply.echo["instance"] == "b-0"


def test_the_builders_said_why(mesh):
    assert any("VirtualService echo/private" in w and "spec.exportTo" in w for w in mesh.warnings)
    assert any("subset 'v1'" in w and "istio-system" in w for w in mesh.warnings)
