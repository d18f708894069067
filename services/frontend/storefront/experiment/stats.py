"""A/B statistics on click counts: pure functions, standard library only.

The normal and chi-square tails come from math.erfc and closed forms instead of SciPy, so the
frontend image stays small; tests/experiment checks every number against SciPy/statsmodels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Optional

_NORMAL = NormalDist()


def z_quantile(probability: float) -> float:
    """The standard normal quantile, e.g. 0.975 -> 1.95996."""
    return _NORMAL.inv_cdf(probability)


def normal_two_sided_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z; erfc keeps precision in the far tail."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def chi2_sf(x: float, df: int) -> float:
    """Survival function of the chi-square distribution for a positive integer df.

    Closed forms (no special-function library): even df is a Poisson tail, odd df builds on
    erfc; df=1 is erfc(sqrt(x/2)).
    """
    if df < 1 or int(df) != df:
        raise ValueError(f"df must be a positive integer, got {df!r}")
    if x <= 0:
        return 1.0
    half = x / 2.0
    if df % 2 == 0:
        term = math.exp(-half)
        total = term
        for i in range(1, df // 2):
            term *= half / i
            total += term
        return min(1.0, total)
    root = math.sqrt(x)
    total = math.erfc(root / math.sqrt(2.0))
    if df > 1:
        # 2*phi(sqrt x) * sum_{j=1}^{(df-1)/2} x^((2j-1)/2) / (1*3*...*(2j-1))
        term = root
        series = term
        for j in range(2, (df - 1) // 2 + 1):
            term *= x / (2 * j - 1)
            series += term
        total += 2.0 * math.exp(-half) / math.sqrt(2.0 * math.pi) * series
    return min(1.0, total)


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0:
        raise ValueError(f"counts must not be negative (successes={successes}, trials={trials})")
    if successes > trials:
        raise ValueError(f"successes ({successes}) exceed trials ({trials})")


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when there are no trials."""
    _check_counts(successes, trials)
    if trials == 0:
        return (0.0, 1.0)
    z = z_quantile(0.5 + confidence / 2.0)
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2.0 * trials)) / denominator
    half_width = z * math.sqrt(p * (1.0 - p) / trials + z * z / (4.0 * trials * trials)) / denominator
    return (max(0.0, centre - half_width), min(1.0, centre + half_width))


@dataclass(frozen=True)
class ZTestResult:
    control_rate: float
    treatment_rate: float
    z: float
    p_value: float
    uplift_abs: float
    uplift_ci: tuple[float, float]
    uplift_rel: Optional[float]


def two_proportion_ztest(
    control_successes: int,
    control_trials: int,
    treatment_successes: int,
    treatment_trials: int,
    confidence: float = 0.95,
) -> Optional[ZTestResult]:
    """Treatment against control; None while either arm has no trials.

    The p-value uses the pooled standard error (the null says both rates are equal); the
    uplift interval uses the unpooled one (it describes the difference we observed).
    """
    _check_counts(control_successes, control_trials)
    _check_counts(treatment_successes, treatment_trials)
    if control_trials == 0 or treatment_trials == 0:
        return None
    p_c = control_successes / control_trials
    p_t = treatment_successes / treatment_trials
    diff = p_t - p_c
    pooled = (control_successes + treatment_successes) / (control_trials + treatment_trials)
    se_pooled = math.sqrt(pooled * (1.0 - pooled) * (1.0 / control_trials + 1.0 / treatment_trials))
    if se_pooled > 0:
        z = diff / se_pooled
        p_value = normal_two_sided_p(z)
    else:
        # No clicks at all (or clicks on everything) in both arms: nothing to tell apart.
        z, p_value = 0.0, 1.0
    se_unpooled = math.sqrt(p_c * (1.0 - p_c) / control_trials + p_t * (1.0 - p_t) / treatment_trials)
    margin = z_quantile(0.5 + confidence / 2.0) * se_unpooled
    return ZTestResult(
        control_rate=p_c,
        treatment_rate=p_t,
        z=z,
        p_value=p_value,
        uplift_abs=diff,
        uplift_ci=(diff - margin, diff + margin),
        uplift_rel=(diff / p_c) if p_c > 0 else None,
    )


@dataclass(frozen=True)
class SrmResult:
    chi2: float
    p_value: Optional[float]
    expected_share: dict[str, float]
    observed: dict[str, int]
    unexpected: dict[str, int]
    warning: bool


def srm_check(
    observed: Mapping[str, int], weights: Mapping[str, float], threshold: float = 0.001
) -> SrmResult:
    """Sample-ratio-mismatch: chi-square goodness of fit of the observed split to the weights.

    Versions seen but absent from the weights are a mismatch by themselves (e.g. a stray
    deployment); the warning is raised when p < threshold, the usual 0.001 for SRM alarms.
    """
    total_weight = sum(weights.values())
    if not weights or total_weight <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError(f"weights must be non-negative and not all zero: {dict(weights)}")
    shares = {version: weight / total_weight for version, weight in weights.items()}
    counts = {version: int(observed.get(version, 0)) for version in shares}
    unexpected = {v: int(n) for v, n in observed.items() if v not in shares and int(n) > 0}
    total = sum(counts.values())
    if unexpected:
        return SrmResult(math.inf, 0.0, shares, counts, unexpected, True)
    if total == 0:
        return SrmResult(0.0, None, shares, counts, unexpected, False)
    chi2 = 0.0
    for version, share in shares.items():
        expected = total * share
        if expected == 0:
            if counts[version] > 0:
                return SrmResult(math.inf, 0.0, shares, counts, unexpected, True)
            continue
        chi2 += (counts[version] - expected) ** 2 / expected
    df = sum(1 for share in shares.values() if share > 0) - 1
    p_value = chi2_sf(chi2, df) if df >= 1 else 1.0
    return SrmResult(chi2, p_value, shares, counts, unexpected, p_value < threshold)


def required_sample_size(baseline: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Impressions per arm for a two-sided two-proportion z-test.

    baseline is the control CTR, mde the smallest absolute uplift worth detecting
    (0.03 -> 0.05 is mde=0.02). Textbook formula with the pooled SE under the null and the
    unpooled SE under the alternative.
    """
    if not 0 < baseline < 1:
        raise ValueError(f"baseline CTR must be between 0 and 1, got {baseline}")
    if mde == 0 or not 0 < baseline + mde < 1:
        raise ValueError(f"baseline + mde must be between 0 and 1 and mde not 0, got {baseline} + {mde}")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must be between 0 and 1, got {alpha}, {power}")
    p1, p2 = baseline, baseline + mde
    p_bar = (p1 + p2) / 2.0
    z_alpha = z_quantile(1.0 - alpha / 2.0)
    z_beta = z_quantile(power)
    numerator = (
        z_alpha * math.sqrt(2.0 * p_bar * (1.0 - p_bar)) + z_beta * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    ) ** 2
    return math.ceil(numerator / (mde * mde))


@dataclass(frozen=True)
class Verdict:
    status: str  # insufficient_data | sample_ratio_mismatch | no_difference | treatment_wins | control_wins
    winner: Optional[str]
    text: str


def _pp(value: float) -> str:
    return f"{value * 100:+.2f} pp"


def verdict(
    result: Optional[ZTestResult],
    control_n: int,
    treatment_n: int,
    required_per_arm: int,
    control: str = "1.0",
    treatment: str = "2.0",
    alpha: float = 0.05,
    srm_warning: bool = False,
) -> Verdict:
    """A plain-language decision that will not name a winner before the planned sample size.

    Stopping as soon as p < alpha ("peeking") inflates false positives, so the p-value is
    only acted on once both arms reached required_per_arm impressions.
    """
    smallest = min(control_n, treatment_n)
    if result is None or smallest < required_per_arm:
        return Verdict(
            "insufficient_data",
            None,
            f"Not enough data yet: {smallest:,} of {required_per_arm:,} impressions in the smaller arm. "
            "No winner is declared before the planned sample size is reached, "
            "however the numbers look now.",
        )
    if srm_warning:
        return Verdict(
            "sample_ratio_mismatch",
            None,
            "No verdict: the traffic split does not match the configured weights (sample ratio "
            "mismatch), so the comparison is not trustworthy. Check the routing first.",
        )
    rates = (
        f"CTR {result.treatment_rate:.2%} for {treatment} vs {result.control_rate:.2%} for {control}, "
        f"uplift {_pp(result.uplift_abs)} (95% CI {_pp(result.uplift_ci[0])} to {_pp(result.uplift_ci[1])}), "
        f"p = {result.p_value:.3g}"
    )
    if result.p_value >= alpha:
        return Verdict("no_difference", None, f"No significant difference: {rates}.")
    if result.uplift_abs > 0:
        return Verdict("treatment_wins", treatment, f"{treatment} wins: {rates}.")
    return Verdict("control_wins", control, f"{control} wins: {rates}.")
