"""What the local mesh costs: one Envoy hop, the product page, and the memory of the stack.

Starts the `make run` stack (`localmesh up` on free ports), then drives it with `hey` at a
fixed request rate (-q per worker x -c workers) and reads every request's time from hey's
CSV output:
  1. GET /ads directly to the v1 pod, then through the mesh listener (page-source: home, which
     the canary VirtualService routes to v1, so both reach the same pod) at 500 rps;
  2. the product page through the gateway at 200 rps (frontend -> Envoy -> ads);
  3. resident memory of every process the stack started (RSS, and PSS, which counts pages
     shared between forked gunicorn workers once).
Run by hand: `make bench`. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CANARY = ["-k", "istio/ecommerce-istio", "-k", "istio/ads_v2"]  # what `make run` serves
GOALS = {"hop_p50_ms": 1.0, "p99_ratio": 2.0, "page_p99_ms": 50.0, "stack_mb": 600.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def localmesh(*args: str, state: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "localmesh", *args, "--state-dir", str(state)],
                         capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout) if "--json" in args else {}


def start_stack(state: Path) -> tuple:
    gateway, admin = free_port(), free_port()
    command = [sys.executable, "-m", "localmesh", "up", "--state-dir", str(state), "--free-listener-ports",
               "--gateway-port", str(gateway), "--admin-port", str(admin), "--log-files-only", *CANARY]
    log = open(state.parent / "up.log", "w")
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"localmesh up exited: see {state.parent / 'up.log'}")
        try:
            if json.loads((state / "control.json").read_text())["pid"] == process.pid:
                return process, gateway
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.3)
    raise SystemExit("localmesh up did not get ready in 180s")


def hey(url: str, rps: int, seconds: int, workers: int, headers: dict) -> dict:
    """Latency percentiles (ms) and achieved throughput of a fixed-rate run."""
    command = ["hey", "-z", f"{seconds}s", "-c", str(workers), "-q", str(rps / workers), "-o", "csv",
               "-disable-compression"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    times = sorted(float(r["response-time"]) * 1000 for r in rows)
    errors = sum(1 for r in rows if r["status-code"] != "200")
    span = max(float(r["offset"]) for r in rows) if rows else seconds

    def pct(p: float) -> float:
        return times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]

    return {"n": len(times), "errors": errors, "rps": len(times) / span, "p50": pct(50), "p90": pct(90),
            "p99": pct(99)}


def measure(url: str, rps: int, seconds: int, workers: int, headers: dict) -> dict:
    hey(url, rps, 2, workers, headers)  # warm-up: connections, caches, the JIT of nothing
    return hey(url, rps, seconds, workers, headers)


def memory_mb(pids: list) -> tuple:
    """(RSS, PSS) in MB of the given processes and everything in their process groups."""
    groups = {os.getpgid(pid) for pid in pids if _alive(pid)}
    rss = pss = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            pid = int(entry.name)
            if pid not in pids and os.getpgid(pid) not in groups:
                continue
            rollup = (entry / "smaps_rollup").read_text()
        except (OSError, ProcessLookupError):
            continue
        for line in rollup.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss / 1024, pss / 1024


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--hop-rps", type=int, default=500)
    parser.add_argument("--page-rps", type=int, default=200)
    args = parser.parse_args()
    if not shutil.which("hey"):
        print("bench needs hey (apt-get install hey)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="localmesh-bench-") as tmp:
        state = Path(tmp) / "state"
        up, gateway = start_stack(state)
        try:
            status = localmesh("status", "--json", state=state)
            v1 = next(w for w in status["workloads"] if w.get("deployment") == "advertisements")
            listener = next(s["listener"] for s in status["services"] if s["service"] == "advertisements")
            home = {"page-source": "home"}
            direct = measure(f"http://127.0.0.1:{v1['port']}/ads", args.hop_rps, args.seconds, 10, home)
            meshed = measure(f"http://{listener}/ads", args.hop_rps, args.seconds, 10, home)
            with urllib.request.urlopen(f"http://127.0.0.1:{gateway}/", timeout=5) as response:
                page = response.read().decode()
            slug = page.split('href="/products/', 1)[1].split('"', 1)[0]
            page_url = f"http://127.0.0.1:{gateway}/products/{slug}"
            product = measure(page_url, args.page_rps, args.seconds, 10, {})
            pids = [up.pid] + [w["pid"] for w in status["workloads"] if w.get("pid")]
            rss, pss = memory_mb(pids)
        finally:
            up.send_signal(signal.SIGTERM)
            up.wait(60)
    report(direct, meshed, product, rss, pss, args)
    return 0


def verdict(value: float, goal: float) -> str:
    return "met" if value < goal else "MISSED"


def report(direct: dict, meshed: dict, product: dict, rss: float, pss: float,
           args: argparse.Namespace) -> None:
    def row(name: str, r: dict, rate: int) -> str:
        return (f"| {name} | {rate} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} "
                f"| {r['errors']}/{r['n']} |")

    hop50 = meshed["p50"] - direct["p50"]
    ratio = meshed["p99"] / direct["p99"]
    print("| path | target rps | achieved rps | p50 ms | p90 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    print(row("/ads direct to the v1 pod", direct, args.hop_rps))
    print(row("/ads through the mesh listener", meshed, args.hop_rps))
    print(row("product page through the gateway", product, args.page_rps))
    print()
    print("| measure | result | goal |")
    print("|---|---|---|")
    page_goal, mb_goal = GOALS["page_p99_ms"], GOALS["stack_mb"]
    print(f"| added by one mesh hop, p50 | {hop50:.2f} ms | < {GOALS['hop_p50_ms']:g} ms: "
          f"{verdict(hop50, GOALS['hop_p50_ms'])} |")
    print(f"| p99 mesh / p99 direct | {ratio:.2f}x | < {GOALS['p99_ratio']:g}x: "
          f"{verdict(ratio, GOALS['p99_ratio'])} |")
    print(f"| product page p99 at {args.page_rps} rps | {product['p99']:.1f} ms | < {page_goal:g} ms: "
          f"{verdict(product['p99'], page_goal)} |")
    print(f"| memory of the whole stack (RSS / PSS) | {rss:.0f} MB / {pss:.0f} MB | < {mb_goal:g} MB: "
          f"RSS {verdict(rss, mb_goal)}, PSS {verdict(pss, mb_goal)} |")
    print("| reference: Istio sidecar pair, p90 at 1000 rps | 2.76 ms | |")


if __name__ == "__main__":
    sys.exit(main())
