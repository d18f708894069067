"""The port plan: which loopback port each Service listener, the gateway and the admin use."""

from __future__ import annotations

import errno
import itertools
import os
import random
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Optional

from localmesh.model import Mesh
from localmesh.topology import ServicePortKey, plan_service_ports

# What wants each port, in the "already in use" message.
GATEWAY_NEED = "the gateway (set GATEWAY_PORT or --gateway-port to move it)"


class PortInUse(Exception):
    """A port the mesh needs is taken; the message names the port and what wanted it."""


# LOW-HIGH: pick ports from this range only. Tests that run meshes side by side give each `up` a
# range of its own, so two of them never pick the same port (Envoy binds listeners with
# SO_REUSEPORT: a shared port would not fail, it would split the connections between them).
PORT_RANGE_VARIABLE = "LOCALMESH_PORT_RANGE"


class PortPicker:
    """Ports on a host that nothing listens on: the kernel's pick, or, given a range, its ports in
    turn from a random start, so a port given out is not given out again before the range is
    through (the tests give each process a range of its own)."""

    def __init__(self, ports: Optional[range] = None) -> None:
        self.ports = ports
        self._lock = threading.Lock()
        if ports:
            start = random.randrange(len(ports))
            self._next = itertools.cycle([*ports[start:], *ports[:start]])

    def __call__(self, host: str = "127.0.0.1") -> int:
        if not self.ports:
            with socket.socket() as sock:
                sock.bind((host, 0))
                return sock.getsockname()[1]
        with self._lock:
            for _ in range(len(self.ports)):
                port = next(self._next)
                with socket.socket() as sock:
                    try:
                        sock.bind((host, port))
                    except OSError:
                        continue
                return port
        raise PortInUse(f"no free port left in {self.ports.start}-{self.ports.stop - 1}")


def port_range_from_environment() -> Optional[range]:
    """$LOCALMESH_PORT_RANGE as a range; None when unset."""
    raw = os.environ.get(PORT_RANGE_VARIABLE, "").strip()
    if not raw:
        return None
    low, _, high = raw.partition("-")
    if not (low.isdigit() and high.isdigit() and 1024 <= int(low) <= int(high) <= 65535):
        raise SystemExit(f"localmesh: {PORT_RANGE_VARIABLE}={raw!r}: expected LOW-HIGH within 1024-65535")
    return range(int(low), int(high) + 1)


_picker: Optional[PortPicker] = None


def free_port(host: str = "127.0.0.1") -> int:
    """A port on host that nothing listens on right now: the kernel's pick, or the next free one
    of $LOCALMESH_PORT_RANGE."""
    global _picker
    if _picker is None:
        _picker = PortPicker(port_range_from_environment())
    return _picker(host)


def plan_listener_ports(
    mesh: Mesh,
    previous: Optional[Mapping[ServicePortKey, int]] = None,
    pick_free: Optional[Callable[[], int]] = None,
    reserved: tuple[int, ...] = (),
) -> dict[ServicePortKey, int]:
    """(service fqdn, port) -> listener port.

    A Service port keeps the listener it had (an apply never moves a running listener);
    new ones get the default plan (5002 -> 5002, 80 -> 10080), or pick_free() when given
    (tests, so they never collide with a running `make run`).
    """
    previous = dict(previous or {})
    wanted = plan_service_ports(mesh)
    taken = {port for key, port in previous.items() if key in wanted} | set(reserved)
    plan: dict = {}
    for key, default in wanted.items():
        if key in previous:
            plan[key] = previous[key]
            continue
        port = pick_free() if pick_free else default
        while port in taken:
            port = pick_free() if pick_free else port + 1
        taken.add(port)
        plan[key] = port
    return plan


def describe_port_needs(
    listener_ports: Mapping[ServicePortKey, int], gateway_port: Optional[int], admin_port: int
) -> dict[int, str]:
    """port -> what wants it, for the 'already in use' message."""
    needs: dict = {}
    for (fqdn, service_port), local in sorted(listener_ports.items(), key=lambda item: item[1]):
        needs[local] = f"the listener for Service {fqdn.split('.')[0]} port {service_port}"
    if gateway_port is not None:
        needs[gateway_port] = GATEWAY_NEED
    needs[admin_port] = "the Envoy admin (set --admin-port to move it)"
    return needs


def check_ports_free(needs: Mapping[int, str], host: str = "127.0.0.1") -> None:
    """Raise PortInUse for the first port in needs that cannot be bound on host."""
    for port, what in needs.items():
        with socket.socket() as sock:
            # As Envoy binds: a port held only by TIME_WAIT connections is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as error:
                reason = "already in use" if error.errno == errno.EADDRINUSE else error.strerror
                raise PortInUse(f"port {host}:{port} is {reason}; it is wanted by {what}") from None
