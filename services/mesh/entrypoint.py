"""The mesh container's entrypoint: `localmesh render` the baked istio/ manifests, then exec Envoy.

Rendering at start, not at build, keeps the trace agent a run-time choice: Envoy's Datadog
spans go where the apps' go (DD_AGENT_HOST): the test agent by default, the official agent with
docker-compose's `datadog` profile.

    entrypoint.py [render options: -f FILE_OR_DIR, -k DIR, --endpoint DEPLOYMENT=HOST:PORT ...] [--print]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Optional

from localmesh.envoy import cli as render_cli
from localmesh.loader import ManifestError

CONFIG_PATH = "/tmp/envoy.json"
FALSE_WORDS = ("0", "false", "no", "off")


def tracing_options(environ: Mapping[str, str]) -> list:
    """render's tracing flags from the apps' own DD_* settings; none when tracing is off."""
    host = environ.get("DD_AGENT_HOST", "").strip()
    if environ.get("DD_TRACE_ENABLED", "true").strip().lower() in FALSE_WORDS or not host:
        return []
    port = environ.get("DD_TRACE_AGENT_PORT", "8126").strip()
    return ["--trace-agent", f"{host}:{port}", "--trace-env", environ.get("DD_ENV", "").strip() or "none"]


def render_arguments(argv: list, environ: Mapping[str, str], output: Optional[str]) -> list:
    """The `localmesh render` command line for this container.

    The analyzer's schema packages are not in the image: the same files are analyzed by
    `make check-manifests` and the test suite.
    """
    arguments = ["render", *argv, "--listen-host", "0.0.0.0", "--skip-analyze", "--format", "json"]
    arguments += tracing_options(environ)
    return arguments + (["--output", output] if output else [])


def main(argv: Optional[list] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    print_only = "--print" in argv
    argv = [argument for argument in argv if argument != "--print"]
    parser = argparse.ArgumentParser(prog="mesh", description=__doc__.splitlines()[0])
    render_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(render_arguments(argv, os.environ, None if print_only else CONFIG_PATH))
    try:
        status = args.handler(args)
    except ManifestError as error:
        print(f"mesh: {error}", file=sys.stderr)
        return 2
    if status or print_only:
        return status
    level = os.environ.get("ENVOY_LOG_LEVEL", "warning")
    # exec: Envoy replaces this process (PID 1 in the container) and gets its signals.
    os.execvp("envoy", ["envoy", "-c", CONFIG_PATH, "--log-level", level])
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
