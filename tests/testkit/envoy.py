"""Run a real Envoy (.venv/bin/envoy) for a test, and read its admin API.

    with run_envoy(config_dict) as envoy:        # admin port taken from config["admin"]
        envoy.wait_for_healthy("outbound|5002|v1|ads.t.svc.cluster.local", 1)
        envoy.counter("http.ads.t.svc.cluster.local:5002.no_route")
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from testkit.processes import LoggedProcess, stop_process

VENV_BIN = Path(sys.executable).parent
ENVOY = VENV_BIN / "envoy"


class EnvoyProcess(LoggedProcess):
    """A running Envoy; port and url are its admin API's."""

    def admin(self, path: str) -> str:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as response:
            return response.read().decode()

    def stats(self) -> dict:
        """Counters and gauges by name."""
        data = json.loads(self.admin("/stats?format=json"))
        return {s["name"]: s.get("value", 0) for s in data.get("stats", []) if "name" in s}

    def counter(self, name: str) -> int:
        return int(self.stats().get(name, 0))

    def hosts(self, cluster: str) -> list:
        """[(address:port, healthy)] of one cluster, as Envoy sees them now."""
        data = json.loads(self.admin("/clusters?format=json"))
        for status in data.get("cluster_statuses", []):
            if status["name"] == cluster:
                out = []
                for host in status.get("host_statuses", []):
                    address = host["address"]["socket_address"]
                    flags = host.get("health_status", {})
                    healthy = flags.get("eds_health_status") == "HEALTHY" and not any(
                        value is True for key, value in flags.items() if key.startswith("failed")
                    )
                    out.append((f"{address['address']}:{address['port_value']}", healthy))
                return out
        return []

    def wait_for_healthy(self, cluster: str, count: int, timeout: float = 30.0) -> None:
        """Until exactly `count` hosts of cluster are healthy (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(healthy for _, healthy in self.hosts(cluster)) == count:
                return
            time.sleep(0.2)
        raise TimeoutError(f"{cluster}: not {count} healthy hosts within {timeout}s: {self.hosts(cluster)}")

    def stop(self, timeout: float = 10.0) -> int:
        return stop_process(self.process, timeout)


def validate(config_path: Path) -> subprocess.CompletedProcess:
    """`envoy --mode validate -c file`: returncode 0 when Envoy accepts the configuration."""
    return subprocess.run(
        [str(ENVOY), "--mode", "validate", "-c", str(config_path), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_until_live(envoy: EnvoyProcess, timeout: float = 30.0) -> None:
    """Until the admin /ready answers LIVE (clusters warmed, listeners bound), bounded."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if envoy.process.poll() is not None:
            raise RuntimeError(f"envoy exited with {envoy.process.returncode}:\n{envoy.output()[-4000:]}")
        try:
            if envoy.admin("/ready").strip() == "LIVE":
                return
        except (urllib.error.URLError, OSError) as error:
            last = error
        time.sleep(0.1)
    raise TimeoutError(f"envoy not LIVE within {timeout}s: {last}\n{envoy.output()[-4000:]}")


@contextmanager
def run_envoy(
    config: dict,
    admin_port: Optional[int] = None,
    concurrency: int = 1,
    cwd: Optional[Path] = None,
) -> Iterator[EnvoyProcess]:
    """Start Envoy on config (a bootstrap dict) and stop it when the block ends."""
    admin_port = admin_port or config["admin"]["address"]["socket_address"]["port_value"]
    workdir = Path(tempfile.mkdtemp(prefix="envoy-test-"))
    config_path = workdir / "envoy.json"
    config_path.write_text(json.dumps(config, indent=1))
    log_path = workdir / "envoy.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(ENVOY), "-c", str(config_path), "--concurrency", str(concurrency),
                # Tests may run several Envoys at once: no shared-memory hot-restart segment.
                "--disable-hot-restart", "--log-level", "warn",
            ],
            cwd=cwd or workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    envoy = EnvoyProcess(admin_port, process, log_path)
    try:
        wait_until_live(envoy)
        yield envoy
    except BaseException:
        sys.stderr.write(f"--- envoy output ---\n{envoy.output()[-8000:]}\n")
        raise
    finally:
        envoy.stop()
