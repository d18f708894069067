"""What Envoy itself says about a running `localmesh up` (its admin API)."""

from __future__ import annotations

import time
import urllib.request


def endpoint_health(mesh) -> dict:
    """{(cluster, host:port): health flags} for every endpoint of the mesh's app clusters."""
    url = f"http://127.0.0.1:{mesh.admin_port}/clusters"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    health = {}
    for line in text.splitlines():
        parts = line.split("::")
        if len(parts) == 4 and parts[2] == "health_flags" and parts[0].startswith("outbound|"):
            health[(parts[0], parts[1])] = parts[3]
    return health


def wait_endpoints_healthy(mesh, timeout: float = 30.0) -> dict:
    """Until Envoy routes to every endpoint (`up` answers ready on its own probes, which may
    pass a moment before Envoy's first health check does)."""
    def all_healthy(health: dict) -> bool:
        return bool(health) and all(flags == "healthy" for flags in health.values())

    deadline = time.monotonic() + timeout
    health = endpoint_health(mesh)
    while not all_healthy(health) and time.monotonic() < deadline:
        time.sleep(0.2)
        health = endpoint_health(mesh)
    assert all_healthy(health), health
    return health
