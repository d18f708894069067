"""What each Istio step of the workshop does, read from the shipped files.

The routing table is computed by a small evaluator that knows exactly the VirtualService
features these files use (exact header matches, weights); anything else fails the test,
so a new feature cannot slip in unchecked. Real traffic through Envoy is the local mesh's test.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from manifests_files.manifests import deployments, load, one, resources

BASE_VS = "istio/ads_v2/virtualservice.yaml"
BASE_DR = "istio/ads_v2/destinationrule.yaml"
HOME = {"page-source": "home"}
PRODUCTS = {"page-source": "products"}
PREVIEW = "x-ads-preview"
ARM = "x-ads-arm"


def rule_matches(rule, headers):
    matches = rule.get("match")
    if not matches:
        return True
    for match in matches:
        assert set(match) <= {"headers"}, f"evaluator knows header matches only: {match}"
        ok = True
        for name, condition in match["headers"].items():
            assert set(condition) == {"exact"}, f"evaluator knows exact matches only: {condition}"
            ok = ok and headers.get(name) == condition["exact"]
        if ok:
            return True
    return False


def route(vs, headers):
    """(share per subset, the rule that matched) for a request to the ads host."""
    for rule in vs["spec"]["http"]:
        if rule_matches(rule, headers):
            destinations = rule["route"]
            if len(destinations) == 1:
                return {destinations[0]["destination"]["subset"]: Fraction(1)}, rule
            total = sum(d.get("weight", 0) for d in destinations)
            shares = {d["destination"]["subset"]: Fraction(d.get("weight", 0), total) for d in destinations}
            return {subset: share for subset, share in shares.items() if share}, rule
    return {}, None  # Istio answers 404


def ads_deployment_versions():
    return {
        d.doc["spec"]["template"]["metadata"]["labels"]["version"]: d.name
        for d in deployments()
        if d.namespace == "ns3" and d.name.startswith("advertisements")
    }


def test_namespace_turns_on_sidecar_injection():
    namespace = one("istio/ecommerce-istio/namespace.yaml", "Namespace")
    assert namespace["metadata"] == {
        "name": "ns3",
        "labels": {"istio-injection": "enabled", "app.kubernetes.io/part-of": "ecommerce"},
    }


def test_gateway_binds_the_ingress_gateway_to_the_frontend():
    gateway = one("istio/ecommerce-istio/frontend-gateway.yaml", "Gateway")
    assert gateway["metadata"]["name"] == "frontend-gateway"
    assert gateway["spec"]["selector"] == {"istio": "ingressgateway"}
    (server,) = gateway["spec"]["servers"]
    assert server["port"]["number"] == 80 and server["port"]["protocol"] == "HTTP"
    assert server["hosts"] == ["*"]
    vs = one("istio/ecommerce-istio/frontend-gateway.yaml", "VirtualService")
    assert vs["metadata"]["name"] == "frontend"
    assert vs["spec"]["gateways"] == ["frontend-gateway"], "a '*' host must not be a mesh VirtualService"
    assert vs["spec"]["hosts"] == ["*"]
    (rule,) = vs["spec"]["http"]
    (destination,) = rule["route"]
    assert destination["destination"] == {"host": "frontend", "port": {"number": 80}}
    frontend = one("istio/ecommerce-istio/frontend.yaml", "Service")
    assert 80 in [p["port"] for p in frontend["spec"]["ports"]]


def test_subsets_select_exactly_one_version_each():
    rule = one(BASE_DR, "DestinationRule")
    assert rule["metadata"]["name"] == "advertisements" and rule["spec"]["host"] == "advertisements"
    subsets = {s["name"]: s["labels"] for s in rule["spec"]["subsets"]}
    assert subsets == {"v1": {"version": "v1"}, "v2": {"version": "v2"}}
    assert ads_deployment_versions() == {"v1": "advertisements", "v2": "advertisements-v2"}


def test_canary_products_half_and_half_everything_else_v1():
    vs = one(BASE_VS, "VirtualService")
    assert vs["metadata"]["name"] == "advertisements" and vs["spec"]["hosts"] == ["advertisements"]
    assert "gateways" not in vs["spec"], "the ads route is for the mesh (the frontend's sidecar)"
    assert route(vs, PRODUCTS)[0] == {"v1": Fraction(1, 2), "v2": Fraction(1, 2)}
    assert route(vs, HOME)[0] == {"v1": 1}
    assert route(vs, {})[0] == {"v1": 1}
    assert route(vs, {"page-source": "Products"})[0] == {"v1": 1}, "exact match is case-sensitive"


# scenario file -> {request headers -> expected shares}
SCENARIOS = {
    "all-to-v1": [(PRODUCTS, {"v1": 1}), (HOME, {"v1": 1})],
    "products-90-10": [
        (PRODUCTS, {"v1": Fraction(9, 10), "v2": Fraction(1, 10)}),
        (HOME, {"v1": 1}),
        ({}, {"v1": 1}),
    ],
    "promote-v2": [(PRODUCTS, {"v2": 1}), (HOME, {"v2": 1}), ({}, {"v2": 1})],
    "preview-header": [
        ({**HOME, PREVIEW: "v2"}, {"v2": 1}),
        ({**PRODUCTS, PREVIEW: "v2"}, {"v2": 1}),
        ({PREVIEW: "v2"}, {"v2": 1}),
        ({**HOME, PREVIEW: "v1"}, {"v1": 1}),
        (PRODUCTS, {"v1": Fraction(1, 2), "v2": Fraction(1, 2)}),
        (HOME, {"v1": 1}),
    ],
    "fault-delay-v2": [(PRODUCTS, {"v2": 1}), (HOME, {"v1": 1})],
    "timeouts-retries": [(PRODUCTS, {"v1": Fraction(1, 2), "v2": Fraction(1, 2)}), (HOME, {"v1": 1})],
    # The frontend sends its customer's arm with AB_MODE=sticky, none otherwise.
    "sticky-ab": [
        ({**PRODUCTS, ARM: "v2"}, {"v2": 1}),
        ({**PRODUCTS, ARM: "v1"}, {"v1": 1}),
        (PRODUCTS, {"v1": 1}),
        ({**HOME, ARM: "v2"}, {"v1": 1}),
        ({ARM: "v2"}, {"v1": 1}),
    ],
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_routes_as_its_name_says(scenario):
    path = f"istio/scenarios/{scenario}.yaml"
    (vs,) = load(path)
    base = one(BASE_VS, "VirtualService")
    # Same kind, name and namespace: `kubectl apply -f` replaces the canary rather than adding one.
    assert (vs["kind"], vs["metadata"]) == (base["kind"], base["metadata"])
    assert vs["spec"]["hosts"] == base["spec"]["hosts"]
    defined = {s["name"] for s in one(BASE_DR, "DestinationRule")["spec"]["subsets"]}
    for rule in vs["spec"]["http"]:
        for destination in rule["route"]:
            assert destination["destination"]["host"] == "advertisements"
            assert destination["destination"]["subset"] in defined
            assert isinstance(destination.get("weight", 0), int) and destination.get("weight", 0) >= 0
    for headers, expected in SCENARIOS[scenario]:
        assert route(vs, headers)[0] == expected, f"{scenario}: {headers}"


def test_fault_delay_hits_only_the_v2_route():
    (vs,) = load("istio/scenarios/fault-delay-v2.yaml")
    shares, rule = route(vs, PRODUCTS)
    assert shares == {"v2": 1}
    delay = rule["fault"]["delay"]
    assert delay["percentage"]["value"] == 100
    seconds = float(delay["fixedDelay"].removesuffix("s"))
    assert 0 < seconds < 1.5, "stay under the frontend's ADS_READ_TIMEOUT so the banner still renders"
    for headers in (HOME, {}):
        assert "fault" not in route(vs, headers)[1], "v1 must stay fast"
    assert "abort" not in rule["fault"]


def test_timeouts_and_retries_on_every_ads_route():
    (vs,) = load("istio/scenarios/timeouts-retries.yaml")

    def seconds(text):
        return float(text[:-2]) / 1000 if text.endswith("ms") else float(text.removesuffix("s"))

    for rule in vs["spec"]["http"]:
        timeout, retries = seconds(rule["timeout"]), rule["retries"]
        assert 0 < timeout < 1.5, "the mesh must give up before the frontend's 1.5 s read timeout"
        assert retries["attempts"] >= 1
        assert seconds(retries["perTryTimeout"]) < timeout
        assert "connect-failure" in retries["retryOn"].split(",")


def test_resilience_keeps_the_subsets_and_adds_limits():
    (rule,) = load("istio/scenarios/destinationrule-resilience.yaml")
    base = one(BASE_DR, "DestinationRule")
    assert rule["metadata"] == base["metadata"] and rule["kind"] == "DestinationRule"
    assert rule["spec"]["host"] == base["spec"]["host"]
    assert rule["spec"]["subsets"] == base["spec"]["subsets"], "dropping a subset would break the routes"
    policy = rule["spec"]["trafficPolicy"]
    assert policy["connectionPool"]["tcp"]["maxConnections"] > 0
    assert policy["connectionPool"]["http"]["http1MaxPendingRequests"] > 0
    outlier = policy["outlierDetection"]
    assert outlier["consecutive5xxErrors"] > 0
    assert {"interval", "baseEjectionTime", "maxEjectionPercent"} <= set(outlier)


def test_mtls_strict_and_only_the_frontend_may_call_advertisements():
    docs = {d["kind"]: d for d in load("istio/scenarios/mtls-strict.yaml")}
    assert set(docs) == {"PeerAuthentication", "AuthorizationPolicy"}
    peer = docs["PeerAuthentication"]
    assert peer["metadata"]["namespace"] == "ns3" and "selector" not in peer["spec"], "namespace-wide"
    assert peer["spec"]["mtls"] == {"mode": "STRICT"}
    policy = docs["AuthorizationPolicy"]
    assert policy["metadata"]["namespace"] == "ns3"
    assert policy["spec"]["action"] == "ALLOW"
    assert policy["spec"]["selector"] == {"matchLabels": {"app": "advertisements"}}
    accounts = {
        d.name: d.doc["spec"]["template"]["spec"]["serviceAccountName"]
        for d in deployments()
        if d.namespace == "ns3"
    }
    (only_rule,) = policy["spec"]["rules"]
    assert set(only_rule) == {"from"}, "no `to`/`when`: every request from the frontend is allowed"
    (source,) = only_rule["from"]
    assert source == {"source": {"principals": [f"cluster.local/ns/ns3/sa/{accounts['frontend']}"]}}
    assert accounts["advertisements"] != accounts["frontend"]


def test_no_two_mesh_virtual_services_for_one_host_in_a_step():
    # The base files of the Istio shop are applied together; scenarios replace, never add.
    hosts = {}
    for resource in resources("istio/"):
        if resource.kind != "VirtualService" or "/scenarios/" in resource.path:
            continue
        if "gateways" in resource.doc["spec"]:
            continue
        for host in resource.doc["spec"]["hosts"]:
            assert host not in hosts, f"{resource} and {hosts[host]} both route {host}"
            hosts[host] = resource


def test_istio_install_sends_every_trace_to_the_node_agent():
    operator = one("cluster/istio-operator.yaml", "IstioOperator")
    spec = operator["spec"]
    assert spec["profile"] == "demo"
    assert spec["meshConfig"]["enableTracing"] is True
    tracing = spec["meshConfig"]["defaultConfig"]["tracing"]
    assert tracing["datadog"] == {"address": "$(HOST_IP):8126"}
    assert tracing["sampling"] == 100
    assert spec["values"]["global"]["proxy"]["tracer"] == "datadog"
    assert spec["values"]["pilot"]["traceSampling"] == 100


def test_ingress_node_ports_match_the_kind_port_mappings():
    operator = one("cluster/istio-operator.yaml", "IstioOperator")
    (gateway,) = operator["spec"]["components"]["ingressGateways"]
    assert gateway["name"] == "istio-ingressgateway" and gateway["enabled"] is True
    service = gateway["k8s"]["service"]
    assert service["type"] == "NodePort"
    node_ports = {p["port"]: p.get("nodePort") for p in service["ports"]}
    (node,) = one("cluster/kind.yaml", "Cluster")["nodes"]
    mappings = {m["containerPort"]: m for m in node["extraPortMappings"]}
    assert mappings[node_ports[80]]["hostPort"] == 8080, "the gateway's HTTP node port is published on 8080"
    assert mappings[node_ports[443]]["hostPort"] == 8443
    frontend = one("k8s/frontend.yaml", "Service")
    assert mappings[frontend["spec"]["ports"][0]["nodePort"]]["hostPort"] == 8081
    assert all(m["listenAddress"] == "127.0.0.1" for m in mappings.values()), "publish on loopback only"


@pytest.mark.parametrize("path", ["cluster/datadog-values.yaml", "cluster/datadog-values-istio.yaml"])
def test_datadog_values(path):
    (values,) = load(path)
    datadog = values["datadog"]
    assert datadog["apiKeyExistingSecret"] == "datadog-secret"
    assert "apiKey" not in datadog and "appKey" not in datadog, "keys never live in the repo"
    assert datadog["apm"]["portEnabled"] is True
    assert datadog["kubelet"]["tlsVerify"] is False
    if path.endswith("-istio.yaml"):
        assert values["agents"]["podAnnotations"] == {"sidecar.istio.io/inject": "false"}
    else:
        assert "agents" not in values
