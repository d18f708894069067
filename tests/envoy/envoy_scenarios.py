"""Test-only manifests for the routing-semantics matrix: one Service + VirtualService per case.

Every Service selects the same two real ads processes (labels app=ads, version v1/v2), except
`plain` (no VirtualService, three endpoints: one v1, two v2) and `ready` (readiness).
"""

from __future__ import annotations

NAMESPACE = "t"

DESTINATIONS = """
      - destination: {{host: {host}, subset: {subset}}}"""


def service(name: str, app: str = "ads") -> str:
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  selector: {{app: {app}}}
  ports:
  - {{name: http, port: 5002, targetPort: 5002}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  host: {name}
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
---"""


def virtual_service(name: str, http: str) -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  hosts: [{name}]
  http:{http}
---"""


def to(host: str, subset: str) -> str:
    return f"""
    route:
    - destination: {{host: {host}, subset: {subset}}}"""


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
    "weights": """
  - route:
    - destination: {host: weights, subset: v1}
      weight: 1
    - destination: {host: weights, subset: v2}
      weight: 3""",
    "zero": """
  - match: [{headers: {x-case: {exact: omitted}}}]
    route:
    - destination: {host: zero, subset: v1}
    - destination: {host: zero, subset: v2}
      weight: 5
  - route:
    - destination: {host: zero, subset: v1}
      weight: 0
    - destination: {host: zero, subset: v2}
      weight: 100""",
    "nomatch": """
  - match: [{headers: {x-only: {exact: "1"}}}]""" + to("nomatch", "v1"),
    "unknown": """
  - match: [{headers: {x-known: {exact: "1"}}}]""" + to("unknown", "v1") + """
  - name: rest""" + to("unknown", "v3"),
}


def manifests() -> str:
    parts = [service(name) + virtual_service(name, http) for name, http in CASES.items()]
    parts.append(service("plain", app="plain"))
    parts.append(service("ready", app="ready"))
    return "\n".join(parts)
