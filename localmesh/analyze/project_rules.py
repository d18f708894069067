"""This project's own rules: versions that agree, Services that reach pods, a reachable ADS_URL."""

from __future__ import annotations

import re
from typing import Optional
from urllib.parse import urlsplit

from localmesh.analyze.cluster import IGNORED_NAMESPACES, Pod
from localmesh.analyze.messages import Message, message
from localmesh.loader import ManifestError, Resource
from localmesh.model import Deployment, Mesh, Service, build_deployment, dns_fqdn, labels_match

VERSION_LABEL = "version"
DD_VERSION_LABEL = "tags.datadoghq.com/version"
K8S_VERSION_LABEL = "app.kubernetes.io/version"
# ddtrace 3+ removed these or ignores them (DD_TRACE_SAMPLING_RULES replaces the sample rate).
REMOVED_DD_SETTINGS = {"DD_ANALYTICS_ENABLED", "DD_TRACE_ANALYTICS_ENABLED", "DD_TRACE_SAMPLE_RATE"}
_LABEL_VERSION = re.compile(r"^v(\d+)(?:\.(\d+))?$")
_FIELD_LABEL = re.compile(r"^metadata\.labels\['([^']+)'\]$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def check_deployment(resource: Resource) -> list[Message]:
    """Rules about one Deployment on its own (LM0010, LM0014); other kinds give none."""
    if (resource.group, resource.kind) != ("apps", "Deployment"):
        return []
    try:
        deployment = build_deployment(resource)
    except (ManifestError, ValueError, TypeError, AttributeError):
        return []  # unreadable values: the schema check has reported them
    return _versions(deployment) + _removed_settings(deployment)


def check_project_rules(mesh: Mesh, pods: list[Pod]) -> list[Message]:
    """Rules over the set as applied (LM0011, LM0012, LM0013); pods as Cluster.pods() gives them."""
    found: list = []
    for deployment in mesh.deployments:
        found += _ads_url(mesh, deployment)
    found += _services(mesh, pods)
    return found


def label_to_version(label: str) -> Optional[str]:
    """The release a `version` label names: v1 -> 1.0, v2 -> 2.0, v1.5 -> 1.5 (None if another form)."""
    found = _LABEL_VERSION.match(label)
    return f"{found.group(1)}.{found.group(2) or 0}" if found else None


def _versions(deployment: Deployment) -> list:
    """LM0010: every version-bearing field agrees with the pod template's `version` label."""
    resource = deployment.resource
    template = ("spec", "template", "metadata", "labels")
    label = deployment.pod_labels.get(VERSION_LABEL)
    if label is not None:
        expected = label_to_version(label)
        if expected is None:
            return [message("LM0010", resource, (*template, VERSION_LABEL),
                            f'version label "{label}" is not of the form v<major> (v1 goes with 1.0)')]
        reference = f'the pod label version: {label} means "{expected}"'
    elif DD_VERSION_LABEL in deployment.pod_labels:
        expected = deployment.pod_labels[DD_VERSION_LABEL]
        reference = f'the pod label {DD_VERSION_LABEL} is "{expected}"'
    else:
        return []
    claims = []  # (field path, what it is, the release it claims)
    if VERSION_LABEL in deployment.labels:
        written = deployment.labels[VERSION_LABEL]
        claims.append((("metadata", "labels", VERSION_LABEL), "Deployment label version",
                       label_to_version(written) or written))
    for where, labels, path in (("Deployment", deployment.labels, ("metadata", "labels")),
                                ("pod", deployment.pod_labels, template)):
        for key in (DD_VERSION_LABEL, K8S_VERSION_LABEL):
            if key in labels:
                claims.append(((*path, key), f"{where} label {key}", labels[key]))
    found = []
    for c_index, container in enumerate(deployment.containers):
        base = ("spec", "template", "spec", "containers", c_index)
        if container.image:
            claims.append(((*base, "image"), f"image {container.image} tag", container.image_tag))
        for e_index, env in enumerate(container.env):
            if env.name != "DD_VERSION":
                continue
            path = (*base, "env", e_index)
            if env.value is not None:
                claims.append(((*path, "value"), "DD_VERSION", env.value))
            elif env.field_path:
                label_ref = _FIELD_LABEL.match(env.field_path)
                if label_ref is None:
                    continue
                if label_ref.group(1) not in deployment.pod_labels:
                    found.append(message("LM0010", resource, (*path, "valueFrom"),
                                         f"DD_VERSION reads label {label_ref.group(1)} that the pod template"
                                         " does not set"))
                    continue
                value = deployment.pod_labels[label_ref.group(1)]
                claims.append(((*path, "valueFrom"), f"DD_VERSION (from label {label_ref.group(1)})", value))
    for path, what, value in claims:
        if value != expected:
            found.append(message("LM0010", resource, path, f'{what} is "{value}" but {reference}'))
    return found


def _removed_settings(deployment: Deployment) -> list:
    found = []
    for c_index, container in enumerate(deployment.containers):
        for e_index, env in enumerate(container.env):
            if env.name in REMOVED_DD_SETTINGS:
                path = ("spec", "template", "spec", "containers", c_index, "env", e_index, "name")
                found.append(message("LM0014", deployment.resource, path,
                                     f"{env.name} was removed from ddtrace (3.0) and has no effect"))
    return found


def _services(mesh: Mesh, pods: list) -> list:
    """LM0011: a Service selects some pod (a Pod, or a workload's pod template) of its namespace;
    LM0012: its targetPort is a container port of each of them."""
    found = []
    for service in mesh.services:
        if service.type == "ExternalName" or service.namespace in IGNORED_NAMESPACES:
            continue
        selected = [
            pod for pod in pods
            if service.selector and pod.namespace == service.namespace
            and labels_match(service.selector, pod.labels)
        ]
        if not selected:
            text = "Service has no selector, so it selects no pod"
            if service.selector:
                text = (f"Service selector {service.selector} matches no pod or pod template in"
                        f" namespace {service.namespace}")
            found.append(message("LM0011", service.resource, ("spec", "selector"), text))
            continue
        for index, port in enumerate(service.ports):
            target = port.target_port
            written = "targetPort" if "targetPort" in _raw_port(service, index) else "port"
            path = ("spec", "ports", index, written)
            for pod in selected:
                if any(_port_matches(target, name, number) for name, number in pod.ports):
                    continue
                listed = ", ".join(f"{number}" + (f"/{name}" if name else "") for name, number in pod.ports)
                found.append(message(
                    "LM0012", service.resource, path,
                    f"targetPort {target} of port {port.port} is not a container port of {pod.origin}"
                    f" (its ports: {listed or 'none declared'})",
                ))
    return found


def _raw_port(service: Service, index: int) -> dict:
    ports = service.resource.spec.get("ports")
    item = ports[index] if isinstance(ports, list) and index < len(ports) else None
    return item if isinstance(item, dict) else {}


def _port_matches(target: object, name: Optional[str], number: object) -> bool:
    if isinstance(target, str) and not target.isdigit():
        return target == name
    return str(target) == str(number)


def _ads_url(mesh: Mesh, deployment: Deployment) -> list:
    """LM0013: a literal ADS_URL names a Service of the set and one of its ports."""
    found = []
    for c_index, container in enumerate(deployment.containers):
        for e_index, env in enumerate(container.env):
            if env.name != "ADS_URL" or env.value is None:
                continue
            path = ("spec", "template", "spec", "containers", c_index, "env", e_index, "value")
            try:
                url = urlsplit(env.value)
                port = url.port or _DEFAULT_PORTS.get(url.scheme)
            except ValueError:
                url, port = None, None
            if url is None or url.scheme not in _DEFAULT_PORTS or not url.hostname:
                found.append(message("LM0013", deployment.resource, path,
                                     f'ADS_URL "{env.value}" is not an http:// URL naming a Service'))
                continue
            fqdn = dns_fqdn(url.hostname, deployment.namespace)
            service = mesh.service_for(fqdn)
            if service is None:
                found.append(message("LM0013", deployment.resource, path,
                                     f'ADS_URL "{env.value}" names host {url.hostname} ({fqdn}), which no'
                                     " Service in the set defines"))
            elif service.port(port) is None:
                ports = ", ".join(str(p.port) for p in service.ports)
                found.append(message("LM0013", deployment.resource, path,
                                     f'ADS_URL "{env.value}" uses port {port}, but Service {service.name}'
                                     f" exposes {ports or 'no port'}"))
    return found
