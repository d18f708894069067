"""Experiment settings from the environment, validated once (one-line errors naming the variable)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

from . import assignment, store
from .writer import DEFAULT_MAX_BUFFER

DEFAULT_BASELINE_CTR = 0.03
# Absolute uplift worth detecting: 3% -> 6% needs about 750 product impressions per arm.
DEFAULT_MDE = 0.03
DEFAULT_WRITE_INTERVAL = 0.5
MAX_WRITE_INTERVAL = 60.0
MAX_BUFFER = 1_000_000


@dataclass(frozen=True)
class ExperimentSettings:
    database_url: str
    share: float  # AB_SHARE: the v2 share of customers (sticky) or of requests (Istio weights)
    baseline: float
    mde: float
    # EXPERIMENT_BUFFER: events a worker keeps while the store is away (beyond: dropped, counted)
    buffer: int = DEFAULT_MAX_BUFFER
    # EXPERIMENT_WRITE_INTERVAL: seconds events wait to be written in one batch
    write_interval: float = DEFAULT_WRITE_INTERVAL

    @property
    def weights(self) -> dict[str, float]:
        """Configured split per ads version on product pages, for the SRM check."""
        return {"1.0": 1.0 - self.share, "2.0": self.share}


def _fraction(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: not a number (a fraction such as 0.03)") from None
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name}={raw!r}: must be a fraction between 0 and 1 (exclusive)")
    return value


def _whole(environ: Mapping[str, str], name: str, default: int, most: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ValueError(f"{name}={raw!r}: must be a whole number from 1 to {most}")
    return int(raw)


def _seconds(environ: Mapping[str, str], name: str, default: float, most: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: not a number of seconds") from None
    if not 0.0 < value <= most:
        raise ValueError(f"{name}={raw!r}: must be more than 0 and at most {most:g} seconds")
    return value


def from_env(
    instance_path: Optional[str] = None, environ: Optional[Mapping[str, str]] = None
) -> ExperimentSettings:
    """DATABASE_URL, AB_SHARE, EXPERIMENT_BASELINE_CTR, EXPERIMENT_MDE, EXPERIMENT_BUFFER and
    EXPERIMENT_WRITE_INTERVAL; ValueError (one line naming the variable) if malformed."""
    environ = os.environ if environ is None else environ
    baseline = _fraction(environ, "EXPERIMENT_BASELINE_CTR", DEFAULT_BASELINE_CTR)
    mde = _fraction(environ, "EXPERIMENT_MDE", DEFAULT_MDE)
    if baseline + mde >= 1.0:
        raise ValueError(f"EXPERIMENT_BASELINE_CTR + EXPERIMENT_MDE must stay below 1 ({baseline} + {mde})")
    return ExperimentSettings(
        database_url=store.database_url(instance_path, environ),
        share=assignment.share_from_env(environ),
        baseline=baseline,
        mde=mde,
        buffer=_whole(environ, "EXPERIMENT_BUFFER", DEFAULT_MAX_BUFFER, MAX_BUFFER),
        write_interval=_seconds(
            environ, "EXPERIMENT_WRITE_INTERVAL", DEFAULT_WRITE_INTERVAL, MAX_WRITE_INTERVAL
        ),
    )
