"""The `localmesh` command: analyze, render, up, apply, delete, status, traces."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from localmesh.analyze import cli as analyze_cli
from localmesh.envoy import cli as envoy_cli
from localmesh.loader import ManifestError
from localmesh.runtime import cli as runtime_cli
from localmesh.tracing import cli as tracing_cli

# Each module adds its subcommands; a subcommand's handler returns the exit status.
COMMAND_MODULES = (analyze_cli, envoy_cli, runtime_cli, tracing_cli)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="localmesh",
        description="Run Kubernetes and Istio manifests on this machine through a real Envoy.",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subcommands)
    return parser


def main(argv: Optional[list] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ManifestError as error:
        # User input problems are one line: file:line: reason.
        print(f"localmesh: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
