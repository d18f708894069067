"""What a proxy sees by its namespace: exportTo and DestinationRule precedence (Istio 1.29.6).

Model level: the cases of istio/istio pilot/pkg/model/push_context_test.go at 1.29.6, written
anew. Builder level: how localmesh's one Envoy (the ingress gateway in istio-system and every
sidecar) routes what each proxy would see. The gateway through a real Envoy:
test_visibility_envoy.py.
"""

from __future__ import annotations

import pytest
from test_builders import clusters_by_name
from testkit.manifests import destination_rule, gateway, virtual_service
from testkit.manifests import service as k8s_service

from localmesh.envoy import build_resources
from localmesh.envoy.names import cluster_name, gateway_route_name
from localmesh.loader import load_text
from localmesh.model import build_mesh, service_visible
from localmesh.topology import Endpoint, Topology


def rule(name: str, namespace: str, host: str, subsets: list, export_to: list | None = None) -> str:
    """subsets: names, or 'name=version' for a subset selecting that version label."""
    export = f"\nexportTo: {export_to}" if export_to is not None else ""
    listed = ""
    for subset in subsets:
        subset_name, _, version = subset.partition("=")
        listed += f"\n- name: {subset_name}" + (f"\n  labels: {{version: {version}}}" if version else "")
    return destination_rule(name, namespace, f'host: "{host}"{export}\nsubsets:{listed}')


def mesh_of(text: str):
    return build_mesh(load_text(text, "test.yaml"))


def subset_names(found) -> list | None:
    return None if found is None else [s.name for s in found.subsets]


# ---- push_context_test.go TestSetDestinationRuleWithExportTo ---------------------------------

HTTPBIN = "httpbin.org"
EXPORT_TO_RULES = (
    rule("rule1", "test1", HTTPBIN, ["subset1", "subset2"], [".", "ns1"])
    + rule("rule2", "test2", HTTPBIN, ["subset3", "subset4"], ["test2", "ns1", "test1", "newNS"])
    + rule("rule3", "test3", HTTPBIN, ["subset5", "subset6"], ["test1", "test2", "*"])
    + rule("rule4-local", "test4", HTTPBIN, ["subset15", "subset16"], ["test4"])
    + rule("rule4", "istio-system", HTTPBIN, ["subset7", "subset8"])
    + rule("rule1", "istio-system", HTTPBIN, ["subset9", "subset10"], ["."])
    + rule("rule2", "istio-system", "*.org", ["subset11", "subset12"], ["."])
    + rule("rule3", "istio-system", "*.app.org", ["subset13", "subset14"], ["."])
    + rule("rule5", "test5", "api.test.com", ["subset5-0", "subset5-1"], ["istio-system"])
    + rule("rule6", "test6", "api.test.com", ["subset6-0", "subset6-1"], ["istio-system"])
)


# Istio's table of cases, row for row: alike by shape on purpose.
@pytest.mark.parametrize(
    ("proxy_namespace", "service_namespace", "host", "subsets"),
    [
        ("test1", "test1", HTTPBIN, ["subset1", "subset2"]),
        ("test1", "test2", HTTPBIN, ["subset1", "subset2"]),
        ("test2", "test1", HTTPBIN, ["subset3", "subset4"]),
        ("newNS", "test2", HTTPBIN, ["subset3", "subset4"]),
        ("test3", "test1", HTTPBIN, ["subset5", "subset6"]),
        ("test5", "test4", HTTPBIN, ["subset7", "subset8"]),
        ("ns1", "test1", HTTPBIN, ["subset1", "subset2"]),
        ("ns1", "random", HTTPBIN, ["subset7", "subset8"]),
        ("random", "random", HTTPBIN, ["subset7", "subset8"]),
        ("test3", "random", HTTPBIN, ["subset5", "subset6"]),
        ("istio-system", "random", HTTPBIN, ["subset9", "subset10"]),
        ("istio-system", "istio-system", HTTPBIN, ["subset9", "subset10"]),
        ("istio-system", "istio-system", "foo.app.org", ["subset13", "subset14"]),
        ("istio-system", "test5", "api.test.com", ["subset5-0", "subset5-1"]),
        ("istio-system", "test6", "api.test.com", ["subset6-0", "subset6-1"]),
        ("istio-system", "test7", "api.test.com", None),
    ],
)
def test_destination_rule_lookup_by_proxy_namespace(proxy_namespace, service_namespace, host, subsets):
    mesh = mesh_of(EXPORT_TO_RULES)
    found = mesh.destination_rule_for(host, proxy_namespace, service_namespace=service_namespace)
    assert subset_names(found) == subsets


# ---- push_context_test.go TestSetDestinationRuleMerging --------------------------------------

MERGING_RULES = (
    rule("rule1", "test", HTTPBIN, ["subset1", "subset2"])
    + rule("rule2", "test", HTTPBIN, ["subset3", "subset4"])
    + rule("rule3", "test", HTTPBIN, ["subset5", "subset6"], ["istio-system"])
)


def test_rules_of_one_namespace_merge_in_creation_order_when_their_export_to_agree():
    # rule1 and rule2 (no exportTo) merge; rule3 (exported to istio-system only) stays apart.
    mesh = mesh_of(MERGING_RULES)
    found = mesh.destination_rule_for(HTTPBIN, "test", service_namespace="test")
    assert subset_names(found) == ["subset1", "subset2", "subset3", "subset4"]
    assert found.merged_from == ("test/rule1", "test/rule2")
    elsewhere = mesh.destination_rule_for(HTTPBIN, "other", service_namespace="test")
    assert subset_names(elsewhere) == ["subset1", "subset2", "subset3", "subset4"]


def test_a_proxy_that_sees_two_unmerged_rules_applies_the_later_one():
    # The exported list for istio-system holds [rule1+rule2, rule3]; SidecarScope.DestinationRule
    # (sidecar.go) keeps the last rule without workloadSelector.
    mesh = mesh_of(MERGING_RULES)
    found = mesh.destination_rule_for(HTTPBIN, "istio-system", service_namespace="test")
    assert subset_names(found) == ["subset5", "subset6"]


def test_an_update_keeps_the_creation_place():
    # Creation order decides the merge; re-applying rule1 changes its body, not its place.
    updated = rule("rule1", "test", HTTPBIN, ["subset1", "changed"])
    mesh = mesh_of(MERGING_RULES + updated)
    found = mesh.destination_rule_for(HTTPBIN, "test", service_namespace="test")
    assert found.merged_from == ("test/rule1", "test/rule2")
    assert subset_names(found) == ["subset1", "changed", "subset3", "subset4"]


# ---- push_context_test.go TestVirtualServiceWithExportTo -------------------------------------


def exported_vs(name: str, namespace: str, host: str, export_to: list | None, gateways=None) -> str:
    export = f"\nexportTo: {export_to}" if export_to is not None else ""
    bound = f"\ngateways: {gateways}" if gateways else ""
    return virtual_service(name, namespace, f'hosts: ["{host}"]{export}{bound}')


EXPORTED_VIRTUAL_SERVICES = (
    exported_vs("rule1", "test1", "rule1.com", [".", "ns1"])
    + exported_vs("rule2", "test2", "rule2.com", ["test2", "ns1", "test1"])
    + exported_vs("rule3", "test3", "rule3.com", ["test1", "test2", "*"], ["mesh"])
    + exported_vs("rule2gw", "test2", "rule2gw.com", ["test2", "ns1", "test1"],
                      ["default/gateway", "mesh"])
    + exported_vs("rule3gw", "test3", "rule3gw.com", ["test1", "test2", "*"], ["default/gateway"])
    + exported_vs("zzz", "zzz", "rootNS.com", None)
)


@pytest.mark.parametrize(
    ("proxy_namespace", "gateway", "hosts"),
    [
        ("test1", "mesh", ["rule1.com", "rule2.com", "rule2gw.com", "rule3.com", "rootNS.com"]),
        ("test2", "mesh", ["rule2.com", "rule2gw.com", "rule3.com", "rootNS.com"]),
        ("ns1", "mesh", ["rule1.com", "rule2.com", "rule2gw.com", "rule3.com", "rootNS.com"]),
        ("random", "mesh", ["rule3.com", "rootNS.com"]),
        ("test1", "default/gateway", ["rule2gw.com", "rule3gw.com"]),
        ("test2", "default/gateway", ["rule2gw.com", "rule3gw.com"]),
        ("ns1", "default/gateway", ["rule2gw.com", "rule3gw.com"]),
        ("random", "default/gateway", ["rule3gw.com"]),
    ],
)
def test_virtual_services_a_proxy_sees_for_a_gateway(proxy_namespace, gateway, hosts):
    mesh = mesh_of(EXPORTED_VIRTUAL_SERVICES)
    found = mesh.virtual_services_for_gateway(gateway, proxy_namespace)
    assert [h for vs in found for h in vs.hosts] == hosts


def test_a_private_virtual_service_comes_before_a_public_one_for_the_same_host():
    # VirtualServicesForGateway: private (own namespace) first, then exported by name, then public.
    text = (exported_vs("public", "a", "ads.b.svc.cluster.local", None)
            + exported_vs("private", "c", "ads.b.svc.cluster.local", ["."]))
    mesh = mesh_of(text)
    assert mesh.mesh_virtual_service_for("ads.b.svc.cluster.local", "c").name == "private"
    assert mesh.mesh_virtual_service_for("ads.b.svc.cluster.local", "a").name == "public"


# ---- push_context_test.go TestIsServiceVisible -----------------------------------------------


def service(name: str, namespace: str, annotation: str | None = None, app: str = "ads") -> str:
    annotations = f", annotations: {{networking.istio.io/exportTo: '{annotation}'}}" if annotation else ""
    spec = f"selector: {{app: {app}}}\nports: [{{name: http, port: 80, targetPort: 8080}}]"
    return k8s_service(name, namespace, spec, metadata=annotations)


@pytest.mark.parametrize(
    ("namespace", "annotation", "visible"),
    [
        ("bar", None, True),
        ("foo", ".", True),
        ("bar", ".", False),
        ("bar", "*", True),
        ("bar", "foo", True),
        ("bar", "baz", False),
        ("bar", "~", False),
        ("bar", "*,~", True),
        ("bar", ".,~", False),
    ],
)
def test_service_visibility_from_namespace_foo(namespace, annotation, visible):
    [found] = mesh_of(service("svc", namespace, annotation)).services
    assert service_visible(found, "foo") is visible


def test_export_to_none_hides_a_service_even_from_its_own_namespace_unless_public():
    # initServiceRegistry: without "*", "~" drops every other exportTo value from the index.
    [hidden] = mesh_of(service("svc", "bar", ".,~")).services
    assert service_visible(hidden, "bar") is False
    [own] = mesh_of(service("svc", "bar", ".")).services
    assert service_visible(own, "bar") is True


# ---- the builders: one Envoy for the gateway (istio-system) and the sidecars -----------------

FRONTEND = "frontend.ns3.svc.cluster.local"
GATEWAY = gateway("gw", "ns3", """
    selector: {istio: ingressgateway}
    servers:
    - port: {number: 80, name: http, protocol: HTTP}
      hosts: ["*"]
""")


def gateway_vs(export_to: str = "", subset: str = "") -> str:
    export = f"\nexportTo: {export_to}" if export_to else ""
    chosen = f", subset: {subset}" if subset else ""
    route = f"[{{route: [{{destination: {{host: frontend{chosen}}}}}]}}]"
    return virtual_service("frontend", "ns3", f'hosts: ["*"]\ngateways: [gw]{export}\nhttp: {route}')


def pods(*specs) -> tuple:
    """specs: (pod, namespace, labels)."""
    return tuple(Endpoint(pod, ns, labels, "127.0.0.1", 7000 + index)
                 for index, (pod, ns, labels) in enumerate(specs))


FRONTEND_PODS = pods(("frontend-0", "ns3", {"app": "frontend", "version": "v1"}))


def build(text: str, endpoints: tuple = FRONTEND_PODS):
    mesh = mesh_of(text)
    keys = [(s.fqdn, p.port) for s in mesh.services for p in s.ports]
    ports = {key: 20000 + index for index, key in enumerate(keys)}
    return build_resources(mesh, Topology(endpoints=endpoints, service_ports=ports, gateway_port=18080))


def gateway_routes(resources) -> list:
    config = next(r for r in resources.route_configs if r["name"] == gateway_route_name(18080))
    return [route for vhost in config["virtual_hosts"] for route in vhost["routes"]]


def test_a_virtual_service_exported_to_its_own_namespace_is_invisible_to_the_ingress_gateway():
    # The gateway proxy runs in istio-system: VirtualServicesForGateway("istio-system", "ns3/gw")
    # holds no VirtualService exported to "." from ns3, so the gateway has no route (404).
    resources = build(service("frontend", "ns3", app="frontend") + GATEWAY + gateway_vs('["."]'))
    assert gateway_routes(resources) == []
    [found] = [w for w in resources.warnings if "spec.exportTo" in w]
    assert "VirtualService ns3/frontend" in found and "test.yaml:" in found and "istio-system" in found


def test_a_virtual_service_exported_to_istio_system_reaches_the_gateway():
    resources = build(service("frontend", "ns3", app="frontend") + GATEWAY + gateway_vs('["istio-system"]'))
    [route] = gateway_routes(resources)
    assert route["route"]["cluster"] == cluster_name(80, None, FRONTEND)


def test_a_private_destination_rule_gives_the_gateway_no_subsets():
    # destinationRule("istio-system", frontend): a rule exported to "." in ns3 is in ns3's local
    # index only, so the gateway has no subset cluster: 503 (NC). The sidecars in ns3 keep it.
    text = (service("frontend", "ns3", app="frontend") + GATEWAY + gateway_vs(subset="v1")
            + rule("frontend", "ns3", "frontend", ["v1=v1"], ["."]))
    resources = build(text)
    [route] = gateway_routes(resources)
    named = route["route"]["cluster"]
    assert named == cluster_name(80, "v1", FRONTEND) + "|istio-system"
    clusters = clusters_by_name(resources)
    assert named not in clusters
    assert cluster_name(80, "v1", FRONTEND) in clusters  # the sidecars' subset
    assert cluster_name(80, None, FRONTEND) + "|istio-system" in clusters  # the gateway's own, no rule
    assert any("subset 'v1'" in w and "istio-system" in w for w in resources.warnings)


def test_a_service_not_exported_to_istio_system_is_no_cluster_for_the_gateway():
    resources = build(service("frontend", "ns3", ".", app="frontend") + GATEWAY + gateway_vs())
    [route] = gateway_routes(resources)
    assert route["route"]["cluster"] not in clusters_by_name(resources)
    [found] = [w for w in resources.warnings if "not exported to namespace istio-system" in w]
    assert "VirtualService ns3/frontend" in found


def test_a_gateway_selecting_another_proxy_is_not_served():
    other = GATEWAY.replace("istio: ingressgateway", "istio: egressgateway")
    resources = build(service("frontend", "ns3", app="frontend") + other + gateway_vs())
    assert gateway_routes(resources) == []
    assert any("spec.selector" in w and "not served" in w for w in resources.warnings)


ADS = "ads.ns3.svc.cluster.local"
ADS_PODS = (("ads-v1", "ns3", {"app": "ads", "version": "v1"}),
            ("ads-v2", "ns3", {"app": "ads", "version": "v2"}))
ADS_RULE = rule("ads", "ns3", "ads", ["v1=v1", "v2=v2"])


def ads_vs(namespace: str, subset: str, export_to: str = "") -> str:
    export = f"\nexportTo: {export_to}" if export_to else ""
    route = f"[{{route: [{{destination: {{host: {ADS}, subset: {subset}}}}}]}}]"
    return virtual_service(f"ads-{subset}", namespace, f"hosts: [{ADS}]{export}\nhttp: {route}")


def listener_cluster(resources, fqdn: str = ADS, port: int = 80) -> str:
    config = next(r for r in resources.route_configs if r["name"] == f"{fqdn}:{port}")
    return config["virtual_hosts"][0]["routes"][0]["route"]["cluster"]


def test_clients_in_one_namespace_get_exactly_what_that_namespace_sees():
    # Every client of ads is in ns1: the VirtualService exported to "." in ns3 is not theirs,
    # the one in ns1 is; no warning, nothing to choose.
    text = (service("ads", "ns3") + ADS_RULE + ads_vs("ns3", "v2", '["."]') + ads_vs("ns1", "v1"))
    resources = build(text, pods(("frontend-0", "ns1", {"app": "frontend"}), *ADS_PODS))
    assert listener_cluster(resources) == cluster_name(80, "v1", ADS)
    assert not [w for w in resources.warnings if "see different" in w]


def test_clients_in_namespaces_that_see_different_routing_share_one_listener_and_a_warning():
    text = (service("ads", "ns3") + ADS_RULE + ads_vs("ns3", "v2", '["."]') + ads_vs("ns1", "v1"))
    clients = (("frontend-0", "ns1", {"app": "frontend"}), ("worker-0", "ns3", {"app": "worker"}))
    resources = build(text, pods(*clients, *ADS_PODS))
    # The Service's own namespace decides: its private VirtualService routes to v2.
    assert listener_cluster(resources) == cluster_name(80, "v2", ADS)
    found = [w for w in resources.warnings if "see different VirtualServices" in w]
    assert len(found) == 2
    assert any("VirtualService ns3/ads-v2" in w and "spec.exportTo" in w for w in found)
    assert all("ns1: VirtualService ns1/ads-v1; ns3: VirtualService ns3/ads-v2" in w for w in found)
    assert all("as namespace ns3 sees it" in w for w in found)


def test_a_destination_rule_in_the_client_namespace_wins_over_the_services_own():
    # destinationRule(): the proxy's namespace first. The clients are in ns1, whose rule for
    # ads.ns3 picks other pods for v1: the listener's clusters carry ns1's rule.
    client_rule = rule("ads-for-ns1", "ns1", ADS, ["v1=v2"])
    text = service("ads", "ns3") + ADS_RULE + client_rule + ads_vs("ns1", "v1")
    resources = build(text, pods(("frontend-0", "ns1", {"app": "frontend"}), *ADS_PODS))
    v1 = clusters_by_name(resources)[cluster_name(80, "v1", ADS)]
    groups = v1["load_assignment"]["endpoints"]
    hosts = [entry["endpoint"]["hostname"] for group in groups for entry in group["lb_endpoints"]]
    assert hosts == ["ads-v2"]
    assert cluster_name(80, "v2", ADS) not in clusters_by_name(resources)


# ---- sourceLabels / sourceNamespace select the proxy: route.go sourceMatchHTTP ---------------


def source_vs(condition: str, gateways: str = "[gw, mesh]") -> str:
    return virtual_service("frontend", "ns3", f"""
        hosts: [frontend]
        gateways: {gateways}
        http:
        - match: [{{uri: {{prefix: /only}}, {condition}}}]
          route: [{{destination: {{host: frontend, subset: v1}}}}]
        - route: [{{destination: {{host: frontend}}}}]
    """)


FRONTEND_RULE = rule("frontend", "ns3", "frontend", ["v1=v1"])


def frontend_listener_routes(resources) -> list:
    config = next(r for r in resources.route_configs if r["name"] == f"{FRONTEND}:80")
    return config["virtual_hosts"][0]["routes"]


@pytest.mark.parametrize(
    ("condition", "kept"),
    [
        ("sourceNamespace: istio-system", True),
        ("sourceNamespace: ns3", False),
        ("sourceLabels: {istio: ingressgateway}", True),
        ("sourceLabels: {app: web}", False),
        ("sourceLabels: {istio: ingressgateway}, sourceNamespace: ns3", False),
    ],
)
def test_the_gateway_is_a_proxy_in_istio_system_with_the_ingress_gateway_labels(condition, kept):
    text = service("frontend", "ns3", app="frontend") + FRONTEND_RULE + GATEWAY + source_vs(condition)
    resources = build(text)
    prefixes = [r["match"].get("prefix") for r in gateway_routes(resources)]
    assert prefixes == (["/only", "/"] if kept else ["/"])


def test_match_gateways_decide_alone_when_set():
    # sourceMatchHTTP: with `gateways` in the match, sourceLabels are not looked at.
    condition = "gateways: [gw], sourceLabels: {app: web}"
    text = service("frontend", "ns3", app="frontend") + FRONTEND_RULE + GATEWAY + source_vs(condition)
    resources = build(text)
    assert [r["match"].get("prefix") for r in gateway_routes(resources)] == ["/only", "/"]


CLIENTS = (("web-0", "ns1", {"app": "web"}), ("job-0", "ns2", {"app": "job"}))


@pytest.mark.parametrize(
    ("condition", "clients", "kept", "warned"),
    [
        ("sourceLabels: {app: web}", CLIENTS[:1], True, False),
        ("sourceLabels: {app: job}", CLIENTS[:1], False, False),
        ("sourceNamespace: ns1", CLIENTS[:1], True, False),
        ("sourceNamespace: ns1", CLIENTS, True, True),
        ("sourceLabels: {app: web}", (), True, True),
    ],
)
def test_a_service_listener_applies_source_conditions_to_its_client_pods(condition, clients, kept, warned):
    text = service("frontend", "ns3", app="frontend") + FRONTEND_RULE + source_vs(condition, "[mesh]")
    resources = build(text, pods(("frontend-0", "ns3", {"app": "frontend", "version": "v1"}), *clients))
    prefixes = [r["match"].get("prefix") for r in frontend_listener_routes(resources)]
    assert prefixes == (["/only", "/"] if kept else ["/"])
    key = condition.split(":")[0]
    found = [w for w in resources.warnings if f"match[0].{key}:" in w]
    assert bool(found) is warned


# ---- fields that were silent: each works or is warned about ----------------------------------


def test_a_wildcard_destination_rule_host_applies_to_the_services_it_covers():
    # MostSpecificHostMatch: an exact host first, else the longest wildcard.
    text = (service("frontend", "ns3", app="frontend") + rule("all", "ns3", "*.svc.cluster.local", ["a=v1"])
            + rule("ns3", "ns3", "*.ns3.svc.cluster.local", ["b=v1"]))
    mesh = mesh_of(text)
    assert subset_names(mesh.destination_rule_for(FRONTEND)) == ["b"]
    assert cluster_name(80, "b", FRONTEND) in clusters_by_name(build(text))


def test_a_wildcard_virtual_service_host_routes_the_services_it_covers():
    written = source_vs("sourceNamespace: ns3", "[mesh]")
    wildcard = written.replace("[frontend]", '["*.ns3.svc.cluster.local"]')
    text = service("frontend", "ns3", app="frontend") + FRONTEND_RULE + wildcard
    assert mesh_of(text).mesh_virtual_service_for(FRONTEND).name == "frontend"
    routes = frontend_listener_routes(build(text, pods(("web-0", "ns3", {"app": "web"}))))
    assert [r["match"].get("prefix") for r in routes] == ["/only", "/"]


def test_mirror_percent_in_its_protobuf_spelling_counts():
    text = service("frontend", "ns3", app="frontend") + virtual_service("frontend", "ns3", """
        hosts: [frontend]
        http:
        - route: [{destination: {host: frontend}}]
          mirror: {host: frontend}
          mirror_percent: 25
    """)
    resources = build(text)
    [route] = frontend_listener_routes(resources)
    [mirror] = route["route"]["request_mirror_policies"]
    assert mirror["runtime_fraction"]["default_value"] == {"numerator": 250000, "denominator": "MILLION"}
    assert not [w for w in resources.warnings if "mirror_percent" in w]


def test_a_match_name_extends_the_route_name():
    # route.go TranslateRoute: the rule's name, then "." and the match's name.
    text = service("frontend", "ns3", app="frontend") + FRONTEND_RULE + source_vs(
        "name: only", "[mesh]").replace("- match: [", "- name: first\n    match: [")
    assert frontend_listener_routes(build(text))[0]["name"] == "ns3/frontend/first.only/0"


def test_gateway_server_fields_the_local_gateway_cannot_honour_are_warned_about():
    server = GATEWAY.replace("    hosts: [\"*\"]", "    hosts: [\"*\"]\n    bind: 10.0.0.1\n"
                             "    tls: {httpsRedirect: false, mode: SIMPLE}")
    resources = build(service("frontend", "ns3", app="frontend") + server + gateway_vs())
    found = [w for w in resources.warnings if "Gateway ns3/gw" in w]
    assert any("spec.servers[0].bind: not supported" in w for w in found)
    assert any("spec.servers[0].tls.mode: not supported" in w for w in found)
    assert not any("httpsRedirect" in w for w in found)


def test_an_external_name_service_is_warned_about():
    text = k8s_service("outside", "ns3", """
        type: ExternalName
        externalName: example.com
        ports: [{name: http, port: 80}]
    """)
    resources = build(text)
    assert any("spec.externalName" in w and "example.com" in w for w in resources.warnings)


def test_a_service_no_client_namespace_sees_is_routed_as_its_own_namespace_sees_it():
    text = service("ads", "ns3", ".") + ADS_RULE + ads_vs("ns3", "v2")
    resources = build(text, pods(("frontend-0", "ns1", {"app": "frontend"}), *ADS_PODS))
    assert listener_cluster(resources) == cluster_name(80, "v2", ADS)
    [found] = [w for w in resources.warnings if "no client pod's namespace" in w]
    assert "metadata.annotations.networking.istio.io/exportTo" in found and "straight to a pod" in found
