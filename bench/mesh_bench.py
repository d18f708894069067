"""What the local mesh costs: `make run`'s start, one Envoy hop, and the memory of the stack.

Starts the real `make run` (the canary with its trace agent) on free ports and its own state
directory, and measures:
  1. how long `make run` takes from the command to its ready banner (warm venv), and to the
     first page that shows an ad banner;
  2. resident memory of every process it started, after 200 page views (RSS, and PSS, which
     counts pages shared between forked processes once);
  3. GET /ads directly to the v1 pod and through the mesh listener (page-source: home, which
     the canary VirtualService routes to v1, so both reach the same pod), taking turns, at a
     fixed rate with `hey` (-q per worker x -c workers), every request's time from hey's CSV
     output: once on `make run TRACE_AGENT=off` (the mesh alone) and once on `make run` (with
     its tracing).
Run by hand: `make bench` (bench/targets.py), or alone: python bench/mesh_bench.py.
Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BANNER = re.compile(r'data-ads-version="([^"]+)"')
READY_LINE = "localmesh: ready"
WARM_UP_VIEWS = 200
# The hop is measured in short turns: one run's p50 swings by a millisecond on a shared machine.
HOP_ROUNDS = 10
HOP_WORKERS = 10  # hey -c: each worker sends rps / HOP_WORKERS requests a second


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def localmesh(*args: str, state: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "localmesh", *args, "--state-dir", str(state)],
                         capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout) if "--json" in args else {}


@dataclass
class MakeRun:
    """A running `make run` and what it took to get there."""

    process: subprocess.Popen
    state: Path
    gateway: str
    log: Path
    ready_s: float = 0.0
    first_banner_s: float = 0.0
    timings: dict = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # make and everything under it
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def start_make_run(workdir: Path, tracing: bool = True, timeout: float = 180) -> MakeRun:
    """`make run` on free ports (gateway, Envoy admin, listeners, trace agent), timed to its banner.

    tracing False: TRACE_AGENT=off (no agent, tracing off in the pods and Envoy)."""
    workdir.mkdir(parents=True, exist_ok=True)
    gateway, state, log = free_port(), workdir / "state", workdir / "make-run.log"
    env = {**os.environ, "GATEWAY_PORT": str(gateway), "LOCALMESH_ADMIN_PORT": str(free_port()),
           "LOCALMESH_FREE_PORTS": "1", "LOCALMESH_STATE": str(state)}
    agent = f"auto:127.0.0.1:{free_port()}" if tracing else "off"
    command = ["make", "--no-print-directory", "run", f"TRACE_AGENT={agent}"]
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    run = MakeRun(process, state, f"http://127.0.0.1:{gateway}", log)
    try:
        while READY_LINE not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() - started > timeout:
                raise SystemExit(f"make run did not get ready: see {log}")
            time.sleep(0.05)
        run.ready_s = time.monotonic() - started
        while True:
            try:
                if BANNER.search(page(run.gateway + "/")):
                    break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - started > timeout:
                raise SystemExit(f"make run never showed an ad banner: see {log}")
            time.sleep(0.05)
        run.first_banner_s = time.monotonic() - started
    except BaseException:
        run.stop()
        raise
    return run


def warm_up(gateway: str, views: int = WARM_UP_VIEWS) -> None:
    html = page(gateway + "/")
    slug = html.split('href="/products/', 1)[1].split('"', 1)[0]
    for index in range(views):
        page(gateway + ("/" if index % 2 else f"/products/{slug}"))


def hey(url: str, rps: int, seconds: float, workers: int, headers: dict) -> dict:
    """Every request's time (ms), the errors and the time span of one fixed-rate hey run."""
    command = ["hey", "-z", f"{seconds:g}s", "-c", str(workers), "-q", str(rps / workers), "-o", "csv",
               "-disable-compression"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    return {"times": [float(r["response-time"]) * 1000 for r in rows],
            "errors": sum(1 for r in rows if r["status-code"] != "200"),
            "seconds": max((float(r["offset"]) for r in rows), default=float(seconds))}


def latency(runs: list) -> dict:
    """Percentiles (ms) and throughput of hey runs taken together."""
    times = sorted(t for run in runs for t in run["times"])

    def pct(p: float) -> float:
        return times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]

    return {"n": len(times), "errors": sum(run["errors"] for run in runs),
            "rps": len(times) / sum(run["seconds"] for run in runs),
            "p50": pct(50), "p90": pct(90), "p99": pct(99)}


def mesh_hop(run: MakeRun, rps: int, seconds: int, rounds: int = HOP_ROUNDS) -> dict:
    """/ads straight to the v1 pod and through the mesh listener at the same rate, in turns.

    Each round runs both for seconds/rounds, in alternating order, so that whatever else the
    machine does weighs on both alike; what the hop adds is the median over the rounds of its
    p50 minus the direct p50."""
    status = localmesh("status", "--json", state=run.state)
    v1 = next(w for w in status["workloads"] if w.get("deployment") == "advertisements")
    listener = next(s["listener"] for s in status["services"] if s["service"] == "advertisements")
    home = {"page-source": "home"}
    urls = {"direct": f"http://127.0.0.1:{v1['port']}/ads", "meshed": f"http://{listener}/ads"}
    for url in urls.values():
        hey(url, rps, 2, HOP_WORKERS, home)  # warm-up: connections, caches
    runs: dict = {name: [] for name in urls}
    for index in range(rounds):
        for name in (list(urls) if index % 2 == 0 else list(urls)[::-1]):
            runs[name].append(hey(urls[name], rps, seconds / rounds, HOP_WORKERS, home))
    added = [latency([meshed])["p50"] - latency([direct])["p50"]
             for direct, meshed in zip(runs["direct"], runs["meshed"])]
    return {"direct": latency(runs["direct"]), "meshed": latency(runs["meshed"]),
            "added_p50_ms": statistics.median(added), "added_p50_rounds": added}


def process_tree(root: int) -> list:
    """root and every process under it."""
    children: dict = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def memory_mb(root: int) -> dict:
    """RSS and PSS in MB of root's process tree, in total and per program."""
    total = {"rss": 0.0, "pss": 0.0}
    per_program: dict = {}
    for pid in process_tree(root):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            name = program_name(pid)
        except OSError:
            continue
        values = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in rollup.splitlines()[1:]
                  if line.endswith("kB")}
        entry = per_program.setdefault(name, {"rss": 0.0, "pss": 0.0, "processes": 0})
        entry["processes"] += 1
        for key, label in (("rss", "Rss"), ("pss", "Pss")):
            total[key] += values.get(label, 0.0)
            entry[key] += values.get(label, 0.0)
    return {**total, "per_program": per_program}


def program_name(pid: int) -> str:
    """What a process is: the script python runs, or gunicorn and the service folder it serves."""
    raw = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    argv = [Path(arg.decode(errors="replace")).name for arg in raw]
    program = argv[1] if argv[0].startswith("python") and len(argv) > 1 else argv[0]
    if program == "-m" and len(argv) > 2:  # python -m <module>
        program = raw[2].decode(errors="replace")
    if program == "gunicorn":
        return f"gunicorn ({Path(os.readlink(f'/proc/{pid}/cwd')).name})"
    return program


def details(run: MakeRun, memory: dict, hops: dict) -> list:
    """The measurements behind the summary rows, as lines of text."""
    lines = [f"make run: ready banner after {run.ready_s:.1f} s, first ad banner after "
             f"{run.first_banner_s:.1f} s",
             f"make run stack after {WARM_UP_VIEWS} page views: PSS {memory['pss']:.0f} MB, "
             f"RSS {memory['rss']:.0f} MB"]
    for name, entry in sorted(memory["per_program"].items(), key=lambda item: -item[1]["pss"]):
        lines.append(f"  {name}: PSS {entry['pss']:.0f} MB, RSS {entry['rss']:.0f} MB, "
                     f"{entry['processes']} process(es)")
    for setting, hop in hops.items():
        for name, result in (("direct to the v1 pod", hop["direct"]), ("through the mesh", hop["meshed"])):
            lines.append(f"{setting}: /ads {name}: {result['rps']:.0f} req/s, p50 {result['p50']:.2f} ms, "
                         f"p90 {result['p90']:.2f} ms, p99 {result['p99']:.2f} ms, "
                         f"errors {result['errors']}/{result['n']}")
        rounds = ", ".join(f"{added:.2f}" for added in hop["added_p50_rounds"])
        lines.append(f"{setting}: one mesh hop adds {hop['added_p50_ms']:.2f} ms at the median "
                     f"(median of the rounds' p50 differences: {rounds} ms)")
    return lines


def measure_make_run(workdir: Path, hop_rps: int, seconds: int) -> tuple:
    """`make run` timed, its memory after the warm-up, and the mesh hop with and without tracing."""
    run = start_make_run(workdir / "traced")
    try:
        warm_up(run.gateway)
        memory = memory_mb(run.process.pid)
        traced_hop = mesh_hop(run, hop_rps, seconds)
    finally:
        run.stop()
    untraced = start_make_run(workdir / "untraced", tracing=False)
    try:
        plain_hop = mesh_hop(untraced, hop_rps, seconds)
    finally:
        untraced.stop()
    return run, memory, {"tracing off": plain_hop, "make run (tracing on)": traced_hop}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--hop-rps", type=int, default=500)
    args = parser.parse_args()
    if not shutil.which("hey"):
        print("mesh_bench needs hey (apt-get install hey)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="localmesh-bench-") as tmp:
        run, memory, hops = measure_make_run(Path(tmp), args.hop_rps, args.seconds)
    print("\n".join(details(run, memory, hops)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
