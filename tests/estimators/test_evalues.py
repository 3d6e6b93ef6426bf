"""E-values on cases computed by hand and on the published example (VanderWeele & Ding 2017)."""

from __future__ import annotations

import math

import pytest

from analysis.estimators.evalues import evalue_rr, evalues, to_risk_ratio


def test_published_example():
    """VanderWeele & Ding (2017), breastfeeding and infant death: RR 3.9 (95% CI 1.8-8.7) -> E-values 7.26
    and 3.0: 3.9 + sqrt(3.9 x 2.9) = 3.9 + 3.363 = 7.263; 1.8 + sqrt(1.8 x 0.8) = 1.8 + 1.2 = 3.0."""
    out = evalues(3.9, 1.8, 8.7, "RR", outcome_share=0.5)
    assert out["evalue_estimate"] == pytest.approx(7.263, abs=5e-4)
    assert out["evalue_ci"] == pytest.approx(3.0, abs=1e-12)
    assert out["conversion"] == "none"


def test_protective_ratios_are_inverted_and_a_ci_through_1_gives_1():
    # RR 0.5 -> 1/0.5 = 2 -> 2 + sqrt(2) = 3.414
    assert evalue_rr(0.5) == pytest.approx(2 + math.sqrt(2))
    assert evalue_rr(1.0) == 1.0
    out = evalues(0.5, 0.3, 0.8, "RR", 0.5)  # upper limit 0.8 is closest to 1: 1/0.8 = 1.25 -> 1.25 + sqrt(0.3125)
    assert out["evalue_ci"] == pytest.approx(1.25 + math.sqrt(1.25 * 0.25))
    assert evalues(1.2, 0.9, 1.6, "HR", 0.05)["evalue_ci"] == 1.0
    assert math.isnan(evalue_rr(math.nan)) and math.isnan(evalue_rr(-1.0))


def test_rare_and_common_outcome_conversions():
    # rare: the HR is taken as the RR
    rr, how = to_risk_ratio(1.5, "HR", 0.08)
    assert rr == 1.5 and how.startswith("rare outcome (8.0% < 15%)")
    # common odds ratio: sqrt(2.25) = 1.5
    assert to_risk_ratio(2.25, "OR", 0.30)[0] == pytest.approx(1.5)
    # common hazard ratio: HR 2 -> (1 - 0.5^1.41421) / (1 - 0.5^0.70711) = (1 - 0.37521) / (1 - 0.61254) = 1.61254
    rr, how = to_risk_ratio(2.0, "HR", 0.30)
    assert rr == pytest.approx((1 - 0.5 ** math.sqrt(2)) / (1 - 0.5 ** math.sqrt(0.5)))
    assert rr == pytest.approx(1.61254, abs=5e-5) and "sqrt(HR)" in how
    with pytest.raises(ValueError, match="ratio measure"):
        to_risk_ratio(1.2, "Mean difference", 0.1)
