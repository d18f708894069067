"""The typed model of the manifests: what Kubernetes and istiod would see.

Built from loader.Resource objects. Values are taken as written; judging them is the
analyzer's job, so the model only raises ManifestError where a value cannot be read at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Optional, Union

from localmesh.fields import FieldPath, as_dict, as_list, dotted
from localmesh.hostnames import is_wildcard, subset_of
from localmesh.loader import ManifestError, Resource, Source, latest_by_key

CLUSTER_DOMAIN = "svc.cluster.local"
# meshConfig.rootNamespace's default: its DestinationRules are the last resort for every proxy.
ROOT_NAMESPACE = "istio-system"
# The proxy localmesh's gateway listener plays: Istio's default ingress gateway (istioctl's
# default and demo profiles), its namespace and the labels of its pods.
INGRESS_GATEWAY_NAMESPACE = "istio-system"
INGRESS_GATEWAY_LABELS = {"app": "istio-ingressgateway", "istio": "ingressgateway"}
MESH_GATEWAY = "mesh"
# exportTo values (pkg/config/visibility); no exportTo means "*" (meshConfig's defaults).
EXPORT_PUBLIC, EXPORT_PRIVATE, EXPORT_NONE = "*", ".", "~"
EXPORT_TO_ANNOTATION = "networking.istio.io/exportTo"

# Accepted and kept without a warning, though they do not change local routing. Any other kind
# is accepted as a cluster would, with a warning that it does nothing here.
INERT_KINDS = {
    ("", "Namespace"),  # names resources; every pod is behind Envoy without injection
    ("", "ServiceAccount"),  # spec.serviceAccountName reaches fieldRef; no identity otherwise
    ("", "Secret"),  # the values of secretKeyRef and configMapKeyRef env entries
    ("", "ConfigMap"),
    ("security.istio.io", "PeerAuthentication"),  # plain HTTP on loopback: no mTLS to configure
    ("security.istio.io", "AuthorizationPolicy"),  # local calls carry no workload identity to check
}

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


def resolve_gateway_name(name: str, namespace: str) -> str:
    """'ns/name' of a gateway a VirtualService in namespace binds, as istiod's resolveGatewayName
    (pilot/pkg/model/config.go, Istio 1.29): 'name' is in namespace, './name' too, the legacy
    'name.ns(.svc.cluster.local)' is in ns; 'mesh' stays 'mesh'."""
    if name == MESH_GATEWAY:
        return name
    if "/" in name:
        scope, _, rest = name.partition("/")
        return f"{namespace}/{rest}" if scope == "." else name
    if "." not in name:
        return f"{namespace}/{name}"
    short, _, rest = name.partition(".")
    return f"{rest.split('.', 1)[0]}/{short}"


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


def labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """True when every selector label is among labels (Kubernetes equality selector)."""
    return all(labels.get(key) == value for key, value in selector.items())


def _str_dict(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_dict(value).items()}


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
    command: list[str]
    args: list[str]
    env: list[EnvVar]
    ports: list[ContainerPort]
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


@dataclass
class Deployment:
    name: str
    namespace: str
    labels: dict[str, str]
    selector: dict[str, str]
    pod_labels: dict[str, str]
    replicas: int
    containers: list[Container]
    service_account: Optional[str]
    resource: Resource


# Istio's protocol names (pkg/config/protocol) and the ports Istio treats as TCP without a name.
MESH_PROTOCOLS = {
    "tcp": "TCP", "udp": "UDP", "grpc": "GRPC", "grpc-web": "GRPC-Web", "http": "HTTP",
    "http_proxy": "HTTP_PROXY", "http2": "HTTP2", "https": "HTTPS", "tls": "TLS", "mongo": "Mongo",
    "redis": "Redis", "mysql": "MySQL",
}
WELL_KNOWN_TCP_PORTS = {25, 53, 3306, 27017}
HTTP_PROTOCOLS = {"HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-Web"}
HTTP2_PROTOCOLS = {"HTTP2", "GRPC", "GRPC-Web"}
SNIFFED = "UnsupportedProtocol"


@dataclass
class ServicePort:
    name: Optional[str]
    port: int
    target_port: Union[int, str]
    protocol: str
    app_protocol: Optional[str]

    @property
    def mesh_protocol(self) -> str:
        """What Istio carries on the port (kube ConvertProtocol, Istio 1.29): appProtocol, else
        the port name up to its first '-'; SNIFFED when neither names a protocol."""
        if self.protocol.upper() == "UDP":
            return "UDP"
        name = self.app_protocol if self.app_protocol is not None else (self.name or "")
        standard = {"kubernetes.io/h2c": "HTTP2", "kubernetes.io/ws": "HTTP", "kubernetes.io/wss": "HTTPS"}
        if self.app_protocol is not None and name in standard:
            return standard[name]
        if name.lower().startswith("grpc-web"):
            return "GRPC-Web"
        found = MESH_PROTOCOLS.get(name.split("-", 1)[0].lower())
        if found is None and self.port in WELL_KNOWN_TCP_PORTS:
            return "TCP"
        return found or SNIFFED


@dataclass
class Service:
    name: str
    namespace: str
    selector: dict[str, str]
    ports: list[ServicePort]
    type: str
    resource: Resource
    export_to: tuple[str, ...] = ()  # the networking.istio.io/exportTo annotation, split at commas
    external_name: Optional[str] = None  # spec.externalName of a type ExternalName Service

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

    @property
    def means_present(self) -> bool:
        """regex "*" is no RE2 pattern: istiod reads it as "the header is present"."""
        return self.kind == "regex" and self.value == "*"


@dataclass
class HeaderMatch:
    name: str  # lower-case, as Envoy stores header names
    match: Optional[StringMatch]  # None: the header must be present (or absent, in withoutHeaders)


@dataclass
class HttpMatch:
    uri: Optional[StringMatch]
    method: Optional[StringMatch]
    authority: Optional[StringMatch]
    headers: list[HeaderMatch]
    without_headers: list[HeaderMatch]
    query_params: list[HeaderMatch]  # keyed by parameter name
    ignore_uri_case: bool
    path: FieldPath  # where it was written, for messages
    scheme: Optional[StringMatch] = None
    port: Optional[int] = None
    gateways: list[str] = field(default_factory=list)
    source_labels: dict[str, str] = field(default_factory=dict)
    source_namespace: Optional[str] = None
    name: Optional[str] = None
    stat_prefix: Optional[str] = None
    unknown_fields: tuple[str, ...] = ()  # keys that are no field of HTTPMatchRequest

    @property
    def is_catch_all(self) -> bool:
        """Matches every request: nothing but a '/' prefix or '.*' regex on the URI."""
        conditions = (
            self.method, self.authority, self.headers, self.without_headers, self.query_params, self.scheme,
            self.port, self.gateways, self.source_labels, self.source_namespace, self.stat_prefix,
            self.unknown_fields,
        )
        if any(conditions):
            return False
        return self.uri is None or self.uri in (StringMatch("prefix", "/"), StringMatch("regex", ".*"))


@dataclass
class Destination:
    host: str  # as written
    fqdn: str
    subset: Optional[str]
    port: Optional[int]


@dataclass
class HeaderOperations:
    """One side (request or response) of Istio's `headers`: set, add, remove, in that meaning."""

    set: list[tuple[str, str]]  # (name, value) as written
    add: list[tuple[str, str]]
    remove: list[str]
    path: FieldPath
    unknown_fields: tuple[str, ...] = ()


@dataclass
class Headers:
    request: Optional[HeaderOperations]
    response: Optional[HeaderOperations]
    path: FieldPath
    unknown_fields: tuple[str, ...] = ()


@dataclass
class RouteDestination:
    destination: Destination
    weight: Optional[int]
    path: FieldPath
    headers: Optional[Headers] = None
    unknown_fields: tuple[str, ...] = ()


@dataclass
class Retries:
    attempts: int
    per_try_timeout: Optional[float]
    retry_on: Optional[str]
    backoff: Optional[float] = None
    retry_remote_localities: Optional[bool] = None
    retry_ignore_previous_hosts: Optional[bool] = None
    path: FieldPath = ()
    unknown_fields: tuple[str, ...] = ()


@dataclass
class Fault:
    """Istio's fault injection with its defaults: no `percentage` (nor the deprecated integer
    `delay.percent`) means 0 %, nothing is injected."""

    # Optional fields then path and unknown_fields, the shape of ConsistentHash and of every
    # message type here: alike on purpose, each mirrors one Istio message.

    delay_seconds: Optional[float] = None
    delay_percent: float = 0.0
    abort_status: Optional[int] = None
    abort_percent: float = 0.0
    abort_grpc_status: Optional[str] = None
    delay_unsupported: tuple[str, ...] = ()  # delay kinds other than fixedDelay (exponentialDelay)
    abort_unsupported: tuple[str, ...] = ()  # abort kinds other than httpStatus/grpcStatus (http2Error)
    path: FieldPath = ()
    unknown_fields: tuple[str, ...] = ()


@dataclass
class Redirect:
    uri: Optional[str]
    authority: Optional[str]
    scheme: Optional[str]
    port: Optional[int]
    derive_port: Optional[str]  # FROM_PROTOCOL_DEFAULT or FROM_REQUEST_PORT
    redirect_code: Optional[int]
    path: FieldPath
    unknown_fields: tuple[str, ...] = ()


@dataclass
class Rewrite:
    uri: Optional[str]
    authority: Optional[str]
    uri_regex: Optional[tuple[str, str]]  # (match, rewrite)
    path: FieldPath
    unknown_fields: tuple[str, ...] = ()


@dataclass
class DirectResponse:
    status: int
    body_string: Optional[str]
    body_bytes: Optional[str]  # base64, as written
    path: FieldPath
    unknown_fields: tuple[str, ...] = ()


@dataclass
class CorsPolicy:
    allow_origins: list[StringMatch]  # (allowOrigins, or the deprecated allowOrigin as exact)
    allow_methods: list[str]
    allow_headers: list[str]
    expose_headers: list[str]
    max_age: Optional[float]
    allow_credentials: Optional[bool]
    unmatched_preflights: Optional[str]
    path: FieldPath
    unknown_fields: tuple[str, ...] = ()


@dataclass
class Mirror:
    """One mirror destination and the share of requests copied to it (None: Istio's 100 %)."""

    destination: Destination
    percent: Optional[float]
    path: FieldPath


@dataclass
class HttpRoute:
    name: Optional[str]
    matches: list[HttpMatch]
    route: list[RouteDestination]
    timeout: Optional[float]
    retries: Optional[Retries]
    fault: Optional[Fault]
    path: FieldPath
    headers: Optional[Headers] = None
    redirect: Optional[Redirect] = None
    rewrite: Optional[Rewrite] = None
    direct_response: Optional[DirectResponse] = None
    cors: Optional[CorsPolicy] = None
    mirrors: list[Mirror] = field(default_factory=list)
    delegate: Optional[dict] = None
    unknown_fields: tuple[str, ...] = ()

    @property
    def is_catch_all(self) -> bool:
        return not self.matches or any(match.is_catch_all for match in self.matches)


@dataclass
class VirtualService:
    name: str
    namespace: str
    hosts: list[str]  # as written
    gateways: list[str]  # as written; gateway_refs resolves them
    http: list[HttpRoute]
    resource: Resource
    export_to: tuple[str, ...] = ()  # spec.exportTo as written; () when absent

    @property
    def host_fqdns(self) -> list[str]:
        return [resolve_host(host, self.namespace) for host in self.hosts]

    @property
    def gateway_refs(self) -> list[str]:
        """The gateways it binds, 'mesh' or 'ns/name'; no `gateways` means the mesh only."""
        if not self.gateways:
            return [MESH_GATEWAY]
        return [resolve_gateway_name(g, self.namespace) for g in self.gateways]


@dataclass
class ConsistentHash:
    """DestinationRule loadBalancer.consistentHash: the hash key and the hashing algorithm."""

    # Shaped like Fault and the other message types here on purpose: one Istio message each.

    header: Optional[str] = None
    cookie: Optional[dict] = None  # {"name", "path", "ttl" (seconds or None), "attributes"}
    source_ip: bool = False
    query_parameter: Optional[str] = None
    ring_hash_minimum: Optional[int] = None  # ringHash.minimumRingSize or the deprecated field
    maglev_table_size: Optional[int] = None
    maglev: bool = False
    path: FieldPath = ()
    unknown_fields: tuple[str, ...] = ()


@dataclass
class LoadBalancer:
    simple: Optional[str]
    consistent_hash: Optional[ConsistentHash]
    warmup_seconds: Optional[float]  # warmup.duration or warmupDurationSecs
    warmup_aggression: Optional[float]
    warmup_minimum_percent: Optional[float]
    locality: Optional[dict]  # localityLbSetting
    path: FieldPath
    unknown_fields: tuple[str, ...] = ()
    resource: Optional[Resource] = None  # where it was written


@dataclass
class PolicySection:
    """A part of a trafficPolicy whose fields the Envoy builders map one by one."""

    values: dict
    path: FieldPath
    resource: Optional[Resource] = None  # where it was written


@dataclass
class PortTrafficPolicy:
    port: Optional[int]
    load_balancer: Optional[LoadBalancer]
    connection_pool: Optional[PolicySection]
    outlier_detection: Optional[PolicySection]
    tls: Optional[PolicySection]
    path: FieldPath
    unknown_fields: tuple[str, ...] = ()


@dataclass
class TrafficPolicy:
    load_balancer: Optional[LoadBalancer]
    connection_pool: Optional[PolicySection]
    outlier_detection: Optional[PolicySection]
    tls: Optional[PolicySection]
    tunnel: Optional[PolicySection]
    proxy_protocol: Optional[PolicySection]
    retry_budget: Optional[PolicySection]
    port_level: list[PortTrafficPolicy]
    resource: Resource  # where it was written (a merged rule's subsets come from several files)
    path: FieldPath
    unknown_fields: tuple[str, ...] = ()


@dataclass
class Subset:
    name: str
    labels: dict[str, str]
    traffic_policy: Optional[TrafficPolicy]
    path: FieldPath
    resource: Optional[Resource] = None


@dataclass
class DestinationRule:
    name: str
    namespace: str
    host: str
    fqdn: str
    subsets: list[Subset]
    traffic_policy: Optional[TrafficPolicy]
    resource: Resource
    workload_selector: Optional[dict] = None
    merged_from: tuple[str, ...] = ()  # "ns/name" of every rule istiod merged into this one
    export_to: tuple[str, ...] = ()  # spec.exportTo as written; () when absent
    merged: tuple[DestinationRule, ...] = ()  # the DestinationRules merged into this one, in merge order

    def subset(self, name: str) -> Optional[Subset]:
        return next((s for s in self.subsets if s.name == name), None)


@dataclass
class GatewayServer:
    port: int
    protocol: str
    hosts: list[str]
    https_redirect: bool = False
    path: FieldPath = ()
    # Written fields the local gateway cannot honour, as paths: bind, defaultEndpoint,
    # port.targetPort, and TLS settings other than httpsRedirect.
    unhonoured: tuple[FieldPath, ...] = ()


@dataclass
class Gateway:
    name: str
    namespace: str
    selector: dict[str, str]
    servers: list[GatewayServer]
    resource: Resource

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


# ---- The whole set ----------------------------------------------------------------------


@dataclass
class Mesh:
    deployments: list[Deployment] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    virtual_services: list[VirtualService] = field(default_factory=list)
    destination_rules: list[DestinationRule] = field(default_factory=list)
    gateways: list[Gateway] = field(default_factory=list)
    inert: list[Resource] = field(default_factory=list)  # accepted resources with no local effect

    def service_for(self, fqdn: str, namespace: Optional[str] = None) -> Optional[Service]:
        """The Service named fqdn; with namespace, only if a proxy there sees it (exportTo)."""
        service = next((s for s in self.services if s.fqdn == fqdn), None)
        if service is None or namespace is None or service_visible(service, namespace):
            return service
        return None

    def _namespace_of(self, fqdn: str) -> str:
        """The namespace of the Service fqdn names ('' for a host that is no Service)."""
        service = self.service_for(fqdn)
        return service.namespace if service is not None else ""

    def destination_rule_for(
        self, fqdn: str, namespace: Optional[str] = None, service_namespace: Optional[str] = None
    ) -> Optional[DestinationRule]:
        """The DestinationRule a proxy in namespace (default: the Service's own) applies to host
        fqdn, as istiod 1.29's PushContext.destinationRule and SidecarScope.DestinationRule
        (pilot/pkg/model/push_context.go, sidecar.go): the rules of the proxy's namespace first
        (for a proxy in the root namespace, its rules exported to "." only), then the rules of
        the Service's namespace exported to the proxy's, then those of the root namespace;
        in each, the most specific host (exact, then the longest wildcard). Rules of one
        namespace for one host are merged in creation order (mergeDestinationRule, with the
        exportTo-aware merge on by default): subsets concatenated (the first of a name wins),
        the first top-level trafficPolicy; rules whose exportTo differ stay apart and the
        last one wins. DestinationRules with a workloadSelector are left out (localmesh has one
        proxy). None when no rule applies. service_namespace: the namespace of the service host
        fqdn stands for (default: the Service's)."""
        if service_namespace is None:
            service_namespace = self._namespace_of(fqdn)
        namespace = namespace if namespace is not None else service_namespace
        local, exported, root_local = self._destination_rule_index()
        found = None
        if namespace != ROOT_NAMESPACE:
            found = _most_specific(fqdn, local.get(namespace, {}))
        else:
            found = _most_specific(fqdn, root_local)
        for owner in (service_namespace, ROOT_NAMESPACE):
            if found:
                break
            if owner:
                candidates = _most_specific(fqdn, exported.get(owner, {})) or []
                found = [c for c in candidates if _exported_to(c.export_to, namespace)]
        if not found:
            return None
        return found[-1].merged_rule()

    def _destination_rule_index(self) -> tuple:
        """_destination_rule_index of the current rules, kept until the list changes."""
        rules = list(self.destination_rules)
        cached = self.__dict__.get("_rule_index")
        same = cached is not None and len(cached[0]) == len(rules) and all(
            a is b for a, b in zip(cached[0], rules)
        )
        if not same:
            cached = (rules, _destination_rule_index(rules))
            self.__dict__["_rule_index"] = cached
        return cached[1]

    def mesh_virtual_service_for(
        self, fqdn: str, namespace: Optional[str] = None
    ) -> Optional[VirtualService]:
        """The VirtualService a sidecar in namespace (default: the Service's own) uses for host
        fqdn: none when the Service is not exported there; else among the mesh VirtualServices
        that namespace sees (virtual_services_for_gateway), the first naming fqdn, else the one
        with the most specific wildcard host covering it."""
        namespace = namespace if namespace is not None else self._namespace_of(fqdn)
        service = self.service_for(fqdn)
        if service is not None and not service_visible(service, namespace):
            return None
        candidates = self.virtual_services_for_gateway(MESH_GATEWAY, namespace)
        exact = next((vs for vs in candidates if fqdn in vs.host_fqdns), None)
        if exact is not None:
            return exact
        best, best_length = None, -1
        for vs in candidates:
            for host in vs.host_fqdns:
                # "*" alone is refused for the mesh by Istio's validation.
                wildcard = host != "*" and is_wildcard(host)
                if wildcard and subset_of(fqdn, host) and len(host) > best_length:
                    best, best_length = vs, len(host)
        return best

    def virtual_services_for_gateway(self, gateway_ref: str, namespace: str) -> list[VirtualService]:
        """The VirtualServices a proxy in namespace gets for gateway_ref ('mesh' or 'ns/name'), in
        istiod's order (PushContext.VirtualServicesForGateway, Istio 1.29): those exported to
        "." (or their own namespace) when namespace is theirs, then those exported to namespace
        by name, then the public ones (no exportTo, or "*"); each group in creation order. "~"
        exports to no one."""
        private, exported, public = [], [], []
        for vs in self.virtual_services:
            if gateway_ref not in vs.gateway_refs:
                continue
            export = set(vs.export_to)
            if not export or EXPORT_PUBLIC in export:
                public.append(vs)
            elif EXPORT_NONE in export:
                continue
            elif namespace == vs.namespace and export & {EXPORT_PRIVATE, vs.namespace}:
                private.append(vs)
            elif namespace != vs.namespace and namespace in export:
                exported.append(vs)
        return private + exported + public

    def gateway_virtual_services(
        self, gateway: Gateway, namespace: Optional[str] = None
    ) -> list[VirtualService]:
        """VirtualServices bound to gateway ('name' in their namespace or 'ns/name') that its proxy
        (in namespace, default the ingress gateway's) sees."""
        namespace = namespace if namespace is not None else INGRESS_GATEWAY_NAMESPACE
        return self.virtual_services_for_gateway(gateway.ref, namespace)

    def pods_selected(self, service: Service) -> list[Deployment]:
        """Deployments whose pod labels the Service selects, in its namespace."""
        if not service.selector:
            return []
        return [
            d for d in self.deployments
            if d.namespace == service.namespace and labels_match(service.selector, d.pod_labels)
        ]


def service_visible(service: Service, namespace: str) -> bool:
    """A proxy in namespace has service (PushContext.initServiceRegistry's index, Istio 1.29, which
    decides what each namespace's proxies get): no exportTo annotation or "*" means everywhere;
    else "~" means nowhere; else "." (or its own name) its own namespace, another name that one."""
    export = set(service.export_to)
    if not export or EXPORT_PUBLIC in export:
        return True
    if EXPORT_NONE in export:
        return False
    if namespace == service.namespace:
        return bool(export & {EXPORT_PRIVATE, service.namespace})
    return namespace in export


def gateway_selects_ingress(gateway: Gateway) -> bool:
    """The Gateway's selector selects Istio's default ingress gateway pods (an empty one selects all)."""
    return labels_match(gateway.selector, INGRESS_GATEWAY_LABELS)


@dataclass
class _ConsolidatedRule:
    """istiod's ConsolidatedDestRule: rules for one host merged in order, the first's exportTo."""

    export_to: frozenset
    rules: list[DestinationRule]

    def merged_rule(self) -> DestinationRule:
        first = self.rules[0]
        subsets = list(first.subsets)
        policy = first.traffic_policy
        for rule in self.rules[1:]:
            known = {s.name for s in subsets}
            subsets += [s for s in rule.subsets if s.name not in known]
            if policy is None:
                policy = rule.traffic_policy
        return replace(
            first,
            subsets=subsets,
            traffic_policy=policy,
            merged_from=tuple(ref for rule in self.rules for ref in rule.merged_from),
            merged=tuple(self.rules),
        )


def _merge_rule(index: dict, rule: DestinationRule, export: frozenset) -> None:
    """mergeDestinationRule (pilot/pkg/model/destination_rule.go, Istio 1.29, with
    ENABLE_ENHANCED_DESTINATIONRULE_MERGE on, its default): a rule joins each consolidated
    rule for its host whose exportTo equals its own, or is a non-empty subset of it; it stands
    alone when the last one it met could not take it."""
    entries = index.setdefault(rule.fqdn, [])
    append_separately = True
    for entry in entries:
        if export == entry.export_to or (entry.export_to and export >= entry.export_to):
            entry.rules.append(rule)
            append_separately = False
        else:
            append_separately = True
    if append_separately:
        entries.append(_ConsolidatedRule(export, [rule]))


def _destination_rule_index(rules: list) -> tuple:
    """(namespace-local, exported by namespace, root-namespace private) indexes of the rules
    without workloadSelector, as PushContext.setDestinationRules: namespace -> host -> list."""
    local: dict = {}
    exported: dict = {}
    root_local: dict = {}
    for rule in rules:
        if rule.workload_selector is not None:
            continue
        export = frozenset(rule.export_to)
        namespace = rule.namespace
        if not export or export & {EXPORT_PUBLIC, EXPORT_PRIVATE, namespace}:
            _merge_rule(local.setdefault(namespace, {}), rule, export)
        private_only = len(export) == 1 and bool(export & {EXPORT_PRIVATE, namespace})
        if not private_only:
            _merge_rule(exported.setdefault(namespace, {}), rule, export)
        elif namespace == ROOT_NAMESPACE:
            _merge_rule(root_local, rule, export)
    return local, exported, root_local


def _most_specific(fqdn: str, by_host: dict) -> Optional[list]:
    """MostSpecificHostMatch: the entries of the exact host, else of the longest wildcard covering it."""
    if fqdn in by_host:
        return by_host[fqdn]
    matching = [host for host in by_host if is_wildcard(host) and subset_of(fqdn, host)]
    return by_host[max(matching, key=len)] if matching else None


def _exported_to(export: frozenset, namespace: str) -> bool:
    return not export or EXPORT_PUBLIC in export or namespace in export


def _int(resource: Resource, value: Any, path: FieldPath, default: Optional[int] = None) -> Optional[int]:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        reason = f"{dotted(path)}: expected an integer, got {value!r}"
        raise ManifestError(resource.source.path, resource.line_of(*path), reason)
    return value


def build_deployment(resource: Resource) -> Deployment:
    spec = resource.spec
    template = as_dict(spec.get("template"))
    pod_spec = as_dict(template.get("spec"))
    containers = [
        _container(resource, as_dict(raw), ("spec", "template", "spec", "containers", index))
        for index, raw in enumerate(as_list(pod_spec.get("containers")))
    ]
    return Deployment(
        name=resource.name,
        namespace=resource.namespace,
        labels=_str_dict(as_dict(resource.body.get("metadata")).get("labels")),
        selector=_str_dict(as_dict(spec.get("selector")).get("matchLabels")),
        pod_labels=_str_dict(as_dict(template.get("metadata")).get("labels")),
        replicas=_int(resource, spec.get("replicas"), ("spec", "replicas"), 1),
        containers=containers,
        service_account=pod_spec.get("serviceAccountName"),
        resource=resource,
    )


def _container(resource: Resource, raw: dict, path: FieldPath) -> Container:
    env = []
    for index, item in enumerate(as_list(raw.get("env"))):
        item = as_dict(item)
        value_from = as_dict(item.get("valueFrom"))
        env.append(
            EnvVar(
                name=str(item.get("name", "")),
                value=_optional_str(item.get("value")),
                field_path=as_dict(value_from.get("fieldRef")).get("fieldPath"),
                secret_ref=as_dict(value_from.get("secretKeyRef")) or None,
                config_map_ref=as_dict(value_from.get("configMapKeyRef")) or None,
                source=resource.source_of(*path, "env", index),
            )
        )
    ports = [
        ContainerPort(name=as_dict(p).get("name"), container_port=as_dict(p).get("containerPort"))
        for p in as_list(raw.get("ports"))
    ]
    return Container(
        name=str(raw.get("name", "")),
        image=str(raw.get("image", "")),
        command=[str(part) for part in as_list(raw.get("command"))],
        args=[str(part) for part in as_list(raw.get("args"))],
        env=env,
        ports=ports,
        readiness=_probe(raw.get("readinessProbe")),
        liveness=_probe(raw.get("livenessProbe")),
    )


def _probe(raw: Any) -> Optional[Probe]:
    get = as_dict(as_dict(raw).get("httpGet"))
    if not get:
        return None
    raw = as_dict(raw)

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


def _annotations(resource: Resource) -> dict[str, str]:
    return _str_dict(as_dict(resource.body.get("metadata")).get("annotations"))


def build_service(resource: Resource) -> Service:
    spec = resource.spec
    ports = []
    for index, raw in enumerate(as_list(spec.get("ports"))):
        raw = as_dict(raw)
        number = _int(resource, raw.get("port"), ("spec", "ports", index, "port"))
        ports.append(
            ServicePort(
                name=raw.get("name"),
                port=number,
                target_port=raw.get("targetPort", number),
                protocol=str(raw.get("protocol", "TCP")),
                app_protocol=raw.get("appProtocol"),
            )
        )
    return Service(
        name=resource.name,
        namespace=resource.namespace,
        selector=_str_dict(spec.get("selector")),
        ports=ports,
        type=str(spec.get("type", "ClusterIP")),
        resource=resource,
        export_to=tuple(
            part.strip() for part in str(_annotations(resource).get(EXPORT_TO_ANNOTATION, "")).split(",")
            if part.strip()
        ),
        external_name=_optional_str(spec.get("externalName")),
    )


def _string_match(raw: Any) -> Optional[StringMatch]:
    raw = as_dict(raw)
    for kind in ("exact", "prefix", "regex"):
        if kind in raw:
            return StringMatch(kind, str(raw[kind]))
    return None


def _header_matches(raw: Any) -> list[HeaderMatch]:
    return [HeaderMatch(str(name).lower(), _string_match(value)) for name, value in as_dict(raw).items()]


def _unknown(raw: dict, known: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(str(key) for key in set(raw) - set(known)))


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _message_fields(raw: dict, path: FieldPath, **readers: Callable[[Any], Any]) -> dict[str, Any]:
    """A message dataclass's arguments: each field (snake_case) read from raw's key of the same name
    in camelCase through its reader; path; and unknown_fields, the keys no field reads."""
    keys = {name: _camel(name) for name in readers}
    fields = {name: read(raw.get(keys[name])) for name, read in readers.items()}
    return {**fields, "path": path, "unknown_fields": _unknown(raw, keys.values())}


def _items(raw: dict, key: str, path: FieldPath) -> Iterator[tuple[dict, FieldPath]]:
    """Each entry of the list raw[key], as a dict, with where it was written."""
    for index, item in enumerate(as_list(raw.get(key))):
        yield as_dict(item), path + (key, index)


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _whole(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _percent(raw: Any) -> Optional[float]:
    """Istio's Percent message {value: 12.5}; None when absent or unreadable."""
    return _number(as_dict(raw).get("value")) if isinstance(raw, dict) else None


def _optional_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def _strings(value: Any) -> list[str]:
    return [str(item) for item in as_list(value)]


def build_virtual_service(resource: Resource) -> VirtualService:
    spec = resource.spec
    routes = []
    for index, raw in enumerate(as_list(spec.get("http"))):
        routes.append(_http_route(resource, as_dict(raw), ("spec", "http", index)))
    return VirtualService(
        name=resource.name,
        namespace=resource.namespace,
        hosts=[str(h) for h in as_list(spec.get("hosts"))],
        gateways=[str(g) for g in as_list(spec.get("gateways"))],
        http=routes,
        resource=resource,
        export_to=tuple(_strings(spec.get("exportTo"))),
    )


ROUTE_FIELDS = (
    "name", "match", "route", "redirect", "directResponse", "delegate", "rewrite", "timeout", "retries",
    "fault", "mirror", "mirrors", "mirrorPercent", "mirror_percent", "mirrorPercentage", "corsPolicy",
    "headers",
)


def _query_params(raw: Any) -> list[HeaderMatch]:
    return [HeaderMatch(str(k), _string_match(v)) for k, v in as_dict(raw).items()]


def _http_match(match: dict, path: FieldPath) -> HttpMatch:
    return HttpMatch(**_message_fields(
        match, path,
        name=_optional_str, uri=_string_match, scheme=_string_match, method=_string_match,
        authority=_string_match, headers=_header_matches, port=_whole, source_labels=_str_dict,
        gateways=_strings, query_params=_query_params, ignore_uri_case=bool,
        without_headers=_header_matches, source_namespace=_optional_str, stat_prefix=_optional_str,
    ))


def _destination(resource: Resource, raw: Any) -> Destination:
    raw = as_dict(raw)
    host = str(raw.get("host", ""))
    return Destination(
        host=host,
        fqdn=resolve_host(host, resource.namespace),
        subset=_optional_str(raw.get("subset")),
        port=_whole(as_dict(raw.get("port")).get("number")),
    )


def _header_operations(raw: Any, path: FieldPath) -> Optional[HeaderOperations]:
    if not isinstance(raw, dict):
        return None
    return HeaderOperations(
        set=[(str(k), str(v)) for k, v in as_dict(raw.get("set")).items()],
        add=[(str(k), str(v)) for k, v in as_dict(raw.get("add")).items()],
        remove=_strings(raw.get("remove")),
        path=path,
        unknown_fields=_unknown(raw, ("set", "add", "remove")),
    )


def _headers(raw: Any, path: FieldPath) -> Optional[Headers]:
    if not isinstance(raw, dict):
        return None
    return Headers(
        request=_header_operations(raw.get("request"), path + ("request",)),
        response=_header_operations(raw.get("response"), path + ("response",)),
        path=path,
        unknown_fields=_unknown(raw, ("request", "response")),
    )


def _retries(raw: Any, path: FieldPath) -> Optional[Retries]:
    if not isinstance(raw, dict):
        return None

    def flag(key: str) -> Optional[bool]:
        return raw[key] if isinstance(raw.get(key), bool) else None

    return Retries(
        attempts=_whole(raw.get("attempts")) or 0,
        per_try_timeout=parse_duration(raw.get("perTryTimeout")),
        retry_on=_optional_str(raw.get("retryOn")),
        backoff=parse_duration(raw.get("backoff")),
        retry_remote_localities=flag("retryRemoteLocalities"),
        retry_ignore_previous_hosts=flag("retryIgnorePreviousHosts"),
        path=path,
        unknown_fields=_unknown(
            raw, ("attempts", "perTryTimeout", "retryOn", "backoff", "retryRemoteLocalities",
                  "retryIgnorePreviousHosts"),
        ),
    )


def _fault(raw: Any, path: FieldPath) -> Optional[Fault]:
    if not isinstance(raw, dict):
        return None
    delay = as_dict(raw.get("delay"))
    abort = as_dict(raw.get("abort"))
    fault = Fault(path=path, unknown_fields=_unknown(raw, ("delay", "abort")))
    if delay:
        fault.delay_seconds = parse_duration(delay.get("fixedDelay"))
        percentage = _percent(delay.get("percentage"))
        # The deprecated integer percent counts only when there is no percentage.
        if percentage is None:
            percentage = float(_whole(delay.get("percent")) or 0)
        fault.delay_percent = percentage
        fault.delay_unsupported = _unknown(delay, ("fixedDelay", "percentage", "percent"))
    if abort:
        status = abort.get("httpStatus")
        fault.abort_status = _whole(status)
        fault.abort_grpc_status = _optional_str(abort.get("grpcStatus"))
        fault.abort_percent = _percent(abort.get("percentage")) or 0.0
        fault.abort_unsupported = _unknown(abort, ("httpStatus", "grpcStatus", "percentage"))
    return fault


def _redirect(raw: Any, path: FieldPath) -> Optional[Redirect]:
    if not isinstance(raw, dict):
        return None
    return Redirect(**_message_fields(
        raw, path, uri=_optional_str, authority=_optional_str, scheme=_optional_str, port=_whole,
        derive_port=_optional_str, redirect_code=_whole,
    ))


def _rewrite(raw: Any, path: FieldPath) -> Optional[Rewrite]:
    if not isinstance(raw, dict):
        return None
    regex = as_dict(raw.get("uriRegexRewrite"))
    return Rewrite(
        uri=_optional_str(raw.get("uri")),
        authority=_optional_str(raw.get("authority")),
        uri_regex=(str(regex.get("match", "")), str(regex.get("rewrite", ""))) if regex else None,
        path=path,
        unknown_fields=_unknown(raw, ("uri", "authority", "uriRegexRewrite")),
    )


def _direct_response(raw: Any, path: FieldPath) -> Optional[DirectResponse]:
    if not isinstance(raw, dict):
        return None
    body = as_dict(raw.get("body"))
    return DirectResponse(
        status=_whole(raw.get("status")) or 200,
        body_string=_optional_str(body.get("string")),
        body_bytes=_optional_str(body.get("bytes")),
        path=path,
        unknown_fields=_unknown(raw, ("status", "body")) + _unknown(body, ("string", "bytes")),
    )


def _cors(raw: Any, path: FieldPath) -> Optional[CorsPolicy]:
    if not isinstance(raw, dict):
        return None
    if "allowOrigins" in raw:
        origins = [m for m in (_string_match(item) for item in as_list(raw.get("allowOrigins"))) if m]
    else:
        origins = [StringMatch("exact", origin) for origin in _strings(raw.get("allowOrigin"))]
    return CorsPolicy(
        allow_origins=origins,
        allow_methods=_strings(raw.get("allowMethods")),
        allow_headers=_strings(raw.get("allowHeaders")),
        expose_headers=_strings(raw.get("exposeHeaders")),
        max_age=parse_duration(raw.get("maxAge")),
        allow_credentials=raw["allowCredentials"] if isinstance(raw.get("allowCredentials"), bool) else None,
        unmatched_preflights=_optional_str(raw.get("unmatchedPreflights")),
        path=path,
        unknown_fields=_unknown(
            raw, ("allowOrigins", "allowOrigin", "allowMethods", "allowHeaders", "exposeHeaders", "maxAge",
                  "allowCredentials", "unmatchedPreflights"),
        ),
    )


def _mirrors(resource: Resource, raw: dict, path: FieldPath) -> list[Mirror]:
    """`mirror` (with mirrorPercentage or the deprecated integer mirrorPercent, also spelt
    mirror_percent, its protobuf name) and `mirrors`."""
    mirrors = []
    if isinstance(raw.get("mirror"), dict):
        percent = _percent(raw.get("mirrorPercentage"))
        for deprecated in ("mirrorPercent", "mirror_percent"):
            if percent is None and _number(raw.get(deprecated)) is not None:
                percent = _number(raw.get(deprecated))
        mirrors.append(Mirror(_destination(resource, raw["mirror"]), percent, path + ("mirror",)))
    for item, where in _items(raw, "mirrors", path):
        destination = _destination(resource, item.get("destination"))
        mirrors.append(Mirror(destination, _percent(item.get("percentage")), where))
    return mirrors


def _http_route(resource: Resource, raw: dict, path: FieldPath) -> HttpRoute:
    matches = [_http_match(match, where) for match, where in _items(raw, "match", path)]
    destinations = [
        RouteDestination(
            destination=_destination(resource, item.get("destination")),
            weight=item.get("weight"),
            path=where,
            headers=_headers(item.get("headers"), where + ("headers",)),
            unknown_fields=_unknown(item, ("destination", "weight", "headers")),
        )
        for item, where in _items(raw, "route", path)
    ]
    return HttpRoute(
        name=_optional_str(raw.get("name")),
        matches=matches,
        route=destinations,
        timeout=parse_duration(raw.get("timeout")),
        retries=_retries(raw.get("retries"), path + ("retries",)),
        fault=_fault(raw.get("fault"), path + ("fault",)),
        path=path,
        headers=_headers(raw.get("headers"), path + ("headers",)),
        redirect=_redirect(raw.get("redirect"), path + ("redirect",)),
        rewrite=_rewrite(raw.get("rewrite"), path + ("rewrite",)),
        direct_response=_direct_response(raw.get("directResponse"), path + ("directResponse",)),
        cors=_cors(raw.get("corsPolicy"), path + ("corsPolicy",)),
        mirrors=_mirrors(resource, raw, path),
        delegate=as_dict(raw.get("delegate")) or None,
        unknown_fields=_unknown(raw, ROUTE_FIELDS),
    )


POLICY_FIELDS = (
    "loadBalancer", "connectionPool", "outlierDetection", "tls", "portLevelSettings", "tunnel",
    "proxyProtocol", "retryBudget",
)


def _section(resource: Resource, raw: Any, path: FieldPath) -> Optional[PolicySection]:
    return PolicySection(dict(raw), path, resource) if isinstance(raw, dict) else None


def _consistent_hash(raw: dict, path: FieldPath) -> ConsistentHash:
    found = ConsistentHash(path=path)
    if raw.get("httpHeaderName") is not None:
        found.header = str(raw["httpHeaderName"])
    if isinstance(raw.get("httpCookie"), dict):
        cookie = raw["httpCookie"]
        found.cookie = {
            "name": str(cookie.get("name", "")),
            "path": _optional_str(cookie.get("path")),
            "ttl": parse_duration(cookie.get("ttl")),
            "attributes": [
                (str(as_dict(a).get("name", "")), as_dict(a).get("value"))
                for a in as_list(cookie.get("attributes"))
            ],
        }
    found.source_ip = raw.get("useSourceIp") is True
    if raw.get("httpQueryParameterName") is not None:
        found.query_parameter = str(raw["httpQueryParameterName"])
    if isinstance(raw.get("maglev"), dict):
        found.maglev = True
        found.maglev_table_size = _whole(raw["maglev"].get("tableSize"))
    elif isinstance(raw.get("ringHash"), dict):
        found.ring_hash_minimum = _whole(raw["ringHash"].get("minimumRingSize"))
    elif _whole(raw.get("minimumRingSize")):
        found.ring_hash_minimum = _whole(raw.get("minimumRingSize"))
    found.unknown_fields = _unknown(
        raw, ("httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName", "ringHash", "maglev",
              "minimumRingSize"),
    )
    return found


def _load_balancer(resource: Resource, raw: Any, path: FieldPath) -> Optional[LoadBalancer]:
    if not isinstance(raw, dict):
        return None
    warmup = as_dict(raw.get("warmup"))
    seconds = parse_duration(warmup.get("duration") if warmup else raw.get("warmupDurationSecs"))
    consistent = raw.get("consistentHash")
    return LoadBalancer(
        simple=_optional_str(raw.get("simple")),
        consistent_hash=(
            _consistent_hash(consistent, path + ("consistentHash",)) if isinstance(consistent, dict) else None
        ),
        warmup_seconds=seconds,
        warmup_aggression=_number(warmup.get("aggression")),
        warmup_minimum_percent=_number(warmup.get("minimumPercent")),
        locality=as_dict(raw.get("localityLbSetting")) or None,
        path=path,
        unknown_fields=_unknown(
            raw, ("simple", "consistentHash", "localityLbSetting", "warmupDurationSecs", "warmup")
        ),
        resource=resource,
    )


def _traffic_policy(resource: Resource, raw: Any, path: FieldPath) -> Optional[TrafficPolicy]:
    if not isinstance(raw, dict):
        return None
    levels = [
        PortTrafficPolicy(
            port=_whole(as_dict(level.get("port")).get("number")),
            load_balancer=_load_balancer(resource, level.get("loadBalancer"), where + ("loadBalancer",)),
            connection_pool=_section(resource, level.get("connectionPool"), where + ("connectionPool",)),
            outlier_detection=_section(
                resource, level.get("outlierDetection"), where + ("outlierDetection",)
            ),
            tls=_section(resource, level.get("tls"), where + ("tls",)),
            path=where,
            unknown_fields=_unknown(
                level, ("port", "loadBalancer", "connectionPool", "outlierDetection", "tls")
            ),
        )
        for level, where in _items(raw, "portLevelSettings", path)
    ]
    return TrafficPolicy(
        load_balancer=_load_balancer(resource, raw.get("loadBalancer"), path + ("loadBalancer",)),
        connection_pool=_section(resource, raw.get("connectionPool"), path + ("connectionPool",)),
        outlier_detection=_section(resource, raw.get("outlierDetection"), path + ("outlierDetection",)),
        tls=_section(resource, raw.get("tls"), path + ("tls",)),
        tunnel=_section(resource, raw.get("tunnel"), path + ("tunnel",)),
        proxy_protocol=_section(resource, raw.get("proxyProtocol"), path + ("proxyProtocol",)),
        retry_budget=_section(resource, raw.get("retryBudget"), path + ("retryBudget",)),
        port_level=levels,
        resource=resource,
        path=path,
        unknown_fields=_unknown(raw, POLICY_FIELDS),
    )


def build_destination_rule(resource: Resource) -> DestinationRule:
    spec = resource.spec
    host = str(spec.get("host", ""))
    subsets = []
    for index, raw in enumerate(as_list(spec.get("subsets"))):
        raw = as_dict(raw)
        path = ("spec", "subsets", index)
        subsets.append(
            Subset(
                name=str(raw.get("name", "")),
                labels=_str_dict(raw.get("labels")),
                traffic_policy=_traffic_policy(resource, raw.get("trafficPolicy"), path + ("trafficPolicy",)),
                path=path,
                resource=resource,
            )
        )
    selector = as_dict(spec.get("workloadSelector"))
    return DestinationRule(
        name=resource.name,
        namespace=resource.namespace,
        host=host,
        fqdn=resolve_host(host, resource.namespace),
        subsets=subsets,
        traffic_policy=_traffic_policy(resource, spec.get("trafficPolicy"), ("spec", "trafficPolicy")),
        resource=resource,
        workload_selector=_str_dict(selector.get("matchLabels")) if selector else None,
        merged_from=(f"{resource.namespace}/{resource.name}",),
        export_to=tuple(_strings(spec.get("exportTo"))),
    )


def build_gateway(resource: Resource) -> Gateway:
    spec = resource.spec
    servers = []
    for index, raw in enumerate(as_list(spec.get("servers"))):
        raw = as_dict(raw)
        port = as_dict(raw.get("port"))
        path = ("spec", "servers", index)
        unhonoured = [path + (key,) for key in ("bind", "defaultEndpoint") if raw.get(key) not in (None, "")]
        if port.get("targetPort") is not None:
            unhonoured.append(path + ("port", "targetPort"))
        unhonoured += [path + ("tls", key) for key in as_dict(raw.get("tls")) if key != "httpsRedirect"]
        servers.append(
            GatewayServer(
                port=port.get("number"),
                protocol=str(port.get("protocol", "HTTP")).upper(),
                hosts=[str(h) for h in as_list(raw.get("hosts"))],
                https_redirect=as_dict(raw.get("tls")).get("httpsRedirect") is True,
                path=path,
                unhonoured=tuple(unhonoured),
            )
        )
    return Gateway(
        name=resource.name,
        namespace=resource.namespace,
        selector=_str_dict(spec.get("selector")),
        servers=servers,
        resource=resource,
    )


# The Mesh list each kind the local mesh acts on goes to, and the function that builds it.
BUILDERS = {
    ("apps", "Deployment"): ("deployments", build_deployment),
    ("", "Service"): ("services", build_service),
    ("networking.istio.io", "VirtualService"): ("virtual_services", build_virtual_service),
    ("networking.istio.io", "DestinationRule"): ("destination_rules", build_destination_rule),
    ("networking.istio.io", "Gateway"): ("gateways", build_gateway),
}


def build_mesh(resources: Iterable[Resource]) -> Mesh:
    """The model of the resources as applied in order (latest_by_key: a repeated resource keeps
    its first place, its creation, which istiod uses to merge DestinationRules and to pick among
    VirtualServices)."""
    mesh = Mesh()
    for resource in latest_by_key(resources).values():
        entry = BUILDERS.get((resource.group, resource.kind))
        if entry is None:
            # A cluster stores every kind its API serves (the analyzer refuses the others before
            # this): the local mesh keeps it too. Outside INERT_KINDS, the builders say that it has
            # no effect here.
            mesh.inert.append(resource)
            continue
        attribute, builder = entry
        getattr(mesh, attribute).append(builder(resource))
    return mesh
