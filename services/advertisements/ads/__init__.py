"""The shop's advertisements service: one codebase, shipped as version 1.0 and 2.0."""

from ads.app import create_app

__all__ = ["create_app"]
