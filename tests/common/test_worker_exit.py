"""How a gunicorn worker ends (shopcommon.serving's worker_exit hook): its exit handlers run; ddtrace's
get TRACE_FLUSH_SECONDS (1 s) in all, as it retries an agent that does not answer for seconds; the app's
keep their own time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.request

from shopcommon.serving import TRACE_FLUSH_SECONDS
from testkit.processes import REPO_ROOT, free_port, run_service

# Runs the hook as gunicorn does (inside the worker's `finally`, leaving with SystemExit(0)), with an
# exit handler of the app's that takes longer than the trace budget and one from a folder named
# ddtrace that would take 30 s: a stand-in for ddtrace's flush to a missing agent, whose real
# duration (about 3 s) would not tell the budget from the retries' end.
_SCRIPT = """
import atexit, sys, time
from ddtrace_stand_in.ddtrace import flush
from shopcommon.serving import end_worker_after_exit_handlers

def app_handler():
    time.sleep({app_seconds})
    print("app handler done", flush=True)

atexit.register(flush)         # registered first: runs last, as ddtrace's (imported at start) do
atexit.register(app_handler)
try:
    sys.exit(0)
finally:
    end_worker_after_exit_handlers(None, None)
"""


def test_the_apps_handlers_finish_and_ddtraces_are_cut_at_the_budget(tmp_path):
    package = tmp_path / "ddtrace_stand_in" / "ddtrace"
    package.mkdir(parents=True)
    (tmp_path / "ddtrace_stand_in" / "__init__.py").write_text("")
    (package / "__init__.py").write_text(textwrap.dedent("""
        import time
        def flush():
            time.sleep(30)
            print("stand-in flush done", flush=True)
    """))
    app_seconds = TRACE_FLUSH_SECONDS + 1.0
    script = _SCRIPT.format(app_seconds=app_seconds)
    # The stand-in package is found through PYTHONPATH.
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "app handler done" in result.stdout, "the app's own exit handler was cut short"
    assert "stand-in flush done" not in result.stdout
    assert f"traces not flushed within {TRACE_FLUSH_SECONDS} s" in result.stderr, result.stderr


def test_a_failing_worker_keeps_its_exit_status():
    script = textwrap.dedent("""
        import sys
        from shopcommon.serving import end_worker_after_exit_handlers
        try:
            sys.exit(3)
        finally:
            end_worker_after_exit_handlers(None, None)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr


def test_traced_service_without_an_agent_stops_on_sigterm_with_one_line(tmp_path):
    """The real thing: ddtrace-run gunicorn, traced requests, no agent on the port, SIGTERM."""
    closed_port = free_port()
    env = {"DD_TRACE_ENABLED": "true", "DD_TRACE_AGENT_URL": f"http://127.0.0.1:{closed_port}",
           "DD_REMOTE_CONFIGURATION_ENABLED": "false", "ADS_VERSION": "1.0"}
    with run_service("advertisements", env=env, traced=True) as ads:
        for _ in range(3):
            request = urllib.request.Request(f"{ads.url}/ads", headers={"page-source": "home"})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
        assert ads.stop() == 0
        output = ads.output()
    assert f"traces not flushed within {TRACE_FLUSH_SECONDS} s" in output, output[-3000:]
    assert "Traceback" not in output
