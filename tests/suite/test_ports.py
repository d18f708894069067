"""Ports for tests running side by side: each pytest-xdist worker has its own slice, below the
kernel's ephemeral range, and each `localmesh up` it starts a block of that slice of its own."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from testkit.processes import _BLOCKS, _PORTS, PortBlocks, free_port

TESTS = Path(__file__).resolve().parents[1]
EPHEMERAL_LOW = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def worker_ports(worker: str, count: int) -> dict:
    """The ranges testkit gives one worker of count, as that worker's process sees them."""
    script = ("import json; from testkit import processes as p; print(json.dumps("
              "{'own': [p._PORTS.start, p._PORTS.stop], 'blocks': [[b.start, b.stop] for b in p._BLOCKS]}))")
    env = {"PYTHONPATH": str(TESTS), "PYTEST_XDIST_WORKER": worker, "PYTEST_XDIST_WORKER_COUNT": str(count),
           "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize("count", [1, 4, 8])
def test_workers_get_disjoint_ranges_below_the_ephemeral_ones(count):
    taken: set = set()
    for index in range(count):
        ranges = worker_ports(f"gw{index}", count)
        ports = [range(*ranges["own"]), *(range(*block) for block in ranges["blocks"])]
        mine = {port for part in ports for port in part}
        assert len(mine) == sum(len(part) for part in ports), "a worker's own ports and blocks overlap"
        assert not mine & taken, f"gw{index} shares ports with another worker"
        assert max(mine) < EPHEMERAL_LOW
        taken |= mine


def test_free_ports_are_free_distinct_and_from_this_workers_range():
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(port in _PORTS for port in ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_block_is_held_while_its_process_runs():
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    blocks = []

    def start(ports: range) -> subprocess.Popen:
        blocks.append(ports)
        return subprocess.Popen(sleeper)

    port_blocks = PortBlocks([range(1, 3), range(3, 5), range(5, 7)])
    running = [port_blocks.start(start) for _ in range(3)]
    try:
        assert blocks == port_blocks.blocks  # each block once
        with pytest.raises(RuntimeError, match="port blocks are held"):
            port_blocks.start(start)
        running[1].kill()
        running[1].wait()
        running.append(port_blocks.start(start))
        assert blocks[-1] == blocks[1]  # free again once its process exited
    finally:
        for process in running:
            process.kill()
            process.wait()


def localmesh_ports(port_range: str, picks: int) -> subprocess.CompletedProcess:
    script = (f"from localmesh.runtime.ports import free_port; "
              f"print(*[free_port() for _ in range({picks})])")
    return subprocess.run([sys.executable, "-c", script], env={"LOCALMESH_PORT_RANGE": port_range},
                          capture_output=True, text=True, timeout=60)


def test_localmesh_picks_its_ports_from_the_range_it_is_given():
    low = _BLOCKS[0].start
    result = localmesh_ports(f"{low}-{low + 9}", 10)
    assert result.returncode == 0, result.stderr
    assert sorted(map(int, result.stdout.split())) == list(range(low, low + 10))


@pytest.mark.parametrize("value", ["20000", "30000-20000", "80-90", "a-b"])
def test_a_bad_localmesh_port_range_is_one_line(value):
    result = localmesh_ports(value, 1)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"localmesh: LOCALMESH_PORT_RANGE={value!r}: "
                                     "expected LOW-HIGH within 1024-65535")
