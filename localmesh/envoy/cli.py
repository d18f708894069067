"""`localmesh render`: print a complete static Envoy configuration for a set of manifests."""

from __future__ import annotations

import argparse
import json
import sys

import yaml

from localmesh.envoy.bootstrap import build_static_config
from localmesh.envoy.plan import DEFAULT_HOST_TEMPLATE, parse_endpoint, render_topology
from localmesh.envoy.resources import build_resources
from localmesh.loader import load_paths
from localmesh.manifest_options import add_manifest_options, manifest_sources
from localmesh.model import build_mesh
from localmesh.tracing.agentplan import add_trace_agent_option, rendered_tracing

HELP = "print the Envoy configuration for a set of manifests"
DESCRIPTION = (
    "Print one static Envoy configuration (YAML or JSON) for the given manifests. Each Deployment is"
    " served by one host: by default its name (a compose service) on its container port."
)


def register(subcommands: argparse._SubParsersAction) -> None:
    """Add `render`; its handler returns the exit status."""
    parser = subcommands.add_parser("render", help=HELP, description=DESCRIPTION)
    add_manifest_options(parser)
    parser.add_argument("--listen-host", default="127.0.0.1", help="address Envoy listens on")
    parser.add_argument("--endpoint", action="append", default=[], metavar="DEPLOYMENT=HOST:PORT",
                        help="where a Deployment is served ('name' or 'ns/name'; repeatable)")
    parser.add_argument("--endpoint-host-template", default=DEFAULT_HOST_TEMPLATE,
                        help="host of a Deployment without --endpoint: {name} and {namespace} "
                        "are replaced (default: %(default)s)")
    parser.add_argument("--gateway-port", type=int, default=None, help="ingress listener port")
    parser.add_argument("--admin-port", type=int, default=None, help="Envoy admin port")
    add_trace_agent_option(parser, default="off", default_text="off")
    parser.add_argument("--trace-env", default="none",
                        help="the env tag of Envoy's spans (default: %(default)s)")
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml")
    parser.add_argument("--output", metavar="FILE", help="write the configuration here instead of stdout")
    parser.add_argument("--skip-analyze", action="store_true",
                        help="render without running the analyzer, even what the API server would refuse")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    endpoints = {}
    for text in args.endpoint:
        try:
            key, host, port = parse_endpoint(text)
        except ValueError as error:
            print(f"localmesh: {error}", file=sys.stderr)
            return 2
        endpoints[key] = (host, port)
    resources = load_paths(manifest_sources(args))  # ManifestError: cli.main prints it as one line
    if not args.skip_analyze:
        # Imported here: the analyzer's schema packages are not in the mesh image, which renders with
        # --skip-analyze.
        from localmesh.analyze import admitted

        # What `up` and `apply` refuse is refused here too; other findings render, with a warning.
        if not admitted(resources, "refusing to render: {reason}; nothing rendered"):
            return 1
    mesh = build_mesh(resources)
    extra = {}
    if args.gateway_port is not None:
        extra["gateway_port"] = args.gateway_port
    if args.admin_port is not None:
        extra["admin_port"] = args.admin_port
    try:
        extra["tracing"] = rendered_tracing(args.trace_agent, args.trace_env)
        topology = render_topology(mesh, endpoints, args.listen_host, args.endpoint_host_template, **extra)
    except ValueError as error:
        print(f"localmesh: {error}", file=sys.stderr)
        return 2
    for message in build_resources(mesh, topology).warnings:
        print(message, file=sys.stderr)
    config = build_static_config(mesh, topology)
    if args.format == "json":
        text = json.dumps(config, indent=2) + "\n"
    else:
        text = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0

