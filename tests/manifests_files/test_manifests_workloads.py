"""The rules every workload follows, checked on every shipped Deployment and Service."""

from __future__ import annotations

import re

import pytest

from manifests_files.manifests import deployments, env_of, resources, walk_keys

# The experiment's PostgreSQL is a third-party image with rules of its own (below).
THIRD_PARTY = {"postgres"}
ALL_DEPLOYMENTS = deployments()
DEPLOYMENTS = [d for d in ALL_DEPLOYMENTS if d.doc["metadata"]["labels"]["app"] not in THIRD_PARTY]
STORES = [d for d in ALL_DEPLOYMENTS if d.doc["metadata"]["labels"]["app"] in THIRD_PARTY]
SERVICES = [r for r in resources() if r.kind == "Service"]
RECOMMENDED = [f"app.kubernetes.io/{key}" for key in ("name", "instance", "version", "component", "part-of")]
DD_TAGS = [f"tags.datadoghq.com/{key}" for key in ("env", "service", "version")]
IMAGES = {"ecommerce/frontend:1.0", "ecommerce/advertisements:1.0", "ecommerce/advertisements:2.0",
          "ecommerce/traffic-generator:1.0"}
# Removed or ignored since ddtrace 3: a manifest that sets them is out of date.
REMOVED_DD_SETTINGS = {"DD_ANALYTICS_ENABLED", "DD_TRACE_ANALYTICS_ENABLED", "DD_TRACE_SAMPLE_RATE"}
# Lean tracing (its cost is measured by bench/tracing_bench.py): the shop's
# own request and client spans instead of ddtrace's Flask and requests integrations, and no tracer
# features the demo does not use.
LEAN_TRACING = {
    "DD_TRACE_FLASK_ENABLED": "false", "DD_TRACE_REQUESTS_ENABLED": "false",
    "DD_TRACE_FUTURES_ENABLED": "false", "DD_TRACE_JINJA2_ENABLED": "false",
    "DD_TRACE_OTEL_CTX_ENABLED": "false",
    "DD_TRACE_PROPAGATION_STYLE_EXTRACT": "datadog", "DD_REMOTE_CONFIGURATION_ENABLED": "false",
    "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false", "DD_TRACE_LOG_STREAM_HANDLER": "false",
}
SERVER_COMMAND = ["ddtrace-run", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
SERVER_PORTS = {"frontend": 3000, "advertisements": 5002}
SIDECAR_UID = 1337


def pod_spec(deployment):
    return deployment.doc["spec"]["template"]["spec"]


def only_container(deployment):
    containers = pod_spec(deployment)["containers"]
    assert len(containers) == 1, f"{deployment}: one container expected"
    return containers[0]


def is_server(deployment):
    # The traffic generator is a client: no port, no probes, no Service.
    return deployment.doc["metadata"]["labels"]["app"] in SERVER_PORTS


def test_every_workload_is_found():
    names = {(d.namespace, d.name) for d in DEPLOYMENTS}
    assert names == {
        ("ns1", "frontend"),
        ("ns1", "advertisements"),
        ("ns1", "advertisements-v2"),
        ("ns1", "traffic-generator"),
        ("ns3", "frontend"),
        ("ns3", "advertisements"),
        ("ns3", "advertisements-v2"),
    }
    assert {(d.namespace, d.name) for d in STORES} == {("ns1", "postgres"), ("ns3", "postgres")}


@pytest.mark.parametrize("deployment", [d for d in DEPLOYMENTS if is_server(d)], ids=str)
def test_servers_use_the_lean_tracer_settings_and_one_worker(deployment):
    # Measured by `make bench`; the compose file and the images carry them too.
    env = env_of(only_container(deployment))
    for name, value in LEAN_TRACING.items():
        assert env.get(name, {}).get("value") == value, f"{deployment}: {name} must be {value!r}"
    # The CPU limit is half a core: a second gunicorn worker would add memory, not throughput.
    assert env["WEB_CONCURRENCY"].get("value") == "1", f"{deployment}: WEB_CONCURRENCY"


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=str)
class TestEveryDeployment:
    def test_selector_includes_app_and_version_and_matches_the_pods(self, deployment):
        selector = deployment.doc["spec"]["selector"]
        assert set(selector) == {"matchLabels"}, f"{deployment}: use matchLabels only"
        match = selector["matchLabels"]
        assert {"app", "version"} <= set(match), f"{deployment}: selector needs app and version"
        pod_labels = deployment.doc["spec"]["template"]["metadata"]["labels"]
        assert match.items() <= pod_labels.items(), f"{deployment}: selector does not select its own pods"

    def test_labels_on_the_deployment_and_its_pods(self, deployment):
        meta_labels = deployment.doc["metadata"]["labels"]
        pod_labels = deployment.doc["spec"]["template"]["metadata"]["labels"]
        for key in ["app", "version", *RECOMMENDED, *DD_TAGS]:
            assert key in meta_labels, f"{deployment}: Deployment label {key} missing"
            assert key in pod_labels, f"{deployment}: pod template label {key} missing"
            assert meta_labels[key] == pod_labels[key], f"{deployment}: {key} differs on Deployment and pods"
        assert pod_labels["app.kubernetes.io/name"] == pod_labels["app"]
        assert pod_labels["tags.datadoghq.com/service"] == pod_labels["app"]
        assert pod_labels["app.kubernetes.io/part-of"] == "ecommerce"

    def test_versions_agree(self, deployment):
        # v1 goes with 1.0 and v2 with 2.0: label, Datadog tag, recommended label and image tag.
        labels = deployment.doc["spec"]["template"]["metadata"]["labels"]
        match = re.fullmatch(r"v(\d+)", labels["version"])
        assert match, f"{deployment}: version label {labels['version']!r} is not vN"
        number = f"{match.group(1)}.0"
        assert labels["tags.datadoghq.com/version"] == number
        assert labels["app.kubernetes.io/version"] == number
        image = only_container(deployment)["image"]
        if is_server(deployment):
            assert image == f"ecommerce/{labels['app']}:{number}", f"{deployment}: image {image}"

    def test_datadog_env_comes_from_the_labels(self, deployment):
        env = env_of(only_container(deployment))
        for key in ("env", "service", "version"):
            name = f"DD_{key.upper()}"
            assert name in env, f"{deployment}: {name} missing"
            assert env[name].get("valueFrom") == {
                "fieldRef": {"fieldPath": f"metadata.labels['tags.datadoghq.com/{key}']"}
            }, f"{deployment}: {name} must come from the tags.datadoghq.com/{key} label"
        assert env["DD_AGENT_HOST"].get("valueFrom") == {"fieldRef": {"fieldPath": "status.hostIP"}}
        assert env["DD_LOGS_INJECTION"].get("value") == "true"
        assert env["DD_TRACE_REMOVE_INTEGRATION_SERVICE_NAMES_ENABLED"].get("value") == "true"
        removed = REMOVED_DD_SETTINGS & set(env) | {
            n for n in env if re.fullmatch(r"DD_TRACE_\w+_ANALYTICS_\w+", n)
        }
        assert not removed, f"{deployment}: removed ddtrace settings {sorted(removed)}"

    def test_image_and_pull_policy(self, deployment):
        container = only_container(deployment)
        assert container["image"] in IMAGES
        assert container["imagePullPolicy"] == "IfNotPresent", "kind load / minikube image load need it"

    def test_resources_have_requests_and_limits(self, deployment):
        resources_ = only_container(deployment)["resources"]
        for side in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources_.get(side, {})), f"{deployment}: {side} cpu+memory"

    def test_security_context(self, deployment):
        spec = pod_spec(deployment)
        pod, container = spec.get("securityContext", {}), only_container(deployment)["securityContext"]

        def effective(key):
            # A container setting wins over the pod's, as in Kubernetes.
            return container.get(key, pod.get(key))

        assert effective("runAsNonRoot") is True
        assert effective("runAsUser") == 10001 and effective("runAsUser") != SIDECAR_UID
        assert effective("runAsGroup") == 10001 and effective("runAsGroup") != SIDECAR_UID
        assert effective("seccompProfile") == {"type": "RuntimeDefault"}
        assert container["readOnlyRootFilesystem"] is True
        assert container["allowPrivilegeEscalation"] is False
        assert container["capabilities"] == {"drop": ["ALL"]}
        assert container.get("privileged") is not True

    def test_tmp_is_a_writable_empty_dir(self, deployment):
        mounts = {m["mountPath"]: m["name"] for m in only_container(deployment).get("volumeMounts", [])}
        assert "/tmp" in mounts, f"{deployment}: /tmp must be mounted (read-only root filesystem)"
        volumes = {v["name"]: v for v in pod_spec(deployment).get("volumes", [])}
        assert "emptyDir" in volumes[mounts["/tmp"]], f"{deployment}: /tmp must be an emptyDir"

    def test_no_service_account_token(self, deployment):
        assert pod_spec(deployment)["automountServiceAccountToken"] is False

    def test_no_committed_secret_values(self, deployment):
        for name, item in env_of(only_container(deployment)).items():
            if re.search(r"SECRET|KEY|TOKEN|PASSWORD", name) and name != "DD_AGENT_HOST":
                assert "value" not in item, f"{deployment}: {name} must come from a Secret, not a value"


@pytest.mark.parametrize("deployment", [d for d in DEPLOYMENTS if is_server(d)], ids=str)
class TestEveryServer:
    def test_command_runs_gunicorn_under_ddtrace(self, deployment):
        container = only_container(deployment)
        assert container["command"] == SERVER_COMMAND
        assert "args" not in container

    def test_port_env_matches_the_named_container_port(self, deployment):
        container = only_container(deployment)
        expected = SERVER_PORTS[deployment.doc["metadata"]["labels"]["app"]]
        assert container["ports"] == [{"name": "http", "containerPort": expected}]
        assert env_of(container)["PORT"]["value"] == str(expected)

    def test_probes(self, deployment):
        container = only_container(deployment)
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            get = container[probe]["httpGet"]
            assert get["path"] == path, f"{deployment}: {probe} path"
            assert get["port"] in ("http", container["ports"][0]["containerPort"])


@pytest.mark.parametrize("deployment", [d for d in DEPLOYMENTS if d.name == "frontend"], ids=str)
def test_frontend_env(deployment):
    env = env_of(only_container(deployment))
    assert env["ADS_URL"]["value"] == "http://advertisements:5002"
    ref = env["SECRET_KEY"]["valueFrom"]["secretKeyRef"]
    # optional: without the Secret the app's gunicorn.conf.py generates a key itself.
    assert ref == {"name": "frontend-secret", "key": "secret-key", "optional": True}


def test_traffic_generator_is_steady_and_bounded():
    (generator,) = [d for d in DEPLOYMENTS if d.name == "traffic-generator"]
    container = only_container(generator)
    assert container["image"] == "ecommerce/traffic-generator:1.0"
    assert container["command"][:3] == ["python", "-m", "traffic"]
    assert "ports" not in container
    env = {name: item.get("value") for name, item in env_of(container).items()}
    assert env["TARGET_URL"].startswith("http://")
    assert 0 < float(env["RATE"]) <= 20, "a workshop cluster should not be flooded"
    assert 0 < float(env["DURATION"]) <= 24 * 3600, "each run must end by itself"
    assert generator.doc["spec"]["replicas"] == 1
    # The module takes --host/--rate/--duration; Kubernetes fills them from the env above.
    options = dict(zip(container["command"][3::2], container["command"][4::2]))
    assert options == {"--host": "$(TARGET_URL)", "--rate": "$(RATE)", "--duration": "$(DURATION)"}


@pytest.mark.parametrize("namespace", ["ns1", "ns3"])
def test_no_deployment_adopts_another_ones_pods(namespace):
    group = [d for d in DEPLOYMENTS if d.namespace == namespace]
    for owner in group:
        match = owner.doc["spec"]["selector"]["matchLabels"]
        for other in group:
            labels = other.doc["spec"]["template"]["metadata"]["labels"]
            if other is not owner:
                assert not match.items() <= labels.items(), f"{owner} selects the pods of {other}"


@pytest.mark.parametrize("service", SERVICES, ids=str)
def test_every_service_selects_pods_on_a_matching_named_port(service):
    spec = service.doc["spec"]
    selected = [
        d
        for d in ALL_DEPLOYMENTS
        if d.namespace == service.namespace
        and spec["selector"].items() <= d.doc["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert selected, f"{service} selects no Deployment"
    assert "version" not in spec["selector"], f"{service}: versions are split by Istio, not the Service"
    for port in spec["ports"]:
        named = port["name"] == "http" or port["name"].startswith("tcp-")
        assert named or port.get("appProtocol"), f"{service}: name ports by protocol"
        for deployment in selected:
            container_ports = only_container(deployment).get("ports", [])
            numbers = {p["containerPort"] for p in container_ports} | {p["name"] for p in container_ports}
            assert port["targetPort"] in numbers, (
                f"{service} targets {port['targetPort']}, {deployment} has {numbers}"
            )


def test_service_types_and_ports():
    by_key = {(s.namespace, s.name): s.doc["spec"] for s in SERVICES}
    assert set(by_key) == {
        ("ns1", "frontend"),
        ("ns1", "advertisements"),
        ("ns3", "frontend"),
        ("ns3", "advertisements"),
        ("ns1", "postgres"),
        ("ns3", "postgres"),
    }
    assert by_key["ns1", "frontend"]["type"] == "NodePort"
    assert by_key["ns3", "frontend"]["type"] == "ClusterIP"
    for namespace in ("ns1", "ns3"):
        (front,) = by_key[namespace, "frontend"]["ports"]
        assert (front["port"], front["targetPort"]) == (80, 3000)
        (ads,) = by_key[namespace, "advertisements"]["ports"]
        assert (ads["port"], ads["targetPort"]) == (5002, 5002)
        assert by_key[namespace, "advertisements"]["selector"] == {"app": "advertisements"}
        (store,) = by_key[namespace, "postgres"]["ports"]
        assert (store["port"], store["targetPort"], by_key[namespace, "postgres"]["type"]) == (
            5432, "tcp-postgres", "ClusterIP"
        )


def test_istio_workloads_have_their_own_service_accounts():
    accounts = {r.name: r.doc for r in resources("istio/") if r.kind == "ServiceAccount"}
    used = {}
    for deployment in [d for d in ALL_DEPLOYMENTS if d.namespace == "ns3"]:
        name = pod_spec(deployment).get("serviceAccountName")
        assert name in accounts, f"{deployment}: serviceAccountName {name!r} is not defined in istio/"
        used.setdefault(name, set()).add(deployment.doc["metadata"]["labels"]["app"])
    # One identity per application: the AuthorizationPolicy tells them apart by it.
    assert all(len(apps) == 1 for apps in used.values()), used
    assert set(used) == set(accounts)
    assert all(doc.get("automountServiceAccountToken") is False for doc in accounts.values())


def test_no_removed_ddtrace_setting_anywhere():
    keys = set()
    for resource in resources():
        keys |= set(walk_keys(resource.doc))
        if resource.kind == "Deployment":
            keys |= set(env_of(only_container(resource)))
    assert not keys & REMOVED_DD_SETTINGS


@pytest.mark.parametrize("deployment", STORES, ids=str)
class TestTheExperimentStore:
    """PostgreSQL for the A/B experiment: a pinned third-party image, non-root, password from a Secret."""

    def test_labels_and_pinned_image(self, deployment):
        labels = deployment.doc["spec"]["template"]["metadata"]["labels"]
        for key in ["app", "version", *RECOMMENDED]:
            assert key in labels, f"{deployment}: pod label {key} missing"
        assert labels["app.kubernetes.io/part-of"] == "ecommerce"
        container = only_container(deployment)
        image, _, tag = container["image"].partition(":")
        pinned = image == "postgres" and re.fullmatch(r"\d+\.\d+", tag)
        assert pinned, f"{deployment}: pin postgres:<major>.<minor>"
        assert labels["version"] == f"v{tag}" and labels["app.kubernetes.io/version"] == tag
        assert container["imagePullPolicy"] == "IfNotPresent"

    def test_non_root_read_only_and_no_token(self, deployment):
        spec = pod_spec(deployment)
        pod, container = spec["securityContext"], only_container(deployment)["securityContext"]
        uid = container.get("runAsUser", pod.get("runAsUser"))
        assert uid not in (0, SIDECAR_UID, None) and container.get("runAsNonRoot", pod.get("runAsNonRoot"))
        assert container["readOnlyRootFilesystem"] is True
        assert container["allowPrivilegeEscalation"] is False
        assert container["capabilities"] == {"drop": ["ALL"]}
        assert spec["automountServiceAccountToken"] is False
        resources_ = only_container(deployment)["resources"]
        for side in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources_[side]), f"{deployment}: {side} cpu+memory"

    def test_writable_paths_are_volumes(self, deployment):
        mounts = {m["mountPath"] for m in only_container(deployment)["volumeMounts"]}
        assert {"/var/lib/postgresql/data", "/var/run/postgresql", "/tmp"} <= mounts

    def test_password_from_the_secret_the_frontend_also_reads(self, deployment):
        env = env_of(only_container(deployment))
        assert env["POSTGRES_PASSWORD"]["valueFrom"] == {
            "secretKeyRef": {"name": "experiment-db", "key": "password"}
        }
        (frontend,) = [d for d in DEPLOYMENTS if d.name == "frontend" and d.namespace == deployment.namespace]
        url = env_of(only_container(frontend))["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        # optional: the local mesh and a cluster without the Secret fall back to SQLite in the pod.
        assert url == {"name": "experiment-db", "key": "database-url", "optional": True}

    def test_probes_ask_pg_isready(self, deployment):
        container = only_container(deployment)
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["exec"]["command"][0] == "pg_isready"
