"""The statistics match SciPy/statsmodels on fixed counts, and the verdict refuses to peek."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import pytest
from scipy import stats as sps
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)
from storefront.experiment import stats
from storefront.experiment.chart import ctr_chart_svg
from storefront.experiment.report import SegmentCounts, build_report

# (clicks, impressions)
PROPORTIONS = [(0, 10), (1, 10), (10, 10), (31, 1000), (57, 1200), (5, 2000), (480, 500), (3, 7)]
# (control clicks, control n, treatment clicks, treatment n)
PAIRS = [
    (30, 1000, 55, 1000),
    (31, 1500, 36, 1480),
    (12, 400, 9, 420),
    (250, 5000, 310, 5100),
    (3, 80, 9, 95),
]


@pytest.mark.parametrize("successes,trials", PROPORTIONS)
def test_wilson_interval_matches_statsmodels(successes, trials):
    low, high = stats.wilson_interval(successes, trials)
    ref_low, ref_high = proportion_confint(successes, trials, alpha=0.05, method="wilson")
    assert low == pytest.approx(ref_low, abs=1e-12)
    assert high == pytest.approx(ref_high, abs=1e-12)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match="exceed"):
        stats.wilson_interval(11, 10)
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("c,nc,t,nt", PAIRS)
def test_ztest_matches_statsmodels(c, nc, t, nt):
    result = stats.two_proportion_ztest(c, nc, t, nt)
    z, p = proportions_ztest([t, c], [nt, nc])  # pooled variance under the null by default
    assert result.z == pytest.approx(z, rel=1e-10)
    assert result.p_value == pytest.approx(p, rel=1e-9)
    low, high = confint_proportions_2indep(t, nt, c, nc, method="wald", compare="diff", alpha=0.05)
    assert result.uplift_ci[0] == pytest.approx(low, abs=1e-12)
    assert result.uplift_ci[1] == pytest.approx(high, abs=1e-12)
    assert result.uplift_abs == pytest.approx(t / nt - c / nc)
    assert result.uplift_rel == pytest.approx((t / nt - c / nc) / (c / nc))


def test_ztest_edge_cases():
    assert stats.two_proportion_ztest(0, 0, 5, 100) is None
    no_clicks = stats.two_proportion_ztest(0, 100, 0, 100)
    assert no_clicks.p_value == 1.0 and no_clicks.uplift_rel is None


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 6, 9])
@pytest.mark.parametrize("x", [0.001, 0.5, 1.0, 3.84, 10.0, 40.0, 80.0])
def test_chi2_survival_matches_scipy(df, x):
    assert stats.chi2_sf(x, df) == pytest.approx(sps.chi2.sf(x, df), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(
    "observed,weights",
    [
        ({"1.0": 1200, "2.0": 800}, {"1.0": 0.5, "2.0": 0.5}),
        ({"1.0": 1030, "2.0": 970}, {"1.0": 0.5, "2.0": 0.5}),
        ({"1.0": 820, "2.0": 180}, {"1.0": 0.8, "2.0": 0.2}),
        ({"1.0": 300, "2.0": 340, "3.0": 310}, {"1.0": 1, "2.0": 1, "3.0": 1}),
    ],
)
def test_srm_matches_scipy_chisquare(observed, weights):
    result = stats.srm_check(observed, weights)
    total = sum(observed.values())
    weight_sum = sum(weights.values())
    keys = sorted(weights)
    ref = sps.chisquare([observed[k] for k in keys], [total * weights[k] / weight_sum for k in keys])
    assert result.chi2 == pytest.approx(ref.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_srm_flags_a_60_40_split_and_not_an_even_one():
    skewed = stats.srm_check({"1.0": 1200, "2.0": 800}, {"1.0": 0.5, "2.0": 0.5})
    assert skewed.warning and skewed.p_value < 0.001
    even = stats.srm_check({"1.0": 1000, "2.0": 1000}, {"1.0": 0.5, "2.0": 0.5})
    assert not even.warning and even.p_value == pytest.approx(1.0)
    stray = stats.srm_check({"1.0": 10, "2.0": 10, "3.0": 1}, {"1.0": 0.5, "2.0": 0.5})
    assert stray.warning and stray.unexpected == {"3.0": 1}
    assert stats.srm_check({}, {"1.0": 0.5, "2.0": 0.5}).p_value is None


def _power(n: int, p1: float, p2: float, alpha: float = 0.05) -> float:
    """Power of the pooled two-sided z-test at n per arm (normal approximation, SciPy)."""
    p_bar = (p1 + p2) / 2
    se0 = math.sqrt(2 * p_bar * (1 - p_bar) / n)
    se1 = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    return sps.norm.cdf((abs(p2 - p1) - sps.norm.ppf(1 - alpha / 2) * se0) / se1)


@pytest.mark.parametrize("baseline,mde", [(0.03, 0.03), (0.03, 0.02), (0.1, 0.01), (0.5, -0.05)])
def test_required_sample_size_reaches_the_power_and_no_less_would(baseline, mde):
    n = stats.required_sample_size(baseline, mde)
    p2 = baseline + mde
    assert _power(n, baseline, p2) >= 0.8 > _power(n - 1, baseline, p2)
    # The arcsine approximation statsmodels uses lands within a few percent of the textbook formula.
    h = abs(proportion_effectsize(p2, baseline))
    reference = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.0)
    assert n == pytest.approx(reference, rel=0.05)


def test_required_sample_size_rejects_nonsense():
    for baseline, mde in [(0, 0.1), (0.5, 0), (0.9, 0.2), (1.2, 0.1)]:
        with pytest.raises(ValueError):
            stats.required_sample_size(baseline, mde)


def test_verdict_refuses_to_name_a_winner_before_the_sample_size():
    huge_effect = stats.two_proportion_ztest(0, 300, 60, 300)
    assert huge_effect.p_value < 1e-10
    early = stats.verdict(huge_effect, 300, 300, required_per_arm=750)
    assert early.status == "insufficient_data" and early.winner is None
    assert "300 of 750" in early.text and "wins" not in early.text


def test_verdict_after_the_sample_size():
    required = 750
    treatment = stats.verdict(stats.two_proportion_ztest(30, 1000, 60, 1000), 1000, 1000, required)
    assert (treatment.status, treatment.winner) == ("treatment_wins", "2.0")
    assert treatment.text.startswith("2.0 wins")
    control = stats.verdict(stats.two_proportion_ztest(60, 1000, 30, 1000), 1000, 1000, required)
    assert (control.status, control.winner) == ("control_wins", "1.0")
    assert control.text.startswith("1.0 wins")
    same = stats.verdict(stats.two_proportion_ztest(30, 1000, 33, 1000), 1000, 1000, required)
    assert same.status == "no_difference" and same.text.startswith("No significant difference")
    skewed = stats.verdict(
        stats.two_proportion_ztest(30, 1200, 60, 800), 1200, 800, required, srm_warning=True
    )
    assert skewed.status == "sample_ratio_mismatch" and skewed.winner is None


COUNTS = [
    SegmentCounts("home", "1.0", 2100, 61, 20),
    SegmentCounts("products", "1.0", 1010, 29, 20),
    SegmentCounts("products", "2.0", 990, 81, 20),
]
WEIGHTS = {"1.0": 0.5, "2.0": 0.5}


def test_build_report_has_every_section_and_matching_numbers():
    report = build_report(COUNTS, WEIGHTS, mde=0.03, baseline=0.03)
    json.dumps(report, allow_nan=False)  # strict JSON: no NaN/Infinity
    assert {"segments", "test", "srm", "decision"} <= set(report)
    for segment in report["segments"]:
        assert {"page_source", "version", "impressions", "clicks", "customers", "ctr", "ctr_ci"} <= set(
            segment
        )
    products_v2 = next(
        s for s in report["segments"] if (s["page_source"], s["version"]) == ("products", "2.0")
    )
    assert products_v2["ctr"] == pytest.approx(81 / 990, abs=1e-6)
    assert products_v2["ctr_ci"] == pytest.approx(
        list(proportion_confint(81, 990, method="wilson")), abs=1e-6
    )
    test = report["test"]
    assert {"page_source", "control", "treatment", "p_value", "uplift_abs", "uplift_ci", "method"} <= set(
        test
    )
    assert (test["page_source"], test["control"], test["treatment"]) == ("products", "1.0", "2.0")
    assert test["p_value"] == pytest.approx(proportions_ztest([81, 29], [990, 1010])[1], rel=1e-9)
    srm = report["srm"]
    assert {"p_value", "expected_share", "observed"} <= set(srm)
    assert srm["observed"] == {"1.0": 1010, "2.0": 990} and srm["warning"] is False
    decision = report["decision"]
    assert decision["required_sample_per_arm"] == stats.required_sample_size(0.03, 0.03)
    assert decision["status"] == "treatment_wins" and decision["verdict"].startswith("2.0 wins")


def test_build_report_accepts_mappings_empty_data_and_customer_srm():
    empty = build_report([], WEIGHTS, mde=0.03, baseline=0.03)
    json.dumps(empty, allow_nan=False)
    assert empty["segments"] == [] and empty["test"]["p_value"] is None
    assert empty["decision"]["status"] == "insufficient_data"
    rows = [
        {"page_source": "products", "version": "1.0", "impressions": 50, "clicks": 60, "customers": 30},
        {"page_source": "products", "version": "2.0", "impressions": 40, "clicks": 2, "customers": 70},
    ]
    report = build_report(rows, WEIGHTS, mde=0.03, baseline=0.03, srm_unit="customers")
    json.dumps(report, allow_nan=False)
    capped = report["segments"][0]
    assert capped["clicks"] == 60 and capped["ctr"] == 1.0  # clicks above impressions are capped
    assert report["srm"]["unit"] == "customers" and report["srm"]["observed"] == {"1.0": 30, "2.0": 70}
    assert report["srm"]["p_value"] == pytest.approx(sps.chisquare([30, 70]).pvalue)


def test_chart_is_well_formed_svg_with_one_bar_and_interval_per_segment():
    segments = build_report(COUNTS, WEIGHTS, mde=0.03, baseline=0.03)["segments"]
    segments.append(
        {
            "page_source": "<script>&",
            "version": '"x"',
            "impressions": 0,
            "clicks": 0,
            "ctr": None,
            "ctr_ci": [0, 1],
        }
    )
    svg = ctr_chart_svg(segments)
    root = ET.fromstring(svg)  # raises if not well-formed
    ns = {"svg": "http://www.w3.org/2000/svg"}
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    bars = root.findall(".//svg:rect[@class='bar']", ns)
    assert len(bars) == 3  # the empty segment has an interval but no bar
    intervals = root.findall(".//svg:g[@class='interval']", ns)
    assert len(intervals) == 4
    texts = "".join(root.itertext())
    assert "<script>& pages" in texts and "Version 2.0" in texts
    assert "<script>" not in svg  # escaped in the markup
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # no external assets
    # Higher CTR draws a taller bar (SVG y grows downwards).
    by_version = {(b.get("data-page-source"), b.get("data-version")): float(b.get("y")) for b in bars}
    assert by_version[("products", "2.0")] < by_version[("products", "1.0")]
    # Each interval's top lies above (smaller y) its bottom.
    for group in intervals:
        stem = group.find("svg:line", ns)
        assert float(stem.get("y1")) <= float(stem.get("y2"))


def test_chart_without_data_is_still_valid():
    ET.fromstring(ctr_chart_svg([]))
