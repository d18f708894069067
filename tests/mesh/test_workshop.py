"""The workshop, step by step, through the gateway of a real `localmesh up`.

Only v1 -> apply ads v2 (the Service splits by replica count) -> DestinationRule and
VirtualService (home pinned to v1, product pages 50/50). Splits are checked with exact binomial
bounds.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from scipy.stats import binom

from mesh.meshkit import ADS_V2, BASE, CANARY_VS, DESTINATION_RULE, page_versions, product_slug

pytestmark = pytest.mark.envoy

CONFIDENCE = 0.999


def share_bounds(views: int, p: float) -> tuple:
    low, high = binom.interval(CONFIDENCE, views, p)
    return low / views, high / views


def test_workshop_sequence(mesh_up):
    mesh = mesh_up(*BASE)
    home = mesh.gateway + "/"
    product = f"{mesh.gateway}/products/{product_slug(mesh.gateway)}"

    # Step 1: only v1 runs, so every banner on every page is 1.0.
    assert set(page_versions(home, 40)) == {"1.0"}
    assert set(page_versions(product, 40)) == {"1.0"}

    # Step 2: v2 joins the Service; with no routing rules both pages see both versions, by
    # replica count (one pod each). Istio's default balancer is LEAST_REQUEST, not round robin:
    # the pods do not take strict turns, so the split is checked with exact binomial bounds. One
    # view at a time: then no pod has a request in flight, and Envoy's pick is a fair coin; with
    # several at once it favours the pod that answers faster, which no binomial describes.
    mesh.apply(ADS_V2)
    for page in (home, product):
        views = page_versions(page, 200, workers=1)
        assert set(views) <= {"1.0", "2.0"}, f"pages without a banner: {views.count(None)}"
        share = views.count("2.0") / len(views)
        low, high = share_bounds(len(views), 0.5)
        assert low <= share <= high, f"{page}: 2.0 share {share:.3f} outside [{low:.3f}, {high:.3f}]"

    # Step 3: the DestinationRule and the canary VirtualService.
    mesh.apply(DESTINATION_RULE, CANARY_VS)
    home_views = page_versions(home, 200)
    assert home_views.count("1.0") == len(home_views), f"home not pinned to v1: {set(home_views)}"
    views = page_versions(product, 400)
    assert set(views) <= {"1.0", "2.0"}, f"pages without a banner: {views.count(None)}"
    share = views.count("2.0") / len(views)
    low, high = share_bounds(len(views), 0.5)
    assert low <= share <= high, f"2.0 share {share:.3f} outside [{low:.3f}, {high:.3f}]"

    # What `localmesh status` says now: the three pods, ready, and the canary in readable form.
    result = mesh.cli("status")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "advertisements.ns3: page-source=products -> v1 50%, v2 50%; * -> v1" in text
    rows = [line.split() for line in text.splitlines() if line.startswith(("advertisements", "frontend"))]
    pods = {row[1]: row for row in rows if len(row) == 11}
    assert set(pods) == {"advertisements", "advertisements-v2", "frontend"}
    assert all(row[6] == "yes" and row[7] == "0" for row in pods.values()), pods
    assert pods["advertisements-v2"][3] == "v2"
    assert f"http://127.0.0.1:{mesh.gateway_port}" in text
    # Like `kubectl top pods`: CPU and memory (PSS of the pod's process group) per pod.
    assert all(row[9].endswith("%") and row[10].endswith("Mi") and int(row[10][:-2]) > 0
               for row in pods.values()), pods
    # The load balancer of each cluster, as Envoy's admin config dump has it.
    url = f"http://127.0.0.1:{mesh.admin_port}/config_dump?resource=dynamic_active_clusters"
    with urllib.request.urlopen(url, timeout=5) as response:
        dumped = {c["cluster"]["name"]: c["cluster"] for c in json.loads(response.read())["configs"]}
    v1 = "outbound|5002|v1|advertisements.ns3.svc.cluster.local"
    assert "load_balancing_policy" not in dumped[v1]  # the policy is lb_policy (absent: ROUND_ROBIN)
    expected = dumped[v1].get("lb_policy", "ROUND_ROBIN")
    assert [v1, expected, "1"] in [line.split() for line in text.splitlines()], text
