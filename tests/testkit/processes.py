"""Start the shop's services as real gunicorn processes on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from localmesh.runtime.ports import PortPicker

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = REPO_ROOT / "services"
VENV_BIN = Path(sys.executable).parent


def _port_range() -> range:
    """Ports below the kernel's ephemeral range, so that no outgoing connection (nor another
    program's bind to port 0) takes a port between the moment it is picked and the moment a
    server binds it; under pytest-xdist each worker gets a slice of its own, so two workers never
    pick the same port."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768  # Linux's default; macOS starts at 49152
    low, high = 20000, max(ephemeral_low, 20000 + 4096)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    size = (high - low) // max(workers, 1)
    return range(low + index * size, low + (index + 1) * size)


# This process's ports: the first part for the servers it starts itself (free_port), the rest in
# blocks for processes that pick their own ports, such as `localmesh up` (start_with_port_block).
_WORKER_PORTS = _port_range()
PORT_BLOCK_SIZE = 150
PORT_BLOCKS = 4
_own_count = len(_WORKER_PORTS) - PORT_BLOCK_SIZE * PORT_BLOCKS
if _own_count < 200:
    raise RuntimeError(f"ports {_WORKER_PORTS.start}-{_WORKER_PORTS.stop - 1} are too few for a worker: "
                       "run fewer pytest-xdist workers")
_PORTS = _WORKER_PORTS[:_own_count]
_BLOCKS = [_WORKER_PORTS[_own_count + i * PORT_BLOCK_SIZE:][:PORT_BLOCK_SIZE] for i in range(PORT_BLOCKS)]
# Ports of its own part come in turn from a random start (localmesh's picker), so that test runs
# in two checkouts at once rarely walk the same ports.
free_port = PortPicker(_PORTS)


class PortBlocks:
    """Blocks of ports for processes that pick their own ports: a block is held by one process
    at a time, and free again once that process has exited."""

    _STARTING = object()

    def __init__(self, blocks: list) -> None:
        self.blocks = blocks
        self._owners: list = [None] * len(blocks)
        self._lock = threading.Lock()

    def start(self, start: Callable[[range], subprocess.Popen]) -> subprocess.Popen:
        """start(ports) starts a process that picks its ports from ports only; that process."""
        with self._lock:
            free = [i for i, owner in enumerate(self._owners)
                    if owner is None or (owner is not self._STARTING and owner.poll() is not None)]
            if not free:
                raise RuntimeError(f"all {len(self.blocks)} port blocks are held by running processes")
            index = free[0]
            self._owners[index] = self._STARTING
        try:
            process = start(self.blocks[index])
        except BaseException:
            self._owners[index] = None
            raise
        self._owners[index] = process
        return process


_PORT_BLOCKS = PortBlocks(_BLOCKS)


def start_with_port_block(start: Callable[[range], subprocess.Popen]) -> subprocess.Popen:
    """start(ports) starts a process (a `localmesh up`) that picks its own ports from ports, a
    block of this process's range that no other running process has."""
    return _PORT_BLOCKS.start(start)


def wait_for_http(url: str, timeout: float = 30.0, process: Optional[subprocess.Popen] = None) -> None:
    """Poll url until it answers 2xx; fail early if process exits."""
    deadline = time.monotonic() + timeout
    last_error: object = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if 200 <= response.status < 300:
                    return
        except (urllib.error.URLError, OSError) as error:
            last_error = error
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last_error}")


def stop_process(process: subprocess.Popen, timeout: float, sig: int = signal.SIGTERM) -> int:
    """sig (SIGTERM), then SIGKILL after timeout; the exit status."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class LoggedProcess:
    """A child process serving HTTP on a loopback port, its output captured in a file."""

    def __init__(self, port: int, process: subprocess.Popen, log_path: Path) -> None:
        self.port = port
        self.process = process
        self.log_path = log_path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class ServiceProcess(LoggedProcess):
    """A running gunicorn (optionally under ddtrace-run) and its captured output."""

    def __init__(self, name: str, port: int, process: subprocess.Popen, log_path: Path) -> None:
        super().__init__(port, process, log_path)
        self.name = name

    def stop(self, timeout: float = 15.0, quick: bool = False) -> int:
        """SIGTERM: gunicorn's graceful stop, which waits for idle keep-alive connections too
        (an app under test keeps its pooled ones open), about 2 s; quick: SIGQUIT, at once."""
        return stop_process(self.process, timeout, signal.SIGQUIT if quick else signal.SIGTERM)


@contextmanager
def run_service(
    name: str,
    env: Optional[dict] = None,
    port: Optional[int] = None,
    traced: bool = False,
    ready_path: str = "/healthz",
) -> Iterator[ServiceProcess]:
    """Run services/<name> with its gunicorn.conf.py on 127.0.0.1 until the block ends."""
    port = port or free_port()
    # Files a service writes (the storefront's SQLite experiment store) go to a folder of this
    # process's own, never into the repository's services/*/instance.
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-data-"))
    command = [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"]
    if traced:
        command = [str(VENV_BIN / "ddtrace-run"), *command]
    full_env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "DD_TRACE_ENABLED": "false",
        "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
        "DATABASE_URL": f"sqlite:///{workdir / 'experiment.sqlite3'}",
        **(env or {}),
    }
    log_file = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
    process = subprocess.Popen(
        command,
        cwd=SERVICES / name,
        env=full_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    service = ServiceProcess(name, port, process, Path(log_file.name))
    try:
        wait_for_http(f"{service.url}{ready_path}", process=process)
        yield service
    except BaseException:
        sys.stderr.write(f"--- {name} output ---\n{service.output()}\n")
        raise
    finally:
        service.stop(quick=True)  # the test is done with it: nothing waits for its connections
        log_file.close()
        shutil.rmtree(workdir, ignore_errors=True)
