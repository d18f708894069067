"""Which trace agent a local mesh uses: the `--trace-agent` option of `up` and `render`.

The value, the same for both commands:
- HOST:PORT: the agent there; nothing is started.
- auto: an agent already answering on 127.0.0.1:8126 (a real Datadog agent, say) is used;
  otherwise `up` starts Datadog's ddapm-test-agent there, so traces are collected (for
  `localmesh traces`) and no tracer logs connection errors. auto:HOST:PORT: auto on another
  address (tests, or a second mesh next to `make run`). `render` starts and probes nothing:
  its Envoy sends to the address auto names.
- off: tracing off in every pod (DD_TRACE_ENABLED=false) and no tracer in Envoy.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from localmesh.topology import TracingConfig, parse_host_port
from localmesh.tracing.agent import agent_answers

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8126
TEST_AGENT_NAME = "trace-agent"


class TraceAgentError(ValueError):
    """A --trace-agent value that means nothing; the message is one line."""


@dataclass(frozen=True)
class TraceAgentPlan:
    mode: str  # "off", "use" (someone else's agent) or "start" (ddapm-test-agent, ours)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def pod_env(self) -> dict[str, str]:
        """Added to every pod's environment (after its manifest's)."""
        if self.mode == "off":
            return {"DD_TRACE_ENABLED": "false"}
        # Beats DD_AGENT_HOST (status.hostIP) for traces; DogStatsD keeps DD_AGENT_HOST.
        return {"DD_TRACE_AGENT_URL": self.url}

    def tracing(self, env: str) -> Optional[TracingConfig]:
        """What Envoy's Datadog tracer needs; None when tracing is off."""
        if self.mode == "off":
            return None
        return TracingConfig(agent_host=self.host, agent_port=self.port, env=env)

    def describe(self) -> str:
        if self.mode == "off":
            return "tracing off (--trace-agent off)"
        if self.mode == "start":
            return f"trace agent: ddapm-test-agent on {self.url} (`make traces` summarises)"
        return f"trace agent: the one answering on {self.url}"


def add_trace_agent_option(parser: argparse.ArgumentParser, default: str, default_text: str) -> None:
    """--trace-agent as every command that takes it reads it (the syntax above)."""
    parser.add_argument(
        "--trace-agent", default=default, metavar="auto|off|HOST:PORT",
        help="the trace agent: HOST:PORT, the one there; auto, the one answering on 127.0.0.1:8126, "
        "else `up` starts ddapm-test-agent there (auto:HOST:PORT: on another address; `render` starts "
        f"nothing and uses that address); off, no tracing (default: {default_text})",
    )


def parse_trace_agent(value: str) -> tuple[str, str, int]:
    """'auto' | 'off' | 'HOST:PORT' | 'auto:HOST:PORT' -> (kind, host, port), kind 'auto', 'off'
    or 'address'; TraceAgentError (one line) for anything else."""
    text = (value or "").strip()
    if text in ("auto", "off"):
        return text, DEFAULT_HOST, DEFAULT_PORT
    kind, address = ("auto", text[len("auto:"):]) if text.startswith("auto:") else ("address", text)
    try:
        host, port = parse_host_port(address)
    except ValueError:
        raise TraceAgentError(
            f"--trace-agent {value!r}: use auto, off or HOST:PORT (such as 127.0.0.1:8126)"
        ) from None
    return kind, host, port


def rendered_tracing(value: str, env: str) -> Optional[TracingConfig]:
    """Where a rendered Envoy sends its spans (None: no tracing). Rendering starts and probes
    nothing, so auto means the address auto names."""
    kind, host, port = parse_trace_agent(value)
    return None if kind == "off" else TracingConfig(agent_host=host, agent_port=port, env=env)


def plan_trace_agent(value: str, answers: Callable[[str, int], bool] = agent_answers) -> TraceAgentPlan:
    """What `up` does about tracing: use an agent, start ddapm-test-agent, or trace nothing."""
    kind, host, port = parse_trace_agent(value)
    if kind == "off":
        return TraceAgentPlan("off")
    if kind == "address":
        return TraceAgentPlan("use", host, port)
    if answers(host, port):
        return TraceAgentPlan("use", host, port)
    if host not in ("127.0.0.1", "localhost"):
        raise TraceAgentError(f"--trace-agent {value!r}: nothing answers there, and the agent "
                              "auto starts listens on 127.0.0.1 only")
    return TraceAgentPlan("start", "127.0.0.1", port)


def test_agent_command(venv_bin: Path, plan: TraceAgentPlan, free_port: Callable[[], int]) -> tuple[str, ...]:
    """ddapm-test-agent on the plan's address, loopback only; its OTLP ports on free ones."""
    return (
        str(venv_bin / "ddapm-test-agent"), "--host", plan.host, "--port", str(plan.port),
        "--otlp-http-port", str(free_port()), "--otlp-grpc-port", str(free_port()),
        "--log-level", "WARNING",
    )


def env_label(label_sets: Iterable[Mapping[str, str]], default: str = "local") -> str:
    """The env Envoy's spans get: the pods' tags.datadoghq.com/env label, as in the cluster."""
    for labels in label_sets:
        env = labels.get("tags.datadoghq.com/env")
        if env:
            return env
    return default
