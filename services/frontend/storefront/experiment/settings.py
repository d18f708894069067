"""The experiment's settings: one dataclass, read from the environment once; a bad value is one line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

from shopcommon.settings import Number, OneOf, env_setting, read_settings

from . import assignment, store
from .writer import DEFAULT_MAX_BUFFER

MODES = ("off", "sticky")
# A fraction strictly between 0 and 1: a click-through rate or an uplift of one.
_FRACTION = Number(low=0, high=1, low_open=True, high_open=True)


@dataclass(frozen=True)
class ExperimentSettings:
    # Where impressions and clicks are stored (all replicas share it); default: an SQLite file in
    # the instance folder.
    database_url: str = env_setting("DATABASE_URL", store.parse_database_url, secret=True)
    # off: Istio's route weights pick the version per request; sticky: each customer keeps one
    # arm, sent to the mesh as a header.
    mode: str = env_setting(
        "AB_MODE", OneOf(MODES, reason="use off (Istio weights) or sticky (per-customer assignment)"), "off"
    )
    # The v2 share of customers (sticky) or of requests (Istio weights), for the SRM check.
    share: float = env_setting("AB_SHARE", Number(low=0, high=1), assignment.DEFAULT_SHARE)
    # The control's expected click-through rate, and the absolute uplift worth detecting:
    # 3% -> 6% needs about 750 product impressions per arm.
    baseline: float = env_setting("EXPERIMENT_BASELINE_CTR", _FRACTION, 0.03)
    mde: float = env_setting("EXPERIMENT_MDE", _FRACTION, 0.03)
    # Events a worker keeps while the store is away (beyond: dropped, counted).
    buffer: int = env_setting(
        "EXPERIMENT_BUFFER", Number(whole=True, low=1, high=1_000_000), DEFAULT_MAX_BUFFER
    )
    # Seconds events wait to be written in one batch.
    write_interval: float = env_setting(
        "EXPERIMENT_WRITE_INTERVAL", Number(low=0, high=60, low_open=True, unit="seconds"), 0.5
    )

    def __post_init__(self) -> None:
        if self.baseline + self.mde >= 1.0:
            raise ValueError(
                f"EXPERIMENT_BASELINE_CTR + EXPERIMENT_MDE must stay below 1 ({self.baseline} + {self.mde})"
            )

    @property
    def weights(self) -> dict[str, float]:
        """Configured split per ads version on product pages, for the SRM check."""
        return {"1.0": 1.0 - self.share, "2.0": self.share}

    @property
    def srm_unit(self) -> str:
        # Sticky assignment randomises customers; Istio weights randomise requests.
        return "customers" if self.mode == "sticky" else "impressions"


def load_settings(
    environ: Optional[Mapping[str, str]] = None, instance_path: Optional[str] = None
) -> ExperimentSettings:
    """The settings from environ (the environment by default); SettingError (a ValueError) if one is bad.

    Without DATABASE_URL the store is the SQLite file in instance_path (Flask's instance folder).
    """
    return read_settings(ExperimentSettings, environ, database_url=store.default_sqlite_url(instance_path))
