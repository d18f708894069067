"""istioctl's own analyzer test cases, run through `localmesh analyze`.

Each case of TestAnalyzers in Istio 1.29.6 pkg/config/analysis/analyzers/analyzers_test.go whose
analyzer reports a code this project implements: the same configuration (analyzer_cases/, copied
from Istio's testdata) and the same expected messages, compared as a set of (code, kind,
namespace/name). Istio runs one analyzer per case, so only the messages of that analyzer count
(Message.analyzer names it as istioctl does).

Istio's test harness reads a resource without a namespace into the empty namespace; localmesh
reads it into `default`, as `istioctl analyze` and kubectl do. No case relies on the difference,
so such resources are written `default/<name>` below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from localmesh.analyze import analyze
from localmesh.loader import load_paths

CASES_DIR = Path(__file__).resolve().parent / "analyzer_cases"


@dataclass(frozen=True)
class IstioCase:
    name: str  # the test case's name in analyzers_test.go
    analyzer: str  # the analyzer it runs, as istioctl names it
    files: tuple
    expected: frozenset = field(default_factory=frozenset)  # (code, "Kind namespace/name")
    not_expressible: Optional[str] = None  # why the local mesh cannot express it


def case(name: str, analyzer: str, files: tuple, *expected: tuple, not_expressible: Optional[str] = None):
    return IstioCase(name, analyzer, files, frozenset(expected), not_expressible)


PORT_NAMES = "service.PortNameAnalyzer"
SIDECARS = "sidecar.SelectorAnalyzer"
MESH_HOSTS = "virtualservice.ConflictingMeshGatewayHostsAnalyzer"
DESTINATION_HOSTS = "virtualservice.DestinationHostAnalyzer"
DESTINATION_RULES = "virtualservice.DestinationRuleAnalyzer"
GATEWAYS = "virtualservice.GatewayAnalyzer"
VALIDATION = "schema.ValidationAnalyzer"
SUBSETS = "destinationrule.SubsetSelectPodAnalyzer"

CASES = [
    case("portNameNotFollowConvention", PORT_NAMES, ("service-no-port-name.yaml",),
         ("IST0118", "Service my-namespace1/my-service1"),
         ("IST0118", "Service my-namespace2/my-service2")),
    case("namedPort", PORT_NAMES, ("service-port-name.yaml",)),
    case("unnamedPortInSystemNamespace", PORT_NAMES, ("service-no-port-name-system-namespace.yaml",)),
    case("ExternalNameServiceTypeInvalidPortName", PORT_NAMES,
         ("incorrect-port-name-external-name-service-type.yaml",),
         ("IST0150", "Service nginx-ns/nginx"),
         ("IST0150", "Service nginx-ns2/nginx-svc2"),
         ("IST0150", "Service nginx-ns3/nginx-svc3")),
    case("ExternalNameServiceTypeValidPortName", PORT_NAMES,
         ("correct-port-name-external-name-service-type.yaml",)),
    # Istio also expects MultipleSidecarsWithoutWorkloadSelectors, IneffectivePolicy and
    # ConflictingSidecarWorkloadSelectors here: codes this project does not implement.
    case("sidecarDefaultSelector", SIDECARS, ("sidecar-default-selector.yaml",)),
    case("sidecarSelector", SIDECARS, ("sidecar-selector.yaml",),
         ("IST0101", "Sidecar default/maps-to-nonexistent"),
         ("IST0101", "Sidecar other/maps-to-different-ns")),
    case("virtualServiceConflictingMeshGatewayHosts", MESH_HOSTS,
         ("virtualservice-conflictingmeshgatewayhosts.yaml",),
         ("IST0109", "VirtualService team3/ratings"),
         ("IST0109", "VirtualService team4/ratings"),
         ("IST0109", "VirtualService foo/ratings"),
         ("IST0109", "VirtualService bar/ratings"),
         ("IST0109", "VirtualService foo/productpage"),
         ("IST0109", "VirtualService foo/bogus-productpage"),
         ("IST0109", "VirtualService team2/ratings")),
    case("virtualServiceConflictingMeshGatewayHostsWithExportTo", MESH_HOSTS,
         ("virtualservice-conflictingmeshgatewayhosts-with-exportto.yaml",),
         ("IST0109", "VirtualService foo/productpage"),
         ("IST0109", "VirtualService bar/productpage"),
         ("IST0109", "VirtualService foo/productpage-c"),
         ("IST0109", "VirtualService bar/productpage-c"),
         ("IST0109", "VirtualService foo/productpage-d"),
         ("IST0109", "VirtualService bar/productpage-d")),
    case("virtualServiceDestinationHosts", DESTINATION_HOSTS, ("virtualservice-destinationhosts.yaml",),
         ("IST0101", "VirtualService default/reviews-bogushost"),
         ("IST0101", "VirtualService default/reviews-bookinfo-other"),
         ("IST0101", "VirtualService default/reviews-mirror-bogushost"),
         ("IST0101", "VirtualService default/reviews-bogusport"),
         ("IST0112", "VirtualService default/reviews-2port-missing"),
         ("IST0101", "VirtualService istio-system/cross-namespace-details"),
         ("IST0101", "VirtualService hello/hello-export-to-bogus")),
    case("virtualServiceDestinationRules", DESTINATION_RULES, ("virtualservice-destinationrules.yaml",),
         ("IST0101", "VirtualService default/reviews-bogussubset"),
         ("IST0101", "VirtualService default/reviews-mirror-bogussubset")),
    case("virtualServiceGateways", GATEWAYS, ("virtualservice-gateways.yaml",),
         ("IST0101", "VirtualService default/httpbin-bogus"),
         ("IST0132", "VirtualService default/cross-test"),
         ("IST0132", "VirtualService default/httpbin-bogus"),
         ("IST0132", "VirtualService default/httpbin")),
    case("virtualServiceInternalGatewayRef", GATEWAYS, ("virtualservice-internal-gateway-ref.yaml",),
         ("IST0165", "VirtualService default/httpbin")),
    case("dupmatches", VALIDATION,
         ("virtualservice-dupmatches.yaml", "virtualservice-overlappingmatches.yaml"),
         ("IST0130", "VirtualService default/duplicate-match"),
         ("IST0130", "VirtualService foo/sample-foo-cluster01"),
         ("IST0131", "VirtualService default/almost-duplicate-match"),
         ("IST0131", "VirtualService default/duplicate-match"),
         ("IST0130", "VirtualService default/duplicate-tcp-match"),
         ("IST0130", "VirtualService default/duplicate-empty-tcp"),
         ("IST0131", "VirtualService default/almost-duplicate-tcp-match"),
         ("IST0131", "VirtualService default/duplicate-tcp-match"),
         ("IST0130", "VirtualService none/tls-routing"),
         ("IST0131", "VirtualService none/tls-routing-almostmatch"),
         ("IST0131", "VirtualService none/tls-routing"),
         ("IST0131", "VirtualService default/non-method-get"),
         ("IST0131", "VirtualService default/overlapping-in-single-match"),
         ("IST0131", "VirtualService default/overlapping-in-two-matches"),
         ("IST0131", "VirtualService default/overlapping-mathes-with-different-methods")),
    *[
        case(name, GATEWAYS, (f"virtualservice-host-not-found-gateway{suffix}.yaml",),
             ("IST0132", "VirtualService default/testing-service-02-test-01"),
             ("IST0132", "VirtualService default/testing-service-02-test-02"),
             ("IST0132", "VirtualService default/testing-service-02-test-03"),
             ("IST0132", "VirtualService default/testing-service-03-test-04"))
        for name, suffix in (
            ("host defined in virtualservice not found in the gateway", ""),
            ("host defined in virtualservice not found in the gateway(beta version)", "-beta"),
        )
    ],
    *[
        case(name, GATEWAYS, (f"virtualservice-host-not-found-gateway-with-ns-prefix{suffix}.yaml",),
             ("IST0132", "VirtualService default/testing-service-01-test-01"))
        for name, suffix in (
            ("host defined in virtualservice not found in the gateway with ns", ""),
            ("host defined in virtualservice not found in the gateway with ns(beta version)", "-beta"),
        )
    ],
    case("Route Rule no effect on Ingress", DESTINATION_HOSTS,
         ("virtualservice-route-rule-no-effects-ingress.yaml",),
         ("IST0140", "VirtualService default/testing-service-01-test-01")),
    case("DestinationRuleWithFakeHost", SUBSETS, ("destinationrule-with-fake-host.yaml",),
         ("IST0174", "DestinationRule default/fake-host")),
    case("DestinationRuleSubsetsNotSelectPods", SUBSETS, ("destinationrule-subsets-not-select-pods.yaml",),
         ("IST0173", "DestinationRule default/subsets-not-select-pods")),
    case("DestinationRuleSubsetsWithTopologyLabels", SUBSETS,
         ("destinationrule-subsets-with-topology-labels.yaml",)),
    case("DestinationRuleEmptyTopologyLabels", SUBSETS, ("destinationrule-empty-topology-labels.yaml",),
         ("IST0173", "DestinationRule default/empty-topology-labels")),
    # Cases whose analyzer reports IST0101 about something the local mesh does not have.
    case("gatewayNoWorkload", "gateway.IngressGatewayPortAnalyzer", (),
         ("IST0101", "Gateway default/httpbin-gateway"),
         not_expressible="a Gateway's selector names Istio's ingress gateway pods, which are not in the"
         " manifests: the local mesh is its own ingress gateway, so Gateway selectors are not checked"
         " against pods"),
    case("gatewaySecret", "gateway.SecretAnalyzer", (),
         ("IST0101", "Gateway default/defaultgateway-bogusCredentialName"),
         ("IST0101", "Gateway default/customgateway-wrongnamespace"),
         ("IST0101", "Gateway default/bogusgateway"),
         not_expressible="TLS credentials (credentialName Secrets in the gateway's namespace) do not"
         " exist locally: the local ingress listener is plain HTTP"),
    case("authorizationpolicies", "authz.AuthorizationPoliciesAnalyzer", (),
         ("IST0101", "AuthorizationPolicy httpbin/httpbin-bogus-ns"),
         ("IST0101", "AuthorizationPolicy httpbin/httpbin-bogus-not-ns"),
         not_expressible="AuthorizationPolicy is accepted but not enforced: local calls carry no workload"
         " identity, so its references are not analyzed"),
    case("telemetrySelector", "telemetry.SelectorAnalyzer", (),
         ("IST0101", "Telemetry default/maps-to-nonexistent"),
         ("IST0101", "Telemetry other/maps-to-different-ns"),
         not_expressible="Telemetry has no local effect (the local Envoy's tracing comes from"
         " `localmesh up --trace-agent`), so its workload selectors are not analyzed"),
]


def _param(istio_case: IstioCase):
    marks = []
    if istio_case.not_expressible:
        marks = [pytest.mark.conformance_skip, pytest.mark.skip(reason=istio_case.not_expressible)]
    return pytest.param(istio_case, id=istio_case.name, marks=marks)


@pytest.mark.parametrize("istio_case", [_param(c) for c in CASES])
def test_istioctl_analyzer_case(istio_case: IstioCase):
    messages = analyze(load_paths([CASES_DIR / name for name in istio_case.files]))
    got = {
        (m.code, f"{m.kind} {m.namespace}/{m.name}") for m in messages if m.analyzer == istio_case.analyzer
    }
    assert got == set(istio_case.expected), "localmesh analyze said:\n" + "\n".join(
        str(m) for m in messages if m.analyzer == istio_case.analyzer
    )
