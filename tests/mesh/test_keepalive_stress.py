"""Light traffic with idle gaps never loses a banner (the keep-alive race, end to end).

A pooled connection left idle is reused by its client (the gateway's Envoy, the ads listener's
Envoy, the storefront's pool) just as the server closes it, and the request on it is reset:
Envoy answers 503 with flag UC, the page has no banner. Gaps of 4-8 s between bursts straddle
a keep-alive of a few seconds, which is where the race lives. Every hop's client must give up
an idle connection before its server does; this checks the whole chain through a real
`localmesh up` of the canary (`make run`'s manifests) and reads Envoy's access log for flags.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from mesh.accesslog import flagged, wait_for_lines
from mesh.envoyadmin import wait_endpoints_healthy
from mesh.meshkit import CANARY, banner_version, get, product_slug

pytestmark = pytest.mark.envoy

VIEWS = 2000
BURSTS = 16
WORKERS = 6  # the concurrency of meshkit.page_versions, which the other mesh tests use
GAPS = (4.0, 8.0)
SEED = 20261201


def idle_gaps(count: int) -> list:
    """count gaps spread evenly over GAPS, in a fixed shuffled order (the same on every run)."""
    low, high = GAPS
    gaps = [low + (high - low) * i / (count - 1) for i in range(count)]
    random.Random(SEED).shuffle(gaps)
    return gaps


def _pods(mesh) -> dict:
    return {row["name"]: row for row in mesh.status()["workloads"] if row.get("kind") == "pod"}


def test_no_page_loses_its_banner_across_idle_gaps(mesh_up):
    mesh = mesh_up(*CANARY)
    wait_endpoints_healthy(mesh)
    pages = [mesh.gateway + "/", f"{mesh.gateway}/products/{product_slug(mesh.gateway)}"]
    before = _pods(mesh)
    assert sum(name.startswith("advertisements") for name in before) == 2, sorted(before)
    assert all(row["ready"] for row in before.values()), before

    missing: list = []
    lock = threading.Lock()

    def view(index: int) -> None:
        url = pages[index % len(pages)]
        status, body = get(url)
        if status != 200 or banner_version(body) is None:
            with lock:
                missing.append((index, url, status))

    idle = threading.Event()  # never set: waiting on it is the idle gap, the stimulus under test
    per_burst = VIEWS // BURSTS
    gaps = idle_gaps(BURSTS - 1)
    with ThreadPoolExecutor(WORKERS) as pool:
        for burst in range(BURSTS):
            list(pool.map(view, range(burst * per_burst, (burst + 1) * per_burst)))
            if burst < len(gaps):
                idle.wait(gaps[burst])

    after = _pods(mesh)
    # The claim holds while every ads pod is up: the same processes, ready, never restarted.
    assert {n: (r["pid"], r["restarts"]) for n, r in after.items()} == {
        n: (r["pid"], r["restarts"]) for n, r in before.items()
    }, (before, after)
    assert all(row["ready"] for row in after.values()), after
    # Each page view is one gateway line and one ads line (and product_slug's one view).
    lines = wait_for_lines(mesh, 2 * (VIEWS + 1))
    with_flags = flagged(lines)
    assert not missing and not with_flags, (
        f"{len(missing)} of {VIEWS} pages without a banner or not 200: {missing[:10]}\n"
        "Envoy access-log lines with response flags:\n" + "\n".join(with_flags[:20])
    )
