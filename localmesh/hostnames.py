"""Host names as Istio compares them (pkg/config/host, Istio 1.29): a name, or a wildcard that
covers every name ending in what follows its '*' ('*.example.com', or '*' for every name).

One place for the rules the analyzer, the model and the Envoy builders share.
"""

from __future__ import annotations

from collections.abc import Iterable


def is_wildcard(name: str) -> bool:
    return name.startswith("*")


def subset_of(name: str, other: str) -> bool:
    """Name.SubsetOf: every host that name covers, other covers too."""
    if is_wildcard(name):
        return is_wildcard(other) and name[1:].endswith(other[1:])
    if is_wildcard(other):
        return name.endswith(other[1:])
    return name == other


def overlaps(name: str, other: str) -> bool:
    """Name.Matches: some host is covered by both (equal, or one covers the other)."""
    return subset_of(name, other) or subset_of(other, name)


def names_for_namespace(hosts: Iterable[str], namespace: str) -> list[str]:
    """NamesForNamespace: the hosts a resource in namespace may use, from hosts written plain or
    as 'ns/host' (only that namespace) or '*/host' (every namespace), without the 'ns/' part."""
    found = []
    for host in hosts:
        scope, slash, name = host.partition("/")
        if not slash:
            found.append(host)
        elif scope in (namespace, "*"):
            found.append(name)
    return found
