"""`make bench`: every measure the shop has a target for, side by side in one run, in one table.

  - what tracing costs the product page, with the agent and without one (bench/tracing_bench.py),
    and how many spans a product page view makes;
  - `make run`: from the command to its ready banner, the memory of everything it started, and
    what one mesh hop adds (bench/mesh_bench.py);
  - `localmesh analyze` on the shipped canary set, wall time (bench/analyze_bench.py).
Prints the measurements, then one table: measure, value, target, met?, with the machine and its
load before and after (other work on the machine skews every number: take figures worth
publishing on an idle machine). Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import analyze_bench
import mesh_bench
import tracing_bench

ANALYZER_RUNS = 5
LOAD_TOOLS = ("wrk", "hey")

# The targets: a measured value at or below its target meets it.
TARGETS = {
    "cost": 0.15,  # share of the untraced product page throughput
    "spans": 8,  # per product page view, Envoy's included
    "pss_mb": 400.0,
    "analyze_s": 1.0,
    "hop_ms": 0.8,
    "ready_s": 10.0,
}


def time_analyzer(runs: int = ANALYZER_RUNS) -> float:
    """Median wall time of `localmesh analyze` on the canary set, a fresh process each time."""
    command = [str(Path(sys.executable).parent / "localmesh"), "analyze", *analyze_bench.CANARY]
    analyze_bench.one_run(command)  # warms the file cache
    return statistics.median(analyze_bench.one_run(command)[0] for _ in range(runs))


def ensure_tools(tools: tuple = LOAD_TOOLS) -> None:
    """wrk and hey, from Debian: installed here when this is root with apt-get, else named."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(f"make bench needs {' and '.join(missing)}: apt-get install {' '.join(missing)}")
    print(f"bench: installing {' '.join(missing)} (apt-get install {' '.join(missing)})", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    return f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}"


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def met(value: float, target: float) -> str:
    return "yes" if value <= target else "NO"


def table(tracing: dict, run: mesh_bench.MakeRun, memory: dict, hops: dict, analyze_s: float) -> list:
    agent_cost = tracing_bench.cost_of(tracing, "agent")
    no_agent_cost = tracing_bench.cost_of(tracing, "no-agent")
    missing = tracing["no-agent"]["missing_agent"]
    # ddtrace logs a repeated line at most once a minute per process: more means per request.
    quiet = missing["apps"] <= missing["processes"] * (1 + int(missing["minutes"]))
    spans = tracing["agent"]["spans"]
    most = max(spans) if spans else 0
    rps = {mode: f"{result['rps']:.0f}" for mode, result in tracing.items()}
    turns = len(tracing["off"]["turn_rps"])
    plain, traced = hops["tracing off"], hops["make run (tracing on)"]
    rows = [
        ("product page throughput cost of tracing (agent on)",
         f"{agent_cost:.0%} (median of {turns} turns; {rps['agent']} vs {rps['off']} req/s in all)",
         f"<= {TARGETS['cost']:.0%}",
         met(agent_cost, TARGETS["cost"])),
        ("same with no agent listening",
         f"{no_agent_cost:.0%} (median; {rps['no-agent']} req/s in all); {missing['apps']} error lines from "
         f"{missing['processes']} services", f"<= {TARGETS['cost']:.0%}, no error log per request",
         "yes" if no_agent_cost <= TARGETS["cost"] and quiet else "NO"),
        ("spans per product page view (Envoy's included)",
         f"{most} (most of {sum(spans.values())} views)" if spans else "no views arrived",
         f"<= {TARGETS['spans']}", met(most, TARGETS["spans"]) if spans else "NO"),
        ("`make run` stack memory (PSS: pods, Envoy, agent, localmesh)",
         f"{memory['pss']:.0f} MB (RSS {memory['rss']:.0f} MB)", f"<= {TARGETS['pss_mb']:.0f} MB",
         met(memory["pss"], TARGETS["pss_mb"])),
        ("`localmesh analyze` on the shipped canary set, wall time", f"{analyze_s:.2f} s (median of "
         f"{ANALYZER_RUNS})", f"<= {TARGETS['analyze_s']:g} s", met(analyze_s, TARGETS["analyze_s"])),
        ("one mesh hop, p50 added (tracing off; with make run's tracing)",
         f"{plain['added_p50_ms']:.2f} ms; {traced['added_p50_ms']:.2f} ms (at {plain['meshed']['rps']:.0f} "
         f"and {traced['meshed']['rps']:.0f} req/s)", f"<= {TARGETS['hop_ms']:g} ms",
         met(plain["added_p50_ms"], TARGETS["hop_ms"])),
        ("`make run` from command to ready banner, warm venv", f"{run.ready_s:.1f} s",
         f"<= {TARGETS['ready_s']:g} s", met(run.ready_s, TARGETS["ready_s"])),
    ]
    lines = ["| measure | value | target | met? |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="length of each load run")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (tracing cost)")
    parser.add_argument("--hop-rps", type=int, default=500, help="request rate of the mesh hop runs")
    args = parser.parse_args()
    ensure_tools()
    start_load = load()
    print(f"machine: {machine()}; load average at the start: {start_load}", flush=True)

    print(f"localmesh analyze {' '.join(analyze_bench.CANARY)} ({ANALYZER_RUNS} runs) ...", flush=True)
    analyze_s = time_analyzer()

    print("make run: start, 200 page views, memory, the mesh hop; again with TRACE_AGENT=off for the hop ...",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-make-run-") as tmp:
        run, memory, hops = mesh_bench.measure_make_run(Path(tmp), args.hop_rps, args.seconds)

    print(f"tracing {', '.join(tracing_bench.MODES)}: {args.seconds} s each of wrk -c {args.connections} "
          f"on {tracing_bench.PATH}, in {tracing_bench.ROUNDS} turns ...", flush=True)
    tracing = tracing_bench.measure(args.seconds, args.connections)

    print()
    print("\n".join(tracing_bench.details(tracing)))
    print("\n".join(mesh_bench.details(run, memory, hops)))
    print()
    print("\n".join(table(tracing, run, memory, hops, analyze_s)))
    print(f"\n{time.strftime('%Y-%m-%d')}, {machine()}; load average at the start {start_load}, "
          f"at the end {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
