"""Drive the one Envoy: write its discovery files atomically and watch what it accepted.

Envoy reads LDS/CDS/RDS/EDS from files in config_dir (path_config_source + watched_directory);
a file replaced by rename is reloaded without a restart. The admin API tells which version
of each it has accepted, so an update can wait for Envoy before the next step.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Optional


class EnvoyError(Exception):
    """Envoy did not accept or apply a configuration in time."""


def write_atomic(path: Path, data: str) -> None:
    """Write then rename into place: Envoy's directory watch sees one complete file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


DISCOVERY_PATTERNS = ("lds.json", "cds.json", "rds_*.json", "eds_*.json")


def file_kind(name: str) -> str:
    """'lds', 'cds', 'rds' or 'eds' from a discovery file name."""
    return name.split("_", 1)[0].split(".", 1)[0]


class EnvoyControl:
    def __init__(self, config_dir: Path, admin_host: str, admin_port: int) -> None:
        self.config_dir = Path(config_dir)
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.admin = f"http://{admin_host}:{admin_port}"
        self._written: dict = {}  # file name -> content without version (to skip no-op writes)
        self._version = 0
        self._lock = threading.Lock()  # pod readiness changes write EDS from other threads

    def clear(self) -> None:
        """Remove discovery files a previous run left (one that was killed cannot clean up)."""
        with self._lock:
            for pattern in DISCOVERY_PATTERNS:
                for path in self.config_dir.glob(pattern):
                    path.unlink(missing_ok=True)
            self._written.clear()

    # ---- files ----------------------------------------------------------------------

    def write(self, files: Mapping[str, dict], only: Optional[set[str]] = None) -> dict[str, str]:
        """Write the discovery files (of the kinds in only) that changed; name -> version written."""
        with self._lock:
            return self._write(files, only)

    def _write(self, files: Mapping, only: Optional[set]) -> dict:
        written: dict = {}
        for name, response in sorted(files.items(), key=lambda item: _write_order(item[0])):
            if only is not None and file_kind(name) not in only:
                continue
            body = _content_key(response)
            if self._written.get(name) == body:
                continue  # Envoy would see no change and, rightly, not move its version
            self._version += 1
            versioned = dict(response, version_info=str(self._version))
            write_atomic(self.config_dir / name, json.dumps(versioned, indent=1))
            self._written[name] = body
            written[name] = str(self._version)
        return written

    def write_bootstrap(self, bootstrap: dict) -> Path:
        path = self.config_dir / "bootstrap.json"
        write_atomic(path, json.dumps(bootstrap, indent=1))
        return path

    def remove_stale(self, keep: set[str]) -> None:
        """Delete route and endpoint files nothing names any more (after listeners and clusters
        changed)."""
        with self._lock:
            for pattern in ("rds_*.json", "eds_*.json"):
                for path in self.config_dir.glob(pattern):
                    if path.name not in keep:
                        path.unlink(missing_ok=True)
                        self._written.pop(path.name, None)

    # ---- admin ----------------------------------------------------------------------

    def get(self, path: str, timeout: float = 2.0) -> str:
        with urllib.request.urlopen(self.admin + path, timeout=timeout) as response:
            return response.read().decode("utf-8", "replace")

    def accepted_versions(self) -> dict[str, str]:
        """{'lds': version, 'cds': version, 'rds:<route name>': version} Envoy has applied."""
        dump = json.loads(self.get("/config_dump"))
        versions: dict = {}
        for config in dump.get("configs", []):
            kind = config.get("@type", "")
            if kind.endswith("ListenersConfigDump"):
                versions["lds"] = config.get("version_info", "")
            elif kind.endswith("ClustersConfigDump"):
                versions["cds"] = config.get("version_info", "")
                versions["cds_warming"] = len(config.get("dynamic_warming_clusters", []))
            elif kind.endswith("RoutesConfigDump"):
                for route in config.get("dynamic_route_configs", []):
                    name = route.get("route_config", {}).get("name", "")
                    versions[f"rds:{name}"] = route.get("version_info", "")
        return versions

    def cluster_policies(self) -> dict[str, str]:
        """{cluster name: load balancer} as Envoy has each active cluster (ROUND_ROBIN, ...)."""
        dump = json.loads(self.get("/config_dump?resource=dynamic_active_clusters"))
        return {entry["cluster"]["name"]: load_balancer(entry["cluster"])
                for entry in dump.get("configs", []) if "cluster" in entry}

    def accepted_endpoints(self) -> dict[str, list[str]]:
        """{cluster name: sorted 'host:port' list} of the EDS clusters Envoy has now.

        Envoy's dump gives no version for file-based EDS, so what it holds is compared."""
        dump = json.loads(self.get("/config_dump?include_eds"))
        found: dict = {}
        for config in dump.get("configs", []):
            if config.get("@type", "").endswith("EndpointsConfigDump"):
                for entry in config.get("dynamic_endpoint_configs", []):
                    assignment = entry.get("endpoint_config", {})
                    found[assignment.get("cluster_name", "")] = _addresses(assignment)
        return found

    def wait_applied(
        self, written: Mapping[str, str], files: Mapping[str, dict], timeout: float = 20.0
    ) -> None:
        """Wait until Envoy reports every written file's version (clusters warmed too)."""
        wanted: dict = {}
        endpoints: dict = {}
        for name, version in written.items():
            kind = file_kind(name)
            if kind == "eds":
                for resource in files[name].get("resources", []):
                    endpoints[resource.get("cluster_name", "")] = _addresses(resource)
            elif kind == "rds":
                for resource in files[name].get("resources", []):
                    wanted[f"rds:{resource.get('name', '')}"] = version
            else:
                wanted[kind] = version
        deadline = time.monotonic() + timeout
        missing: dict = dict(wanted)
        while time.monotonic() < deadline:
            try:
                versions = self.accepted_versions()
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.1)
                continue
            missing = {key: v for key, v in wanted.items() if _older(versions.get(key), v)}
            if endpoints and not missing:
                try:
                    held = self.accepted_endpoints()
                except (urllib.error.URLError, OSError, ValueError):
                    held = {}
                missing = {f"eds:{name}": "" for name, want in endpoints.items()
                           if held.get(name, []) != want}
            if not missing and not versions.get("cds_warming"):
                return
            time.sleep(0.05)
        raise EnvoyError(
            "Envoy did not apply " + ", ".join(sorted(missing) or ["the warming clusters"])
            + f" within {timeout:g}s (rejected? see {self.admin}/config_dump and the [envoy] log)"
        )

    def bound_ports(self) -> set[int]:
        """Ports of the listeners Envoy has actually bound."""
        data = json.loads(self.get("/listeners?format=json"))
        ports = set()
        for listener in data.get("listener_statuses", []):
            address = listener.get("local_address", {}).get("socket_address", {})
            if "port_value" in address:
                ports.add(int(address["port_value"]))
        return ports


def _content_key(response: Mapping) -> str:
    """What Envoy compares: the resources by name, whatever their order or the version."""
    resources = sorted(response.get("resources", []), key=lambda r: str(r.get("name", "")))
    return json.dumps(resources, sort_keys=True)


# Envoy's typed load-balancing policies by message name, in lb_policy's words.
_POLICY_NAMES = {"LeastRequest": "LEAST_REQUEST", "RoundRobin": "ROUND_ROBIN", "RingHash": "RING_HASH",
                 "Maglev": "MAGLEV", "Random": "RANDOM"}


def load_balancer(cluster: Mapping) -> str:
    """The load balancer a dumped cluster uses: load_balancing_policy first, then lb_policy
    (absent in the dump when it is the default, ROUND_ROBIN)."""
    for policy in cluster.get("load_balancing_policy", {}).get("policies", []):
        type_name = policy.get("typed_extension_config", {}).get("typed_config", {}).get("@type", "")
        short = type_name.rsplit(".", 1)[-1]
        return _POLICY_NAMES.get(short, short or "unknown")
    return str(cluster.get("lb_policy", "ROUND_ROBIN"))


def _addresses(assignment: Mapping) -> list:
    """'host:port' of every endpoint in a ClusterLoadAssignment, sorted."""
    found = []
    for group in assignment.get("endpoints", []):
        for entry in group.get("lb_endpoints", []):
            address = entry.get("endpoint", {}).get("address", {}).get("socket_address", {})
            found.append(f"{address.get('address')}:{address.get('port_value')}")
    return sorted(found)


def _older(have: Optional[str], want: str) -> bool:
    try:
        return have is None or int(have or 0) < int(want)
    except ValueError:
        return True


def _write_order(name: str) -> tuple:
    # Clusters before routes before listeners: nothing is named before it exists.
    # Endpoint files first: a new EDS cluster reads its file as it is created.
    return ({"eds": 0, "cds": 1, "rds": 2, "lds": 3}.get(file_kind(name), 4), name)
