"""Analyzer messages, printed the way `istioctl analyze` prints them, and the table of codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from localmesh.loader import Resource

ERROR, WARNING, INFO = "Error", "Warning", "Info"
LEVEL_RANK = {INFO: 0, WARNING: 1, ERROR: 2}


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    level: str
    meaning: str
    # The API server or Istio's validation webhook would refuse the resource (what `kubectl apply`
    # and `istioctl validate` refuse); every other code is an `istioctl analyze` finding, which
    # kubectl accepts and traffic then shows.
    refuses_apply: bool = False
    # The analyzer that reports it, as istioctl names it (IST codes) or this project does (LM codes).
    analyzer: str = ""


# Istio's own codes keep their number, level and wording (pkg/config/analysis/msg/messages.yaml,
# Istio 1.29); LM codes are this project's rules. A declarative table, one Code per entry, is the
# clearest form of such a catalogue (Istio keeps its own as a data file): the entries repeat one
# shape on purpose.
CODES = {
    c.code: c
    for c in (
        Code("IST0101", "ReferencedResourceNotFound", ERROR,
             "a VirtualService names a destination host or mirror host that no Service or ServiceEntry"
             " visible to it defines, a port its Service lacks, a subset no DestinationRule defines, or a"
             " Gateway that does not exist; a Sidecar's workloadSelector selects no pod of its namespace",
             analyzer="virtualservice.DestinationHostAnalyzer"),
        Code("IST0106", "SchemaValidationError", ERROR,
             "an Istio resource fails Istio's CRD schema (unknown field, wrong type) or its validation"
             " webhook rules (weights, header names, RE2 regexes, subset names, ports, rules without a"
             " route, delegate rules)",
             refuses_apply=True, analyzer="schema.ValidationAnalyzer"),
        Code("IST0109", "ConflictingMeshGatewayVirtualServiceHosts", ERROR,
             "VirtualServices bound to the mesh and visible in the same namespaces define the same host"
             " (one message per VirtualService)",
             analyzer="virtualservice.ConflictingMeshGatewayHostsAnalyzer"),
        Code("IST0112", "VirtualServiceDestinationPortSelectorRequired", ERROR,
             "a destination Service or ServiceEntry has several ports and the route names none",
             analyzer="virtualservice.DestinationHostAnalyzer"),
        Code("IST0118", "PortNameIsNotUnderNamingConvention", INFO,
             "a Service port's protocol cannot be told from its name or appProtocol (outside the"
             " system namespaces and Istio's own Services)",
             analyzer="service.PortNameAnalyzer"),
        Code("IST0130", "VirtualServiceUnreachableRule", WARNING,
             "an http, tcp or tls rule can never match: a match-less rule comes before it, or all its"
             " matches repeat earlier ones",
             analyzer="schema.ValidationAnalyzer"),
        Code("IST0131", "VirtualServiceIneffectiveMatch", INFO,
             "a match repeats one of an earlier rule, or an earlier HTTP prefix match covers it",
             analyzer="schema.ValidationAnalyzer"),
        Code("IST0132", "VirtualServiceHostNotFoundInGateway", WARNING,
             "none of a VirtualService's hosts is served by a Gateway it binds to, or that Gateway does"
             " not exist (one message per gateway reference)",
             analyzer="virtualservice.GatewayAnalyzer"),
        Code("IST0140", "IngressRouteRulesNotAffected", WARNING,
             "a gateway VirtualService routes to a host without a subset while a mesh VirtualService"
             " for that host splits it by subset: the subsets do not apply to ingress requests",
             analyzer="virtualservice.DestinationHostAnalyzer"),
        Code("IST0150", "ExternalNameServiceTypeInvalidPortName", WARNING,
             "an ExternalName Service has a port named tcp or whose protocol its name does not tell",
             analyzer="service.PortNameAnalyzer"),
        Code("IST0165", "ReferencedInternalGateway", WARNING,
             "a VirtualService names a Gateway that Istio generates for a Kubernetes Gateway",
             analyzer="virtualservice.GatewayAnalyzer"),
        Code("IST0173", "DestinationRuleSubsetNotSelectPods", ERROR,
             "a subset's labels (with the ServiceEntry's workload selector) select no pod",
             analyzer="destinationrule.SubsetSelectPodAnalyzer"),
        Code("IST0174", "UnknownDestinationRuleHost", WARNING,
             "a DestinationRule host matches no Service or ServiceEntry visible to it",
             analyzer="destinationrule.SubsetSelectPodAnalyzer"),
        Code("LM0001", "UnknownKind", ERROR,
             "the Kubernetes or Istio API group of the apiVersion has no such kind",
             refuses_apply=True, analyzer="localmesh.SchemaValidator"),
        Code("LM0002", "KubernetesSchemaError", ERROR,
             "a Kubernetes resource fails the Kubernetes OpenAPI schema, strictly (unknown or duplicate"
             " field, wrong type, missing required field), as `kubectl apply` refuses it",
             refuses_apply=True, analyzer="localmesh.SchemaValidator"),
        Code("LM0003", "NotValidated", INFO,
             "a kind of another API group (another project's CRD): no schema here checks it"
             " (one message per kind)",
             analyzer="localmesh.SchemaValidator"),
        Code("LM0010", "VersionMismatch", ERROR,
             "the `version` label, tags.datadoghq.com/version, DD_VERSION and the image tag of a"
             " Deployment disagree (v1 goes with 1.0, v2 with 2.0)",
             analyzer="localmesh.ProjectRules"),
        Code("LM0011", "ServiceSelectsNoPod", ERROR,
             "a Service's selector matches no pod (a Pod, or the pod template of a Deployment, StatefulSet,"
             " DaemonSet, ReplicaSet, Job or CronJob) in its namespace",
             analyzer="localmesh.ProjectRules"),
        Code("LM0012", "TargetPortNotExposed", ERROR,
             "a Service targetPort is not a container port of a pod it selects",
             analyzer="localmesh.ProjectRules"),
        Code("LM0013", "AdsUrlUnresolved", ERROR,
             "the frontend's ADS_URL names a Service or port that the set does not define",
             analyzer="localmesh.ProjectRules"),
        Code("LM0014", "RemovedDatadogSetting", WARNING,
             "an env var that ddtrace 3+ removed or ignores (DD_ANALYTICS_ENABLED, ...)",
             analyzer="localmesh.ProjectRules"),
    )
}


@dataclass(frozen=True)
class Message:
    level: str
    code: str
    kind: str
    namespace: str
    name: str
    path: str
    line: int
    text: str
    analyzer: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{self.level} [{self.code}] ({self.kind} {self.namespace}/{self.name} {where}) {self.text}"

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.line, self.code, self.text)

    @property
    def refuses_apply(self) -> bool:
        """True when the API server or Istio's webhook would refuse the resource; False for an
        `istioctl analyze` finding."""
        return CODES[self.code].refuses_apply


def message(
    code: str, resource: Resource, field_path: Any, text: str, level: Optional[str] = None,
    analyzer: Optional[str] = None,
) -> Message:
    """A message about resource, placed at the line of field_path (a tuple of keys and indexes);
    analyzer defaults to the one that usually reports the code."""
    path = tuple(field_path) if field_path else ()
    return Message(
        level=level or CODES[code].level,
        code=code,
        kind=resource.kind,
        namespace=resource.namespace,
        name=resource.name,
        path=resource.source.path,
        line=resource.line_of(*path) if path else resource.source.line,
        text=text,
        analyzer=analyzer or CODES[code].analyzer,
    )


def go_quote(text: str) -> str:
    """A string as Go's %q writes it: double quotes, backslash escapes."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\t":
            escaped.append("\\t")
        elif char == "\r":
            escaped.append("\\r")
        elif not char.isprintable():
            escaped.append(f"\\x{ord(char):02x}" if ord(char) < 0x80 else f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def go_list(items: list) -> str:
    """A slice as Go's %v writes it: [a b c]."""
    return "[" + " ".join(str(item) for item in items) + "]"


def codes_table() -> str:
    """The codes as a Markdown table: code, name, level, whether apply refuses it, when reported."""
    rows = ["| code | name | level | refuses apply | reported when |", "|---|---|---|---|---|"]
    rows += [
        f"| {c.code} | {c.name} | {c.level} | {'yes' if c.refuses_apply else ''} | {c.meaning} |"
        for c in CODES.values()
    ]
    return "\n".join(rows)
