"""The command-line options that name manifests: -f FILE_OR_DIR and -k DIR, kept in the order given."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Optional

from localmesh.loader import Kustomization, ManifestSource

FILE_HELP = "manifest file or folder (repeatable)"
KUSTOMIZE_HELP = ("folder with a kustomization.yaml: the files its `resources:` lists, in order, as "
                  "`kubectl apply -k` reads them (repeatable; later resources replace earlier ones)")


class AppendManifests(argparse.Action):
    """-f and -k append to one list, so a later file replaces an earlier one as on the command line."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        items = list(getattr(namespace, self.dest, None) or [])
        items.extend(values if isinstance(values, list) else [values])
        setattr(namespace, self.dest, items)


def add_manifest_options(parser: argparse.ArgumentParser) -> None:
    """-f/--filename and -k/--kustomize, both into args.manifests."""
    parser.add_argument("-f", "--filename", dest="manifests", action=AppendManifests, default=[],
                        metavar="FILE_OR_DIR", help=FILE_HELP)
    add_kustomize_option(parser)


def add_kustomize_option(parser: argparse.ArgumentParser) -> None:
    """-k/--kustomize alone (analyze takes its files as arguments), into args.manifests."""
    parser.add_argument("-k", "--kustomize", dest="manifests", action=AppendManifests, type=Kustomization,
                        default=[], metavar="DIR", help=KUSTOMIZE_HELP)


def manifest_sources(args: argparse.Namespace) -> list[ManifestSource]:
    """The manifests named on the command line, in order; exit status 2 when there are none."""
    if not args.manifests:
        command = getattr(args, "command", None) or "localmesh"
        print(f"localmesh {command}: no manifests given (files, folders or -k DIR)", file=sys.stderr)
        raise SystemExit(2)
    return args.manifests
