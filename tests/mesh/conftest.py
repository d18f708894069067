"""Fixtures: a real `localmesh up` (Envoy + gunicorn pods) on free loopback ports."""

from __future__ import annotations

import pytest

from mesh.meshkit import MeshUp, descendants_alive


@pytest.fixture
def mesh_up(tmp_path):
    """Start `localmesh up -f FILES...`; stop it after the test and check nothing is left."""
    started = []

    def start(*files, **kwargs):
        mesh = MeshUp(tmp_path / f"mesh{len(started)}", list(files), **kwargs)
        started.append(mesh)
        return mesh.wait_ready()

    yield start
    for mesh in started:
        pids = {row["pid"] for row in _rows(mesh) if row.get("pid")}
        code = mesh.stop()
        assert code == 0, f"localmesh up exited {code}:\n{mesh.output()[-4000:]}"
        left = descendants_alive(pids, pids)
        assert not left, f"processes left after up stopped: {left}"


def _rows(mesh):
    try:
        return mesh.status()["workloads"] if mesh.process.poll() is None else []
    except AssertionError:
        return []
