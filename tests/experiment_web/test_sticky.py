"""Sticky per-customer assignment: the hash share (2,000 customers) and the route through a REAL Envoy
built from the shipped canary with istio/scenarios/sticky-ab.yaml, in front of real
ads 1.0/2.0 and a real frontend (gunicorn) with AB_MODE=sticky."""

from __future__ import annotations

import random
import uuid
from collections import Counter

import pytest
import requests
from scipy.stats import binom
from testkit.envoy import run_envoy
from testkit.processes import REPO_ROOT, free_port, run_service

from experiment_web.webkit import banner, cells, wait_for
from localmesh.envoy import build_static_config
from localmesh.loader import kustomization_files, load_paths
from localmesh.model import build_mesh
from localmesh.topology import Endpoint, Topology

pytestmark = pytest.mark.envoy

CONFIDENCE = 0.999
NAMESPACE = "ns3"
MANIFESTS = [
    *kustomization_files(REPO_ROOT / "istio" / "ecommerce-istio"),
    *kustomization_files(REPO_ROOT / "istio" / "ads_v2"),
    REPO_ROOT / "istio" / "scenarios" / "sticky-ab.yaml",
]
ARM_VERSION = {"v1": "1.0", "v2": "2.0"}
PRODUCTS = ["cast-iron-skillet", "two-person-tent", "wireless-earbuds", "merino-beanie"]


def synthetic_customers(count: int, seed: int) -> list[str]:
    """Customer ids of the form the shop issues (uuid4 hex), reproducible from seed."""
    rng = random.Random(seed)
    return [uuid.UUID(int=rng.getrandbits(128), version=4).hex for _ in range(count)]


def within_bounds(successes: int, trials: int, share: float) -> tuple[bool, tuple]:
    low, high = binom.interval(CONFIDENCE, trials, share)
    return low <= successes <= high, (low, high)


@pytest.mark.parametrize("share", [0.5, 0.2])
def test_share_across_2000_customers_is_within_exact_binomial_bounds(share):
    from storefront.experiment.assignment import assign, is_valid_customer_id

    customers = synthetic_customers(2000, seed=2024)
    assert all(is_valid_customer_id(c) for c in customers)
    arms = [assign(c, share) for c in customers]
    ok, bounds = within_bounds(arms.count("v2"), len(arms), share)
    assert ok, f"v2 got {arms.count('v2')}/2000 at share {share}, expected within {bounds}"
    assert arms == [assign(c, share) for c in customers], "the same customer must always get the same arm"


def fqdn(name: str) -> str:
    return f"{name}.{NAMESPACE}.svc.cluster.local"


@pytest.fixture(scope="module")
def sticky_shop(ads_v1, ads_v2, tmp_path_factory):
    """Gateway URL of: Envoy (sticky VirtualService) -> frontend (AB_MODE=sticky) -> Envoy -> ads."""
    mesh = build_mesh(load_paths(MANIFESTS))
    ads_listener, frontend_listener = free_port(), free_port()
    env = {
        "ADS_URL": f"http://127.0.0.1:{ads_listener}",
        "AB_MODE": "sticky",
        "WEB_CONCURRENCY": "2",
        "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('sticky') / 'exp.sqlite3'}",
    }
    with run_service("frontend", env=env) as frontend:
        def endpoint(pod, app, version, port):
            return Endpoint(pod, NAMESPACE, {"app": app, "version": version}, "127.0.0.1", port, "/readyz")

        topology = Topology(
            endpoints=(
                endpoint("frontend-0", "frontend", "v1", frontend.port),
                endpoint("advertisements-0", "advertisements", "v1", ads_v1.port),
                endpoint("advertisements-v2-0", "advertisements", "v2", ads_v2.port),
            ),
            service_ports={
                (fqdn("advertisements"), 5002): ads_listener,
                (fqdn("frontend"), 80): frontend_listener,
            },
            admin_port=free_port(),
            gateway_port=free_port(),
        )
        with run_envoy(build_static_config(mesh, topology)) as envoy:
            envoy.wait_for_healthy(f"outbound|5002|v1|{fqdn('advertisements')}", 1)
            envoy.wait_for_healthy(f"outbound|5002|v2|{fqdn('advertisements')}", 1)
            envoy.wait_for_healthy(f"outbound|80||{fqdn('frontend')}", 1)
            yield f"http://127.0.0.1:{topology.gateway_port}"


def product_version(session: requests.Session, gateway: str, index: int) -> str:
    response = session.get(f"{gateway}/products/{PRODUCTS[index % len(PRODUCTS)]}", timeout=10)
    assert response.status_code == 200
    found = banner(response.text)
    assert found is not None, "product page without a banner"
    return found["version"]


def test_each_customer_keeps_one_version_over_50_product_views(sticky_shop):
    from storefront.experiment.assignment import assign

    # Three customers of each arm, chosen by the same hash the frontend uses.
    customers = synthetic_customers(200, seed=7)
    chosen = [c for c in customers if assign(c) == "v1"][:3] + [c for c in customers if assign(c) == "v2"][:3]
    for customer in chosen:
        with requests.Session() as session:
            session.cookies.set("customer_id", customer, domain="127.0.0.1", path="/")
            seen = Counter(product_version(session, sticky_shop, i) for i in range(50))
            assert seen == Counter({ARM_VERSION[assign(customer)]: 50}), f"customer {customer}: {seen}"
            # The home page is not part of the experiment: 1.0 whatever the arm.
            homes = {banner(session.get(sticky_shop + "/", timeout=10).text)["version"] for _ in range(5)}
            assert homes == {"1.0"}


def test_a_new_customer_keeps_the_version_of_the_cookie_it_was_given(sticky_shop):
    from storefront.experiment.assignment import assign

    with requests.Session() as session:
        first = product_version(session, sticky_shop, 0)
        cookie = session.cookies.get("customer_id")
        assert first == ARM_VERSION[assign(cookie)]
        assert {product_version(session, sticky_shop, i) for i in range(1, 50)} == {first}


def products_customers(gateway: str) -> Counter:
    report = requests.get(gateway + "/experiment.json", timeout=10).json()
    return Counter({v: n for (source, v), n in cells(report, "customers").items() if source == "products"})


def test_fresh_customers_through_envoy_split_as_configured_and_are_counted_as_customers(sticky_shop):
    from storefront.experiment.assignment import assign

    before = products_customers(sticky_shop)
    arms: Counter = Counter()
    for index in range(200):
        with requests.Session() as session:
            version = product_version(session, sticky_shop, index)
            expected = ARM_VERSION[assign(session.cookies.get("customer_id"))]
            assert version == expected, f"customer {index} got {version}, assigned {expected}"
            arms[version] += 1
    ok, bounds = within_bounds(arms["2.0"], 200, 0.5)
    assert ok, f"2.0 got {arms['2.0']}/200, expected within {bounds}"
    # Every one of them is a new customer in the report, in the arm the hash gave it.
    wanted = before + arms
    wait_for(lambda: products_customers(sticky_shop), lambda seen: seen == wanted)
    report = requests.get(sticky_shop + "/experiment.json", timeout=10).json()
    assert products_customers(sticky_shop) == wanted
    # In sticky mode the SRM check counts customers, the unit that was randomised.
    assert report["srm"]["unit"] == "customers"
    assert report["srm"]["observed"] == {"1.0": wanted["1.0"], "2.0": wanted["2.0"]}
