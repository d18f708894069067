"""Every scenario file in istio/scenarios/ does, through a real mesh, what its name says."""

from __future__ import annotations

import json
import random
import statistics
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from scipy.stats import binom

from localmesh.loader import load_paths
from localmesh.model import build_mesh
from mesh.meshkit import (
    ADS_V2,
    BASE,
    CANARY_VS,
    DESTINATION_RULE,
    ISTIO,
    SCENARIOS,
    MeshUp,
    banner_version,
    get,
    page_versions,
    product_slug,
)

pytestmark = pytest.mark.envoy

CONFIDENCE = 0.999
CHECKED = {
    "all-to-v1.yaml", "products-90-10.yaml", "promote-v2.yaml", "preview-header.yaml",
    "fault-delay-v2.yaml", "timeouts-retries.yaml", "destinationrule-resilience.yaml", "mtls-strict.yaml",
    "sticky-ab.yaml",
}
SHOP_FRONTEND = ISTIO / "ecommerce-istio" / "frontend.yaml"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    mesh = MeshUp(tmp_path_factory.mktemp("scenarios"), [*BASE, ADS_V2, DESTINATION_RULE]).wait_ready()
    mesh.home = mesh.gateway + "/"
    mesh.product = f"{mesh.gateway}/products/{product_slug(mesh.gateway)}"
    yield mesh
    assert mesh.stop() == 0, mesh.output()[-4000:]


@pytest.fixture
def scenario(shop):
    """Apply a scenario file over the canary's DestinationRule; undo extra kinds afterwards."""
    applied = []

    def apply(name: str):
        shop.apply(DESTINATION_RULE)
        shop.apply(SCENARIOS / name)
        applied.append(name)
        return shop

    yield apply
    for name in applied:
        if name == "mtls-strict.yaml":
            shop.delete(SCENARIOS / name)


def _vs_routes(name: str):
    (vs,) = build_mesh(load_paths([SCENARIOS / name])).virtual_services
    return vs.http


def _within(views: list, version: str, p: float) -> None:
    low, high = binom.interval(CONFIDENCE, len(views), p)
    count = views.count(version)
    assert low <= count <= high, f"{version} on {count}/{len(views)} views, expected [{low:g}, {high:g}]"


def _admin_dump(shop, resource: str) -> list:
    """One entry per route configuration or cluster Envoy has in force."""
    url = f"http://127.0.0.1:{shop.admin_port}/config_dump?resource={resource}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())["configs"]


def test_every_scenario_file_is_checked():
    assert {p.name for p in SCENARIOS.glob("*.yaml")} == CHECKED


@pytest.mark.parametrize(("name", "version"), [("all-to-v1.yaml", "1.0"), ("promote-v2.yaml", "2.0")])
def test_every_page_on_one_version(scenario, name, version):
    shop = scenario(name)
    assert set(page_versions(shop.home, 100)) == {version}
    assert set(page_versions(shop.product, 200)) == {version}


def test_products_90_10(scenario):
    shop = scenario("products-90-10.yaml")
    canary = _vs_routes("products-90-10.yaml")[0].route
    weights = {d.destination.subset: d.weight for d in canary}
    assert set(page_versions(shop.home, 200)) == {"1.0"}
    _within(page_versions(shop.product, 400), "2.0", weights["v2"] / sum(weights.values()))


def test_preview_header_forces_v2_for_testers(scenario):
    shop = scenario("preview-header.yaml")
    (header,) = _vs_routes("preview-header.yaml")[0].matches[0].headers
    preview = {header.name: header.match.value}
    for url in (shop.home, shop.product):
        for _ in range(60):
            status, body = get(url, headers=preview)
            assert status == 200 and banner_version(body) == "2.0", url
    assert set(page_versions(shop.home, 100)) == {"1.0"}
    assert set(page_versions(shop.product, 100)) == {"1.0", "2.0"}


def _latencies(url: str, views: int) -> list:
    times = []
    for _ in range(views):
        started = time.perf_counter()
        status, body = get(url)
        times.append(time.perf_counter() - started)
        assert status == 200
    return times


def test_fault_delay_on_v2_shows_in_response_times(scenario):
    shop = scenario("fault-delay-v2.yaml")
    delay = _vs_routes("fault-delay-v2.yaml")[0].fault.delay_seconds
    baseline = statistics.median(_latencies(shop.home, 15))  # home: v1, no fault
    delayed = statistics.median(_latencies(shop.product, 15))
    # Relative to the undelayed page on the same machine, not an absolute time.
    assert delayed - baseline >= 0.8 * delay, (baseline, delayed, delay)
    assert set(page_versions(shop.product, 20)) == {"2.0"}


def test_timeouts_and_retries_are_in_force(scenario):
    shop = scenario("timeouts-retries.yaml")
    assert set(page_versions(shop.home, 100)) == {"1.0"}
    _within(page_versions(shop.product, 400), "2.0", 0.5)
    rule = _vs_routes("timeouts-retries.yaml")[0]
    config = next(r["route_config"] for r in _admin_dump(shop, "dynamic_route_configs")
                  if r["route_config"]["name"].startswith("advertisements."))
    route = config["virtual_hosts"][0]["routes"][0]["route"]
    assert float(route["timeout"].rstrip("s")) == rule.timeout
    assert route["retry_policy"]["num_retries"] == rule.retries.attempts
    assert float(route["retry_policy"]["per_try_timeout"].rstrip("s")) == rule.retries.per_try_timeout


def test_destinationrule_resilience_keeps_the_canary_and_sets_limits(scenario, shop):
    shop.apply(CANARY_VS)
    scenario("destinationrule-resilience.yaml")
    assert set(page_versions(shop.home, 100)) == {"1.0"}
    _within(page_versions(shop.product, 400), "2.0", 0.5)
    v2 = next(c["cluster"] for c in _admin_dump(shop, "dynamic_active_clusters")
              if c["cluster"]["name"].startswith("outbound|5002|v2|"))
    assert v2["outlier_detection"]["consecutive_5xx"] == 5
    assert v2["circuit_breakers"]["thresholds"][0]["max_connections"] == 100


def test_mtls_strict_is_accepted_and_changes_nothing_locally(scenario, shop):
    shop.apply(CANARY_VS)
    scenario("mtls-strict.yaml")
    assert set(page_versions(shop.home, 60)) == {"1.0"}
    assert set(page_versions(shop.product, 100)) == {"1.0", "2.0"}


def _frontend_with(target: Path, **settings: str) -> Path:
    """The shipped frontend manifest with some env values changed (AB_MODE, AB_SHARE)."""
    documents = list(yaml.safe_load_all(SHOP_FRONTEND.read_text()))
    for doc in documents:
        if doc and doc.get("kind") == "Deployment":
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            env = [e for e in container["env"] if e["name"] not in settings]
            container["env"] = [*({"name": k, "value": v} for k, v in settings.items()), *env]
    target.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return target


def _customer_ids(count: int, seed: int) -> list:
    """Customer ids of the form the shop issues (uuid4 hex), the same on every run."""
    rng = random.Random(seed)
    return [uuid.UUID(int=rng.getrandbits(128), version=4).hex for _ in range(count)]


def test_sticky_ab_keeps_each_customer_on_one_version(scenario, shop, tmp_path):
    scenario("sticky-ab.yaml")
    (rule, _) = _vs_routes("sticky-ab.yaml")
    header = {h.name: h.match.value for h in rule.matches[0].headers}
    assert header == {"page-source": "products", "x-ads-arm": "v2"}
    # The shipped frontend runs with AB_MODE=off: it sends no arm, so every page gets v1.
    assert set(page_versions(shop.product, 100)) == {"1.0"}
    share = 0.3
    out = shop.apply(_frontend_with(tmp_path / "frontend.yaml", AB_MODE="sticky", AB_SHARE=str(share)))
    assert "deployment/frontend configured" in out and "warning" not in out, out
    try:
        arms = []
        for customer in _customer_ids(100, seed=2024):
            cookie = {"Cookie": f"customer_id={customer}"}
            seen = set()
            for url in (shop.product, shop.product, shop.home):
                status, body = get(url, headers=cookie)
                assert status == 200, url
                seen.add((url, banner_version(body)))
            assert (shop.home, "1.0") in seen, f"customer {customer}: home not on 1.0: {seen}"
            versions = {version for url, version in seen if url == shop.product}
            assert len(versions) == 1, f"customer {customer} saw product pages on {versions}"
            arms += versions
        _within(arms, "2.0", share)
    finally:
        shop.apply(SHOP_FRONTEND, CANARY_VS)
