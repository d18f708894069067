"""A tiny real HTTP server on a loopback port that stands in for a misbehaving ads service.

The real advertisements service cannot be made slow, broken or to answer garbage on
purpose; this stand-in can. It records every request it gets (path, headers, client port).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class StandIn:
    def __init__(self, server: ThreadingHTTPServer, stop: threading.Event) -> None:
        self.server = server
        self.stop = stop
        self.requests: list = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def stand_in(reply: Callable, delay: float = 0.0) -> Iterator[StandIn]:
    """Serve reply(path) -> (status, content_type, body) or None, after an optional delay."""
    stop = threading.Event()
    holder: dict = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - the name http.server dispatches to
            holder["standin"].requests.append(
                {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                 "client_port": self.client_address[1]}
            )
            if delay and stop.wait(delay):
                return
            answer = reply(self.path)
            if answer is None:
                self.close_connection = True
                return
            status, content_type, body = answer
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                self.close_connection = True  # the client gave up (timeout): nothing to do

        def log_message(self, format, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    standin = StandIn(server, stop)
    holder["standin"] = standin
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def json_reply(body: str, status: int = 200) -> Callable:
    return lambda path: (status, "application/json", body.encode())


VALID_ADS = (
    '{"version": "2.0", "page_source": "products", "ads": [{"id": "standin-ad", "title": "Stand-in",'
    ' "text": "An ad from the stand-in.", "banner_url": "/banners/standin-ad.svg?version=2.0",'
    ' "target_url": "/?category=kitchen", "category": "kitchen"}]}'
)
