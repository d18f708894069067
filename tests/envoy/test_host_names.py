"""Host names: Istio's short-name rule for routing, the Kubernetes DNS search path for pods."""

from __future__ import annotations

import pytest

from localmesh.model import dns_fqdn, resolve_host


# pilot/pkg/model/config.go ResolveShortnameToFQDN (Istio 1.29): only a name without a dot grows.
@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("advertisements", "advertisements.ns3.svc.cluster.local"),
        ("advertisements.ns3", "advertisements.ns3"),
        ("advertisements.ns3.svc", "advertisements.ns3.svc"),
        ("advertisements.ns3.svc.cluster.local", "advertisements.ns3.svc.cluster.local"),
        ("*", "*"),
        ("*.example.com", "*.example.com"),
        ("10.0.0.1", "10.0.0.1"),
        ("::1", "::1"),
    ],
)
def test_istio_expands_only_names_without_a_dot(host, expected):
    assert resolve_host(host, "ns3") == expected


# The Kubernetes DNS search path: a table shaped like the one above on purpose, so that the two
# rules can be read side by side.
@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("advertisements", "advertisements.ns3.svc.cluster.local"),
        ("advertisements.ns3", "advertisements.ns3.svc.cluster.local"),
        ("advertisements.ns3.svc", "advertisements.ns3.svc.cluster.local"),
        ("Advertisements.NS3.svc.cluster.local.", "advertisements.ns3.svc.cluster.local"),
    ],
)
def test_pod_dns_uses_the_search_path(host, expected):
    assert dns_fqdn(host, "ns3") == expected
