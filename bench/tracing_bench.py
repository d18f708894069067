"""What tracing costs: product page throughput and p99 through the gateway, three ways.

  off       no ddtrace sending (DD_TRACE_ENABLED=false), Envoy without its tracer;
  agent     ddtrace and Envoy's Datadog tracer sending to a real ddapm-test-agent;
  no-agent  both tracers on, pointed at a closed port (compose without its datadog profile).

Each mode runs the same stack as tests/tracing (frontend 1.0, ads 1.0 and 2.0 under ddtrace-run
gunicorn with the canary manifests' DD_* settings and worker count, behind one Envoy built from
the canary manifests). The three stacks run at once and wrk drives /products/chef-knife on each
in turn, at full speed (closed loop: -c connections), a few seconds at a time, so that other
work on the machine weighs on every mode alike. Throughput is wrk's requests over their time;
p99 (the median turn's) is under saturating load, so it mostly measures queueing. It also counts
the CPU time each part of each stack spent per page view. With the agent, it also counts the
spans of every product page view the agent got; without one, the log lines that say spans could
not be sent.
Run by hand: `make bench` (bench/targets.py), or alone: python bench/tracing_bench.py.
Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from mesh_bench import process_tree
from testkit.processes import free_port
from tracing.tracekit import ENV, get_page, is_page_view, run_shop, run_test_agent

from localmesh.topology import TracingConfig
from localmesh.tracing.agent import fetch_traces

PATH = "/products/chef-knife"
MODES = ("off", "agent", "no-agent")
ROUNDS = 5
WARM_UP_VIEWS = 50
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


def burst(url: str, seconds: int, connections: int) -> dict:
    """One closed-loop wrk run: requests, their time, p99, non-2xx responses, socket errors."""
    threads = min(2, connections)  # wrk wants a connection per thread at least
    command = ["wrk", "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    result = parse_wrk(out)
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)\b", out)
    result["requests"] = int(done.group(1))
    result["seconds"] = float(done.group(2)) * {"ms": 1e-3, "s": 1.0, "m": 60.0}[done.group(3)]
    return result


def combine(bursts: list) -> dict:
    """One mode's bursts as one run: throughput over their whole time and each turn's, the median
    burst's p99."""
    p99s = sorted(b["p99_ms"] for b in bursts)
    requests = sum(b["requests"] for b in bursts)
    return {"rps": requests / sum(b["seconds"] for b in bursts), "turn_rps": [b["rps"] for b in bursts],
            "p99_ms": p99s[len(p99s) // 2],
            "requests": requests, "non_2xx": sum(b["non_2xx"] for b in bursts),
            "socket_errors": "; ".join(sorted({b["socket_errors"] for b in bursts if b["socket_errors"]}))}


def spans_per_page_view(agent_url: str, views: int, timeout: float = 60.0) -> Counter:
    """How many page views of PATH the agent got with how many spans, once (nearly) all arrived.

    A view counts once its ads span is in: Envoy, the frontend and the ads pods flush on their
    own schedules. wrk may cut the last few requests short, so 99 % of the views will do."""
    deadline = time.monotonic() + timeout
    while True:
        views_in = [trace for trace in fetch_traces(agent_url, timeout=60) if is_page_view(trace, PATH)
                    and any(span["service"] == "advertisements" for span in trace)]
        if len(views_in) >= 0.99 * views or time.monotonic() > deadline:
            return Counter(len(trace) for trace in views_in)
        time.sleep(1)


def missing_agent_lines(shop: object) -> dict:
    """Log lines saying spans could not be sent: the services' (ddtrace) and Envoy's tracer's."""
    apps = sum(service.output().count("failed to send") for service in shop.services.values())
    envoy = sum(1 for line in shop.envoy.output().splitlines() if "][error][tracing]" in line)
    return {"apps": apps, "processes": len(shop.services), "envoy": envoy}


def process_groups(shop: object, agent: object) -> dict:
    """The root processes of each part of a stack: the frontend, the ads pods, Envoy, the agent."""
    groups: dict = {"frontend": [], "ads": [], "envoy": [shop.envoy.process.pid]}
    for name, service in shop.services.items():
        groups["frontend" if name == "frontend" else "ads"].append(service.process.pid)
    if agent is not None:
        groups["agent"] = [agent.process.pid]
    return groups


def cpu_seconds(roots: list) -> float:
    """CPU time (user and system) so far of the roots and every process under them."""
    ticks = 0
    for pid in (pid for root in roots for pid in process_tree(root)):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def stack(mode: str, workdir: Path) -> Iterator[tuple]:
    """The shop traced as mode says, and its test agent (None without one)."""
    workdir.mkdir()
    if mode == "agent":
        with run_test_agent(workdir) as agent:
            tracing = TracingConfig(agent_host="127.0.0.1", agent_port=agent.port, env=ENV)
            with run_shop(workdir, agent.url, tracing) as shop:
                yield shop, agent
    elif mode == "no-agent":
        closed = free_port()
        tracing = TracingConfig(agent_host="127.0.0.1", agent_port=closed, env=ENV)
        with run_shop(workdir, f"http://127.0.0.1:{closed}", tracing) as shop:
            yield shop, None
    else:
        with run_shop(workdir, None, None) as shop:
            yield shop, None


def measure(seconds: int, connections: int, rounds: int = ROUNDS) -> dict:
    """Every mode's stack runs at once; wrk drives them in turn, rounds times, seconds each in all.

    Taking turns, in alternating order, spreads whatever else the machine does over the three
    modes alike."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tracing-bench-") as tmp, ExitStack() as stacks:
        running = {mode: stacks.enter_context(stack(mode, Path(tmp) / mode)) for mode in MODES}
        for shop, _ in running.values():
            for _ in range(WARM_UP_VIEWS):  # templates compiled, pools filled
                get_page(shop.gateway + PATH)
        groups = {mode: process_groups(*running[mode]) for mode in MODES}
        cpu_before = {mode: {part: cpu_seconds(roots) for part, roots in parts.items()}
                      for mode, parts in groups.items()}
        bursts: dict = {mode: [] for mode in MODES}
        for index in range(rounds):
            for mode in MODES if index % 2 == 0 else MODES[::-1]:
                gateway = running[mode][0].gateway
                bursts[mode].append(burst(gateway + PATH, max(1, seconds // rounds), connections))
        results = {mode: combine(runs) for mode, runs in bursts.items()}
        for mode in MODES:
            # From the first turn to the last, idle turns included: a tracer flushes, and the agent
            # decodes, after the requests that made the spans.
            results[mode]["cpu_ms_per_view"] = {
                part: (cpu_seconds(roots) - cpu_before[mode][part]) * 1000 / results[mode]["requests"]
                for part, roots in groups[mode].items()}
        agent = running["agent"][1]
        views = WARM_UP_VIEWS + results["agent"]["requests"]
        results["agent"]["spans"] = spans_per_page_view(agent.url, views)
        missing = missing_agent_lines(running["no-agent"][0])
        results["no-agent"]["missing_agent"] = {**missing, "minutes": (time.monotonic() - started) / 60}
        return results


def details(results: dict) -> list:
    """The three runs side by side, as lines of text."""
    lines = [f"{'mode':10} {'req/s':>9} {'p99 ms':>8} {'non-2xx':>8}  cost"]
    for mode, result in results.items():
        cost = f"{cost_of(results, mode):.0%}" if mode != "off" else "-"
        row = f"{mode:10} {result['rps']:9.1f} {result['p99_ms']:8.1f} {result['non_2xx']:8d}  {cost}"
        lines.append(f"{row}  {result['socket_errors']}".rstrip())
    for mode in results:
        if mode != "off":
            costs = ", ".join(f"{cost:.0%}" for cost in turn_costs(results, mode))
            lines.append(f"{mode} cost turn by turn: {costs} (median {cost_of(results, mode):.0%})")
    for mode, result in results.items():
        parts = result.get("cpu_ms_per_view")
        if parts:
            each = ", ".join(f"{part} {ms:.2f}" for part, ms in parts.items())
            lines.append(f"{mode} CPU per page view: {sum(parts.values()):.2f} ms ({each})")
    spans = results.get("agent", {}).get("spans")
    if spans:
        shapes = ", ".join(f"{count} views of {size} spans" for size, count in sorted(spans.items()))
        lines.append(f"spans per product page view (agent run): {shapes}")
    missing = results.get("no-agent", {}).get("missing_agent")
    if missing:
        lines.append(f"no agent: {missing['apps']} 'failed to send' lines from {missing['processes']} "
                     f"services and {missing['envoy']} tracer errors from Envoy in {missing['minutes']:.1f} "
                     f"minutes ({results['no-agent']['requests']} page views)")
    return lines


def cost_of(results: dict, mode: str) -> float:
    """The share of the untraced throughput that tracing in mode costs: the median over the turns
    of 1 - mode's throughput / the untraced one's in the same turn, so that a turn on a busier
    machine weighs no more than another."""
    return statistics.median(turn_costs(results, mode))


def turn_costs(results: dict, mode: str) -> list:
    """1 - mode's throughput / the untraced one's, turn by turn."""
    pairs = zip(results[mode]["turn_rps"], results["off"]["turn_rps"])
    return [1 - traced / untraced for traced, untraced in pairs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per mode")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("tracing_bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    print(f"{', '.join(MODES)}: {args.seconds} s each of wrk -c {args.connections} on {PATH}, "
          f"in {ROUNDS} turns ...", flush=True)
    print("\n".join(details(measure(args.seconds, args.connections))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
