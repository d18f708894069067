"""What the experiment keeps per app, and how the code serving a request finds it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from sqlalchemy.engine import Engine

from .schema import SchemaGuard
from .settings import ExperimentSettings
from .writer import EventWriter

EXTENSION = "experiment"  # its key in app.extensions


@dataclass
class Experiment:
    """Settings, the store's engine, writer and schema guard, and where the data lives (no password)."""

    settings: ExperimentSettings
    engine: Engine
    writer: EventWriter
    schema: SchemaGuard
    store_label: str


def current(app: Flask) -> Experiment:
    return app.extensions[EXTENSION]
