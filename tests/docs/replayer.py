"""Replay the course: run its local-mesh commands in page order and check what the pages promise.

The commands run as written, in bash from the repository root, with `localmesh` on PATH. Only
the addresses differ from a learner's machine: every mesh gets free ports through the settings
`localmesh up` and the Makefile read (LOCALMESH_STATE, LOCALMESH_FREE_PORTS, GATEWAY_PORT,
LOCALMESH_ADMIN_PORT, TRACE_AGENT, TRACE_AGENT_URL), and an address a page names (the gateway's
127.0.0.1:8080, a Service's listener such as 127.0.0.1:10080, the admin's :15000, the agent's
:8126) is mapped to the one the running mesh really has.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit, urlunsplit

from mesh.meshkit import banner_version, descendants_alive, get
from scipy.stats import binom
from testkit.processes import REPO_ROOT, VENV_BIN, free_port, start_with_port_block

from docs.coursebook import Always, Block, OutputCheck, PageCheck, Shows, Split, Status
from localmesh.loader import load_paths
from localmesh.model import build_mesh
from localmesh.runtime.ports import PORT_RANGE_VARIABLE
from localmesh.topology import ADMIN_PORT, GATEWAY_PORT, TracingConfig, plan_service_ports

ALWAYS_VIEWS = 100  # a 90/10 split passes "always" by luck with odds 0.9**100, about 3e-5
TIMED_VIEWS = 20  # views of a page that takes seconds each (fault injection)
SPLIT_VIEWS = 400
STATUS_CALLS = 20
CONFIDENCE = 0.999
WORKERS = 6
# A split is observed one view at a time, as a learner refreshing a page sees it: when requests
# overlap, Istio's default balancer (LEAST_REQUEST) favours the less busy pod, which skews a split
# by replica count away from its share.
SPLIT_WORKERS = 1
READY_TIMEOUT = 240.0
STOP_TIMEOUT = 90.0
COMMAND_TIMEOUT = 300.0
NO_BANNER = "no banner"
# What `localmesh up` prints once every pod is ready and apply/status work: the learner waits for it.
READY_LINE = "localmesh: ready"
# The learner's machine serves these; the replay's meshes serve them on free ports.
AGENT_PORT = TracingConfig().agent_port
# Shell settings that would change what a replayed command does (make variables read the
# environment too), so the replay never takes them from the developer's shell.
DEVELOPER_SETTINGS = {
    "GATEWAY_PORT", "TRACE_AGENT", "TRACE_AGENT_URL", "DATABASE_URL", "HOST", "RATE", "DURATION",
    "CUSTOMERS", "VENV", "PYTHON", "AB_MODE", "AB_SHARE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL",
}
# `make run` keeps the experiment in this checkout's SQLite file, and the course resets it.
EXPERIMENT_STORE = REPO_ROOT / "services" / "frontend" / "instance"
EXPERIMENT_FILES = ("experiment.sqlite3", "experiment.sqlite3-wal", "experiment.sqlite3-shm")


class ReplayFailure(AssertionError):
    """A step whose page and behaviour disagree."""


def require_current_venv() -> None:
    """The course runs make targets, and make rebuilds .venv from scratch when the pins changed:
    that must not happen under the running tests, so the replay starts only on a current venv."""
    stamp = ".venv/.installed"
    result = subprocess.run(["make", "-q", stamp], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise ReplayFailure(f"{stamp} is older than the pins (make would rebuild .venv under the running "
                            "tests): run `make install` first")


@dataclass(frozen=True)
class View:
    status: int
    outcome: str  # the banner's version, or "no banner"
    seconds: float
    body: str


def judge(claim: object, views: list) -> Optional[str]:
    """Why the views contradict the claim, or None when they bear it out."""
    tally = describe(views)
    if isinstance(claim, Always):
        wrong = [v for v in views if v.status != 200 or v.outcome != claim.outcome]
        if wrong:
            return f"{len(wrong)} of {len(views)} views were not {claim.outcome}: {tally}"
        if claim.min_seconds is not None:
            quick = [v.seconds for v in views if v.seconds < claim.min_seconds]
            if quick:
                return f"{len(quick)} views took less than {claim.min_seconds} s (fastest {min(quick):.3f} s)"
        return None
    if isinstance(claim, Split):
        wrong = [v for v in views if v.status != 200 or v.outcome not in (claim.first, claim.second)]
        if wrong:
            return f"{len(wrong)} views were neither {claim.first} nor {claim.second}: {tally}"
        count = sum(v.outcome == claim.second for v in views)
        low, high = binom.interval(CONFIDENCE, len(views), claim.second_share)
        if not low <= count <= high:
            return (f"{claim.second} on {count} of {len(views)} views, outside the exact binomial "
                    f"{CONFIDENCE:.1%} interval [{low:g}, {high:g}] of share {claim.second_share:g}: {tally}")
        return None
    if isinstance(claim, Status):
        wrong = [v.status for v in views if v.status != claim.code]
        return f"{len(wrong)} of {len(views)} answers were not {claim.code}: {tally}" if wrong else None
    if isinstance(claim, Shows):
        for view in views:
            if view.status != 200:
                return f"answered {view.status}"
            if (claim.text in view.body) != claim.present:
                return f"the answer {'lacks' if claim.present else 'contains'} {claim.text!r}"
        return None
    raise TypeError(f"unknown claim {claim!r}")


def views_for(claim: object) -> int:
    if isinstance(claim, Always):
        return TIMED_VIEWS if claim.min_seconds is not None else ALWAYS_VIEWS
    if isinstance(claim, Split):
        return SPLIT_VIEWS
    return STATUS_CALLS if isinstance(claim, Status) else 1


def describe(views: list) -> str:
    statuses = Counter(v.status for v in views)
    outcomes = Counter(v.outcome for v in views if v.status == 200)
    parts = [f"{outcome} x{count}" for outcome, count in sorted(outcomes.items())]
    parts += [f"status {status} x{count}" for status, count in sorted(statuses.items()) if status != 200]
    return ", ".join(parts)


class Mesh:
    """One foreground command of the course (`localmesh up ...`, `make run`) on its own ports."""

    def __init__(self, workdir: Path, number: int) -> None:
        self.state = workdir / f"mesh{number}" / "state"
        self.log_path = workdir / f"mesh{number}" / "output.log"
        self.gateway_port, self.admin_port, self.agent_port = free_port(), free_port(), free_port()
        self.process: Optional[subprocess.Popen] = None
        self.state.parent.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict:
        env = {key: value for key, value in os.environ.items()
               if key not in DEVELOPER_SETTINGS and not key.startswith("LOCALMESH_")}
        env.update({
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
            "LOCALMESH_STATE": str(self.state),
            "LOCALMESH_FREE_PORTS": "1",
            "GATEWAY_PORT": str(self.gateway_port),
            "LOCALMESH_ADMIN_PORT": str(self.admin_port),
            "TRACE_AGENT": f"auto:127.0.0.1:{self.agent_port}",
            "TRACE_AGENT_URL": f"http://127.0.0.1:{self.agent_port}",
        })
        return env

    def start(self, command: str) -> str:
        """Start the foreground command; wait until `up` serves its control API (all pods ready)."""
        log = open(self.log_path, "w")

        def launch(ports: range) -> subprocess.Popen:
            # Its pods, listeners and agent get ports no other process of the run picks.
            env = {**self.env(), PORT_RANGE_VARIABLE: f"{ports.start}-{ports.stop - 1}"}
            return subprocess.Popen(["bash", "-c", command], cwd=REPO_ROOT, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)

        self.process = start_with_port_block(launch)
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ReplayFailure(f"`{command}` exited with {self.process.returncode}:\n{self.tail()}")
            if self.up_pid() is not None and READY_LINE in self.output():
                return self.output()
            time.sleep(0.2)
        raise ReplayFailure(f"`{command}` not ready in {READY_TIMEOUT:g} s:\n{self.tail()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self) -> str:
        return self.output()[-4000:]

    def up_pid(self) -> Optional[int]:
        try:
            pid = int(json.loads((self.state / "control.json").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return pid

    def status(self) -> dict:
        result = subprocess.run(["localmesh", "status", "--json"], cwd=REPO_ROOT, env=self.env(),
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise ReplayFailure(f"localmesh status failed: {result.stderr}")
        return json.loads(result.stdout)

    def port_map(self) -> dict:
        """The port a learner's machine would use -> the port this mesh uses."""
        mapping = {GATEWAY_PORT: self.gateway_port, ADMIN_PORT: self.admin_port, AGENT_PORT: self.agent_port}
        listeners = {(row["namespace"], row["service"], row["port"]): int(row["listener"].rsplit(":", 1)[1])
                     for row in self.status()["services"]}
        mesh = build_mesh(load_paths([self.state / "applied.yaml"]))
        plan = plan_service_ports(mesh)
        for service in mesh.services:
            for port in service.ports:
                actual = listeners.get((service.namespace, service.name, port.port))
                if actual is not None:
                    mapping[plan[(service.fqdn, port.port)]] = actual
        return mapping

    def stop(self) -> None:
        """Ctrl-C, as the page tells the learner: SIGTERM to `up`; everything it started must end."""
        if self.process is None:
            return
        pids: set = set()
        up = self.up_pid()
        if up is not None:
            status = self.status()
            pids = {row["pid"] for row in status["workloads"] if row.get("pid")}
            os.kill(up, signal.SIGTERM)
        try:
            code = self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise ReplayFailure(f"the mesh did not stop in {STOP_TIMEOUT:g} s:\n{self.tail()}") from None
        finally:
            self.process = None
        if code != 0:
            raise ReplayFailure(f"the mesh exited with {code}:\n{self.tail()}")
        left = descendants_alive(pids, pids)
        if left:
            raise ReplayFailure(f"processes left after the mesh stopped: {left}")


class CourseReplay:
    """The state of one replay: the running mesh, the last command's output, the report."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.meshes = 0
        self.mesh = Mesh(workdir, self.meshes)
        self.last_output: Optional[str] = None
        self.report: list = []
        self._ports: Optional[dict] = None  # the running mesh's port map, until the next command
        self.broken_at: Optional[str] = None  # the page where a step failed; later pages start from it

    # ---- the course ---------------------------------------------------------------

    def replay(self, items: list) -> None:
        for item in items:
            if isinstance(item, Block) and item.replayed:
                self.run_block(item)
            elif isinstance(item, Block):
                self.report.append(f"shown, not replayed: {item.place}: {item.reason}: {first_line(item)}")
            elif isinstance(item, PageCheck):
                self.check_page(item)
            elif isinstance(item, OutputCheck):
                self.check_output(item)

    def run_block(self, block: Block) -> None:
        self._ports = None
        if "127.0.0.1:" in block.script:
            raise ReplayFailure(f"{block.place}: a replayed command names a fixed address; "
                                "put addresses in the expectations, which the replay maps")
        if block.starts_mesh:
            if len(block.commands) != 1:
                raise ReplayFailure(f"{block.place}: a foreground command gets a block of its own")
            self.mesh.stop()
            self.meshes += 1
            self.mesh = Mesh(self.workdir, self.meshes)
            self.last_output = self.mesh.start(block.commands[0])
        else:
            self.last_output = self.run(block.script, block.place)
        self.report.append(f"replayed: {block.place}: {first_line(block)}")

    def run(self, script: str, place: object) -> str:
        result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=REPO_ROOT,
                                env=self.mesh.env(), capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise ReplayFailure(f"{place}: `{script}` exited with {result.returncode}:\n{output[-4000:]}")
        return output

    def check_page(self, check: PageCheck) -> None:
        url = self.local_url(check.url, check.place)
        banners = isinstance(check.claim, (Always, Split))
        workers = SPLIT_WORKERS if isinstance(check.claim, Split) else WORKERS
        views = observe(url, dict(check.headers), views_for(check.claim), banners, workers)
        verdict = judge(check.claim, views)
        if verdict:
            raise ReplayFailure(f"{check.place}: {check.line}\n  {verdict}")
        self.report.append(f"checked: {check.place}: {check.line[2:]}  [{describe(views) or 'as stated'}]")

    def check_output(self, check: OutputCheck) -> None:
        deadline = time.monotonic() + check.within_seconds
        while True:
            if check.command is None:
                if self.last_output is None:
                    raise ReplayFailure(f"{check.place}: 'the output' of no command")
                output = self.last_output
            else:
                output = self.run(check.command, check.place)
            if (check.text in output) == check.present:
                self.report.append(f"checked: {check.place}: {check.line[2:]}")
                return
            if check.command is None or time.monotonic() >= deadline:
                raise ReplayFailure(f"{check.place}: {check.line}\n  the output was:\n{output[-3000:]}")
            time.sleep(1.0)  # spans and metrics arrive in batches; poll until the page's bound

    def local_url(self, url: str, place: object) -> str:
        parts = urlsplit(url)
        if self._ports is None:
            self._ports = self.mesh.port_map()
        mapping = self._ports
        if parts.hostname != "127.0.0.1" or parts.port not in mapping:
            raise ReplayFailure(f"{place}: the running mesh serves nothing at {parts.netloc} "
                                f"(it serves {', '.join(f'127.0.0.1:{p}' for p in sorted(mapping))})")
        return urlunsplit(parts._replace(netloc=f"127.0.0.1:{mapping[parts.port]}"))

    def close(self) -> None:
        self.mesh.stop()


def first_line(block: Block) -> str:
    commands = block.commands
    return commands[0] + (f" (+{len(commands) - 1} more)" if len(commands) > 1 else "")


def observe(url: str, headers: dict, count: int, banners: bool, workers: int) -> list:
    """count requests from `workers` threads at once; banners: read each answer as a shop page."""
    def one(_: int) -> View:
        started = time.perf_counter()
        status, body = get(url, headers=headers, timeout=30)
        seconds = time.perf_counter() - started
        version = banner_version(body) if banners and status == 200 else None
        return View(status, version or NO_BANNER, seconds, body)

    with ThreadPoolExecutor(min(workers, count)) as pool:
        return list(pool.map(one, range(count)))


class ExperimentStoreAside:
    """Keeps this checkout's experiment data out of the replay's way and puts it back after.

    The course's frontends write to services/frontend/instance/ (as `make run` does) and the
    course resets the experiment there; a developer's own data must survive `make test`.
    """

    def __init__(self, backup: Path) -> None:
        self.backup = backup

    def __enter__(self) -> ExperimentStoreAside:
        self.backup.mkdir(parents=True, exist_ok=True)
        for name in EXPERIMENT_FILES:
            if (EXPERIMENT_STORE / name).exists():
                shutil.move(str(EXPERIMENT_STORE / name), str(self.backup / name))
        return self

    def __exit__(self, *exc: object) -> None:
        for name in EXPERIMENT_FILES:
            (EXPERIMENT_STORE / name).unlink(missing_ok=True)
            if (self.backup / name).exists():
                shutil.move(str(self.backup / name), str(EXPERIMENT_STORE / name))
