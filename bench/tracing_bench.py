"""What tracing costs: product page throughput and p99 through the gateway, three ways.

  off       no ddtrace sending (DD_TRACE_ENABLED=false), Envoy without its tracer;
  agent     ddtrace and Envoy's Datadog tracer sending to a real ddapm-test-agent;
  no-agent  both tracers on, pointed at a closed port (compose without its datadog profile).

Each run starts the same stack as tests/tracing (frontend 1.0, ads 1.0 and 2.0 under ddtrace-run
gunicorn behind one Envoy built from the canary manifests), warms it up, then drives
/products/chef-knife with wrk at full speed (closed loop: -c connections). Throughput is wrk's
requests/s; p99 is under that saturating load, so it mostly measures queueing.
Goal (issue 6): tracing costs under 15 % of throughput; a missing agent costs nothing visible.
Run by hand: `make bench` (it puts tests/ on PYTHONPATH for the shared helpers). Not a test:
numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from testkit.processes import free_port
from tracing.tracekit import ENV, get_page, run_shop, run_test_agent

from localmesh.topology import TracingConfig

PATH = "/products/chef-knife"
GOAL_COST = 0.15
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(output: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*", output)
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * _UNITS[p99.group(2)],
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(0) if socket_errors else "",
    }


def drive(url: str, seconds: int, connections: int) -> dict:
    for _ in range(50):  # warm-up: templates compiled, pools filled, JIT-free but cache-warm
        get_page(url)
    command = ["wrk", "--latency", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    return parse_wrk(out.stdout)


def measure(mode: str, seconds: int, connections: int) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"tracing-bench-{mode}-") as tmp:
        workdir = Path(tmp)
        if mode == "agent":
            with run_test_agent(workdir) as agent:
                tracing = TracingConfig(agent_host="127.0.0.1", agent_port=agent.port, env=ENV)
                with run_shop(workdir, agent.url, tracing) as shop:
                    return drive(shop.gateway + PATH, seconds, connections)
        if mode == "no-agent":
            closed = free_port()
            tracing = TracingConfig(agent_host="127.0.0.1", agent_port=closed, env=ENV)
            with run_shop(workdir, f"http://127.0.0.1:{closed}", tracing) as shop:
                return drive(shop.gateway + PATH, seconds, connections)
        with run_shop(workdir, None, None) as shop:
            return drive(shop.gateway + PATH, seconds, connections)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per mode")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("tracing_bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    results = {}
    for mode in ("off", "agent", "no-agent"):
        print(f"{mode}: {args.seconds}s of wrk -c {args.connections} on {PATH} ...", flush=True)
        results[mode] = measure(mode, args.seconds, args.connections)
    print(f"\n{'mode':10} {'req/s':>9} {'p99 ms':>8} {'non-2xx':>8}")
    for mode, result in results.items():
        print(f"{mode:10} {result['rps']:9.1f} {result['p99_ms']:8.1f} {result['non_2xx']:8d}  "
              f"{result['socket_errors']}")
    off = results["off"]
    print()
    for mode in ("agent", "no-agent"):
        ratio = results[mode]["rps"] / off["rps"]
        p99_ratio = results[mode]["p99_ms"] / off["p99_ms"]
        verdict = "within" if 1 - ratio < GOAL_COST else "OVER"
        print(f"{mode} / off: throughput x{ratio:.2f} ({(1 - ratio) * 100:.0f}% cost, {verdict} the "
              f"{GOAL_COST:.0%} goal), p99 x{p99_ratio:.2f}")
    no_agent_vs_agent = results["no-agent"]["rps"] / results["agent"]["rps"]
    print(f"no-agent / agent: throughput x{no_agent_vs_agent:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
