"""Every configuration the builders produce is accepted by the real Envoy (`--mode validate`),
and `localmesh render` prints one (or one clear line and a non-zero exit on bad input)."""

from __future__ import annotations

import argparse
import json

import pytest
import yaml
from testkit.envoy import validate
from testkit.manifests import destination_rule
from testkit.processes import REPO_ROOT

from localmesh.envoy import build_bootstrap, build_resources, build_static_config, discovery_files
from localmesh.envoy import cli as envoy_cli
from localmesh.envoy.plan import render_topology
from localmesh.loader import kustomization_files, load_paths, load_text
from localmesh.model import build_mesh
from localmesh.topology import TracingConfig

pytestmark = pytest.mark.envoy

ISTIO_SHOP = kustomization_files(REPO_ROOT / "istio" / "ecommerce-istio")
ISTIO = ISTIO_SHOP + kustomization_files(REPO_ROOT / "istio" / "ads_v2")
CANARY_ARGS = ["-k", "istio/ecommerce-istio", "-k", "istio/ads_v2"]
SCENARIOS = sorted(f"istio/scenarios/{p.name}" for p in (REPO_ROOT / "istio" / "scenarios").glob("*.yaml"))
MANIFEST_SETS = {
    "k8s-v1": ["k8s/namespace.yaml", "k8s/frontend.yaml", "k8s/advertisements.yaml"],
    "k8s-service-networking": [
        "k8s/namespace.yaml", "k8s/frontend.yaml", "k8s/advertisements.yaml", "k8s/service-networking",
    ],
    "istio-v1": ISTIO_SHOP,
    "istio-canary": ISTIO,
    **{f"scenario-{p.rsplit('/', 1)[-1]}": [*ISTIO, p] for p in SCENARIOS},
}


def mesh_of(paths):
    return build_mesh(load_paths([REPO_ROOT / p for p in paths]))


@pytest.mark.parametrize("name", sorted(MANIFEST_SETS))
def test_static_config_of_shipped_manifests_validates(name, tmp_path):
    mesh = mesh_of(MANIFEST_SETS[name])
    topology = render_topology(mesh, listen_host="127.0.0.1", tracing=TracingConfig())
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(build_static_config(mesh, topology)))
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_static_config_with_every_feature_validates(tmp_path):
    from test_builders import BASE, GATEWAY, RULE, TWO, vs

    http = """
  - match:
    - uri: {regex: "/a/[0-9]+"}
      headers: {x-a: {prefix: b}, x-p: {}}
      withoutHeaders: {x-no: {exact: "1"}, x-gone: {}}
      queryParams: {q: {exact: "1"}}
    route:
    - destination: {host: ads, subset: v1}
      weight: 1
    - destination: {host: ads, subset: v2}
      weight: 3
    timeout: 2s
    retries: {attempts: 3, perTryTimeout: 1s, retryOn: "gateway-error,503"}
    fault:
      delay: {fixedDelay: 1s, percentage: {value: 50}}
      abort: {httpStatus: 500, percentage: {value: 1}}
    headers: {request: {set: {x-a: b}, remove: [x-c]}, response: {add: {x-d: e}}}
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, redirectCode: 301}
  - match: [{uri: {prefix: /teapot}}]
    directResponse: {status: 418, body: {string: short and stout}}
  - match: [{uri: {prefix: /rw}}]
    rewrite: {uri: /, authority: ads}
    route: [{destination: {host: ads, subset: v9}}]
  - match: [{uri: {prefix: /more}, scheme: {exact: http}, statPrefix: more}]
    rewrite: {uriRegexRewrite: {match: "^/more/(.*)", rewrite: '/\\1'}}
    headers: {request: {set: {host: other}}}
    route:
    - destination: {host: ads, subset: v1}
      headers: {request: {set: {":authority": v1-host}}, response: {remove: [x-r]}}
      weight: 1
    - destination: {host: ads, subset: v2}
      weight: 1
    retries: {attempts: 2, backoff: 100ms, retryRemoteLocalities: true, retryIgnorePreviousHosts: false}
    mirror: {host: ads, subset: v1}
    mirrorPercentage: {value: 5}
    corsPolicy: {allowOrigins: [{prefix: "http://"}], allowMethods: [GET], maxAge: 1h, allowCredentials: true}
    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 1}}}
  - redirect: {scheme: https, derivePort: FROM_REQUEST_PORT, redirectCode: 307}
"""
    ports = ("ports: [{name: http, port: 5002}, {name: grpc, port: 7070}, {name: tcp, port: 5432}, "
             "{name: x, port: 81}]")
    hashing = destination_rule("hashing", "t", """
        host: ads
        trafficPolicy:
          loadBalancer: {consistentHash: {httpCookie: {name: c, ttl: 10s, path: /}}, warmupDurationSecs: 10s}
          connectionPool:
            http: {useClientProtocol: true, idleTimeout: 30s, maxConcurrentStreams: 10}
            tcp: {tcpKeepalive: {time: 30s, interval: 5s, probes: 3}, maxConnectionDuration: 1h}
          retryBudget: {percent: {value: 25}, minRetryConcurrency: 5}
          outlierDetection:
            splitExternalLocalOriginErrors: true
            consecutiveLocalOriginFailures: 2
            minHealthPercent: 50
          portLevelSettings:
          - port: {number: 7070}
            loadBalancer: {consistentHash: {maglev: {tableSize: 65537}, useSourceIp: true}}
        subsets:
        - name: lucky
          labels: {version: v1}
          trafficPolicy:
            loadBalancer: {simple: ROUND_ROBIN, warmup: {duration: 5s, aggression: 2, minimumPercent: 20}}
    """)
    # The first DestinationRule's top-level policy is the host's (istiod's merge): hashing first.
    text = BASE.replace("ports: [{name: http, port: 5002}]", ports) + hashing + RULE + vs(http) + GATEWAY
    mesh = build_mesh(load_text(text, "all.yaml"))
    from localmesh.topology import Topology

    topology = Topology(
        endpoints=TWO,
        service_ports={("ads.t.svc.cluster.local", port): 20000 + port for port in (5002, 7070, 5432, 81)},
        tracing=TracingConfig(),
    )
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(build_static_config(mesh, topology)))
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bootstrap_validates_and_files_are_discovery_responses(tmp_path):
    mesh = mesh_of(ISTIO)
    topology = render_topology(mesh)
    files = discovery_files(build_resources(mesh, topology), str(tmp_path))
    assert {"lds.json", "cds.json"} <= set(files)
    rds = sorted(name for name in files if name.startswith("rds_"))
    assert len(rds) == 3  # advertisements:5002, frontend:80, gateway
    for name, body in files.items():
        assert body["version_info"] and body["resources"]
        assert all(r["@type"].startswith("type.googleapis.com/envoy.config.") for r in body["resources"])
        (tmp_path / name).write_text(json.dumps(body))
    # Listeners read their routes from the RDS files in that folder.
    for listener in files["lds.json"]["resources"]:
        rds_source = listener["filter_chains"][0]["filters"][0]["typed_config"]["rds"]["config_source"]
        assert rds_source["path_config_source"]["path"].startswith(str(tmp_path) + "/rds_")
    bootstrap = tmp_path / "bootstrap.json"
    bootstrap.write_text(json.dumps(build_bootstrap(topology, str(tmp_path))))
    result = validate(bootstrap)
    assert result.returncode == 0, result.stdout + result.stderr


def test_same_input_same_file_versions():
    mesh = mesh_of(ISTIO)
    topology = render_topology(mesh)
    first = discovery_files(build_resources(mesh, topology, config_dir="/x"))
    second = discovery_files(build_resources(mesh, topology), "/x")
    assert first == second


def render(capsys, *argv):
    parser = argparse.ArgumentParser()
    envoy_cli.register(parser.add_subparsers())
    args = parser.parse_args(["render", *argv])
    status = args.handler(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def first_address(cluster):
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    return endpoint["address"]["socket_address"]


def test_render_prints_a_config_envoy_accepts(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    status, out, err = render(
        capsys, *CANARY_ARGS, "--listen-host", "0.0.0.0",
        "--endpoint", "ns3/advertisements-v2=ads-two:6000",
    )
    assert status == 0, err
    config = yaml.safe_load(out)
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    v2 = clusters["outbound|5002|v2|advertisements.ns3.svc.cluster.local"]
    assert first_address(v2) == {"address": "ads-two", "port_value": 6000}
    assert v2["type"] == "STRICT_DNS"
    v1 = clusters["outbound|5002|v1|advertisements.ns3.svc.cluster.local"]
    assert first_address(v1) == {"address": "advertisements", "port_value": 5002}  # Deployment name, port
    assert config["static_resources"]["listeners"][0]["address"]["socket_address"]["address"] == "0.0.0.0"
    path = tmp_path / "render.yaml"
    path.write_text(out)
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_render_traces_to_the_agent_named_and_writes_the_output_file(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO_ROOT)
    output = tmp_path / "envoy.json"
    status, out, err = render(
        capsys, *CANARY_ARGS, "--trace-agent", "test-agent:8126",
        "--trace-env", "workshop-istio", "--format", "json", "--output", str(output),
    )
    assert status == 0 and out == "", err
    config = json.loads(output.read_text())
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    assert first_address(clusters["datadog_agent"]) == {"address": "test-agent", "port_value": 8126}
    result = validate(output)
    assert result.returncode == 0, result.stdout + result.stderr
    status, out, _ = render(capsys, *CANARY_ARGS, "--format", "json")
    untraced = json.loads(out)["static_resources"]["clusters"]
    assert status == 0 and "datadog_agent" not in {c["name"] for c in untraced}


@pytest.mark.parametrize(
    ("value", "agent"),
    [
        ("off", None),
        ("auto", {"address": "127.0.0.1", "port_value": 8126}),
        ("auto:test-agent:9126", {"address": "test-agent", "port_value": 9126}),
        ("test-agent:9126", {"address": "test-agent", "port_value": 9126}),
    ],
)
def test_render_reads_trace_agent_as_up_does(capsys, monkeypatch, value, agent):
    # render starts and probes nothing: auto is the address auto names.
    monkeypatch.chdir(REPO_ROOT)
    argv = ["-k", "istio/ecommerce-istio", "--format", "json", "--trace-agent", value]
    status, out, err = render(capsys, *argv)
    assert status == 0, err
    clusters = {c["name"]: c for c in json.loads(out)["static_resources"]["clusters"]}
    assert (first_address(clusters["datadog_agent"]) if "datadog_agent" in clusters else None) == agent


def test_render_json(capsys, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    status, out, _ = render(capsys, "-k", "istio/ecommerce-istio", "--format", "json")
    assert status == 0 and "static_resources" in json.loads(out)


# A table of bad arguments and the one line each gets: rows alike by shape on purpose.
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--endpoint", "advertisements"], "expected DEPLOYMENT=HOST:PORT"),
        (["--endpoint", "advertisements=host:99999"], "expected DEPLOYMENT=HOST:PORT"),
        (["--endpoint", "nobody=host:1"], "no Deployment named 'nobody'"),
        (["--endpoint-host-template", "{pod}"], "bad template"),
        (["--trace-agent", "datadog-agent"], "use auto, off or HOST:PORT"),
        (["--trace-agent", "datadog-agent:0"], "use auto, off or HOST:PORT"),
    ],
)
def test_render_bad_arguments_give_one_line(capsys, monkeypatch, argv, message):
    monkeypatch.chdir(REPO_ROOT)
    status, out, err = render(capsys, "-k", "istio/ecommerce-istio", *argv)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


# BAD_SUBSET and SCHEMA_ERRORS are written whole, as a user's files are: the messages expected name
# their line numbers.
BAD_SUBSET = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ads, namespace: ns3}
spec:
  hosts: [advertisements]
  http:
  - route: [{destination: {host: advertisements, subset: v3}}]
"""


def test_render_warns_about_what_kubectl_accepts_and_renders_it(capsys, monkeypatch, tmp_path):
    # IST0101 is an `istioctl analyze` error the API server accepts: `up` warns and runs, so render
    # warns and renders.
    monkeypatch.chdir(REPO_ROOT)
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SUBSET)
    status, out, err = render(capsys, "-k", "istio/ecommerce-istio", "-f", str(bad))
    assert status == 0, err
    assert "static_resources" in yaml.safe_load(out)
    assert f"warning: Error [IST0101] (VirtualService ns3/ads {bad}:8)" in err
    # The builder's own warning names the same place.
    assert f"{bad}:8) spec.http[0].route[0].destination.subset" in err
    # --skip-analyze renders without the analyzer's lines.
    status, out, err = render(capsys, "-k", "istio/ecommerce-istio", "-f", str(bad), "--skip-analyze")
    assert status == 0 and "static_resources" in yaml.safe_load(out)
    assert "IST0101" not in err and f"{bad}:8) spec.http[0].route[0].destination.subset" in err


SCHEMA_ERRORS = {
    # Istio's CRD schema and its webhook: an unknown field and a negative weight.
    "istio-schema": ("""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: advertisements, namespace: ns3}
spec:
  hosts: [advertisements]
  http:
  - route: [{destination: {host: advertisements}, weight: -5}]
    timeoutz: 2s
""", ["Error [IST0106] (VirtualService ns3/advertisements {path}:8) Schema validation error: weight -5 < 0",
      'Error [IST0106] (VirtualService ns3/advertisements {path}:9) Schema validation error: unknown field '
      '"spec.http[0].timeoutz"']),
    # Kubernetes' OpenAPI schema.
    "kubernetes-schema": ("""
apiVersion: v1
kind: Service
metadata: {name: extra, namespace: ns3}
spec:
  selector: {app: advertisements}
  ports: [{port: "lots", name: http}]
""", ["Error [LM0002] (Service ns3/extra {path}:7) \"spec.ports[0].port\": expected integer, got 'lots'"]),
}


@pytest.mark.parametrize("case", sorted(SCHEMA_ERRORS))
def test_render_refuses_what_the_api_server_refuses(capsys, monkeypatch, tmp_path, case):
    monkeypatch.chdir(REPO_ROOT)
    text, refusals = SCHEMA_ERRORS[case]
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    status, out, err = render(capsys, "-k", "istio/ecommerce-istio", "-f", str(bad))
    assert status == 1 and out == ""
    lines = err.splitlines()
    for refusal in refusals:
        assert refusal.format(path=bad) in lines, err
    assert lines[-1] == (f"localmesh: refusing to render: {len(refusals)} resource error(s) the API server "
                         "would refuse; nothing rendered")
