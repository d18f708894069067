"""Run `localmesh up` as a real process on free ports and drive it like a user would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import yaml
from testkit.processes import REPO_ROOT, free_port, start_with_port_block

from localmesh.loader import kustomization_files
from localmesh.runtime.ports import PORT_RANGE_VARIABLE

LOCALMESH = [sys.executable, "-m", "localmesh"]
ISTIO = REPO_ROOT / "istio"
# The sets as istio/ecommerce-istio/kustomization.yaml and istio/ads_v2/kustomization.yaml list them.
BASE = kustomization_files(ISTIO / "ecommerce-istio")
CANARY = [*BASE, *kustomization_files(ISTIO / "ads_v2")]
ADS_V2 = ISTIO / "ads_v2" / "advertisements_v2.yaml"
DESTINATION_RULE = ISTIO / "ads_v2" / "destinationrule.yaml"
CANARY_VS = ISTIO / "ads_v2" / "virtualservice.yaml"
SCENARIOS = ISTIO / "scenarios"
# This folder's test-only manifests, and the fake services `--services-dir` runs as pods.
TEST_MANIFESTS = Path(__file__).parent / "manifests"
FIXTURE_SERVICES = Path(__file__).parent / "fixtures" / "services"
VERSION_ATTR = re.compile(r'data-ads-version="([^"]+)"')
PRODUCT_LINK = re.compile(r'href="/products/([a-z0-9-]+)"')


def with_private_store(files: list, folder: Path, database_url: str) -> list:
    """files, where a Deployment reads DATABASE_URL from a Secret (the frontend's optional one) gets
    database_url instead, in a copy written into folder. Without it every frontend a test starts
    would share the checkout's SQLite file in services/frontend/instance/: tests running side by
    side would count each other's impressions, and `make test` would add to a developer's data."""
    result = []
    for path in map(Path, files):
        documents = list(yaml.safe_load_all(path.read_text()))
        changed = False
        for doc in documents:
            if not (doc and doc.get("kind") == "Deployment"):
                continue
            for container in doc["spec"]["template"]["spec"]["containers"]:
                env = container.get("env") or []
                # A value a test set itself stays; only the manifests' Secret reference is replaced.
                if any(e.get("name") == "DATABASE_URL" and "value" not in e for e in env):
                    others = [e for e in env if e.get("name") != "DATABASE_URL"]
                    container["env"] = [{"name": "DATABASE_URL", "value": database_url}, *others]
                    changed = True
        if not changed:
            result.append(path)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / path.name
        copy.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        result.append(copy)
    return result


def shop_with_database(folder: Path, database_url: str) -> list:
    """`make run`'s manifests (CANARY), with the frontend's DATABASE_URL set to database_url instead
    of the Secret, so a test neither reads nor wipes the data of a `make run` on the same checkout.
    The changed frontend manifest is written into folder; the paths to pass to `localmesh up`."""
    files = with_private_store(CANARY, folder, database_url)
    assert folder / "frontend.yaml" in files, "make run's manifests have no frontend.yaml"
    return files


def run_cli(*args: str, state: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LOCALMESH, *args, "--state-dir", str(state)],
        capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
    )


class MeshUp:
    """A running `localmesh up` with its own state dir and free gateway/admin/listener ports."""

    def __init__(self, tmp: Path, files: list, extra_env: Optional[dict] = None,
                 extra_args: tuple = (), gateway_port: Optional[int] = None,
                 admin_port: Optional[int] = None) -> None:
        """gateway_port, admin_port: the ports a previous run had (default: free ones)."""
        self.state = tmp / "state"
        self.gateway_port = gateway_port or free_port()
        self.admin_port = admin_port or free_port()
        tmp.mkdir(parents=True, exist_ok=True)
        self.log_path = tmp / "up.log"
        command = [*LOCALMESH, "up", "--state-dir", str(self.state), "--free-listener-ports",
                   "--gateway-port", str(self.gateway_port), "--admin-port", str(self.admin_port),
                   "--log-files-only", *extra_args]
        self._tmp = tmp
        self._copies = 0
        self.database_url = f"sqlite:///{tmp / 'experiment.sqlite3'}"
        for file in self._private(files):
            command += ["-f", str(file)]
        env = {**os.environ, **(extra_env or {})}
        self._log = open(self.log_path, "a")

        def start(ports: range) -> subprocess.Popen:
            # Pods, listeners and its trace agent get ports no other process of the run picks.
            env[PORT_RANGE_VARIABLE] = f"{ports.start}-{ports.stop - 1}"
            return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=self._log,
                                    stderr=subprocess.STDOUT, start_new_session=True)

        self.process = start_with_port_block(start)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 180.0) -> MeshUp:
        """Until up serves its control API (it starts that once everything is ready)."""
        deadline = time.monotonic() + timeout
        control = self.state / "control.json"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"localmesh up exited with {self.process.returncode}:\n{self.output()}")
            try:
                if json.loads(control.read_text()).get("pid") == self.process.pid:
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"localmesh up not ready in {timeout}s:\n{self.output()}")

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return run_cli(*args, state=self.state)

    def _private(self, files: list) -> list:
        """files with this mesh's own experiment store (see with_private_store)."""
        self._copies += 1
        return with_private_store(files, self._tmp / f"manifests-{self._copies}", self.database_url)

    def apply(self, *files: Path) -> str:
        result = self.cli("apply", *[a for f in self._private(list(files)) for a in ("-f", str(f))])
        assert result.returncode == 0, f"apply failed: {result.stdout}{result.stderr}"
        return result.stdout

    def delete(self, *files: Path) -> str:
        result = self.cli("delete", *[a for f in files for a in ("-f", str(f))])
        assert result.returncode == 0, f"delete failed: {result.stdout}{result.stderr}"
        return result.stdout

    def status(self) -> dict:
        result = self.cli("status", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def listener(self, service: str) -> str:
        for row in self.status()["services"]:
            if row["service"] == service:
                return f"http://{row['listener']}"
        raise KeyError(service)

    def stop(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        return self.process.returncode


def wait_for(predicate: Callable[[], object], timeout: float, what: str, poll: float = 0.1) -> object:
    """predicate()'s first true value, looked for every poll seconds; AssertionError naming what
    after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def get(url: str, headers: Optional[dict] = None, timeout: float = 10.0) -> tuple:
    """(status, body) of a GET; HTTP errors are answers too."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def banner_version(body: str) -> Optional[str]:
    found = VERSION_ATTR.findall(body)
    assert len(found) <= 1, f"more than one banner on the page: {found}"
    return found[0] if found else None


def page_versions(url: str, views: int, workers: int = 6) -> list:
    """The banner version of each of `views` page views (None: the page had no banner)."""
    def one(_: int) -> Optional[str]:
        status, body = get(url)
        assert status == 200, f"{url} answered {status}"
        return banner_version(body)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(views)))


def product_slug(gateway: str) -> str:
    status, body = get(gateway + "/")
    assert status == 200
    slugs = PRODUCT_LINK.findall(body)
    assert slugs, "the home page links no product"
    return slugs[0]


def processes_mentioning(text: str) -> list:
    """Live processes whose command line or environment contains text (e.g. a state dir)."""
    found = []
    needle = text.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            if needle in (entry / "cmdline").read_bytes() or needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def descendants_alive(pids: set, pgids: set) -> list:
    """Processes still alive among pids, or in any of the process groups pgids."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgid = fields[0], int(fields[2])
        if state == "Z":
            continue
        pid = int(entry.name)
        if pid in pids or pgid in pgids:
            alive.append(pid)
    return alive


MAX_REQUESTS = 20000  # a stream is bounded even if a step hangs


def page_outcome(url: str, status: int, body: str) -> str:
    """'ok' for a shop page with a banner or an ads answer; otherwise what went wrong."""
    page = "/products/" in url or url.endswith("/")
    ok = status == 200 and (banner_version(body) is not None if page else '"version"' in body)
    return "ok" if ok else f"{status}{' without banner' if page else ''}"


class Stream:
    """A steady stream of requests from threads, tallied by outcome (see page_outcome).

    The block starts once every thread has finished a few requests and ends once each has finished
    a few more, so requests flow on every URL before the first change and after the last one."""

    SETTLED = 5  # requests each thread finishes on entry and again on exit

    def __init__(self, urls: list, threads_per_url: int = 2, outcome=page_outcome) -> None:
        self.outcomes: Counter = Counter()
        self.failures: list = []
        self._outcome = outcome
        self._stop = threading.Event()
        self._progress = threading.Condition()
        targets = [(url, headers) for url, headers in urls for _ in range(threads_per_url)]
        self._threads = [threading.Thread(target=self._run, args=(index, url, headers), daemon=True)
                         for index, (url, headers) in enumerate(targets)]
        self._finished = [0] * len(self._threads)

    def _run(self, index: int, url: str, headers: dict) -> None:
        while not self._stop.is_set() and sum(self.outcomes.values()) < MAX_REQUESTS:
            try:
                status, body = get(url, headers=headers)
                outcome = self._outcome(url, status, body)
            except OSError as error:
                outcome = f"error {type(error).__name__}"
            with self._progress:
                self.outcomes[outcome] += 1
                if outcome != "ok":
                    self.failures.append((time.strftime("%X"), url, outcome))
                self._finished[index] += 1
                self._progress.notify_all()
            time.sleep(0.005)

    def _each_finishes(self, count: int, timeout: float = 60.0) -> None:
        """Until every thread has finished count more requests (bounded; a hung request shows in
        the outcomes)."""
        with self._progress:
            wanted = [done + count for done in self._finished]
            self._progress.wait_for(
                lambda: all(done >= want for done, want in zip(self._finished, wanted)), timeout)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        self._each_finishes(self.SETTLED)
        return self

    def __exit__(self, *exc):
        self._each_finishes(self.SETTLED)
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
