"""Test-only manifests for the routing-semantics matrix: one Service + VirtualService per case.

Every Service selects the same two real ads processes (labels app=ads, version v1/v2), except
`plain` (no VirtualService, three endpoints: one v1, two v2) and `ready` (readiness).
"""

from __future__ import annotations

from testkit.manifests import destination_rule, virtual_service
from testkit.manifests import service as k8s_service

NAMESPACE = "t"


def service(name: str, app: str = "ads") -> str:
    """A Service selecting app's pods, with a DestinationRule for its subsets v1 and v2."""
    return k8s_service(name, NAMESPACE, f"""
        selector: {{app: {app}}}
        ports: [{{name: http, port: 5002, targetPort: 5002}}]
    """) + destination_rule(name, NAMESPACE, f"""
        host: {name}
        subsets:
        - {{name: v1, labels: {{version: v1}}}}
        - {{name: v2, labels: {{version: v2}}}}
    """)


def scenario_vs(name: str, http: str) -> str:
    return virtual_service(name, NAMESPACE, f"hosts: [{name}]\nhttp:{http}")


def to(host: str, subset: str) -> str:
    return f"""
    route:
    - destination: {{host: {host}, subset: {subset}}}"""


def weighted(host: str, *weights: tuple) -> str:
    """A route over subsets of host: (subset, weight) each, weight None for none written."""
    destinations = []
    for subset, weight in weights:
        written = "" if weight is None else f", weight: {weight}"
        destinations.append(f"{{destination: {{host: {host}, subset: {subset}}}{written}}}")
    return "route: [" + ", ".join(destinations) + "]"


# A table of scenarios: its entries repeat one shape on purpose.
CASES = {
    # Rule order: the first matching rule wins, even over a more specific later one.
    "order": """
  - match: [{headers: {x-t: {prefix: "y"}}}]""" + to("order", "v1") + """
  - match: [{headers: {x-t: {exact: "yes"}}}]""" + to("order", "v2") + """
  - name: rest""" + to("order", "v2"),
    # AND inside one match entry, OR across entries.
    "andor": """
  - match:
    - headers: {x-a: {exact: "1"}, x-b: {exact: "1"}}
    - headers: {x-c: {exact: "1"}}""" + to("andor", "v2") + """
  - name: rest""" + to("andor", "v1"),
    # exact / prefix / RE2 full-match regex on the URI and on headers.
    "strings": """
  - match: [{uri: {exact: /readyz}}]""" + to("strings", "v2") + """
  - match: [{uri: {regex: /health}}]""" + to("strings", "v2") + """
  - match: [{headers: {x-p: {prefix: ab}}}]""" + to("strings", "v2") + """
  - match: [{headers: {x-r: {regex: "v[0-9]+"}}}]""" + to("strings", "v2") + """
  - name: rest""" + to("strings", "v1"),
    # A value matcher on an absent header never matches; {} means "present".
    "absent": """
  - match: [{headers: {x-v: {exact: "1"}}}]""" + to("absent", "v2") + """
  - match: [{headers: {x-any: {regex: ".*"}}}]""" + to("absent", "v2") + """
  - match: [{headers: {x-present: {}}}]""" + to("absent", "v2") + """
  - name: rest""" + to("absent", "v1"),
    # withoutHeaders: a request lacking the header (or with another value) satisfies it.
    "without": """
  - match:
    - withoutHeaders: {x-beta: {exact: "1"}, x-block: {}}""" + to("without", "v2") + """
  - name: rest""" + to("without", "v1"),
    "weights": "\n  - " + weighted("weights", ("v1", 1), ("v2", 3)),
    "zero": """
  - match: [{headers: {x-case: {exact: omitted}}}]
    """ + weighted("zero", ("v1", None), ("v2", 5)) + "\n  - " + weighted("zero", ("v1", 0), ("v2", 100)),
    "nomatch": """
  - match: [{headers: {x-only: {exact: "1"}}}]""" + to("nomatch", "v1"),
    "unknown": """
  - match: [{headers: {x-known: {exact: "1"}}}]""" + to("unknown", "v1") + """
  - name: rest""" + to("unknown", "v3"),
}


def manifests() -> str:
    parts = [service(name) + scenario_vs(name, http) for name, http in CASES.items()]
    parts.append(service("plain", app="plain"))
    parts.append(service("ready", app="ready"))
    return "".join(parts)
