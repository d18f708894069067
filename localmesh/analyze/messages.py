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


# Istio's own codes keep their number and level (pkg/config/analysis/msg/messages.yaml);
# LM codes are this project's rules. The README table is generated from this list.
CODES = {
    c.code: c
    for c in (
        Code("IST0101", "ReferencedResourceNotFound", ERROR,
             "a VirtualService names a host, a subset or a gateway that the set does not define"),
        Code("IST0106", "SchemaValidationError", ERROR,
             "an Istio resource fails Istio's CRD schema (unknown field, wrong type) or its validation"
             " rules (weights, header names, RE2 regexes, subset names, ports, rules without a route)"),
        Code("IST0109", "ConflictingMeshGatewayVirtualServiceHosts", ERROR,
             "two VirtualServices bound to the mesh define the same host"),
        Code("IST0112", "VirtualServiceDestinationPortSelectorRequired", ERROR,
             "a destination Service has several ports and the route names none"),
        Code("IST0118", "PortNameIsNotUnderNamingConvention", INFO,
             "a Service port is neither named <protocol>[-suffix] nor has appProtocol"),
        Code("IST0130", "VirtualServiceUnreachableRule", WARNING,
             "an HTTP rule can never match: it follows a catch-all, or earlier rules cover all its matches"),
        Code("IST0131", "VirtualServiceIneffectiveMatch", INFO,
             "a match repeats one of an earlier rule"),
        Code("IST0132", "VirtualServiceHostNotFoundInGateway", WARNING,
             "a VirtualService host is not served by the Gateway it binds to"),
        Code("IST0173", "DestinationRuleSubsetNotSelectPods", ERROR,
             "the Service selector plus the subset labels select no pod template"),
        Code("IST0174", "UnknownDestinationRuleHost", WARNING,
             "a DestinationRule host matches no Service"),
        Code("LM0001", "UnknownKind", ERROR,
             "no Kubernetes or Istio schema defines this apiVersion and kind"),
        Code("LM0002", "KubernetesSchemaError", ERROR,
             "a Kubernetes resource fails the Kubernetes OpenAPI schema, strictly (unknown or duplicate"
             " field, wrong type, missing required field), as `kubectl apply` refuses it"),
        Code("LM0010", "VersionMismatch", ERROR,
             "the `version` label, tags.datadoghq.com/version, DD_VERSION and the image tag of a"
             " Deployment disagree (v1 goes with 1.0, v2 with 2.0)"),
        Code("LM0011", "ServiceSelectsNoDeployment", ERROR,
             "a Service's selector matches no Deployment's pod template in its namespace"),
        Code("LM0012", "TargetPortNotExposed", ERROR,
             "a Service targetPort is not a container port of a pod it selects"),
        Code("LM0013", "AdsUrlUnresolved", ERROR,
             "the frontend's ADS_URL names a Service or port that the set does not define"),
        Code("LM0014", "RemovedDatadogSetting", WARNING,
             "an env var that ddtrace 3+ removed or ignores (DD_ANALYTICS_ENABLED, ...)"),
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

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{self.level} [{self.code}] ({self.kind} {self.namespace}/{self.name} {where}) {self.text}"

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.line, self.code, self.text)


def message(
    code: str, resource: Resource, field_path: Any, text: str, level: Optional[str] = None
) -> Message:
    """A message about resource, placed at the line of field_path (a tuple of keys and indexes)."""
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
    )


def dotted(path: Any) -> str:
    """A field path as kubectl writes it: spec.http[0].route[1].weight."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def codes_table() -> str:
    """The codes as a Markdown table, for the README."""
    rows = ["| code | name | level | reported when |", "|---|---|---|---|"]
    rows += [f"| {c.code} | {c.name} | {c.level} | {c.meaning} |" for c in CODES.values()]
    return "\n".join(rows)
