"""Gunicorn settings read from the environment, shared by both services."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Optional

from shopcommon.settings import Number, env_setting, read_settings

# How long an exiting worker may wait on ddtrace's last flush of traces. ddtrace retries an agent
# that does not answer for about 3 s per flush (not configurable), and may flush twice; the engines
# and Kubernetes send SIGKILL 10 s and 30 s after SIGTERM. With an agent answering it takes
# milliseconds. The app's own exit handlers (the experiment writer's) keep their own time limits.
TRACE_FLUSH_SECONDS = 1.0
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


@dataclass(frozen=True)
class ServingSettings:
    """How gunicorn serves a service; the port's default is the service's own."""

    port: int = env_setting("PORT", Number(whole=True, low=1, high=65535))
    bind_host: str = env_setting("BIND_HOST", default="0.0.0.0")
    workers: int = env_setting("WEB_CONCURRENCY", Number(whole=True, low=1), 1)
    threads: int = env_setting("GUNICORN_THREADS", Number(whole=True, low=1), 4)
    timeout: int = env_setting("GUNICORN_TIMEOUT", Number(whole=True, low=1), 30)
    # SIGTERM lets in-flight requests finish for this long.
    graceful_timeout: int = env_setting("GUNICORN_GRACEFUL_TIMEOUT", Number(whole=True, low=1), 10)
    keepalive: int = env_setting("GUNICORN_KEEPALIVE", Number(whole=True, low=1), KEEPALIVE_SECONDS)


def gunicorn_settings(default_port: int, environ: Optional[Mapping[str, str]] = None) -> dict:
    """Settings for a gunicorn.conf.py: bind, workers and timeouts; SettingError for a bad one.

    No `preload_app`: ddtrace-run must patch the app after each worker forks.
    """
    serving = read_settings(ServingSettings, environ, port=default_port)
    return {
        "bind": f"{serving.bind_host}:{serving.port}",
        "workers": serving.workers,
        "worker_class": "gthread",
        "threads": serving.threads,
        "timeout": serving.timeout,
        "graceful_timeout": serving.graceful_timeout,
        "keepalive": serving.keepalive,
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
    """gunicorn's worker_exit hook: run the exit handlers, then end the worker.

    It runs once the worker has finished its requests. The handlers run as the interpreter would run
    them, except that ddtrace's get TRACE_FLUSH_SECONDS in all; the interpreter's teardown after them
    (about a second with ddtrace's native threads) keeps nothing and is skipped. A worker that failed
    exits as it is, with its status for the master.
    """
    leaving = sys.exc_info()[1]
    if not (isinstance(leaving, SystemExit) and leaving.code in (0, None)):
        return
    watcher = threading.Thread(target=_end_when_ddtrace_handlers_overrun, args=(threading.get_ident(),),
                               name="exit-watch", daemon=True)
    watcher.start()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def running_exit_handler(frame: Optional[FrameType]) -> Optional[str]:
    """The file of the exit handler that end_worker_after_exit_handlers is running in frame's stack."""
    while frame is not None and frame.f_back is not None:
        if frame.f_back.f_code is end_worker_after_exit_handlers.__code__:
            return frame.f_code.co_filename
        frame = frame.f_back
    return None


def _end_when_ddtrace_handlers_overrun(thread_id: int) -> None:
    ddtrace_dir = f"{os.sep}ddtrace{os.sep}"
    spent = 0.0
    last = time.monotonic()
    while spent < TRACE_FLUSH_SECONDS:
        time.sleep(0.05)
        now = time.monotonic()
        handler = running_exit_handler(sys._current_frames().get(thread_id))
        if handler is not None and ddtrace_dir in handler:
            spent += now - last
        last = now
    os.write(2, f"[{os.getpid()}] traces not flushed within {TRACE_FLUSH_SECONDS} s (is the trace agent "
                "reachable?); the worker exits without them\n".encode())
    os._exit(0)
