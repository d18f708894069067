"""Connection handling both services share (shopcommon.serving), against a real gunicorn.

A body larger than gunicorn reads away for a refused request makes it close the connection;
the answer must say so (Connection: close), or a proxy reusing the connection gets a reset.
"""

from __future__ import annotations

import socket

import pytest
from shopcommon.serving import MAX_KEPT_ALIVE_BODY
from testkit.processes import run_service


def read_response(sock: socket.socket) -> str:
    """One response's head (lower case); its body is read and dropped."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before an answer: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    text = head.decode("latin-1").lower()
    length = next(int(line.split(":")[1]) for line in text.splitlines() if line.startswith("content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return text


@pytest.fixture(scope="module")
def ads():
    with run_service("advertisements", env={"ADS_VERSION": "1.0"}) as service:
        yield service


def post(size: int, chunked: bool = False) -> bytes:
    body = b"x" * size
    if chunked:
        framing = b"Transfer-Encoding: chunked\r\n"
        body = b"%x\r\n" % size + body + b"\r\n0\r\n\r\n"
    else:
        framing = b"Content-Length: %d\r\n" % size
    return b"POST /ads HTTP/1.1\r\nHost: ads\r\nContent-Type: text/plain\r\n" + framing + b"\r\n" + body


@pytest.mark.parametrize(
    ("size", "chunked"), [(200_000, False), (MAX_KEPT_ALIVE_BODY + 1, False), (10, True)]
)
def test_a_large_or_unsized_body_is_answered_with_connection_close(ads, size, chunked):
    with socket.create_connection(("127.0.0.1", ads.port), timeout=10) as sock:
        sock.sendall(post(size, chunked))
        head = read_response(sock)
        assert head.startswith("http/1.1 405") and "connection: close" in head
        assert sock.recv(1) == b"", "the server said close: it must close"


def test_a_small_body_keeps_the_connection(ads):
    with socket.create_connection(("127.0.0.1", ads.port), timeout=10) as sock:
        sock.sendall(post(100))
        head = read_response(sock)
        assert head.startswith("http/1.1 405") and "connection: keep-alive" in head
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: ads\r\n\r\n")
        assert read_response(sock).startswith("http/1.1 200")
