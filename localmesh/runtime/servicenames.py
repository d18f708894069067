"""Rewrite Service names in env values to the Service's local Envoy listener.

In a cluster `http://advertisements:5002` reaches the Service through DNS and the sidecar;
here it becomes `http://127.0.0.1:<listener port>` so the call still goes through Envoy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Optional

from localmesh.model import Mesh, dns_fqdn

_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_HOST_REF = re.compile(
    rf"(?<![\w.@/-])(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)?(?P<host>{_LABEL}(?:\.{_LABEL})*)"
    rf"(?::(?P<port>\d{{1,5}}))?(?![\w-])"
)
_DEFAULT_SCHEME_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "grpc": 80}


class ServiceAddressBook:
    """Which (Service FQDN, port) pairs exist and where each listens locally."""

    def __init__(self, mesh: Mesh, listener_ports: Mapping, listen_host: str = "127.0.0.1") -> None:
        self.listen_host = listen_host
        self.listener_ports = dict(listener_ports)
        self.ports_of: dict = {service.fqdn: [p.port for p in service.ports] for service in mesh.services}

    def fqdn_for(self, host: str, namespace: str) -> Optional[str]:
        """The Service FQDN host means from namespace, if such a Service exists."""
        fqdn = dns_fqdn(host, namespace)
        return fqdn if fqdn in self.ports_of else None

    def rewrite(self, value: str, namespace: str) -> str:
        """value with every reference to a known Service replaced by its local listener."""
        return _HOST_REF.sub(lambda match: self._replace(match, namespace), value)

    def _replace(self, match: re.Match, namespace: str) -> str:
        host, scheme, port = match.group("host"), match.group("scheme"), match.group("port")
        fqdn = self.fqdn_for(host, namespace)
        if fqdn is None:
            return match.group(0)
        if port is None and scheme is None and "." not in host:
            # A bare short name is as likely a service *name* (DD_SERVICE=advertisements).
            return match.group(0)
        service_ports = self.ports_of[fqdn]
        if port is not None:
            number: Optional[int] = int(port)
        elif scheme is not None:
            number = _DEFAULT_SCHEME_PORTS.get(scheme[:-3].lower())
        else:
            number = service_ports[0] if len(service_ports) == 1 else None
        listener = self.listener_ports.get((fqdn, number))
        if listener is None:
            return match.group(0)  # a port the Service does not have fails in a cluster too
        return f"{scheme or ''}{self.listen_host}:{listener}"
