"""The stored Istio CRD schemas: the release localmesh follows, every Istio kind, strict as the API server."""

from __future__ import annotations

from localmesh.analyze import analyze, istio_schemas
from localmesh.loader import load_text
from localmesh.versions import ISTIO_VERSION


def messages(text: str) -> list:
    return analyze(load_text(text, "case.yaml"))


def test_stored_schema_is_that_of_the_istio_version_localmesh_follows():
    assert istio_schemas.recorded_version() == ISTIO_VERSION
    assert f"tag {ISTIO_VERSION}" in istio_schemas.recorded_source()
    assert "crd-all.gen.yaml" in istio_schemas.recorded_source()


def test_every_networking_security_telemetry_and_extensions_kind_is_there():
    kinds = istio_schemas.known_kinds()
    networking = {"VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "Sidecar", "WorkloadEntry",
                  "WorkloadGroup", "EnvoyFilter", "ProxyConfig"}
    assert {("networking.istio.io", k) for k in networking} <= kinds
    security = {"AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication"}
    assert {("security.istio.io", k) for k in security} <= kinds
    assert ("telemetry.istio.io", "Telemetry") in kinds
    assert ("extensions.istio.io", "WasmPlugin") in kinds
    for version in ("v1", "v1beta1", "v1alpha3"):
        assert istio_schemas.strict_schema(f"networking.istio.io/{version}", "VirtualService") is not None
    assert istio_schemas.strict_schema("networking.istio.io/v2", "VirtualService") is None


DESTINATION_RULE = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ads, namespace: ns3}
spec:
  host: ads.example.com
  trafficPolicy:
    %s
"""


def test_a_field_added_after_istio_1_24_is_known():
    # trafficPolicy.retryBudget is in the 1.29 CRD, not in 1.24's.
    found = messages(DESTINATION_RULE % "retryBudget: {percent: 20, minRetryConcurrency: 3}")
    assert [m for m in found if m.code == "IST0106"] == []


def test_an_unknown_field_is_refused_with_its_path():
    [found] = [m for m in messages(DESTINATION_RULE % "retryBudjet: {percent: 20}") if m.code == "IST0106"]
    assert 'unknown field "spec.trafficPolicy.retryBudjet"' in found.text
    assert found.refuses_apply and found.line == 8


def test_preserve_unknown_fields_accepts_anything_below_it():
    wasm = """
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: filter, namespace: ns3}
spec:
  url: oci://example.com/filter:1
  pluginConfig:
    anything: {nested: [1, 2, {deeper: true}]}
"""
    assert [m for m in messages(wasm) if m.code == "IST0106"] == []


def test_metadata_is_checked_as_kubernetes_object_meta():
    text = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns3, labelz: {a: b}}
spec:
  servers:
    - port: {number: 80, name: http, protocol: HTTP}
      hosts: ["*"]
"""
    assert any('unknown field "metadata.labelz"' in m.text for m in messages(text))


def test_wrong_type_and_enum_are_refused():
    policy = "loadBalancer: {simple: FASTEST}\n    connectionPool: {tcp: {maxConnections: many}}"
    found = messages(DESTINATION_RULE % policy)
    texts = [m.text for m in found if m.code == "IST0106"]
    assert any("spec.trafficPolicy.loadBalancer.simple" in t and "FASTEST" in t for t in texts), texts
    assert any("spec.trafficPolicy.connectionPool.tcp.maxConnections" in t for t in texts), texts
