"""Kubernetes and Istio manifests for tests, as YAML text.

Each helper writes a resource's envelope (`---`, apiVersion, kind, metadata, `spec:`), so that a
test writes only the part it is about:

    virtual_service("ads", "t", '''
        hosts: [ads]
        http:
        - route: [{destination: {host: ads, subset: v2}}]
    ''')
"""

from __future__ import annotations

import textwrap

ISTIO_API = "networking.istio.io/v1"


def document(kind: str, name: str, namespace: str, spec: str, api_version: str = ISTIO_API,
             metadata: str = "") -> str:
    """One YAML document, apiVersion on its first line. spec is the YAML under `spec:`, at any
    indentation; metadata adds flow-style fields after the namespace (", labels: {app: web}")."""
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return (f"apiVersion: {api_version}\nkind: {kind}\n"
            f"metadata: {{name: {name}, namespace: {namespace}{metadata}}}\nspec:\n{body}\n")


def resource(kind: str, name: str, namespace: str, spec: str, api_version: str = ISTIO_API,
             metadata: str = "") -> str:
    """document() opened by a `---` line, so that resources concatenate into one manifest."""
    return "\n---\n" + document(kind, name, namespace, spec, api_version, metadata)


def virtual_service(name: str, namespace: str, spec: str) -> str:
    return resource("VirtualService", name, namespace, spec)


def destination_rule(name: str, namespace: str, spec: str) -> str:
    return resource("DestinationRule", name, namespace, spec)


def gateway(name: str, namespace: str, spec: str) -> str:
    return resource("Gateway", name, namespace, spec)


def service(name: str, namespace: str, spec: str, metadata: str = "") -> str:
    """A Kubernetes Service (spec: selector, ports, type ...)."""
    return resource("Service", name, namespace, spec, api_version="v1", metadata=metadata)


def deployment(name: str, namespace: str, spec: str) -> str:
    return resource("Deployment", name, namespace, spec, api_version="apps/v1")
