"""Every shipped YAML parses, and every Kubernetes kind passes the API server's strict schema."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
import yaml

from localmesh.analyze.schema import KUBERNETES_VERSION
from manifests_files.manifests import KUSTOMIZATION, REPO, load, one, resources, yaml_files

CORE_KINDS = {"Namespace", "Deployment", "Service", "ServiceAccount", "PersistentVolumeClaim"}
# Applied over the shop, on purpose under the same name: the canary's DestinationRule (the shop's
# idle timeout plus the v1/v2 subsets).
REPLACING_ALTERNATIVES = {"istio/ads_v2/destinationrule.yaml"}
ISTIO_KINDS = {"Gateway", "VirtualService", "DestinationRule", "PeerAuthentication", "AuthorizationPolicy"}


def test_the_manifest_folders_hold_the_files_the_workshop_names():
    expected = {
        "k8s/namespace.yaml",
        "k8s/frontend.yaml",
        "k8s/advertisements.yaml",
        "k8s/service-networking/advertisements-v2.yaml",
        "k8s/traffic-generator.yaml",
        "istio/ecommerce-istio/kustomization.yaml",
        "istio/ecommerce-istio/namespace.yaml",
        "istio/ecommerce-istio/frontend.yaml",
        "istio/ecommerce-istio/advertisements.yaml",
        "istio/ecommerce-istio/advertisements-service.yaml",
        "istio/ecommerce-istio/frontend-gateway.yaml",
        "istio/ads_v2/advertisements_v2.yaml",
        "istio/ads_v2/destinationrule.yaml",
        "istio/ads_v2/virtualservice.yaml",
        "istio/ads_v2/kustomization.yaml",
    } | {
        f"istio/scenarios/{name}.yaml"
        for name in (
            "all-to-v1",
            "products-90-10",
            "promote-v2",
            "preview-header",
            "fault-delay-v2",
            "timeouts-retries",
            "destinationrule-resilience",
            "mtls-strict",
            "sticky-ab",
        )
    }
    missing = expected - set(yaml_files())
    assert not missing, f"missing manifest files: {sorted(missing)}"


@pytest.mark.parametrize("path", yaml_files())
def test_every_yaml_file_parses(path):
    with open(REPO / path, encoding="utf-8") as handle:
        docs = [d for d in yaml.safe_load_all(handle) if d is not None]
    assert docs, f"{path} holds no YAML document"
    assert all(isinstance(d, dict) for d in docs), f"{path}: every document must be a mapping"


def test_every_yaml_is_a_resource_to_apply_or_a_kustomization():
    # Inputs to kind, istioctl and helm live in cluster/, so `kubectl apply` takes any file here.
    for path in yaml_files():
        for doc in load(path):
            if path.rsplit("/", 1)[-1] == KUSTOMIZATION:
                assert doc["kind"] == "Kustomization", path
                assert doc["apiVersion"] == "kustomize.config.k8s.io/v1beta1", path
            else:
                assert doc.get("apiVersion") and doc.get("kind"), f"{path}: not a Kubernetes resource"
                assert doc.get("metadata", {}).get("name"), f"{path}: {doc['kind']} without metadata.name"


def test_only_known_kinds_are_shipped():
    # Anything else would slip past both the schema check below and the Istio checks.
    kinds = {r.kind for r in resources()}
    assert kinds <= CORE_KINDS | ISTIO_KINDS, f"unexpected kinds: {kinds - CORE_KINDS - ISTIO_KINDS}"


def test_resources_live_in_the_workshop_namespaces():
    for resource in resources():
        if resource.kind == "Namespace":
            continue
        expected = "ns1" if resource.path.startswith("k8s/") else "ns3"
        assert resource.namespace == expected, f"{resource}: namespace must be {expected}"


def test_resource_names_are_unique_within_a_workshop_step():
    # Scenario files replace resources on purpose (same name); the base files must not collide.
    seen = {}
    for resource in resources():
        if "/scenarios/" in resource.path or "/service-networking/" in resource.path:
            continue
        if resource.path in REPLACING_ALTERNATIVES:
            continue
        key = (resource.kind, resource.namespace, resource.name)
        assert key not in seen, f"{resource} duplicates {seen[key]}"
        seen[key] = resource.path


@pytest.mark.parametrize("resource", [r for r in resources() if r.kind in CORE_KINDS], ids=str)
def test_kubernetes_kinds_pass_the_strict_api_schema(resource):
    try:
        kubernetes_validate.validate(resource.doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{resource}: {error.message} at {'/'.join(map(str, error.path))}")


@pytest.mark.parametrize(
    "mutate, where",
    [
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(imagePullPolicyy="IfNotPresent"),
            "misspelled container field",
        ),
        (lambda d: d["spec"].update(replica=1), "misspelled spec field"),
        (
            lambda d: d["spec"]["template"]["spec"]["securityContext"].update(runAsUser="10001"),
            "string where an integer belongs",
        ),
    ],
)
def test_the_schema_check_rejects_a_broken_copy(mutate, where):
    # Proves the strict check above can fail: a shipped Deployment with one mistake.
    broken = copy.deepcopy(one("istio/ecommerce-istio/advertisements.yaml", "Deployment"))
    mutate(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_tool_configs_are_what_their_tools_expect():
    kind_cluster = one("cluster/kind.yaml", "Cluster")
    assert kind_cluster["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    operator = one("cluster/istio-operator.yaml", "IstioOperator")
    assert operator["apiVersion"] == "install.istio.io/v1alpha1"
    for path in ("cluster/datadog-values.yaml", "cluster/datadog-values-istio.yaml"):
        (values,) = load(path)
        assert "datadog" in values and "kind" not in values, f"{path} must be Helm values"
