"""The typed model of the manifests: what Kubernetes and istiod would see.

Built from loader.Resource objects. Values are taken as written; judging them is the
analyzer's job, so the model only raises ManifestError where a value cannot be read at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from localmesh.loader import ManifestError, Resource, Source

CLUSTER_DOMAIN = "svc.cluster.local"

# Kinds the local mesh understands, by (API group, kind).
WORKLOAD_KINDS = {("apps", "Deployment")}
ROUTING_KINDS = {
    ("", "Service"),
    ("networking.istio.io", "VirtualService"),
    ("networking.istio.io", "DestinationRule"),
    ("networking.istio.io", "Gateway"),
}
# Accepted and kept, but with no effect on local routing (the README says why for each).
INERT_KINDS = {
    ("", "Namespace"),
    ("", "ServiceAccount"),
    ("", "Secret"),
    ("", "ConfigMap"),
    ("security.istio.io", "PeerAuthentication"),
    ("security.istio.io", "AuthorizationPolicy"),
}
SUPPORTED_KINDS = WORKLOAD_KINDS | ROUTING_KINDS | INERT_KINDS

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_duration(text: Any) -> Optional[float]:
    """Seconds in an Istio/Go duration such as '2s', '1.5s', '100ms' or '1m30s'; None if unreadable."""
    if not isinstance(text, str) or not text:
        return None
    position, total = 0, 0.0
    for part in _DURATION_PART.finditer(text):
        if part.start() != position:
            return None
        total += float(part.group(1)) * _DURATION_UNITS[part.group(2)]
        position = part.end()
    return total if position == len(text) else None


def resolve_host(host: str, namespace: str) -> str:
    """The FQDN a host name means when written in namespace.

    As istiod's ResolveShortnameToFQDN (pilot/pkg/model/config.go, Istio 1.29): only a name
    without a dot is expanded; 'advertisements.ns3', '*' and IP addresses are taken literally.
    """
    if host == "*" or "." in host or ":" in host or not host:
        return host
    return f"{host}.{namespace}.{CLUSTER_DOMAIN}"


def dns_fqdn(host: str, namespace: str) -> str:
    """The Service FQDN a pod's DNS lookup of host finds, through the Kubernetes search path
    (<namespace>.svc.cluster.local, svc.cluster.local, cluster.local). DNS, not Istio, so
    'advertisements.ns3' here means advertisements.ns3.svc.cluster.local."""
    host = host.lower().rstrip(".")
    parts = host.split(".")
    if len(parts) == 1:
        return f"{host}.{namespace}.{CLUSTER_DOMAIN}"
    if len(parts) == 2:
        return f"{host}.{CLUSTER_DOMAIN}"
    if len(parts) == 3 and parts[2] == "svc":
        return f"{host}.cluster.local"
    return host


def labels_match(selector: dict, labels: dict) -> bool:
    """True when every selector label is among labels (Kubernetes equality selector)."""
    return all(labels.get(key) == value for key, value in selector.items())


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _str_dict(value: Any) -> dict:
    return {str(k): str(v) for k, v in _dict(value).items()}


# ---- Kubernetes -------------------------------------------------------------------------


@dataclass
class EnvVar:
    name: str
    value: Optional[str] = None
    field_path: Optional[str] = None
    secret_ref: Optional[dict] = None  # {"name", "key", "optional"}
    config_map_ref: Optional[dict] = None
    source: Optional[Source] = None


@dataclass
class Probe:
    """An httpGet probe; the timing fields default as in Kubernetes."""

    path: str
    port: Union[int, str]
    period_seconds: float = 10.0
    timeout_seconds: float = 1.0
    failure_threshold: int = 3
    initial_delay_seconds: float = 0.0
    success_threshold: int = 1


@dataclass
class ContainerPort:
    name: Optional[str]
    container_port: int


@dataclass
class Container:
    name: str
    image: str
    command: list
    args: list
    env: list
    ports: list
    readiness: Optional[Probe]
    liveness: Optional[Probe]

    @property
    def image_name(self) -> str:
        """The image without its tag: 'ecommerce/advertisements'."""
        name = self.image.rsplit("@", 1)[0]
        return name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name

    @property
    def image_tag(self) -> str:
        name = self.image.rsplit("@", 1)[0]
        last = name.rsplit("/", 1)[-1]
        return last.rsplit(":", 1)[1] if ":" in last else "latest"

    def port_number(self, port: Union[int, str]) -> Optional[int]:
        """A probe or Service targetPort, by number or by container port name."""
        if isinstance(port, int):
            return port
        for candidate in self.ports:
            if candidate.name == port:
                return candidate.container_port
        return int(port) if isinstance(port, str) and port.isdigit() else None


@dataclass
class Deployment:
    name: str
    namespace: str
    labels: dict
    selector: dict
    pod_labels: dict
    replicas: int
    containers: list
    service_account: Optional[str]
    resource: Resource

    @property
    def version(self) -> Optional[str]:
        return self.pod_labels.get("version") or self.pod_labels.get("app.kubernetes.io/version")


@dataclass
class ServicePort:
    name: Optional[str]
    port: int
    target_port: Union[int, str]
    protocol: str
    app_protocol: Optional[str]
    node_port: Optional[int] = None


@dataclass
class Service:
    name: str
    namespace: str
    selector: dict
    ports: list
    type: str
    resource: Resource

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.namespace}.{CLUSTER_DOMAIN}"

    def port(self, number: Optional[int] = None) -> Optional[ServicePort]:
        """The port with that number, or the only port when number is None."""
        if number is None:
            return self.ports[0] if len(self.ports) == 1 else None
        return next((p for p in self.ports if p.port == number), None)


# ---- Istio networking -------------------------------------------------------------------


@dataclass(frozen=True)
class StringMatch:
    kind: str  # "exact", "prefix" or "regex"
    value: str


@dataclass
class HeaderMatch:
    name: str  # lower-case, as Envoy stores header names
    match: Optional[StringMatch]  # None: the header must be present (or absent, in withoutHeaders)


@dataclass
class HttpMatch:
    uri: Optional[StringMatch]
    method: Optional[StringMatch]
    authority: Optional[StringMatch]
    headers: list
    without_headers: list
    query_params: list  # HeaderMatch objects keyed by parameter name
    ignore_uri_case: bool
    raw: dict
    path: tuple  # where it was written, for messages

    @property
    def is_catch_all(self) -> bool:
        """Matches every request: nothing but a '/' prefix or '.*' regex on the URI."""
        if self.method or self.authority or self.headers or self.without_headers or self.query_params:
            return False
        if _dict(self.raw).keys() - {"uri", "name", "ignoreUriCase"}:
            return False
        return self.uri is None or self.uri in (StringMatch("prefix", "/"), StringMatch("regex", ".*"))


@dataclass
class Destination:
    host: str  # as written
    fqdn: str
    subset: Optional[str]
    port: Optional[int]


@dataclass
class RouteDestination:
    destination: Destination
    weight: Optional[int]
    path: tuple


@dataclass
class Retries:
    attempts: int
    per_try_timeout: Optional[float]
    retry_on: Optional[str]


@dataclass
class Fault:
    delay_seconds: Optional[float] = None
    delay_percent: float = 100.0
    abort_status: Optional[int] = None
    abort_percent: float = 100.0


@dataclass
class HttpRoute:
    name: Optional[str]
    matches: list
    route: list
    timeout: Optional[float]
    retries: Optional[Retries]
    fault: Optional[Fault]
    raw: dict
    path: tuple

    @property
    def is_catch_all(self) -> bool:
        return not self.matches or any(match.is_catch_all for match in self.matches)


@dataclass
class VirtualService:
    name: str
    namespace: str
    hosts: list  # as written
    gateways: list  # "mesh" or "<ns>/<name>"
    http: list
    resource: Resource

    @property
    def host_fqdns(self) -> list:
        return [resolve_host(host, self.namespace) for host in self.hosts]

    @property
    def applies_to_mesh(self) -> bool:
        return not self.gateways or "mesh" in self.gateways


@dataclass
class Subset:
    name: str
    labels: dict
    traffic_policy: dict
    path: tuple


@dataclass
class DestinationRule:
    name: str
    namespace: str
    host: str
    fqdn: str
    subsets: list
    traffic_policy: dict
    resource: Resource

    def subset(self, name: str) -> Optional[Subset]:
        return next((s for s in self.subsets if s.name == name), None)

    def policy_for(self, subset: Optional[str]) -> dict:
        """The subset's trafficPolicy merged over the rule's, field by field (Istio's merge)."""
        policy = dict(self.traffic_policy)
        found = self.subset(subset) if subset else None
        if found:
            policy.update(found.traffic_policy)
        return policy


@dataclass
class GatewayServer:
    port: int
    protocol: str
    hosts: list


@dataclass
class Gateway:
    name: str
    namespace: str
    selector: dict
    servers: list
    resource: Resource

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


# ---- The whole set ----------------------------------------------------------------------


@dataclass
class Mesh:
    deployments: list = field(default_factory=list)
    services: list = field(default_factory=list)
    virtual_services: list = field(default_factory=list)
    destination_rules: list = field(default_factory=list)
    gateways: list = field(default_factory=list)
    inert: list = field(default_factory=list)  # accepted resources with no local effect

    def service_for(self, fqdn: str) -> Optional[Service]:
        return next((s for s in self.services if s.fqdn == fqdn), None)

    def destination_rule_for(self, fqdn: str) -> Optional[DestinationRule]:
        return next((r for r in self.destination_rules if r.fqdn == fqdn), None)

    def mesh_virtual_service_for(self, fqdn: str) -> Optional[VirtualService]:
        return next(
            (vs for vs in self.virtual_services if vs.applies_to_mesh and fqdn in vs.host_fqdns), None
        )

    def gateway_virtual_services(self, gateway: Gateway) -> list:
        """VirtualServices bound to gateway ('name' in its namespace or 'ns/name')."""
        bound = []
        for vs in self.virtual_services:
            refs = {ref if "/" in ref else f"{vs.namespace}/{ref}" for ref in vs.gateways}
            if gateway.ref in refs:
                bound.append(vs)
        return bound

    def pods_selected(self, service: Service) -> list:
        """Deployments whose pod labels the Service selects, in its namespace."""
        if not service.selector:
            return []
        return [
            d for d in self.deployments
            if d.namespace == service.namespace and labels_match(service.selector, d.pod_labels)
        ]


def build_mesh(resources: Iterable[Resource]) -> Mesh:
    """The model of a set of resources; a later resource with the same kind/namespace/name wins,
    as with `kubectl apply` of the files in order."""
    latest: dict = {}
    for resource in resources:
        latest.pop(resource.key, None)
        latest[resource.key] = resource
    mesh = Mesh()
    for resource in latest.values():
        kind = (resource.group, resource.kind)
        if kind == ("apps", "Deployment"):
            mesh.deployments.append(build_deployment(resource))
        elif kind == ("", "Service"):
            mesh.services.append(build_service(resource))
        elif kind == ("networking.istio.io", "VirtualService"):
            mesh.virtual_services.append(build_virtual_service(resource))
        elif kind == ("networking.istio.io", "DestinationRule"):
            mesh.destination_rules.append(build_destination_rule(resource))
        elif kind == ("networking.istio.io", "Gateway"):
            mesh.gateways.append(build_gateway(resource))
        elif kind in INERT_KINDS:
            mesh.inert.append(resource)
        else:
            raise ManifestError(
                resource.source.path,
                resource.source.line,
                f"kind {resource.kind} ({resource.api_version}) is not supported by the local mesh",
            )
    return mesh


def _int(resource: Resource, value: Any, path: tuple, default: Optional[int] = None) -> Optional[int]:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        reason = f"{_dotted(path)}: expected an integer, got {value!r}"
        raise ManifestError(resource.source.path, resource.line_of(*path), reason)
    return value


def _dotted(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def build_deployment(resource: Resource) -> Deployment:
    spec = resource.spec
    template = _dict(spec.get("template"))
    pod_spec = _dict(template.get("spec"))
    containers = []
    for index, raw in enumerate(_list(pod_spec.get("containers"))):
        containers.append(_container(resource, _dict(raw), ("spec", "template", "spec", "containers", index)))
    return Deployment(
        name=resource.name,
        namespace=resource.namespace,
        labels=_str_dict(_dict(resource.body.get("metadata")).get("labels")),
        selector=_str_dict(_dict(spec.get("selector")).get("matchLabels")),
        pod_labels=_str_dict(_dict(template.get("metadata")).get("labels")),
        replicas=_int(resource, spec.get("replicas"), ("spec", "replicas"), 1),
        containers=containers,
        service_account=pod_spec.get("serviceAccountName"),
        resource=resource,
    )


def _container(resource: Resource, raw: dict, path: tuple) -> Container:
    env = []
    for index, item in enumerate(_list(raw.get("env"))):
        item = _dict(item)
        value_from = _dict(item.get("valueFrom"))
        env.append(
            EnvVar(
                name=str(item.get("name", "")),
                value=None if item.get("value") is None else str(item.get("value")),
                field_path=_dict(value_from.get("fieldRef")).get("fieldPath"),
                secret_ref=_dict(value_from.get("secretKeyRef")) or None,
                config_map_ref=_dict(value_from.get("configMapKeyRef")) or None,
                source=resource.source_of(*path, "env", index),
            )
        )
    ports = [
        ContainerPort(name=_dict(p).get("name"), container_port=_dict(p).get("containerPort"))
        for p in _list(raw.get("ports"))
    ]
    return Container(
        name=str(raw.get("name", "")),
        image=str(raw.get("image", "")),
        command=[str(part) for part in _list(raw.get("command"))],
        args=[str(part) for part in _list(raw.get("args"))],
        env=env,
        ports=ports,
        readiness=_probe(raw.get("readinessProbe")),
        liveness=_probe(raw.get("livenessProbe")),
    )


def _probe(raw: Any) -> Optional[Probe]:
    get = _dict(_dict(raw).get("httpGet"))
    if not get:
        return None
    raw = _dict(raw)

    def number(key: str, default: int) -> int:
        # As the API server's defaulting: an absent or 0 field takes the default (the schema,
        # LM0002, refuses a non-integer).
        value = raw.get(key)
        ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        return value if ok else default

    return Probe(
        path=str(get.get("path", "/")),
        port=get.get("port"),
        period_seconds=float(number("periodSeconds", 10)),
        timeout_seconds=float(number("timeoutSeconds", 1)),
        failure_threshold=number("failureThreshold", 3),
        initial_delay_seconds=float(number("initialDelaySeconds", 0)),
        success_threshold=number("successThreshold", 1),
    )


def build_service(resource: Resource) -> Service:
    spec = resource.spec
    ports = []
    for index, raw in enumerate(_list(spec.get("ports"))):
        raw = _dict(raw)
        number = _int(resource, raw.get("port"), ("spec", "ports", index, "port"))
        ports.append(
            ServicePort(
                name=raw.get("name"),
                port=number,
                target_port=raw.get("targetPort", number),
                protocol=str(raw.get("protocol", "TCP")),
                app_protocol=raw.get("appProtocol"),
                node_port=raw.get("nodePort"),
            )
        )
    return Service(
        name=resource.name,
        namespace=resource.namespace,
        selector=_str_dict(spec.get("selector")),
        ports=ports,
        type=str(spec.get("type", "ClusterIP")),
        resource=resource,
    )


def _string_match(raw: Any) -> Optional[StringMatch]:
    raw = _dict(raw)
    for kind in ("exact", "prefix", "regex"):
        if kind in raw:
            return StringMatch(kind, str(raw[kind]))
    return None


def _header_matches(raw: Any) -> list:
    return [HeaderMatch(str(name).lower(), _string_match(value)) for name, value in _dict(raw).items()]


def build_virtual_service(resource: Resource) -> VirtualService:
    spec = resource.spec
    routes = []
    for index, raw in enumerate(_list(spec.get("http"))):
        routes.append(_http_route(resource, _dict(raw), ("spec", "http", index)))
    return VirtualService(
        name=resource.name,
        namespace=resource.namespace,
        hosts=[str(h) for h in _list(spec.get("hosts"))],
        gateways=[str(g) for g in _list(spec.get("gateways"))],
        http=routes,
        resource=resource,
    )


def _http_route(resource: Resource, raw: dict, path: tuple) -> HttpRoute:
    matches = []
    for index, match in enumerate(_list(raw.get("match"))):
        match = _dict(match)
        matches.append(
            HttpMatch(
                uri=_string_match(match.get("uri")),
                method=_string_match(match.get("method")),
                authority=_string_match(match.get("authority")),
                headers=_header_matches(match.get("headers")),
                without_headers=_header_matches(match.get("withoutHeaders")),
                query_params=[
                    HeaderMatch(str(k), _string_match(v)) for k, v in _dict(match.get("queryParams")).items()
                ],
                ignore_uri_case=bool(match.get("ignoreUriCase", False)),
                raw=match,
                path=path + ("match", index),
            )
        )
    destinations = []
    for index, item in enumerate(_list(raw.get("route"))):
        item = _dict(item)
        dest = _dict(item.get("destination"))
        host = str(dest.get("host", ""))
        port = _dict(dest.get("port")).get("number")
        destinations.append(
            RouteDestination(
                destination=Destination(
                    host=host,
                    fqdn=resolve_host(host, resource.namespace),
                    subset=dest.get("subset"),
                    port=port,
                ),
                weight=item.get("weight"),
                path=path + ("route", index),
            )
        )
    retries = None
    if isinstance(raw.get("retries"), dict):
        r = raw["retries"]
        retries = Retries(
            attempts=int(r.get("attempts", 0) or 0),
            per_try_timeout=parse_duration(r.get("perTryTimeout")),
            retry_on=r.get("retryOn"),
        )
    fault = None
    if isinstance(raw.get("fault"), dict):
        delay = _dict(raw["fault"].get("delay"))
        abort = _dict(raw["fault"].get("abort"))
        fault = Fault(
            delay_seconds=parse_duration(delay.get("fixedDelay")) if delay else None,
            delay_percent=float(_dict(delay.get("percentage")).get("value", 100)) if delay else 100.0,
            abort_status=abort.get("httpStatus") if abort else None,
            abort_percent=float(_dict(abort.get("percentage")).get("value", 100)) if abort else 100.0,
        )
    return HttpRoute(
        name=raw.get("name"),
        matches=matches,
        route=destinations,
        timeout=parse_duration(raw.get("timeout")),
        retries=retries,
        fault=fault,
        raw=raw,
        path=path,
    )


def build_destination_rule(resource: Resource) -> DestinationRule:
    spec = resource.spec
    host = str(spec.get("host", ""))
    subsets = [
        Subset(
            name=str(_dict(raw).get("name", "")),
            labels=_str_dict(_dict(raw).get("labels")),
            traffic_policy=_dict(_dict(raw).get("trafficPolicy")),
            path=("spec", "subsets", index),
        )
        for index, raw in enumerate(_list(spec.get("subsets")))
    ]
    return DestinationRule(
        name=resource.name,
        namespace=resource.namespace,
        host=host,
        fqdn=resolve_host(host, resource.namespace),
        subsets=subsets,
        traffic_policy=_dict(spec.get("trafficPolicy")),
        resource=resource,
    )


def build_gateway(resource: Resource) -> Gateway:
    spec = resource.spec
    servers = []
    for raw in _list(spec.get("servers")):
        port = _dict(_dict(raw).get("port"))
        servers.append(
            GatewayServer(
                port=port.get("number"),
                protocol=str(port.get("protocol", "HTTP")).upper(),
                hosts=[str(h) for h in _list(_dict(raw).get("hosts"))],
            )
        )
    return Gateway(
        name=resource.name,
        namespace=resource.namespace,
        selector=_str_dict(spec.get("selector")),
        servers=servers,
        resource=resource,
    )
