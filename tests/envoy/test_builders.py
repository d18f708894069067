"""Unit tests of the pure builders on small test-only manifests."""

from __future__ import annotations

import pytest
from testkit.manifests import destination_rule, gateway, service, virtual_service

from localmesh.envoy import build_resources, build_static_config
from localmesh.envoy.names import cluster_name, duration, percent
from localmesh.envoy.routes import DEFAULT_RETRY_ON
from localmesh.loader import load_text
from localmesh.model import build_mesh
from localmesh.topology import Endpoint, Topology, TracingConfig

FQDN = "ads.t.svc.cluster.local"

BASE = service("ads", "t", """
    selector: {app: ads}
    ports: [{name: http, port: 5002}]
""")

# BASE with a second port, 6000.
TWO_PORTS = BASE.replace("port: 5002}]", "port: 5002}, {name: http-b, port: 6000}]")

RULE = destination_rule("ads", "t", """
  host: ads
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    connectionPool:
      tcp: {maxConnections: 10, connectTimeout: 250ms}
      http: {http1MaxPendingRequests: 5, http2MaxRequests: 20, maxRequestsPerConnection: 3, maxRetries: 4}
    outlierDetection:
      consecutive5xxErrors: 3
      consecutiveGatewayErrors: 2
      interval: 5s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
    tls: {mode: ISTIO_MUTUAL}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: RANDOM}
      loadBalancer_typo: {}
""")


def endpoints(*specs):
    """specs: (pod, version, port, health_path)."""
    return tuple(
        Endpoint(pod, "t", {"app": "ads", "version": version}, "127.0.0.1", port, health)
        for pod, version, port, health in specs
    )


TWO = endpoints(("ads-v1-0", "v1", 7001, "/readyz"), ("ads-v2-0", "v2", 7002, "/readyz"))


def build(text, eps=TWO, **topology):
    mesh = build_mesh(load_text(text, "test.yaml"))
    topology.setdefault("service_ports", {(FQDN, 5002): 15002})
    return mesh, build_resources(mesh, Topology(endpoints=eps, **topology))


def clusters_by_name(resources):
    return {c["name"]: c for c in resources.clusters}


def routes_of(resources, name=f"{FQDN}:5002"):
    config = next(r for r in resources.route_configs if r["name"] == name)
    return config["virtual_hosts"][0]["routes"]


def vs(http, name="ads"):
    """A VirtualService for host ads with these http rules (YAML, indented as under `http:`)."""
    return virtual_service(name, "t", "hosts: [ads]\nhttp:\n" + http.strip("\n"))


def hosts_of(cluster):
    return [
        (e["endpoint"]["address"]["socket_address"]["port_value"])
        for group in cluster["load_assignment"]["endpoints"]
        for e in group["lb_endpoints"]
    ]


def test_cluster_names_and_endpoints_by_selector_and_subset_labels():
    other = Endpoint("web-0", "t", {"app": "web"}, "127.0.0.1", 7009, None)
    elsewhere = Endpoint("ads-x", "other-ns", {"app": "ads", "version": "v1"}, "127.0.0.1", 7010, None)
    _, resources = build(BASE + RULE, eps=TWO + (other, elsewhere))
    clusters = clusters_by_name(resources)
    assert set(clusters) == {cluster_name(5002, s, FQDN) for s in (None, "v1", "v2")}
    assert hosts_of(clusters[f"outbound|5002||{FQDN}"]) == [7001, 7002]
    assert hosts_of(clusters[f"outbound|5002|v1|{FQDN}"]) == [7001]
    assert hosts_of(clusters[f"outbound|5002|v2|{FQDN}"]) == [7002]
    assert all(c["type"] == "STATIC" for c in clusters.values())


def test_cluster_without_endpoints_still_exists():
    _, resources = build(BASE + RULE.replace("version: v2}", "version: v9}"))
    empty = clusters_by_name(resources)[f"outbound|5002|v2|{FQDN}"]
    assert empty["load_assignment"]["endpoints"] == []


def test_health_checks_on_probe_path_and_probe_less_endpoints_always_healthy():
    eps = endpoints(("a", "v1", 7001, "/readyz"), ("b", "v2", 7002, None))
    _, resources = build(BASE, eps=eps)
    cluster = clusters_by_name(resources)[f"outbound|5002||{FQDN}"]
    [check] = cluster["health_checks"]
    assert check["http_health_check"]["path"] == "/readyz"
    assert (check["healthy_threshold"], check["unhealthy_threshold"]) == (1, 2)
    assert check["interval"] == "1s" and check["no_traffic_interval"] == "1s"
    lb = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert "health_check_config" not in lb[0]["endpoint"]
    assert lb[1]["endpoint"]["health_check_config"] == {"disable_active_health_check": True}
    assert cluster["common_lb_config"]["healthy_panic_threshold"] == {"value": 0}


def test_no_health_check_when_no_endpoint_has_a_probe():
    eps = endpoints(("a", "v1", 7001, None))
    _, resources = build(BASE, eps=eps)
    assert "health_checks" not in clusters_by_name(resources)[f"outbound|5002||{FQDN}"]


def test_different_probe_paths_warn():
    eps = endpoints(("a", "v1", 7001, "/readyz"), ("b", "v1", 7002, "/readyz"), ("c", "v2", 7003, "/ok"))
    _, resources = build(BASE, eps=eps)
    assert any("different readiness paths" in w and "test.yaml:" in w for w in resources.warnings)


def test_hostnames_make_a_dns_cluster():
    eps = (Endpoint("ads", "t", {"app": "ads"}, "advertisements-v1", 5002, "/readyz"),)
    _, resources = build(BASE, eps=eps)
    assert clusters_by_name(resources)[f"outbound|5002||{FQDN}"]["type"] == "STRICT_DNS"


def test_traffic_policy_maps_and_subset_merges_over_top_level():
    _, resources = build(BASE + RULE)
    clusters = clusters_by_name(resources)
    v1 = clusters[f"outbound|5002|v1|{FQDN}"]
    v2 = clusters[f"outbound|5002|v2|{FQDN}"]
    assert v1["lb_policy"] == "LEAST_REQUEST" and v2["lb_policy"] == "RANDOM"
    limits = v1["circuit_breakers"]["thresholds"][0]
    assert (limits["max_connections"], limits["max_pending_requests"]) == (10, 5)
    assert (limits["max_requests"], limits["max_retries"]) == (20, 4)
    assert v1["connect_timeout"] == "0.25s"
    options = v1["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    assert options["common_http_protocol_options"]["max_requests_per_connection"] == 3
    outlier = v1["outlier_detection"]
    assert (outlier["consecutive_5xx"], outlier["enforcing_consecutive_5xx"]) == (3, 100)
    assert outlier["consecutive_gateway_failure"] == 2
    assert (outlier["interval"], outlier["base_ejection_time"], outlier["max_ejection_percent"]) == (
        "5s", "30s", 50,
    )


def test_default_circuit_breakers_are_lifted_as_istio_does():
    _, resources = build(BASE)
    limits = clusters_by_name(resources)[f"outbound|5002||{FQDN}"]["circuit_breakers"]["thresholds"][0]
    assert limits["max_retries"] == limits["max_connections"] == 4294967295


def test_port_level_settings_apply_to_their_port_only():
    text = TWO_PORTS + destination_rule("ads", "t", """
        host: ads
        trafficPolicy:
          loadBalancer: {simple: RANDOM}
          portLevelSettings: [{port: {number: 6000}, loadBalancer: {simple: LEAST_REQUEST}}]
    """)
    _, resources = build(text, service_ports={(FQDN, 5002): 15002, (FQDN, 6000): 16000})
    clusters = clusters_by_name(resources)
    assert clusters[f"outbound|5002||{FQDN}"]["lb_policy"] == "RANDOM"
    assert clusters[f"outbound|6000||{FQDN}"]["lb_policy"] == "LEAST_REQUEST"


def test_unsupported_policy_fields_warn_with_field_path_and_line():
    _, resources = build(BASE + RULE)
    text = "\n".join(resources.warnings)
    assert "spec.trafficPolicy.tls" in text
    assert "DestinationRule t/ads test.yaml:" in text
    # the subset's misspelled field, with the line where it was written
    line = (BASE + RULE).splitlines().index("      loadBalancer_typo: {}") + 1
    assert f"test.yaml:{line}) spec.subsets[1].trafficPolicy.loadBalancer_typo" in text


def test_no_virtual_service_is_one_default_route_to_the_whole_service():
    _, resources = build(BASE)
    [route] = routes_of(resources)
    assert route["match"] == {"prefix": "/"}
    assert route["route"]["cluster"] == f"outbound|5002||{FQDN}"
    assert route["route"]["timeout"] == "0s"
    assert route["route"]["retry_policy"]["retry_on"] == DEFAULT_RETRY_ON


def test_each_rule_and_match_entry_is_one_route_in_order():
    http = """
  - match:
    - uri: {prefix: /a}
    - headers: {x-b: {exact: "1"}}
    route: [{destination: {host: ads, subset: v1}}]
  - route: [{destination: {host: ads, subset: v2}}]
"""
    _, resources = build(BASE + RULE + vs(http))
    routes = routes_of(resources)
    assert [r["match"] for r in routes] == [
        {"prefix": "/a"},
        {"prefix": "/", "headers": [{"name": "x-b", "string_match": {"exact": "1"}}]},
        {"prefix": "/"},
    ]
    assert [r["route"]["cluster"].split("|")[2] for r in routes] == ["v1", "v1", "v2"]


def test_match_conditions_translate():
    http = """
  - match:
    - uri: {regex: "/ads/[0-9]+"}
      method: {exact: GET}
      authority: {prefix: shop}
      headers: {X-Upper: {regex: "a.*"}, x-present: {}}
      withoutHeaders: {x-no: {exact: "1"}, x-gone: {}}
      queryParams: {category: {exact: kitchen}, flag: {}}
      ignoreUriCase: true
    route: [{destination: {host: ads}}]
"""
    _, resources = build(BASE + vs(http))
    match = routes_of(resources)[0]["match"]
    # ignoreUriCase makes exact and prefix case-insensitive; Envoy (and so Istio) never a regex.
    assert match["safe_regex"] == {"regex": "/ads/[0-9]+"} and match["case_sensitive"] is False
    headers = {h["name"]: h for h in match["headers"]}
    assert headers[":method"]["string_match"] == {"exact": "GET"}
    assert headers[":authority"]["string_match"] == {"prefix": "shop"}
    assert headers["x-upper"]["string_match"] == {"safe_regex": {"regex": "a.*"}}
    assert headers["x-present"] == {"name": "x-present", "present_match": True}
    assert headers["x-no"]["invert_match"] and headers["x-no"]["treat_missing_header_as_empty"]
    assert headers["x-gone"] == {"name": "x-gone", "present_match": True, "invert_match": True}
    assert match["query_parameters"] == [
        {"name": "category", "string_match": {"exact": "kitchen"}},
        {"name": "flag", "present_match": True},
    ]


def test_ignore_uri_case_on_prefix():
    http = """
  - match: [{uri: {prefix: /Ads}, ignoreUriCase: true}]
    route: [{destination: {host: ads}}]
"""
    _, resources = build(BASE + vs(http))
    assert routes_of(resources)[0]["match"] == {"prefix": "/Ads", "case_sensitive": False}


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ((1, 3), {"weights": [("v1", 1), ("v2", 3)]}),
        ((0, 100), {"weights": [("v2", 100)]}),
        ((None, 5), {"weights": [("v2", 5)]}),
        ((7, 7), {"weights": [("v1", 7), ("v2", 7)]}),
    ],
)
def test_weights(weights, expected):
    lines = []
    for subset, weight in zip(("v1", "v2"), weights):
        lines.append(f"    - destination: {{host: ads, subset: {subset}}}")
        if weight is not None:
            lines.append(f"      weight: {weight}")
    http = "  - route:\n" + "\n".join(lines)
    _, resources = build(BASE + RULE + vs(http))
    action = routes_of(resources)[0]["route"]
    # As istiod: several destinations are always weighted clusters; a 0 or omitted weight is left out.
    clusters = action["weighted_clusters"]["clusters"]
    assert [(c["name"].split("|")[2], c["weight"]) for c in clusters] == expected["weights"]


def test_single_destination_ignores_its_weight():
    http = "  - route:\n    - destination: {host: ads, subset: v2}\n      weight: 10"
    _, resources = build(BASE + RULE + vs(http))
    assert routes_of(resources)[0]["route"]["cluster"] == cluster_name(5002, "v2", FQDN)


def test_unknown_subset_routes_to_a_missing_cluster_and_warns():
    http = "  - route:\n    - destination: {host: ads, subset: v3}"
    _, resources = build(BASE + RULE + vs(http))
    action = routes_of(resources)[0]["route"]
    assert action["cluster"] == cluster_name(5002, "v3", FQDN)
    assert action["cluster"] not in clusters_by_name(resources)
    assert action.get("cluster_not_found_response_code", "SERVICE_UNAVAILABLE") == "SERVICE_UNAVAILABLE"
    assert any("'v3'" in w and "spec.http[0].route[0].destination.subset" in w for w in resources.warnings)
    assert resources.route_configs[0]["validate_clusters"] is False


def test_timeout_retries_and_fault_as_written():
    http = """
  - route: [{destination: {host: ads}}]
    timeout: 1.5s
    retries: {attempts: 3, perTryTimeout: 500ms, retryOn: "5xx,reset,503"}
    fault:
      delay: {fixedDelay: 2s, percentage: {value: 12.5}}
      abort: {httpStatus: 418, percentage: {value: 0.1}}
  - route: [{destination: {host: ads}}]
    retries: {attempts: 0}
"""
    # The first rule matches every request: istiod builds nothing after it. Its twin with a
    # match shows attempts: 0.
    _, resources = build(BASE + vs(http))
    [first] = routes_of(resources)
    _, resources = build(BASE + vs(http.replace("  - route", "  - match: [{uri: {prefix: /a}}]\n    route")))
    second = routes_of(resources)[1]
    action = first["route"]
    assert action["timeout"] == "1.5s"
    policy = action["retry_policy"]
    assert policy["num_retries"] == 3 and policy["per_try_timeout"] == "0.5s"
    assert policy["retry_on"] == "5xx,reset,retriable-status-codes"
    assert policy["retriable_status_codes"] == [503]
    fault = first["typed_per_filter_config"]["envoy.filters.http.fault"]
    assert fault["delay"] == {"fixed_delay": "2s", "percentage": percent(12.5)}
    assert fault["abort"] == {"http_status": 418, "percentage": percent(0.1)}
    assert percent(12.5)["numerator"] == 125000 and percent(0.1)["numerator"] == 1000
    assert "retry_policy" not in second["route"]  # attempts 0: no retries at all


def test_default_retry_policy_is_istios():
    # pilot/pkg/networking/core/route/retry/retry.go (Istio 1.29): no retriable status codes.
    _, resources = build(BASE)
    policy = routes_of(resources)[0]["route"]["retry_policy"]
    assert policy["num_retries"] == 2
    assert "retriable_status_codes" not in policy
    assert policy["host_selection_retry_max_attempts"] == "5"
    assert policy["retry_host_predicate"][0]["name"] == "envoy.retry_host_predicates.previous_hosts"


def test_fault_filter_runs_before_the_router():
    _, resources = build(BASE)
    hcm = resources.listeners[0]["filter_chains"][0]["filters"][0]["typed_config"]
    names = [f["name"] for f in hcm["http_filters"]]
    assert names == ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router"]
    assert hcm["generate_request_id"] and hcm["preserve_external_request_id"]


def test_unsupported_rule_fields_warn():
    http = """
  - route: [{destination: {host: ads}}]
    delegate: {name: other}
    mirorr: {host: ads}
"""
    _, resources = build(BASE + vs(http))
    text = "\n".join(resources.warnings)
    assert "spec.http[0].delegate: not supported" in text
    assert "spec.http[0].mirorr: not supported" in text


def test_destination_port_named_or_only_port():
    two_ports = BASE.replace("port: 5002}]", "port: 5002}, {name: http-admin, port: 9000}]")
    http = """
  - match: [{uri: {prefix: /admin}}]
    route: [{destination: {host: ads, port: {number: 9000}}}]
  - route: [{destination: {host: ads}}]
"""
    _, resources = build(two_ports + vs(http), service_ports={(FQDN, 5002): 15002, (FQDN, 9000): 19000})
    first, second = routes_of(resources)
    assert first["route"]["cluster"] == cluster_name(9000, None, FQDN)
    assert second["route"]["cluster"] == cluster_name(5002, None, FQDN)  # the listener's own port
    admin_routes = routes_of(resources, f"{FQDN}:9000")
    assert admin_routes[1]["route"]["cluster"] == cluster_name(9000, None, FQDN)


def test_listener_per_service_port_on_topology_address():
    _, resources = build(BASE, listen_host="0.0.0.0")
    [listener] = resources.listeners
    assert listener["address"]["socket_address"] == {"address": "0.0.0.0", "port_value": 15002}


GATEWAY = gateway("gw", "t", """
    selector: {istio: ingressgateway}
    servers:
    - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}
    - {port: {number: 443, name: https, protocol: HTTPS}, hosts: ["*"]}
""") + virtual_service("edge", "t", """
    hosts: ["*"]
    gateways: [gw]
    http: [{route: [{destination: {host: ads}}]}]
""")


def test_gateway_listener_routes_its_bound_virtual_services():
    _, resources = build(BASE + GATEWAY, gateway_port=18080)
    gateway = next(item for item in resources.listeners if item["name"] == "gateway:18080")
    assert gateway["address"]["socket_address"]["port_value"] == 18080
    [virtual_host] = next(r for r in resources.route_configs if r["name"] == "gateway:18080")["virtual_hosts"]
    assert virtual_host["domains"] == ["*"]
    assert virtual_host["routes"][0]["route"]["cluster"] == cluster_name(5002, None, FQDN)
    assert any("protocol HTTPS" in w for w in resources.warnings)
    # The gateway-only VirtualService does not touch the mesh listener of the host.
    assert routes_of(resources)[0]["name"] == "default"


def test_no_gateway_no_gateway_listener():
    _, resources = build(BASE)
    assert [item["name"] for item in resources.listeners] == [f"{FQDN}:5002"]


def test_tracing_hook():
    _, resources = build(BASE + GATEWAY, tracing=TracingConfig(agent_host="127.0.0.1", agent_port=8126))
    names = {}
    for item in resources.listeners:
        tracing = item["filter_chains"][0]["filters"][0]["typed_config"]["tracing"]
        names[item["name"]] = tracing["provider"]["typed_config"]["service_name"]
    assert names == {f"{FQDN}:5002": "ads.t", "gateway:8080": "istio-ingressgateway"}
    assert "datadog_agent" in clusters_by_name(resources)


def test_static_config_is_self_contained():
    mesh, _ = build(BASE)
    topology = Topology(endpoints=TWO, service_ports={(FQDN, 5002): 15002}, admin_port=19000)
    config = build_static_config(mesh, topology)
    assert config["admin"]["address"]["socket_address"]["port_value"] == 19000
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert "route_config" in hcm and "rds" not in hcm


def test_formats():
    assert duration(0) == "0s" and duration(0.001) == "0.001s" and duration(90) == "90s"
    assert percent(50) == {"numerator": 500000, "denominator": "MILLION"}


def test_redirect_rewrite_direct_response_mirror_and_cors_translate():
    http = """
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: shop, scheme: https, port: 8443, redirectCode: 308}
  - match: [{uri: {prefix: /same-port}}]
    redirect: {scheme: https, port: 443}
  - match: [{uri: {prefix: /bytes}}]
    directResponse: {status: 200, body: {bytes: aGVsbG8=}}
  - match: [{uri: {prefix: /regex}}]
    rewrite: {uriRegexRewrite: {match: "^/regex/(.*)", rewrite: "/\\\\1"}, authority: ads-internal}
    route: [{destination: {host: ads}}]
    mirror: {host: ads, subset: v2}
    mirrorPercentage: {value: 12.5}
    mirrors:
    - destination: {host: ads, subset: v1}
    - destination: {host: ads}
      percentage: {value: 0}
    corsPolicy:
      allowOrigins: [{exact: a.com}, {regex: ".*\\\\.b\\\\.com"}]
      allowMethods: [GET]
      exposeHeaders: [x-e]
      allowCredentials: true
      maxAge: 90s
      unmatchedPreflights: IGNORE
"""
    _, resources = build(BASE + RULE + vs(http))
    assert not [w for w in resources.warnings if "VirtualService" in w], resources.warnings
    redirect, same_port, direct, rewrite = routes_of(resources)
    assert redirect["redirect"] == {
        "host_redirect": "shop", "path_redirect": "/new", "scheme_redirect": "https",
        "port_redirect": 8443, "response_code": "PERMANENT_REDIRECT",
    }
    # No explicit :443 for https (istiod's ApplyRedirect).
    assert same_port["redirect"] == {"scheme_redirect": "https", "response_code": "MOVED_PERMANENTLY"}
    assert direct["direct_response"] == {"status": 200, "body": {"inline_bytes": "aGVsbG8="}}
    action = rewrite["route"]
    assert action["regex_rewrite"] == {"pattern": {"regex": "^/regex/(.*)"}, "substitution": "/\\1"}
    assert action["host_rewrite_literal"] == "ads-internal"
    mirrors = [(m["cluster"].split("|")[2], m["runtime_fraction"]["default_value"]) for m in
               action["request_mirror_policies"]]
    assert mirrors == [("v2", percent(12.5)), ("v1", percent(100))]  # an explicit 0 % mirrors nothing
    cors = rewrite["typed_per_filter_config"]["envoy.filters.http.cors"]
    origins = [{"exact": "a.com"}, {"safe_regex": {"regex": ".*\\.b\\.com"}}]
    assert cors["allow_origin_string_match"] == origins
    assert (cors["allow_methods"], cors["expose_headers"], cors["max_age"]) == ("GET", "x-e", "90")
    assert cors["allow_credentials"] is True and cors["forward_not_matching_preflights"] is False
