"""`localmesh traces`: the traces the local test agent collected, summarised."""

from __future__ import annotations

import argparse
import sys

from localmesh.tracing.agent import DEFAULT_AGENT_URL, AgentError, check_agent_url, fetch_traces
from localmesh.tracing.summary import render


def register(subcommands: argparse._SubParsersAction) -> None:
    traces = subcommands.add_parser(
        "traces",
        help="summarise the traces the local test agent collected (per service and version) and show the "
        "span tree of one product page view",
    )
    traces.add_argument("--agent", default=DEFAULT_AGENT_URL,
                        help=f"the ddapm-test-agent to read (default {DEFAULT_AGENT_URL})")
    traces.set_defaults(handler=run_traces)


def run_traces(args: argparse.Namespace) -> int:
    try:
        check_agent_url(args.agent)
    except AgentError as error:
        print(f"localmesh traces: {error}", file=sys.stderr)
        return 2
    try:
        traces = fetch_traces(args.agent)
    except AgentError as error:
        print(f"localmesh traces: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(render(traces))
    return 0
