"""The `localmesh` command: analyze, render, up, apply, delete, status, logs, traces."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional

from localmesh.loader import ManifestError

# The module that registers each command (its `register(subcommands)` adds them; a handler
# returns the exit status). Only the module of the command being run is imported, so
# `localmesh analyze` does not load the runtime, the Envoy builders or tracing. Without a known
# command (`--help`, a typo) every module is imported, so the usage lists every command.
COMMAND_MODULES = {
    "localmesh.analyze.cli": ("analyze",),
    "localmesh.envoy.cli": ("render",),
    "localmesh.runtime.cli": ("up", "apply", "delete", "status", "logs"),
    "localmesh.tracing.cli": ("traces",),
}


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every command, or with `command` only of the commands its module registers."""
    parser = argparse.ArgumentParser(
        prog="localmesh",
        description="Run Kubernetes and Istio manifests on this machine through a real Envoy.",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name, commands in COMMAND_MODULES.items():
        if command is None or command in commands:
            importlib.import_module(module_name).register(subcommands)
    return parser


def main(argv: Optional[list] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The top-level parser has no options but --help, so a command comes first.
    known = {name for commands in COMMAND_MODULES.values() for name in commands}
    command = argv[0] if argv and argv[0] in known else None
    args = build_parser(command).parse_args(argv)
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
