"""Gunicorn settings read from the environment, shared by both services."""

from __future__ import annotations

import atexit
import os
import sys
import threading

# How long an exiting worker may take for its exit handlers: ddtrace's last flush of traces, the
# experiment writer's last records. ddtrace retries an agent that does not answer for about 3 s per
# flush (not configurable); the engines and Kubernetes send SIGKILL 10 s and 30 s after SIGTERM.
# With an agent answering, the handlers take milliseconds.
EXIT_HANDLERS_SECONDS = 1.5

# How long gunicorn keeps an idle keep-alive connection open. A client that reuses a pooled
# connection just as the server closes it gets a reset (Envoy: 503 UC), so on every hop the
# client must give up an idle connection first: the DestinationRules' idleTimeout (30 s) and
# the storefront's ads client (30 s) are shorter than this.
KEEPALIVE_SECONDS = 75
# gunicorn reads away at most 64 KiB of a body the app left unread before it reuses the
# connection; past that it closes the connection, after a response that promised keep-alive.
# The shop's apps take no body this large, so such requests are answered with
# "Connection: close" up front: a proxy must not send its next request on that connection.
MAX_KEPT_ALIVE_BODY = 16 * 1024


def close_after_large_body(worker: object, req: object) -> None:
    """gunicorn pre_request hook: answer a large or unsized body with Connection: close."""
    headers = dict(getattr(req, "headers", ()))
    length = headers.get("CONTENT-LENGTH", "")
    chunked = "chunked" in headers.get("TRANSFER-ENCODING", "").lower()
    if chunked or (length.isdigit() and int(length) > MAX_KEPT_ALIVE_BODY):
        req.force_close()  # type: ignore[attr-defined]


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r}: not a whole number") from None
    if value <= 0:
        raise SystemExit(f"{name}={raw!r}: must be positive")
    return value


def gunicorn_settings(default_port: int) -> dict:
    """Settings for a gunicorn.conf.py: bind, workers and timeouts.

    No `preload_app`: ddtrace-run must patch the app after each worker forks.
    """
    port = _int_env("PORT", default_port)
    if port > 65535:
        raise SystemExit(f"PORT={port}: outside 1..65535")
    return {
        "bind": f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{port}",
        "workers": _int_env("WEB_CONCURRENCY", 2),
        "worker_class": "gthread",
        "threads": _int_env("GUNICORN_THREADS", 4),
        "timeout": _int_env("GUNICORN_TIMEOUT", 30),
        # SIGTERM lets in-flight requests finish for this long.
        "graceful_timeout": _int_env("GUNICORN_GRACEFUL_TIMEOUT", 10),
        "keepalive": _int_env("GUNICORN_KEEPALIVE", KEEPALIVE_SECONDS),
        "pre_request": close_after_large_body,
        # The apps write their own JSON access lines; gunicorn's would duplicate them.
        "accesslog": None,
        "errorlog": "-",
        "preload_app": False,
        # gunicorn 27's control socket lives in $HOME; side-by-side servers would fight over
        # it, and a read-only root filesystem cannot hold it. The shop does not use it.
        "control_socket_disable": True,
        "worker_exit": end_worker_after_exit_handlers,
    }


def end_worker_after_exit_handlers(server: object, worker: object) -> None:
    """gunicorn's worker_exit hook: run the exit handlers, EXIT_HANDLERS_SECONDS at most, and end.

    It runs once the worker has finished its requests. The handlers run as the interpreter would run
    them; the interpreter's teardown after them (about a second with ddtrace's native threads) keeps
    nothing and is skipped. A worker that failed exits as it is, with its status for the master.
    """
    leaving = sys.exc_info()[1]
    if not (isinstance(leaving, SystemExit) and leaving.code in (0, None)):
        return
    pid = os.getpid()

    def give_up() -> None:
        os.write(2, f"[{pid}] exit handlers (trace flush) not done within {EXIT_HANDLERS_SECONDS} s; is the "
                    "trace agent reachable? The worker exits without them\n".encode())
        os._exit(0)

    timer = threading.Timer(EXIT_HANDLERS_SECONDS, give_up)
    timer.daemon = True
    timer.start()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
