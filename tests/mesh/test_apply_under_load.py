"""Requests in flight while the mesh changes do not fail: routes, new pods, replaced pods."""

from __future__ import annotations

import threading
import time
from collections import Counter

from mesh.meshkit import (
    ADS_V2,
    BASE,
    CANARY_VS,
    DESTINATION_RULE,
    SCENARIOS,
    banner_version,
    get,
    product_slug,
)

MAX_REQUESTS = 20000  # the stream is bounded even if a step hangs


class Stream:
    """A steady stream of page views and direct ads calls from threads, tallied by outcome."""

    def __init__(self, urls: list, threads_per_url: int = 2) -> None:
        self.outcomes: Counter = Counter()
        self.failures: list = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(url, headers), daemon=True)
                         for url, headers in urls for _ in range(threads_per_url)]

    def _run(self, url: str, headers: dict) -> None:
        while not self._stop.is_set() and sum(self.outcomes.values()) < MAX_REQUESTS:
            try:
                status, body = get(url, headers=headers)
                page = "/products/" in url or url.endswith("/")
                ok = status == 200 and (banner_version(body) is not None if page else '"version"' in body)
                outcome = "ok" if ok else f"{status}{' without banner' if page else ''}"
            except OSError as error:
                outcome = f"error {type(error).__name__}"
            with self._lock:
                self.outcomes[outcome] += 1
                if outcome != "ok":
                    self.failures.append((time.strftime("%X"), url, outcome))
            time.sleep(0.005)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        time.sleep(1.0)
        return self

    def __exit__(self, *exc):
        time.sleep(1.0)
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def test_apply_and_delete_under_load_lose_no_request(mesh_up, tmp_path):
    mesh = mesh_up(*BASE, ADS_V2, DESTINATION_RULE)
    ads = mesh.listener("advertisements") + "/ads?category=kitchen"
    product = f"{mesh.gateway}/products/{product_slug(mesh.gateway)}"
    changed_v2 = tmp_path / "advertisements_v2-changed.yaml"
    changed_v2.write_text(ADS_V2.read_text().replace(
        '            - name: DD_LOGS_INJECTION\n',
        '            - name: ROLLOUT\n              value: "2"\n            - name: DD_LOGS_INJECTION\n'))
    assert changed_v2.read_text() != ADS_V2.read_text()
    with Stream([(product, {}), (ads, {"page-source": "products"})]) as stream:
        for _ in range(2):
            mesh.apply(CANARY_VS)
            mesh.delete(CANARY_VS)
        mesh.apply(SCENARIOS / "promote-v2.yaml")
        # A changed Deployment: its pods are replaced (new pods ready first, old ones drained).
        out = mesh.apply(changed_v2)
        assert "started" in out and "stopped" in out, out
        mesh.apply(CANARY_VS)
        # Deleting v2 alone would leave subset v2 selecting no pod: refused, nothing changes.
        refused = mesh.cli("delete", "-f", str(ADS_V2))
        assert refused.returncode == 1 and "IST0173" in refused.stdout, refused.stdout + refused.stderr
        assert any(w.get("deployment") == "advertisements-v2" for w in mesh.status()["workloads"])
        # The workshop's rollback: v2, its subsets and the canary go together; v2 pods drain.
        out = mesh.delete(ADS_V2, DESTINATION_RULE, CANARY_VS)
        assert "stopped" in out, out
    assert stream.outcomes["ok"] > 200, stream.outcomes
    assert not stream.failures, f"{stream.outcomes}: {stream.failures[:10]}"
    assert not any(w.get("deployment") == "advertisements-v2" for w in mesh.status()["workloads"])
