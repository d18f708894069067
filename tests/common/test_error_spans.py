"""shopcommon's error handlers and tracing, in both services: a view that raises is a 500 whose
request span carries the exception (type, message, stack) and whose log line carries the span's
ids; without ddtrace-run the same calls do nothing and load no ddtrace.

Each case runs the service's app in a fresh `ddtrace-run python` with the manifests' DD_* settings
(tracing.tracekit.run_traced_script), sending to a real ddapm-test-agent.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from testkit.processes import VENV_BIN
from tracing.tracekit import run_test_agent, run_traced_script

BUILD_FRONTEND = """import tempfile
from storefront import create_app
app = create_app({"ADS_URL": "http://127.0.0.1:9", "SECRET_KEY": "t",
                  "DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/e.sqlite3"})"""
BUILD_ADS = """from ads import create_app
app = create_app({"ADS_VERSION": "2.0"})"""
# service: (its version, the lines that build its app, a page that answers 200 without other services)
SERVICES = {"advertisements": ("2.0", BUILD_ADS, "/ads"), "frontend": ("1.0", BUILD_FRONTEND, "/")}

FAILING_VIEW = """
{build_app}

@app.get("/fails")
def fails():
    raise RuntimeError("the view broke")

print("STATUS", app.test_client().get("/fails").status_code)
"""

WITHOUT_DDTRACE = """
import sys
from shopcommon.tracing import record_exception, tag_request_span
{build_app}
tag_request_span(page_source="home")
record_exception(RuntimeError("x"))
status = app.test_client().get("{page}", headers={{"page-source": "products"}}).status_code
print("STATUS", status, "LOADED", "ddtrace" in sys.modules)
"""


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_failing_view_marks_the_request_span_with_its_exception(tmp_path, service):
    version, build_app, _ = SERVICES[service]
    with run_test_agent(tmp_path) as agent:
        result = run_traced_script(FAILING_VIEW.format(build_app=build_app), service, version, agent.url)
        assert "STATUS 500" in result.stdout
        traces = agent.wait_for_traces(lambda t: any(s["resource"] == "GET /fails" for tr in t for s in tr),
                                       "the failing request's span")
    [span] = [s for trace in traces for s in trace if s["resource"] == "GET /fails"]
    assert (span["service"], span["error"], span["meta"]["http.status_code"]) == (service, 1, "500")
    assert (span["meta"]["error.type"], span["meta"]["error.message"]) == ("builtins.RuntimeError",
                                                                           "the view broke")
    assert "in fails" in span["meta"]["error.stack"]
    # The log line says the same, with the span's ids.
    [logged] = [json.loads(line) for line in result.stdout.splitlines() if '"unhandled error"' in line]
    assert int(logged["dd.span_id"]) == span["span_id"]
    assert "RuntimeError: the view broke" in logged["error"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_without_ddtrace_it_is_a_no_op_that_does_not_load_it(service):
    _, build_app, page = SERVICES[service]
    script = WITHOUT_DDTRACE.format(build_app=build_app, page=page)
    # A fresh interpreter: whether ddtrace is loaded must not depend on pytest's plugins.
    result = subprocess.run([sys.executable, "-c", script],
                            capture_output=True, text=True, timeout=60, env={"PATH": str(VENV_BIN)})
    assert result.returncode == 0, result.stderr
    assert "STATUS 200 LOADED False" in result.stdout
