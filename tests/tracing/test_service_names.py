"""A hand-typed `ddtrace-run gunicorn` without the manifests' DD_* settings still gives a usable trace.

ddtrace's Flask and requests integrations then stay on, and the shop adds no request or client
span of its own (one request span, not two). ddtrace 4 infers "frontend" from gunicorn's working
directory; a DD_SERVICE equal to that inferred name counts as unset, so without
DD_TRACE_REMOVE_INTEGRATION_SERVICE_NAMES_ENABLED the web span would be service "flask" and the
ads call "requests", neither with a version tag: shopcommon.tracing.attribute_spans_to_service
(called from wsgi.py) names them after DD_SERVICE.
"""

from __future__ import annotations

from testkit.processes import run_service

from tracing.tracekit import get_page, run_test_agent


def test_web_and_client_spans_carry_the_service_and_version_without_the_variable(tmp_path):
    with run_test_agent(tmp_path) as agent, run_service("advertisements", env={"ADS_VERSION": "2.0"}) as ads:
        env = {"DD_TRACE_ENABLED": "true", "DD_TRACE_AGENT_URL": agent.url, "DD_SERVICE": "frontend",
               "DD_VERSION": "1.0", "DD_ENV": "names-test", "DD_REMOTE_CONFIGURATION_ENABLED": "false",
               "ADS_URL": ads.url, "DATABASE_URL": f"sqlite:///{tmp_path / 'experiment.sqlite3'}"}
        assert "DD_TRACE_REMOVE_INTEGRATION_SERVICE_NAMES_ENABLED" not in env
        with run_service("frontend", env=env, traced=True) as frontend:
            agent.start_session()
            assert get_page(frontend.url + "/products/chef-knife")[0] == 200

            def arrived(traces):
                return any(s["name"] == "requests.request" for t in traces for s in t)

            traces = agent.wait_for_traces(arrived, "the product page's trace")
    [trace] = [t for t in traces if any(s["name"] == "requests.request" for s in t)]
    assert "flask.dispatch_request" in {s["name"] for s in trace}, "ddtrace's Flask integration traced it"
    for name in ("flask.request", "requests.request"):
        [span] = [s for s in trace if s["name"] == name]
        assert (span["service"], span["meta"].get("version")) == ("frontend", "1.0"), name
