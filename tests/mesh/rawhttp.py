"""HTTP/1.1 requests as raw bytes, for input no well-behaved client library would send
(NUL and invalid UTF-8 in the path, over-long lines, malformed headers)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Optional


@dataclass
class RawResponse:
    status: Optional[int]  # None: the server closed without an answer
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(
    port: int,
    method: bytes,
    target: bytes,
    headers: Optional[list] = None,
    body: bytes = b"",
    timeout: float = 15.0,
) -> RawResponse:
    """Send one request exactly as given (Host and Connection: close added) and read the answer."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name + b": " + value for name, value in (headers or [])]
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    payload = b"\r\n".join(lines) + b"\r\n\r\n" + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading an over-long request
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    return parse(data)


def parse(data: bytes) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2) if lines and lines[0] else []
    if len(parts) < 2 or not parts[1].isdigit():
        return RawResponse(None, {}, data)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    return RawResponse(int(parts[1]), headers, body)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out
