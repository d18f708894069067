"""--trace-agent auto|off|HOST:PORT: what the local mesh does about a trace agent."""

from __future__ import annotations

import socket

import pytest

from localmesh.tracing.agent import agent_answers
from localmesh.tracing.agentplan import TraceAgentError, plan_trace_agent


def test_auto_uses_an_agent_that_answers_and_starts_one_otherwise():
    assert plan_trace_agent("auto", answers=lambda host, port: True).mode == "use"
    plan = plan_trace_agent("auto", answers=lambda host, port: False)
    assert (plan.mode, plan.url) == ("start", "http://127.0.0.1:8126")
    assert plan.pod_env() == {"DD_TRACE_AGENT_URL": "http://127.0.0.1:8126"}
    assert plan.tracing("workshop-istio").agent_port == 8126


def test_off_turns_tracing_off_in_pods_and_envoy():
    plan = plan_trace_agent("off")
    assert plan.pod_env() == {"DD_TRACE_ENABLED": "false"}
    assert plan.tracing("x") is None


def test_an_address_is_used_as_given():
    plan = plan_trace_agent("datadog-agent:9126", answers=lambda host, port: pytest.fail("no probe"))
    assert (plan.mode, plan.host, plan.port) == ("use", "datadog-agent", 9126)


@pytest.mark.parametrize("value", ["", "yes", "host:", ":8126", "host:0", "host:70000", "host:http"])
def test_nonsense_is_one_line_naming_the_option(value):
    with pytest.raises(TraceAgentError) as error:
        plan_trace_agent(value)
    assert str(error.value).startswith(f"--trace-agent {value!r}: use auto, off or HOST:PORT")


def test_the_probe_sees_a_real_listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert agent_answers("127.0.0.1", port)
    assert not agent_answers("127.0.0.1", port)


def test_auto_on_another_address_starts_there_on_loopback_only():
    plan = plan_trace_agent("auto:127.0.0.1:9999", answers=lambda host, port: False)
    assert (plan.mode, plan.url) == ("start", "http://127.0.0.1:9999")
    with pytest.raises(TraceAgentError, match="127.0.0.1 only"):
        plan_trace_agent("auto:10.1.2.3:8126", answers=lambda host, port: False)
    assert plan_trace_agent("auto:10.1.2.3:8126", answers=lambda host, port: True).mode == "use"
