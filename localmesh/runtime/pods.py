"""Pod spec resolution: what process a Deployment's pod template becomes on this machine.

Pure functions; the supervisor only starts what they return. Kubernetes rules kept:
env entries in order, `$(VAR)` expands earlier entries, fieldRef/secretKeyRef/configMapKeyRef
resolve as the kubelet would, with the node and pod addresses both 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from localmesh.loader import Kustomization, ManifestError, ManifestSource, Resource
from localmesh.model import Container, Deployment, EnvVar, Mesh, Probe
from localmesh.runtime.servicenames import ServiceAddressBook

LOCAL_IP = "127.0.0.1"
_LABEL_REF = re.compile(r"""^metadata\.(labels|annotations)\[['"]([^'"]+)['"]\]$""")
_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")
SERVICES_FOLDER = "services"  # where a checkout of this project keeps the images' sources
# Kept from the host so tools work; everything else a pod sees comes from its manifest.
HOST_ENV_KEPT = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


@dataclass(frozen=True)
class PodTemplate:
    """A Deployment's pod template, resolved except for what differs per pod."""

    deployment: str
    namespace: str
    labels: Mapping[str, str]
    command: tuple[str, ...]
    cwd: str
    env: tuple[EnvVar, ...]  # still unresolved (fieldRefs depend on the pod)
    readiness: Optional[Probe]
    liveness: Optional[Probe]
    grace_seconds: float
    secrets: Mapping = field(default_factory=dict)  # (ns, name) -> {key: value}, for env refs
    config_maps: Mapping = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    service_account: str = "default"
    source: str = ""  # "file:line" of the Deployment, for messages

    def fingerprint(self, addresses: ServiceAddressBook) -> str:
        """Changes when anything a pod would see changes: the kubelet's pod-template-hash."""
        env = resolve_env(self, "POD", addresses)
        blob = json.dumps(
            [self.command, self.cwd, sorted(self.labels.items()), sorted(env.items()),
             asdict(self.readiness) if self.readiness else None,
             asdict(self.liveness) if self.liveness else None],
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:5]


@dataclass(frozen=True)
class PodSpec:
    """One process to run: a pod of a Deployment."""

    name: str  # "<deployment>-<hash>-<index>"
    deployment: str
    namespace: str
    fingerprint: str
    index: int
    labels: Mapping[str, str]
    command: tuple
    cwd: str
    env: Mapping[str, str]
    port: int
    readiness: Optional[Probe]
    liveness: Optional[Probe]
    grace_seconds: float

    @property
    def version(self) -> Optional[str]:
        return self.labels.get("version") or self.labels.get("app.kubernetes.io/version")

    @property
    def readiness_path(self) -> Optional[str]:
        return self.readiness.path if self.readiness else None


def _fail(deployment: Deployment, path: tuple, reason: str) -> ManifestError:
    resource = deployment.resource
    where = resource.line_of(*path)
    return ManifestError(resource.source.path, where, f"Deployment {deployment.name}: {reason}")


def service_folder(image_name: str, services_dir: Path) -> Optional[Path]:
    """The folder an image is built from: ecommerce/advertisements[:2.0] -> services/advertisements."""
    last = image_name.rstrip("/").rsplit("/", 1)[-1]
    folder = services_dir / last
    return folder if last and folder.is_dir() else None


def find_services_dir(manifests: Iterable[ManifestSource]) -> Optional[Path]:
    """The services/ folder the images' sources live in: the nearest one in or above the folder
    of a manifest (a kustomization's own folder), trying the manifests in the order given; None
    when there is none."""
    for manifest in manifests:
        path = Path(manifest.folder if isinstance(manifest, Kustomization) else manifest).resolve()
        start = path if path.is_dir() else path.parent
        for folder in (start, *start.parents):
            if (folder / SERVICES_FOLDER).is_dir():
                return folder / SERVICES_FOLDER
    return None


def pod_template(deployment: Deployment, mesh: Mesh, services_dir: Path) -> PodTemplate:
    """Resolve what is the same for every pod of deployment; raises ManifestError naming the field."""
    base = ("spec", "template", "spec", "containers")
    if not deployment.containers:
        raise _fail(deployment, base, "has no containers to run")
    if len(deployment.containers) > 1:
        # One process per pod: a second container would need a second port and process.
        raise _fail(deployment, (*base, 1), "the local mesh runs one container per pod")
    container: Container = deployment.containers[0]
    folder = service_folder(container.image_name, services_dir)
    if folder is None:
        raise _fail(
            deployment, (*base, 0, "image"),
            f"image {container.image!r} names no folder under {services_dir} "
            f"(expected {services_dir / container.image_name.rsplit('/', 1)[-1]})",
        )
    command = list(container.command) + list(container.args)
    if not command:
        # No command: the image's entrypoint. The shop's images all run gunicorn this way.
        command = ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    template_spec = deployment.resource.spec.get("template", {}).get("spec", {}) or {}
    grace = template_spec.get("terminationGracePeriodSeconds", 30)
    metadata = (deployment.resource.spec.get("template", {}) or {}).get("metadata", {}) or {}
    annotations = {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()}
    template = PodTemplate(
        deployment=deployment.name,
        namespace=deployment.namespace,
        labels=dict(deployment.pod_labels),
        command=tuple(command),
        cwd=str(folder),
        env=tuple(container.env),
        readiness=container.readiness,
        liveness=container.liveness,
        grace_seconds=float(grace) if isinstance(grace, (int, float)) else 30.0,
        secrets=_key_values(mesh, "Secret", deployment.namespace),
        config_maps=_key_values(mesh, "ConfigMap", deployment.namespace),
        annotations=annotations,
        service_account=deployment.service_account or "default",
        source=str(deployment.resource.source),
    )
    check_env_refs(template, deployment)
    return template


def _key_values(mesh: Mesh, kind: str, namespace: str) -> dict:
    """name -> {key: value} of the Secrets or ConfigMaps in namespace (Secret data decoded)."""
    found: dict = {}
    for resource in mesh.inert:
        if resource.kind != kind or resource.namespace != namespace:
            continue
        found[resource.name] = _data_of(resource)
    return found


def _data_of(resource: Resource) -> dict:
    values: dict = {}
    for key, value in (resource.body.get("data") or {}).items():
        if resource.kind == "Secret":
            try:
                values[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise ManifestError(
                    resource.source.path, resource.line_of("data", key),
                    f"Secret {resource.name}: data.{key} is not base64 of UTF-8 text",
                ) from None
        else:
            values[str(key)] = str(value)
    for key, value in (resource.body.get("stringData") or {}).items():
        values[str(key)] = str(value)
    return values


def check_env_refs(template: PodTemplate, deployment: Deployment) -> None:
    """Every fieldRef must be one we know; every non-optional key ref must resolve."""
    for index, var in enumerate(template.env):
        path = ("spec", "template", "spec", "containers", 0, "env", index)
        if var.field_path is not None and _field_value(template, var.field_path, "POD") is None:
            reason = f"env {var.name}: fieldRef {var.field_path!r} is not supported locally"
            raise _fail(deployment, path, reason)
        for ref, store, what in ((var.secret_ref, template.secrets, "Secret"),
                                 (var.config_map_ref, template.config_maps, "ConfigMap")):
            if ref is None or ref.get("optional") is True:
                continue
            name, key = ref.get("name"), ref.get("key")
            if name not in store:
                raise _fail(
                    deployment, path,
                    f"env {var.name}: {what} {name!r} not found in namespace {template.namespace} "
                    "(apply it, or mark the reference optional: true)",
                )
            if key not in store[name]:
                raise _fail(deployment, path, f"env {var.name}: {what} {name!r} has no key {key!r}")


def _field_value(template: PodTemplate, field_path: str, pod_name: str) -> Optional[str]:
    simple = {
        "metadata.name": pod_name,
        "metadata.namespace": template.namespace,
        "status.hostIP": LOCAL_IP,
        "status.podIP": LOCAL_IP,
        "status.podIPs": LOCAL_IP,
        "status.hostIPs": LOCAL_IP,
        "spec.nodeName": "localhost",
        "spec.serviceAccountName": template.service_account,
    }
    if field_path in simple:
        return simple[field_path]
    ref = _LABEL_REF.match(field_path)
    if ref:
        source = template.labels if ref.group(1) == "labels" else template.annotations
        return source.get(ref.group(2), "")
    return None


def expand_vars(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: defined names expand, unknown ones stay, `$$` is `$`."""
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))
    return _VAR_REF.sub(replace, value)


def resolve_env(template: PodTemplate, pod_name: str, addresses: ServiceAddressBook) -> dict[str, str]:
    """The manifest's env for one pod, in order, with every reference resolved."""
    env: dict = {}
    for var in template.env:
        value = _env_value(template, var, pod_name)
        if value is None:
            continue  # an optional reference with nothing behind it: the variable is unset
        env[var.name] = addresses.rewrite(expand_vars(value, env), template.namespace)
    return env


def _env_value(template: PodTemplate, var: EnvVar, pod_name: str) -> Optional[str]:
    if var.field_path is not None:
        return _field_value(template, var.field_path, pod_name)
    for ref, store in ((var.secret_ref, template.secrets), (var.config_map_ref, template.config_maps)):
        if ref is not None:
            return store.get(ref.get("name"), {}).get(ref.get("key"))
    return var.value if var.value is not None else ""


def pod_name(deployment: str, fingerprint: str, index: int) -> str:
    """Like a ReplicaSet's pods: deployment, template hash, then (here) a stable index."""
    return f"{deployment}-{fingerprint}-{index}"


def pod_spec(
    template: PodTemplate,
    fingerprint: str,
    index: int,
    port: int,
    addresses: ServiceAddressBook,
    venv_bin: str,
    host_env: Optional[Mapping[str, str]] = None,
    home: Optional[str] = None,
) -> PodSpec:
    """One pod's process: the template plus its name, port and the local variables.

    home: the pod's own HOME (its private file system in a cluster), so tools that keep
    files there, such as gunicorn's control socket, do not collide between pods.
    """
    host_env = os.environ if host_env is None else host_env
    name = pod_name(template.deployment, fingerprint, index)
    manifest_env = resolve_env(template, name, addresses)
    env = {key: host_env[key] for key in HOST_ENV_KEPT if key in host_env}
    env.update(manifest_env)
    env.update({
        "PATH": os.pathsep.join(p for p in (venv_bin, host_env.get("PATH", "/usr/bin:/bin")) if p),
        "HOSTNAME": name,
        # The pod's own port and address; the manifests' containerPort is the in-cluster one.
        "PORT": str(port),
        "BIND_HOST": LOCAL_IP,
        "PYTHONUNBUFFERED": "1",
    })
    if home is not None:
        env["HOME"] = home
    command = tuple(expand_vars(part, env) for part in template.command)
    return PodSpec(
        name=name,
        deployment=template.deployment,
        namespace=template.namespace,
        fingerprint=fingerprint,
        index=index,
        labels=dict(template.labels),
        command=command,
        cwd=template.cwd,
        env=env,
        port=port,
        readiness=template.readiness,
        liveness=template.liveness,
        grace_seconds=template.grace_seconds,
    )
