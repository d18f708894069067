"""The experiment report: per-segment CTRs, the 2.0-vs-1.0 test, SRM and the decision, as a dict.

build_report() is what /experiment.json serves; it takes plain counts, so it needs no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union

from . import stats

TEST_METHOD = (
    "two-proportion z-test, two-sided (pooled SE for the p-value, unpooled Wald SE for the uplift CI)"
)


@dataclass(frozen=True)
class SegmentCounts:
    """Counts for one (page_source, version) cell, as the store's query returns them."""

    page_source: str
    version: str
    impressions: int
    clicks: int
    customers: int


CountsLike = Union[SegmentCounts, Mapping[str, Any]]


def _as_counts(row: CountsLike) -> SegmentCounts:
    if isinstance(row, SegmentCounts):
        return row
    return SegmentCounts(
        page_source=str(row["page_source"]),
        version=str(row["version"]),
        impressions=int(row.get("impressions", 0)),
        clicks=int(row.get("clicks", 0)),
        customers=int(row.get("customers", 0)),
    )


def _round(value: Optional[float], digits: int = 6) -> Optional[float]:
    return None if value is None else round(value, digits)


def _segment(row: SegmentCounts) -> dict:
    # A click whose impression was not stored (dropped write, reset in between) can push clicks
    # above impressions; the interval is computed on the capped count and the raw one reported.
    capped = min(row.clicks, row.impressions)
    low, high = stats.wilson_interval(capped, row.impressions)
    return {
        "page_source": row.page_source,
        "version": row.version,
        "impressions": row.impressions,
        "clicks": row.clicks,
        "customers": row.customers,
        "ctr": _round(capped / row.impressions) if row.impressions else None,
        "ctr_ci": [_round(low), _round(high)],
    }


def build_report(
    counts: Iterable[CountsLike],
    weights: Mapping[str, float],
    mde: float,
    baseline: float,
    *,
    page_source: str = "products",
    control: str = "1.0",
    treatment: str = "2.0",
    alpha: float = 0.05,
    power: float = 0.8,
    srm_unit: str = "impressions",
) -> dict:
    """The JSON-ready report.

    weights: the configured split per version on page_source (e.g. {"1.0": 0.5, "2.0": 0.5}).
    mde, baseline: absolute minimum detectable uplift and the expected control CTR.
    srm_unit: "impressions" for per-request routing (Istio weights); "customers" for sticky
    per-customer assignment, where the customer is the unit that was randomised.
    """
    if srm_unit not in ("impressions", "customers"):
        raise ValueError(f"srm_unit must be 'impressions' or 'customers', got {srm_unit!r}")
    rows = sorted((_as_counts(r) for r in counts), key=lambda r: (r.page_source, r.version))
    segments = [_segment(r) for r in rows]
    tested = {r.version: r for r in rows if r.page_source == page_source}
    empty = SegmentCounts(page_source, "", 0, 0, 0)
    c, t = tested.get(control, empty), tested.get(treatment, empty)

    result = stats.two_proportion_ztest(
        min(c.clicks, c.impressions), c.impressions, min(t.clicks, t.impressions), t.impressions
    )
    test = {
        "page_source": page_source,
        "control": control,
        "treatment": treatment,
        "control_ctr": _round(result.control_rate) if result else None,
        "treatment_ctr": _round(result.treatment_rate) if result else None,
        "z": _round(result.z) if result else None,
        "p_value": result.p_value if result else None,
        "uplift_abs": _round(result.uplift_abs) if result else None,
        "uplift_ci": [_round(result.uplift_ci[0]), _round(result.uplift_ci[1])] if result else [None, None],
        "uplift_rel": _round(result.uplift_rel) if result else None,
        "method": TEST_METHOD,
        "alpha": alpha,
    }

    observed = {version: getattr(row, srm_unit) for version, row in tested.items()}
    srm_result = stats.srm_check(observed, weights)
    srm = {
        "page_source": page_source,
        "unit": srm_unit,
        "p_value": srm_result.p_value,
        "chi2": _round(srm_result.chi2) if srm_result.chi2 != float("inf") else None,
        "expected_share": srm_result.expected_share,
        "observed": srm_result.observed,
        "unexpected_versions": srm_result.unexpected,
        "warning": srm_result.warning,
    }

    required = stats.required_sample_size(baseline, mde, alpha=alpha, power=power)
    decided = stats.verdict(
        result,
        c.impressions,
        t.impressions,
        required,
        control=control,
        treatment=treatment,
        alpha=alpha,
        srm_warning=srm_result.warning,
    )
    decision = {
        "required_sample_per_arm": required,
        "sample_per_arm": {control: c.impressions, treatment: t.impressions},
        "baseline_ctr": baseline,
        "mde": mde,
        "alpha": alpha,
        "power": power,
        "status": decided.status,
        "winner": decided.winner,
        "verdict": decided.text,
    }
    return {"segments": segments, "test": test, "srm": srm, "decision": decision}
