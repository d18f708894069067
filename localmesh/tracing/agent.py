"""Talking to a trace agent: is one there, and what traces did a ddapm-test-agent collect."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

DEFAULT_AGENT_URL = "http://127.0.0.1:8126"


class AgentError(Exception):
    """No usable agent at the address; the message is one line."""


def check_agent_url(url: str) -> str:
    """url without a trailing slash; AgentError unless it looks like http://host:port."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsed to reject a malformed port
    except ValueError as error:
        raise AgentError(f"--agent {url!r}: {error}") from None
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        raise AgentError(f"--agent {url!r}: must look like http://127.0.0.1:8126")
    return url.rstrip("/")


def agent_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def fetch_traces(url: str, timeout: float = 10.0) -> list[list[dict]]:
    """Every trace a ddapm-test-agent at url holds: a list of traces, each a list of span dicts."""
    url = check_agent_url(url)
    try:
        with urllib.request.urlopen(f"{url}/test/traces", timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise AgentError(
                f"{url} is a trace agent but not ddapm-test-agent (no /test/traces): a real Datadog "
                "agent sends traces to Datadog; look in APM there"
            ) from None
        raise AgentError(f"{url}/test/traces answered {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise AgentError(f"no trace agent answers at {url} ({reason}); `make run` starts one") from None
    try:
        traces = json.loads(body)
    except ValueError:
        raise AgentError(f"{url}/test/traces did not answer JSON") from None
    if not isinstance(traces, list) or not all(isinstance(trace, list) for trace in traces):
        raise AgentError(f"{url}/test/traces did not answer a list of traces")
    return traces
