"""Istio's validation and cross-reference facts (and the unreachable-rule facts they rely on), each
as a test, as Istio 1.29.6 behaves; where older descriptions of Istio differ, the test says so
(marked "1.29:" below)."""

from __future__ import annotations

import textwrap

import pytest
from testkit.manifests import document

from analyzer.corpus_loader import BASE
from localmesh.analyze import CODES, ERROR, INFO, WARNING, analyze
from localmesh.loader import load_paths, load_text

BASE_RESOURCES = load_paths([BASE])  # ns3: Service advertisements (5002), pods v1/v2, subsets v1/v2


def run(text: str, base: bool = True) -> list:
    return analyze((BASE_RESOURCES if base else []) + load_text(text, "case.yaml"))


def found(text: str, base: bool = True) -> set:
    return {(m.code, f"{m.kind} {m.namespace}/{m.name}") for m in run(text, base)}


def texts(text: str, code: str, base: bool = True) -> list:
    return [m.text for m in run(text, base) if m.code == code]


def docs(*documents: str) -> str:
    return "---\n".join(textwrap.dedent(d).strip("\n") + "\n" for d in documents)


def vs(spec: str, name: str = "advertisements", namespace: str = "ns3") -> str:
    """A VirtualService document; spec is YAML at any indentation."""
    return document("VirtualService", name, namespace, spec)


def route_to(*destinations: str, hosts: str = "[advertisements]") -> str:
    """A VirtualService spec with one http rule routing to the destinations (flow YAML each)."""
    routes = "".join(f"\n        - destination: {d}" for d in destinations)
    return f"hosts: {hosts}\nhttp:\n  - route:{routes}"


def service_entry(name: str, namespace: str, host: str, export_to: str = "[]") -> str:
    return (
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
        f"metadata: {{name: {name}, namespace: {namespace}}}\n"
        f"spec: {{hosts: [{host}], resolution: DNS, exportTo: {export_to}}}\n"
    )


def destination_rule(name: str, namespace: str, host: str, extra: str = "") -> str:
    """extra: one more line of the spec (flow style)."""
    return document("DestinationRule", name, namespace, f"host: {host}\n{extra}")


# ---- Validation --------------------------------------------------------------------------


def test_only_schema_and_webhook_refuse_an_apply():
    refusing = {code for code, c in CODES.items() if c.refuses_apply}
    assert refusing == {"IST0106", "LM0001", "LM0002"}
    for finding in ("IST0101", "IST0109", "IST0112", "IST0173", "IST0130", "IST0131"):
        assert not CODES[finding].refuses_apply
    broken = run(vs(route_to("{host: adverts}")))
    assert [(m.code, m.refuses_apply) for m in broken] == [("IST0101", False)]


def test_unknown_field_in_spec_is_an_error():
    spec = route_to("{host: advertisements, subset: v1}") + "\nhtttp: []"
    [message] = run(vs(spec))
    assert message.code == "IST0106" and message.refuses_apply
    assert 'unknown field "spec.htttp"' in message.text


WEBHOOK_REFUSALS = {
    "no http, tcp or tls": (
        "hosts: [advertisements]",
        "http, tcp or tls must be provided in virtual service"),
    "rule without route": (
        "hosts: [advertisements]\nhttp:\n  - match: [{uri: {prefix: /}}]",
        "HTTP route, redirect or direct_response is required"),
    "header name": (
        "hosts: [advertisements]\nhttp:\n  - match: [{headers: {'bad header': {exact: x}}}]\n"
        "    route: [{destination: {host: advertisements}}]",
        "is not a valid header name"),
    "empty regex": (
        "hosts: [advertisements]\nhttp:\n  - match: [{uri: {regex: ''}}]\n"
        "    route: [{destination: {host: advertisements}}]",
        "regex string match should not be empty"),
    "not RE2": (
        "hosts: [advertisements]\nhttp:\n  - match: [{uri: {regex: '(?!x)'}}]\n"
        "    route: [{destination: {host: advertisements}}]",
        "invalid RE2 regex"),
    "subset name": (
        route_to("{host: advertisements, subset: V_1}"),
        "subset name is invalid"),
    "port range": (
        route_to("{host: advertisements, port: {number: 70000}}"),
        "must be in the range 1..65535"),
    "negative weight": (
        "hosts: [advertisements]\nhttp:\n  - route:\n"
        "      - {destination: {host: advertisements, subset: v1}, weight: -1}\n"
        "      - {destination: {host: advertisements, subset: v2}, weight: 101}",
        "weight -1 < 0"),
    "weights total 0": (
        "hosts: [advertisements]\nhttp:\n  - route:\n"
        "      - {destination: {host: advertisements, subset: v1}, weight: 0}\n"
        "      - {destination: {host: advertisements, subset: v2}, weight: 0}",
        "total destination weight = 0"),
    "* on the mesh": (
        route_to("{host: advertisements}", hosts="['*']"),
        "wildcard host * is not allowed for virtual services bound to the mesh gateway"),
}


@pytest.mark.parametrize("spec, wording", WEBHOOK_REFUSALS.values(), ids=WEBHOOK_REFUSALS)
def test_virtual_service_webhook_rules(spec, wording):
    refused = [m for m in run(vs(spec)) if m.code == "IST0106"]
    assert any(wording in m.text for m in refused), [str(m) for m in refused]


def test_weights_need_not_add_up_to_100():
    spec = """
        hosts: [advertisements]
        http:
          - route:
              - {destination: {host: advertisements, subset: v1}, weight: 3}
              - {destination: {host: advertisements, subset: v2}, weight: 1}
        """
    assert run(vs(spec)) == []


def test_1_29_a_virtual_service_without_hosts_is_a_valid_delegate():
    delegate = "http:\n  - route: [{destination: {host: advertisements, subset: v1}}]"
    assert found(vs(delegate, name="ads-delegate")) == set()
    wrong = "gateways: [frontend-gateway]\ntcp:\n  - route: [{destination: {host: advertisements}}]"
    assert sorted(texts(vs(wrong, name="ads-delegate"), "IST0106")) == [
        "Schema validation error: delegate virtual service must have no gateways specified",
        "Schema validation error: delegate virtual service must have no tcp route specified",
    ]


@pytest.mark.parametrize("subsets, wording", [
    ("[{name: v1, labels: {version: v1}}, {name: v1, labels: {version: v2}}]", "duplicate subset names: v1"),
    ("[{name: v1, labels: {'ver sion': v1}}]", "invalid label key"),
], ids=["duplicate subsets", "label key"])
def test_destination_rule_webhook_rules(subsets, wording):
    rule = docs(destination_rule("ads", "ns3", "advertisements", f"subsets: {subsets}"))
    assert any(wording in t for t in texts(rule, "IST0106"))


def test_destination_rule_invalid_host():
    rule = docs(destination_rule("r", "ns3", "'Bad_Host!'"))
    assert any("invalid host" in t for t in texts(rule, "IST0106", base=False))


def service(port: str, namespace: str = "ns3", labels: str = "{}") -> str:
    return docs(f"""
        apiVersion: v1
        kind: Service
        metadata: {{name: db, namespace: {namespace}, labels: {labels}}}
        spec:
          selector: {{app: db}}
          ports: [{port}]
        """)


@pytest.mark.parametrize("port, flagged", [
    ("{name: web, port: 8080}", True),
    ("{port: 8080}", True),
    ("{name: http, port: 8080}", False),
    ("{name: http2-api, port: 8080}", False),
    ("{name: grpc-web-ui, port: 8080}", False),
    ("{name: tcp, port: 8080}", False),
    ("{name: mongo-main, port: 8080}", False),
    ("{name: web, port: 8080, appProtocol: http}", False),
    ("{name: web, port: 8080, appProtocol: kubernetes.io/h2c}", False),
    # 1.29: a UDP port and the well-known ports (SMTP, DNS, MySQL, MongoDB) are not flagged either.
    ("{name: dns, port: 5353, protocol: UDP}", False),
    ("{name: db, port: 3306}", False),
])
def test_port_naming_convention_is_istio_protocol_detection(port, flagged):
    messages = run(service(port), base=False)
    assert [m.level for m in messages if m.code == "IST0118"] == ([INFO] if flagged else [])


# ---- Cross-reference checks ----------------------------------------------------------------


def test_kinds_istioctl_reads_are_accepted_and_service_entry_hosts_are_destinations():
    text = docs(
        service_entry("payments", "ns3", "payments.example.com"),
        """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: default, namespace: ns3}
        spec:
          egress: [{hosts: ["./*"]}]
        """,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: debug, namespace: ns3, labels: {app: debug}}
        spec:
          containers: [{name: debug, image: busybox}]
        """,
        vs(route_to("{host: payments.example.com}", hosts="[payments.example.com]"), name="payments"),
    )
    assert found(text) == set()


def test_a_service_is_seen_only_where_its_export_to_annotation_exports_it():
    ledger = """
        apiVersion: v1
        kind: Service
        metadata:
          name: ledger
          namespace: finance
          annotations: {networking.istio.io/exportTo: "."}
        spec:
          selector: {app: ledger}
          ports: [{name: http, port: 80}]
        """
    spec = route_to("{host: ledger.finance.svc.cluster.local}", hosts="[a.example.com]")
    assert ("IST0101", "VirtualService ns3/advertisements") in found(docs(ledger, vs(spec)))
    in_finance = found(docs(ledger, vs(spec, namespace="finance")))
    assert ("IST0101", "VirtualService finance/advertisements") not in in_finance


@pytest.mark.parametrize("namespace, visible", [("ns3", True), ("other", False)])
def test_a_service_entry_is_seen_only_where_exported(namespace, visible):
    entry = service_entry("payments", "finance", "payments.example.com", export_to="[ns3]")
    spec = route_to("{host: payments.example.com}", hosts="[b.example.com]")
    missing = ("IST0101", f"VirtualService {namespace}/advertisements")
    assert (missing in found(docs(entry, vs(spec, namespace=namespace)))) is not visible


def test_a_virtual_service_and_a_destination_rule_look_for_hosts_where_they_are_exported():
    entry = service_entry("payments", "finance", "payments.example.com", export_to="[ns3]")
    rule = destination_rule("payments", "other", "payments.example.com", "exportTo: [ns3]")
    assert ("IST0174", "DestinationRule other/payments") not in found(docs(entry, rule))
    spec = route_to("{host: payments.example.com}", hosts="[b.example.com]") + "\nexportTo: [ns3]"
    assert found(docs(entry, vs(spec, namespace="other"))) == set()


def test_mirror_and_mirrors_destinations_are_checked():
    mirror = route_to("{host: advertisements, subset: v1}") + "\n    mirror: {host: shadow}"
    assert texts(vs(mirror), "IST0101") == ['Referenced mirror host not found: "shadow"']
    mirrors = route_to("{host: advertisements, subset: v1}") + (
        "\n    mirrors:\n      - destination: {host: advertisements, subset: v9}"
    )
    assert texts(vs(mirrors), "IST0101") == [
        'Referenced mirror+subset in destinationrule not found: "advertisements+v9"'
    ]


def test_tcp_and_tls_routes_count_for_unreachable_rules():
    tcp = """
        hosts: [advertisements]
        tcp:
          - match: [{port: 5002}]
            route: [{destination: {host: advertisements}}]
          - match: [{port: 5002}]
            route: [{destination: {host: advertisements}}]
        """
    assert texts(vs(tcp), "IST0130") == ["VirtualService rule #1 not used (all matches used by prior rules)."]
    tls = """
        hosts: [ads.example.com]
        tls:
          - match: [{sniHosts: [ads.example.com]}]
            route: [{destination: {host: advertisements}}]
          - match: [{sniHosts: [ads.example.com]}]
            route: [{destination: {host: advertisements}}]
        """
    assert texts(vs(tls), "IST0131") == [
        "VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0)."
    ]


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"])
def test_1_29_system_namespaces_are_not_read(namespace):
    assert texts(service("{port: 8080}", namespace=namespace), "IST0118", base=False) == []


def test_1_29_istio_system_is_read_but_istio_services_skip_port_names():
    assert len(texts(service("{port: 8080}", namespace="istio-system"), "IST0118", base=False)) == 1
    for labels in ("{istio: pilot}", "{release: istio}"):
        own = service("{port: 8080}", namespace="istio-system", labels=labels)
        assert texts(own, "IST0118", base=False) == []


def test_subsets_are_checked_against_pods_and_deployment_templates():
    rule = destination_rule(
        "advertisements", "ns3", "advertisements",
        "subsets: [{name: v1, labels: {version: v1}}, {name: v3, labels: {version: v3}}]",
    )
    assert texts(docs(rule), "IST0173") == [
        "The Subset v3 defined in the DestinationRule does not select any pods. Which may lead to 503 UH"
        " (NoHealthyUpstream)."
    ]
    pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: ads-v3, namespace: ns3, labels: {app: advertisements, version: v3}}
        spec:
          containers: [{name: ads, image: ecommerce/advertisements:3.0}]
        """
    assert texts(docs(rule, pod), "IST0173") == []


def test_unknown_destination_rule_host():
    assert texts(docs(destination_rule("r", "ns3", "adverts")), "IST0174") == [
        "The host adverts defined in the DestinationRule does not match any services in the mesh."
    ]


def test_referenced_resource_not_found_host_subset_gateway_port():
    spec = route_to(
        "{host: adverts}", "{host: advertisements, subset: v3}", "{host: advertisements, port: {number: 80}}"
    ) + "\ngateways: [mesh, nowhere]"
    assert sorted(texts(vs(spec), "IST0101")) == [
        'Referenced gateway not found: "nowhere"',
        'Referenced host not found: "adverts"',
        'Referenced host+subset in destinationrule not found: "advertisements+v3"',
        'Referenced host:port not found: "advertisements:80"',
    ]


def test_a_dotted_short_name_is_taken_literally():
    assert texts(vs(route_to("{host: advertisements.ns3}")), "IST0101") == [
        'Referenced host not found: "advertisements.ns3"'
    ]


def test_subsets_of_several_destination_rules_for_one_host_all_count():
    canary = destination_rule(
        "advertisements-canary", "ns3", "advertisements.ns3.svc.cluster.local",
        "subsets: [{name: canary, labels: {version: v2}}]",
    )
    assert texts(docs(canary, vs(route_to("{host: advertisements, subset: canary}"))), "IST0101") == []


def test_conflicting_mesh_virtual_services():
    spec = route_to("{host: advertisements, subset: v1}")
    both = docs(vs(spec), vs(spec, name="ads-canary"))
    assert found(both) == {
        ("IST0109", "VirtualService ns3/ads-canary"), ("IST0109", "VirtualService ns3/advertisements")
    }
    assert texts(both, "IST0109")[0].startswith(
        "The VirtualServices ns3/ads-canary,ns3/advertisements associated with mesh gateway define the"
        " same host */advertisements.ns3.svc.cluster.local"
    )
    # A VirtualService exported everywhere conflicts with one exported to its own namespace only.
    local = vs(spec + "\nexportTo: ['.']", name="ads-canary")
    assert len(texts(docs(vs(spec), local), "IST0109")) == 2


def test_port_selector_required():
    multi = document("Service", "multi", "ns3", """
        selector: {app: advertisements}
        ports: [{name: http, port: 5002}, {name: http-admin, port: 9000}]
    """, api_version="v1")
    messages = run(docs(multi, vs(route_to("{host: multi}", hosts="[multi]"))))
    assert [m.level for m in messages if m.code == "IST0112"] == [ERROR]


PRODUCTS = "match: [{headers: {page-source: {exact: products}}}]"
UNREACHABLE = {
    "route without matches defined before": (
        "- route: [{destination: {host: advertisements, subset: v1}}]",
        f"- {PRODUCTS}\n  route: [{{destination: {{host: advertisements}}}}]"),
    "only the last rule can have no matches": (
        "- route: [{destination: {host: advertisements, subset: v1}}]",
        "- route: [{destination: {host: advertisements, subset: v2}}]"),
    "all matches used by prior rules": (
        f"- {PRODUCTS}\n  route: [{{destination: {{host: advertisements}}}}]",
        f"- {PRODUCTS}\n  route: [{{destination: {{host: advertisements}}}}]"),
}


@pytest.mark.parametrize("reason", UNREACHABLE)
def test_unreachable_rule_cases(reason):
    rules = textwrap.indent("\n".join(UNREACHABLE[reason]), "  ")
    messages = [m for m in run(vs(f"hosts: [advertisements]\nhttp:\n{rules}")) if m.code == "IST0130"]
    expected = f"VirtualService rule #1 not used ({reason})."
    assert [(m.level, m.text) for m in messages] == [(WARNING, expected)]


def test_a_match_covered_by_an_earlier_prefix_is_ineffective_not_unreachable():
    spec = """
        hosts: [advertisements]
        http:
          - match: [{uri: {prefix: /}}]
            route: [{destination: {host: advertisements, subset: v1}}]
          - match: [{uri: {prefix: /ads}}]
            route: [{destination: {host: advertisements, subset: v2}}]
          - match: [{uri: {regex: '.*'}}]
            route: [{destination: {host: advertisements, subset: v1}}]
          - match: [{headers: {page-source: {exact: home}}}]
            route: [{destination: {host: advertisements}}]
        """
    assert [(m.code, m.level, m.text) for m in run(vs(spec))] == [(
        "IST0131", INFO,
        "VirtualService rule #1 match #0 of prefix /ads is not used (duplicate/overlapping match in rule"
        " #0 of prefix / on #0).",
    )]


GATEWAY = """
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: {name: shop, namespace: ns3}
    spec:
      servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [shop.example.com]}]
    """


def test_host_not_found_in_gateway_once_per_reference_also_for_a_missing_gateway():
    spec = route_to("{host: advertisements, subset: v1}", hosts="[admin.example.com, ads.example.com]")
    spec += "\ngateways: [shop, missing]"
    assert sorted(texts(docs(GATEWAY, vs(spec)), "IST0132")) == [
        f"one or more host [admin.example.com ads.example.com] defined in VirtualService ns3/advertisements"
        f" not found in Gateway ns3/{gateway}."
        for gateway in ("missing", "shop")
    ]
    served = spec.replace("admin.example.com", "shop.example.com")
    assert len(texts(docs(GATEWAY, vs(served)), "IST0132")) == 1  # one served host is enough for ns3/shop


def test_1_29_ingress_route_rules_not_affected_is_about_subsets():
    # 1.29: IST0140 is reported on a gateway VirtualService routing to a host without a subset while
    # another VirtualService splits that host by subset (not about a rule's gateways/sourceLabels).
    mesh = vs(route_to("{host: advertisements, subset: v1}"))
    edge_spec = route_to("{host: advertisements}", hosts="[shop.example.com]") + "\ngateways: [shop]"
    edge = vs(edge_spec, name="edge")
    assert texts(docs(GATEWAY, mesh, edge), "IST0140") == [
        "Subset in virtual service ns3/advertisements has no effect on ingress gateway ns3/edge requests"
    ]


def test_message_style_of_istioctl():
    [message] = run(vs(route_to("{host: advertisements, subset: v3}")))
    assert str(message) == (
        "Error [IST0101] (VirtualService ns3/advertisements case.yaml:8) Referenced host+subset in"
        ' destinationrule not found: "advertisements+v3"'
    )


def test_a_service_may_select_plain_pods():
    text = docs(
        """
        apiVersion: v1
        kind: Service
        metadata: {name: debug, namespace: ns3}
        spec:
          selector: {app: debug}
          ports: [{name: http, port: 8080}]
        """,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: debug, namespace: ns3, labels: {app: debug}}
        spec:
          containers: [{name: debug, image: busybox, ports: [{containerPort: 8080}]}]
        """,
    )
    assert found(text) == set()
    assert texts(text.replace("containerPort: 8080", "containerPort: 9090"), "LM0012") == [
        "targetPort 8080 of port 8080 is not a container port of Pod debug (its ports: 9090)"
    ]


def test_1_29_a_subset_selects_pods_by_its_own_labels_only():
    # 1.29: for a Service host the selector is the subset's labels alone (a Service adds no workload
    # selector), matched against every pod: the frontend's version=v1 pod satisfies subset v1 of
    # advertisements even with no advertisements v1 pod left.
    without_ads_v1 = [r for r in BASE_RESOURCES if r.name != "advertisements-v1"]
    messages = analyze(without_ads_v1)
    assert [m for m in messages if m.code == "IST0173"] == []
