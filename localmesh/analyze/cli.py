"""Subcommands of this part of localmesh (placeholder until it is built)."""

from __future__ import annotations

import argparse


def register(subcommands: argparse._SubParsersAction) -> None:
    """Add this module's subcommands; each sets `handler` to a function returning the exit status."""
