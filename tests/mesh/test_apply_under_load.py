"""Requests in flight while the mesh changes do not fail: routes, new pods, replaced pods."""

from __future__ import annotations

import pytest

from mesh.meshkit import (
    ADS_V2,
    BASE,
    CANARY_VS,
    DESTINATION_RULE,
    SCENARIOS,
    Stream,
    product_slug,
)

pytestmark = pytest.mark.envoy


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
        # The workshop's rollback: v2, its subsets and the canary go together; v2 pods drain.
        out = mesh.delete(ADS_V2, DESTINATION_RULE, CANARY_VS)
        assert "stopped" in out, out
    assert stream.outcomes["ok"] > 200, stream.outcomes
    assert not stream.failures, f"{stream.outcomes}: {stream.failures[:10]}"
    assert not any(w.get("deployment") == "advertisements-v2" for w in mesh.status()["workloads"])
