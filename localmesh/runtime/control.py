"""The control API of a running `up`: a small HTTP server on loopback, found through the state dir.

<state dir>/control.json holds the URL, the pid of `up` and a token (file mode 0600), so
`apply`, `delete` and `status` reach the right mesh and only its owner can drive it.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

from localmesh.runtime.processes import pid_alive

CONTROL_FILE = "control.json"
TOKEN_HEADER = "X-Localmesh-Token"
MAX_BODY = 16 * 1024 * 1024

Reply = tuple[int, dict]  # (HTTP status, JSON body)
# Answers one request: its JSON body (POST) or query parameters (GET) -> the reply.
Handler = Callable[[dict], Reply]


class NotRunning(Exception):
    """No `up` answers for this state dir."""


class ControlServer:
    """Serves one handler per (method, path), to callers that hold the token."""

    def __init__(self, state_dir: Path, handlers: Mapping[tuple[str, str], Handler],
                 host: str = "127.0.0.1") -> None:
        self.state_dir = Path(state_dir)
        self.token = secrets.token_hex(16)
        self.handlers = handlers
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server._dispatch(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                server._dispatch(self, "POST")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # requests are the user's own commands; nothing to log

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="control", daemon=True)

    def start(self) -> None:
        self._thread.start()
        path = self.state_dir / CONTROL_FILE
        tmp = path.with_name(".control.json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"url": self.url, "pid": os.getpid(), "token": self.token}, handle)
        os.replace(tmp, path)

    def stop(self) -> None:
        try:
            data = json.loads((self.state_dir / CONTROL_FILE).read_text())
            if data.get("pid") == os.getpid():
                (self.state_dir / CONTROL_FILE).unlink()
        except (OSError, ValueError):
            pass
        self.httpd.shutdown()
        self.httpd.server_close()

    def _dispatch(self, request: BaseHTTPRequestHandler, method: str) -> None:
        if request.headers.get(TOKEN_HEADER) != self.token:
            return _reply(request, 403, {"error": "wrong or missing control token"})
        path, _, query = request.path.partition("?")
        handler = self.handlers.get((method, path))
        if handler is None:
            return _reply(request, 404, {"error": f"no {method} {path}"})
        payload: dict = dict(urllib.parse.parse_qsl(query))
        if method == "POST":
            length = int(request.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return _reply(request, 413, {"error": "request too large"})
            try:
                payload = json.loads(request.rfile.read(length) or b"{}")
            except ValueError:
                return _reply(request, 400, {"error": "body is not JSON"})
        try:
            status, body = handler(payload)
        except Exception as error:  # noqa: BLE001 - the user gets one line, `up` keeps running
            status, body = 500, {"error": f"{type(error).__name__}: {error}"}
        _reply(request, status, body)


def _reply(request: BaseHTTPRequestHandler, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


def read_control(state_dir: Path) -> dict:
    """The control file of the `up` that owns state_dir; NotRunning when there is none alive."""
    path = Path(state_dir) / CONTROL_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotRunning(f"no localmesh up is running for state dir {state_dir} "
                         "(start one with `localmesh up -f ...`, or set LOCALMESH_STATE)") from None
    except (OSError, ValueError) as error:
        raise NotRunning(f"{path}: unreadable ({error})") from None
    if not pid_alive(int(data.get("pid", 0))):
        raise NotRunning(f"the localmesh up that wrote {path} (pid {data.get('pid')}) is gone")
    return data


def call(state_dir: Path, method: str, path: str, payload: Optional[dict] = None,
         timeout: float = 300.0) -> Reply:
    """The reply of the running `up` to one request."""
    control = read_control(state_dir)
    data = None if payload is None else json.dumps(payload).encode()
    headers = {TOKEN_HEADER: control["token"], "Content-Type": "application/json"}
    request = urllib.request.Request(control["url"] + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read())
        except ValueError:
            return error.code, {"error": f"HTTP {error.code}"}
    except (urllib.error.URLError, OSError) as error:
        raise NotRunning(f"localmesh up at {control['url']} does not answer: {error}") from None
