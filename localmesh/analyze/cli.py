"""`localmesh analyze [FILE_OR_DIR | -k DIR]...`: check manifests like kubectl apply and istioctl analyze."""

from __future__ import annotations

import argparse

from localmesh.analyze.engine import analyze
from localmesh.analyze.messages import ERROR, INFO, LEVEL_RANK, WARNING
from localmesh.loader import expand_paths, load_paths
from localmesh.manifest_options import AppendManifests, add_kustomize_option, manifest_sources

_LEVELS = {"error": ERROR, "warning": WARNING, "info": INFO}
HELP = "check manifests offline like kubectl apply (strict schema) and istioctl analyze"
DESCRIPTION = (
    "Check Kubernetes and Istio manifests offline. Files are applied in the order given (folders in"
    " sorted order, -k DIR in its kustomization's order): a later resource with the same"
    " kind/namespace/name replaces the earlier one. Exit status: 0 clean, 1 a message at or above"
    " --fail-on, 2 unreadable input."
)


def register(subcommands: argparse._SubParsersAction) -> None:
    """Add `analyze`; its handler returns 1 when a message reaches --fail-on, else 0."""
    parser = subcommands.add_parser("analyze", help=HELP, description=DESCRIPTION)
    parser.add_argument("manifests", nargs="*", action=AppendManifests, default=[], metavar="FILE_OR_DIR",
                        help="manifest files or folders")
    add_kustomize_option(parser)
    parser.add_argument(
        "--fail-on", choices=sorted(_LEVELS), default="error",
        help="lowest message level that makes the exit status 1 (default: error)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only messages, no summary")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    files = expand_paths(manifest_sources(args))
    resources = load_paths(files)  # ManifestError: cli.main prints it as one line
    messages = analyze(resources)
    for found in messages:
        print(found)
    counts = {level: sum(1 for m in messages if m.level == level) for level in (ERROR, WARNING, INFO)}
    if not args.quiet:
        print(
            f"localmesh analyze: {counts[ERROR]} errors, {counts[WARNING]} warnings, {counts[INFO]} info"
            f" in {len(resources)} resources from {len(files)} files"
        )
    threshold = LEVEL_RANK[_LEVELS[args.fail_on]]
    return 1 if any(LEVEL_RANK[m.level] >= threshold for m in messages) else 0
