"""On every hop of every shipped Istio step, the client gives up an idle connection first.

A client reusing a kept-alive connection just as its server closes it gets a reset (Envoy:
503 UC). The hops and who closes first:
- gateway Envoy -> frontend gunicorn, ads listener Envoy -> ads gunicorn: the clusters'
  idle_timeout (DestinationRule connectionPool.http.idleTimeout) below gunicorn's keep-alive;
- storefront pool -> Envoy's ads listener: the pool's limit below Envoy's downstream idle
  timeout (HCM common_http_protocol_options.idle_timeout, Envoy's default 1 h when unset).
Read from the Envoy configuration localmesh builds from the manifests, not from the YAML.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from shopcommon.serving import KEEPALIVE_SECONDS, gunicorn_settings
from storefront.ads.pool import MAX_IDLE_SECONDS

from localmesh.envoy import build_resources
from localmesh.loader import kustomization_files, load_paths
from localmesh.model import build_mesh
from localmesh.topology import Topology

ROOT = Path(__file__).resolve().parents[2]

ENVOY_DEFAULT_IDLE = 3600.0  # HttpProtocolOptions.idle_timeout when unset, for both directions
APP_SERVICES = ("frontend.ns3.svc.cluster.local", "advertisements.ns3.svc.cluster.local")
PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
ISTIO_SHOP = kustomization_files(ROOT / "istio" / "ecommerce-istio")
ISTIO_CANARY = ISTIO_SHOP + kustomization_files(ROOT / "istio" / "ads_v2")
STEPS = {
    "v1-only": ISTIO_SHOP,
    "canary": ISTIO_CANARY,
    **{f"canary+{p.stem}": ISTIO_CANARY + [str(p.relative_to(ROOT))]
       for p in sorted((ROOT / "istio" / "scenarios").glob("*.yaml"))},
}


def seconds(text: str) -> float:
    assert text.endswith("s"), text
    return float(text[:-1])


def built(paths: list):
    mesh = build_mesh(load_paths([ROOT / p for p in paths]))
    services = {(s.fqdn, p.port): 20000 + i for i, s in enumerate(mesh.services) for p in s.ports}
    return build_resources(mesh, Topology(service_ports=services))


def test_gunicorn_keeps_idle_connections_for_its_keep_alive(monkeypatch):
    monkeypatch.delenv("GUNICORN_KEEPALIVE", raising=False)
    assert gunicorn_settings(default_port=5002)["keepalive"] == KEEPALIVE_SECONDS
    monkeypatch.setenv("GUNICORN_KEEPALIVE", "90")
    assert gunicorn_settings(default_port=5002)["keepalive"] == 90


@pytest.mark.parametrize("step", sorted(STEPS))
def test_envoy_closes_idle_upstream_connections_before_gunicorn(step):
    resources = built(STEPS[step])
    app_clusters = [c for c in resources.clusters if c["name"].endswith(APP_SERVICES)]
    assert {c["name"].rsplit("|", 1)[-1] for c in app_clusters} == set(APP_SERVICES)
    for cluster in app_clusters:
        options = cluster.get("typed_extension_protocol_options", {}).get(PROTOCOL_OPTIONS, {})
        idle = options.get("common_http_protocol_options", {}).get("idle_timeout")
        assert idle is not None, f"{step}: {cluster['name']} keeps idle connections for Envoy's 1 h"
        assert seconds(idle) < KEEPALIVE_SECONDS, f"{step}: {cluster['name']} idle {idle}"


@pytest.mark.parametrize("step", sorted(STEPS))
def test_the_storefront_pool_closes_idle_connections_before_envoy(step):
    for listener in built(STEPS[step]).listeners:
        (hcm,) = listener["filter_chains"][0]["filters"]
        idle = hcm["typed_config"].get("common_http_protocol_options", {}).get("idle_timeout")
        assert MAX_IDLE_SECONDS < (seconds(idle) if idle else ENVOY_DEFAULT_IDLE), listener["name"]
