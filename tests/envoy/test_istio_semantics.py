"""Istio 1.29's routing facts, one test each, on the configuration the builders produce.

Each test names the Istio source it follows (istio/istio at 1.29.6). The same facts through a
real Envoy: test_istio_defaults.py and test_routing_matrix.py.
"""

from __future__ import annotations

from test_builders import BASE, FQDN, RULE, TWO_PORTS, build, clusters_by_name, routes_of, vs
from testkit.manifests import destination_rule, gateway, virtual_service

from localmesh.envoy.names import PREVIOUS_HOSTS_TYPE, cluster_name, percent
from localmesh.envoy.routes import DEFAULT_RETRY_ON

TWO_RULES = destination_rule("ads-extra", "t", """
    host: ads
    trafficPolicy:
      loadBalancer: {simple: RANDOM}
    subsets:
    - {name: v1, labels: {version: other}}
    - {name: canary, labels: {version: v2}}
""")


def cluster(resources, subset=None, port=5002):
    return clusters_by_name(resources)[cluster_name(port, subset, FQDN)]


# ---- VirtualService (HTTP): route/route.go -----------------------------------------------------


def test_each_rule_and_match_entry_is_one_route_and_nothing_follows_a_catch_all():
    # route.go BuildHTTPRoutesForVirtualService: a route matching everything ends the list.
    http = """
  - match: [{headers: {x-a: {exact: "1"}}}, {uri: {regex: ".*"}}, {uri: {prefix: /never}}]
    route: [{destination: {host: ads, subset: v1}}]
  - route: [{destination: {host: ads, subset: v2}}]
"""
    _, resources = build(BASE + RULE + vs(http))
    routes = routes_of(resources)
    assert [r["match"] for r in routes] == [
        {"prefix": "/", "headers": [{"name": "x-a", "string_match": {"exact": "1"}}]},
        {"safe_regex": {"regex": ".*"}},
    ]


def test_a_rule_without_match_is_a_catch_all_and_ends_the_routes():
    http = """
  - route: [{destination: {host: ads, subset: v1}}]
  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: ads, subset: v2}}]
"""
    _, resources = build(BASE + RULE + vs(http))
    [route] = routes_of(resources)
    assert route["match"] == {"prefix": "/"}


def test_header_names_are_lower_case_and_regex_star_means_present():
    # route.go translateHeaderMatch / canBeConvertedToPresentMatch.
    http = """
  - match: [{headers: {X-Upper: {exact: A}, x-star: {regex: "*"}}, queryParams: {q: {regex: "*"}}}]
    route: [{destination: {host: ads}}]
"""
    _, resources = build(BASE + vs(http))
    match = routes_of(resources)[0]["match"]
    assert match["headers"] == [
        {"name": "x-star", "present_match": True},
        {"name": "x-upper", "string_match": {"exact": "A"}},
    ]
    assert match["query_parameters"] == [{"name": "q", "present_match": True}]


def test_ignore_uri_case_applies_to_exact_and_prefix_never_to_regex():
    http = """
  - match: [{uri: {exact: /A}, ignoreUriCase: true}, {uri: {regex: "/B.*"}, ignoreUriCase: true}]
    route: [{destination: {host: ads}}]
"""
    _, resources = build(BASE + vs(http))
    first, second = (r["match"] for r in routes_of(resources))
    assert first == {"path": "/A", "case_sensitive": False}
    # Envoy's case_sensitive does not apply to safe_regex, and istiod adds no (?i).
    assert second["safe_regex"] == {"regex": "/B.*"}


def test_match_gateways_and_port_select_the_proxy_not_the_request():
    http = """
  - match: [{uri: {prefix: /gw}, gateways: [gw]}, {uri: {prefix: /other-port}, port: 9000}]
    route: [{destination: {host: ads, subset: v2}}]
  - match: [{uri: {prefix: /mine}, port: 5002, sourceLabels: {app: web}}]
    route: [{destination: {host: ads, subset: v1}}]
"""
    _, resources = build(BASE + RULE + vs(http))
    assert [r["match"]["prefix"] for r in routes_of(resources)] == ["/mine"]
    # No client pod to compare sourceLabels with: said, and the route applies to every request.
    assert any("sourceLabels: no client pod" in w for w in resources.warnings)


def test_no_route_for_the_port_falls_back_to_the_default_route():
    # httproute.go: a VirtualService yielding no route for a port is not used for it.
    http = """
  - match: [{port: 9000}]
    route: [{destination: {host: ads, subset: v1}}]
"""
    _, resources = build(BASE + RULE + vs(http))
    [route] = routes_of(resources)
    assert route["name"] == "default" and route["route"]["cluster"] == cluster_name(5002, None, FQDN)


def test_an_unknown_subset_is_a_route_to_a_missing_cluster():
    http = "  - route: [{destination: {host: ads, subset: v3}}]"
    _, resources = build(BASE + RULE + vs(http))
    assert routes_of(resources)[0]["route"]["cluster"] not in clusters_by_name(resources)


def test_no_virtual_service_is_one_default_route_with_default_retries_and_no_timeout():
    # route.go BuildDefaultHTTPOutboundRoute; retry/retry.go DefaultPolicy.
    _, resources = build(BASE)
    [route] = routes_of(resources)
    action = route["route"]
    assert route["match"] == {"prefix": "/"} and action["cluster"] == cluster_name(5002, None, FQDN)
    assert action["timeout"] == "0s" and action["max_stream_duration"] == {"grpc_timeout_header_max": "0s"}
    assert action["retry_policy"] == {
        "retry_on": DEFAULT_RETRY_ON,
        "num_retries": 2,
        "host_selection_retry_max_attempts": "5",
        "retry_host_predicate": [{
            "name": "envoy.retry_host_predicates.previous_hosts",
            "typed_config": {"@type": PREVIOUS_HOSTS_TYPE},
        }],
    }


def test_the_default_load_balancer_is_least_request():
    # cluster_traffic_policy.go defaultLBAlgorithm().
    subsets_only = TWO_RULES.replace("  trafficPolicy:\n    loadBalancer: {simple: RANDOM}\n", "")
    _, resources = build(BASE + subsets_only)
    assert len(resources.clusters) == 3
    assert {c["lb_policy"] for c in resources.clusters} == {"LEAST_REQUEST"}


def test_consistent_hashing_drops_the_previous_hosts_predicate_and_hashes_on_the_route():
    rule = RULE.replace("loadBalancer: {simple: LEAST_REQUEST}",
                        "loadBalancer: {consistentHash: {httpHeaderName: x-user}}")
    http = "  - route: [{destination: {host: ads, subset: v1}}]"
    _, resources = build(BASE + rule + vs(http))
    action = routes_of(resources)[0]["route"]
    assert action["hash_policy"] == [{"header": {"header_name": "x-user"}}]
    assert "retry_host_predicate" not in action["retry_policy"]
    assert cluster(resources, "v1")["lb_policy"] == "RING_HASH"
    assert cluster(resources, "v1")["ring_hash_lb_config"] == {"minimum_ring_size": "1024"}


def test_retries_as_written_codes_backoff_localities_and_previous_hosts():
    http = """
  - route: [{destination: {host: ads}}]
    retries:
      attempts: 4
      retryOn: "503,gateway-error"
      backoff: 250ms
      retryRemoteLocalities: true
      retryIgnorePreviousHosts: false
"""
    _, resources = build(BASE + vs(http))
    policy = routes_of(resources)[0]["route"]["retry_policy"]
    assert policy["retry_on"] == "gateway-error,retriable-status-codes"
    assert policy["retriable_status_codes"] == [503]
    assert policy["retry_back_off"] == {"base_interval": "0.25s"}
    assert policy["retry_priority"]["name"] == "envoy.retry_priorities.previous_priorities"
    assert "retry_host_predicate" not in policy
    assert resources.warnings == []


def test_a_fault_without_percentage_injects_nothing_and_delay_percent_counts():
    # route.go TranslateFault; the API: "If not specified, no request will be aborted".
    http = """
  - route: [{destination: {host: ads}}]
    fault:
      delay: {fixedDelay: 2s, percent: 30}
      abort: {httpStatus: 500}
"""
    _, resources = build(BASE + vs(http))
    fault = routes_of(resources)[0]["typed_per_filter_config"]["envoy.filters.http.fault"]
    assert fault["delay"]["percentage"] == percent(30)
    assert fault["abort"]["percentage"] == percent(0)


def test_host_and_authority_in_headers_set_are_a_host_rewrite():
    # route.go TranslateHeadersOperations: Host/:authority cannot be edited as headers.
    http = """
  - route: [{destination: {host: ads}}]
    headers:
      request:
        set: {host: via-set, x-b: "2", x-a: "1"}
        remove: [":path", x-c]
"""
    _, resources = build(BASE + vs(http))
    route = routes_of(resources)[0]
    assert route["route"]["host_rewrite_literal"] == "via-set"
    assert [h["header"]["key"] for h in route["request_headers_to_add"]] == ["x-a", "x-b"]
    assert route["request_headers_to_remove"] == ["x-c"]


def test_the_host_header_keeps_its_port_and_virtual_hosts_ignore_it():
    _, resources = build(BASE)
    hcm = resources.listeners[0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert "strip_any_host_port" not in hcm and "strip_host_port" not in hcm
    assert resources.route_configs[0]["ignore_port_in_host_matching"] is True


# ---- Weights -----------------------------------------------------------------------------------


def test_weights_are_shares_of_their_sum_and_a_zero_weight_is_left_out():
    http = """
  - route:
    - {destination: {host: ads, subset: v1}, weight: 1}
    - {destination: {host: ads, subset: v2}, weight: 3}
    - {destination: {host: ads, subset: v1}, weight: 0}
"""
    _, resources = build(BASE + RULE + vs(http))
    clusters = routes_of(resources)[0]["route"]["weighted_clusters"]["clusters"]
    assert [(c["name"].split("|")[2], c["weight"]) for c in clusters] == [("v1", 1), ("v2", 3)]


def test_a_negative_weight_or_a_zero_total_warns():
    http = """
  - route:
    - {destination: {host: ads, subset: v1}, weight: -1}
    - {destination: {host: ads, subset: v2}, weight: 0}
"""
    _, resources = build(BASE + RULE + vs(http))
    text = "\n".join(resources.warnings)
    assert "negative weight" in text and "every weight is 0" in text


# ---- DestinationRule: cluster_traffic_policy.go, util.MergeSubsetTrafficPolicy, destination_rule.go


def test_subset_policy_replaces_the_top_level_part_by_part():
    rule = destination_rule("ads", "t", """
        host: ads
        trafficPolicy:
          loadBalancer: {simple: RANDOM}
          connectionPool: {tcp: {maxConnections: 10}, http: {http2MaxRequests: 20}}
        subsets:
        - name: v1
          labels: {version: v1}
          trafficPolicy: {connectionPool: {http: {http1MaxPendingRequests: 5}}}
    """)
    _, resources = build(BASE + rule)
    v1 = cluster(resources, "v1")
    limits = v1["circuit_breakers"]["thresholds"][0]
    assert v1["lb_policy"] == "RANDOM"  # not set by the subset: the top level's
    # connectionPool set by the subset: the whole part is the subset's, nothing of the top level's.
    assert (limits["max_pending_requests"], limits["max_connections"], limits["max_requests"]) == (
        5, 4294967295, 4294967295,
    )


def test_port_level_settings_replace_the_whole_policy_for_their_port():
    text = TWO_PORTS + destination_rule("ads", "t", """
        host: ads
        trafficPolicy:
          loadBalancer: {simple: RANDOM}
          outlierDetection: {consecutive5xxErrors: 3}
          portLevelSettings: [{port: {number: 6000}, connectionPool: {tcp: {maxConnections: 7}}}]
    """)
    _, resources = build(text, service_ports={(FQDN, 5002): 15002, (FQDN, 6000): 16000})
    whole, port_level = cluster(resources), cluster(resources, port=6000)
    assert whole["lb_policy"] == "RANDOM" and whole["outlier_detection"]["consecutive_5xx"] == 3
    assert port_level["circuit_breakers"]["thresholds"][0]["max_connections"] == 7
    assert port_level["lb_policy"] == "LEAST_REQUEST" and "outlier_detection" not in port_level


def test_connection_pool_values_of_zero_or_less_are_ignored():
    rule = RULE.replace("tcp: {maxConnections: 10,", "tcp: {maxConnections: 0,")
    rule = rule.replace("http1MaxPendingRequests: 5", "http1MaxPendingRequests: -1")
    _, resources = build(BASE + rule)
    limits = cluster(resources, "v1")["circuit_breakers"]["thresholds"][0]
    assert (limits["max_connections"], limits["max_pending_requests"]) == (4294967295, 4294967295)


def test_destination_rules_for_one_host_merge_their_subsets():
    _, resources = build(BASE + RULE + TWO_RULES)
    names = set(clusters_by_name(resources))
    assert cluster_name(5002, "canary", FQDN) in names
    # The first rule's v1 wins; its top-level policy is the first rule's.
    assert cluster(resources, "canary")["lb_policy"] == "LEAST_REQUEST"
    assert any("subset 'v1' is already defined by DestinationRule t/ads" in w for w in resources.warnings)


def test_a_dotted_short_name_is_taken_literally():
    http = "  - route: [{destination: {host: ads.t}}]"
    _, resources = build(BASE + vs(http))
    action = routes_of(resources)[0]["route"]
    assert action["cluster"] == "outbound|5002||ads.t"  # no such cluster: 503 NC
    assert any("'ads.t' is no Service" in w for w in resources.warnings)


def test_ports_by_protocol_h2_tcp_and_sniffed():
    text = BASE.replace(
        "ports: [{name: http, port: 5002}]",
        "ports: [{name: grpc-api, port: 7070}, {name: tcp-db, port: 5432}, {name: web, port: 8000},"
        " {name: x, port: 8001, appProtocol: kubernetes.io/h2c}]",
    )
    ports = {(FQDN, p): 20000 + p for p in (7070, 5432, 8000, 8001)}
    _, resources = build(text, service_ports=ports)
    key = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    assert "http2_protocol_options" in cluster(resources, port=7070)["typed_extension_protocol_options"][key][
        "explicit_http_config"]
    assert "http2_protocol_options" in cluster(resources, port=8001)["typed_extension_protocol_options"][key][
        "explicit_http_config"]
    assert "typed_extension_protocol_options" not in cluster(resources, port=5432)
    sniffed_options = cluster(resources, port=8000)["typed_extension_protocol_options"][key]
    assert "use_downstream_protocol_config" in sniffed_options
    listeners = {item["name"]: item for item in resources.listeners}
    tcp = listeners[f"{FQDN}:5432"]["filter_chains"][0]["filters"][0]
    assert tcp["name"] == "envoy.filters.network.tcp_proxy"
    sniffed = listeners[f"{FQDN}:8000"]
    assert sniffed["listener_filters"][0]["name"] == "envoy.filters.listener.http_inspector"
    assert sniffed["default_filter_chain"]["filters"][0]["name"] == "envoy.filters.network.tcp_proxy"


# ---- Ingress gateway: gateway.go buildGatewayHTTPRouteConfig ------------------------------------


def _listed(hosts):
    return "[" + ", ".join(f'"{h}"' for h in hosts) + "]"


def _gateway(hosts, port=80):
    server = f"{{port: {{number: {port}, name: http, protocol: HTTP}}, hosts: {_listed(hosts)}}}"
    return gateway("gw", "t", f"selector: {{istio: ingressgateway}}\nservers: [{server}]")


def _bound(name, hosts, http):
    """A VirtualService bound to Gateway gw (http: rules indented as under `http:`)."""
    rules = http.strip("\n")
    return virtual_service(name, "t", f"hosts: {_listed(hosts)}\ngateways: [gw]\nhttp:\n{rules}")


def gateway_hosts(resources):
    config = next(r for r in resources.route_configs if r["name"].startswith("gateway:"))
    return {vh["domains"][0]: vh["routes"] for vh in config["virtual_hosts"]}


TO_ADS = "  - route: [{destination: {host: ads}}]"


def test_gateway_hosts_are_the_intersection_of_server_and_virtual_service_hosts():
    bound = _bound("a", ["a.example.com", "b.other.com"], TO_ADS)
    text = BASE + _gateway(["t/*.example.com", "other/*"]) + bound
    _, resources = build(text, gateway_port=18080)
    assert set(gateway_hosts(resources)) == {"a.example.com"}  # "other/*" is for namespace other only
    assert any("'b.other.com' is not served by Gateway t/gw" in w for w in resources.warnings)


def test_gateway_without_a_host_is_404_for_everything():
    text = BASE + _gateway(["other/*"]) + _bound("a", ["*"], TO_ADS)
    _, resources = build(text, gateway_port=18080)
    assert gateway_hosts(resources) == {"*": []}


def test_gateway_routes_of_several_virtual_services_add_up_with_catch_alls_last():
    first = _bound("a-first", ["*"], TO_ADS)
    second = _bound("b-second", ["*"], "  - match: [{uri: {prefix: /x}}]\n" + TO_ADS.replace("  - ", "    "))
    _, resources = build(BASE + _gateway(["*"]) + first + second, gateway_port=18080)
    routes = gateway_hosts(resources)["*"]
    assert [r["match"] for r in routes] == [{"prefix": "/x"}, {"prefix": "/"}]


def test_gateway_match_port_is_the_server_port_not_the_local_one():
    http = """
  - match: [{uri: {prefix: /server-port}, port: 80}]
    route: [{destination: {host: ads}}]
  - match: [{uri: {prefix: /local-port}, port: 18080}]
    route: [{destination: {host: ads}}]
"""
    _, resources = build(BASE + _gateway(["*"]) + _bound("a", ["*"], http), gateway_port=18080)
    assert [r["match"]["prefix"] for r in gateway_hosts(resources)["*"]] == ["/server-port"]
