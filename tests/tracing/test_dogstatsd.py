"""DogStatsD: a banner impression sends ads.banner.impressions over UDP, tagged with the version.

A UDP socket in the test plays the agent's DogStatsD port; the frontend is a real
ddtrace-run gunicorn in front of a real advertisements 2.0 process.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from testkit.processes import run_service

from tracing.tracekit import get_page, shown_version


class StatsdListener:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.packets: list = []

    def receive(self, until: float) -> list:
        """Datagram lines received until the deadline passes (bounded)."""
        while time.monotonic() < until:
            self.sock.settimeout(max(0.01, until - time.monotonic()))
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                break
            self.packets += data.decode().splitlines()
        return self.packets

    def wait_for(self, metric: str, count: int, timeout: float = 15.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            packets = self.receive(min(deadline, time.monotonic() + 0.5))
            found = [p for p in packets if p.startswith(metric + ":")]
            if len(found) >= count:
                return found
        raise AssertionError(f"got {self.packets!r}, not {count} x {metric}")


def parse(packet: str) -> tuple:
    """'name:1|c|#a:b,c:d' -> (name, value, type, {tag: value})."""
    head, _, rest = packet.partition("|")
    name, value = head.split(":")
    kind, *fields = rest.split("|")
    tags = {}
    for fld in fields:
        if fld.startswith("#"):
            tags = dict(tag.split(":", 1) for tag in fld[1:].split(","))
    return name, value, kind, tags


@contextmanager
def listener() -> Iterator[StatsdListener]:
    found = StatsdListener()
    try:
        yield found
    finally:
        found.sock.close()


def frontend_env(ads_url: str, tmp_path, **extra) -> dict:
    return {"ADS_URL": ads_url, "DD_ENV": "statsd-test", "DD_SERVICE": "frontend", "DD_VERSION": "1.0",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'experiment.sqlite3'}", **extra}


def test_each_banner_impression_is_counted_with_version_and_page_source(ads_v2, tmp_path):
    with listener() as statsd:
        env = frontend_env(ads_v2.url, tmp_path, DD_DOGSTATSD_URL=f"udp://127.0.0.1:{statsd.port}")
        with run_service("frontend", env=env, traced=True) as frontend:
            shown = []
            for path in ("/products/chef-knife", "/", "/products/chef-knife"):
                status, html = get_page(frontend.url + path)
                assert status == 200
                shown.append(shown_version(html))
            packets = statsd.wait_for("ads.banner.impressions", 3)
    assert shown == ["2.0", "2.0", "2.0"]
    parsed = [parse(packet) for packet in packets]
    kinds = [(name, value, kind) for name, value, kind, _ in parsed]
    assert kinds == [("ads.banner.impressions", "1", "c")] * 3
    sources = sorted(tags["page_source"] for *_, tags in parsed)
    assert sources == ["home", "products", "products"]
    for *_, tags in parsed:
        # The datadog package adds unified service tags from DD_*.
        assert tags["ads_version"] == "2.0"
        assert (tags["env"], tags["service"], tags["version"]) == ("statsd-test", "frontend", "1.0")


def test_no_agent_configured_sends_nothing(ads_v2, tmp_path):
    # DD_DOGSTATSD_PORT alone (no DD_AGENT_HOST, no DD_DOGSTATSD_URL) does not name an agent;
    # were metrics on anyway, the client's localhost default would reach this listener.
    with listener() as statsd:
        env = frontend_env(ads_v2.url, tmp_path, DD_DOGSTATSD_PORT=str(statsd.port))
        with run_service("frontend", env=env) as frontend:
            for path in ("/products/chef-knife", "/"):
                assert get_page(frontend.url + path)[0] == 200
            received = statsd.receive(time.monotonic() + 2.0)
    assert received == []


def test_count_click_sends_the_clicks_metric(tmp_path, monkeypatch):
    from storefront import create_app
    from storefront.metrics import CLICKS, count_click

    with listener() as statsd:
        monkeypatch.setenv("DD_DOGSTATSD_URL", f"udp://127.0.0.1:{statsd.port}")
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'experiment.sqlite3'}")
        app = create_app({"ADS_URL": "http://127.0.0.1:9", "SECRET_KEY": "x", "TESTING": True})
        with app.test_request_context("/"):
            count_click("2.0", "products")
        [packet] = statsd.wait_for(CLICKS, 1)
    name, value, kind, tags = parse(packet)
    assert (name, value, kind) == (CLICKS, "1", "c")
    assert (tags["ads_version"], tags["page_source"]) == ("2.0", "products")
