"""Reliability estimators against hand-computed cases: alpha, KR-20 and the ICC from ANOVA mean squares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.estimators.reliability import (
    RELIABILITY_COLUMNS,
    ReliabilityError,
    cronbach_alpha,
    describe,
    icc,
)

nan = np.nan


def test_alpha_by_hand():
    # item variances (n-1): a 10/4 = 2.5, b 7.2/4 = 1.8, c 8.8/4 = 2.2, sum 6.5;
    # totals 4, 7, 10, 13, 14: variance 69.2/4 = 17.3. alpha = 3/2 (1 - 6.5/17.3) = 16.2/17.3
    items = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [2, 2, 4, 4, 5], "c": [1, 3, 3, 5, 4]})
    rec = cronbach_alpha(items)
    assert list(rec) == RELIABILITY_COLUMNS
    assert rec["statistic"] == "Cronbach's alpha"
    assert rec["estimate"] == pytest.approx(16.2 / 17.3, abs=1e-12)
    assert (rec["n"], rec["k"], rec["n_dropped"], rec["items"]) == (5, 3, 0, "a, b, c")
    # Feldt interval: 1 - (1 - alpha) F quantiles with (n-1, (n-1)(k-1)) = (4, 8) df, pingouin rounds to 3 dp
    alpha = 16.2 / 17.3
    assert rec["ci_low"] == pytest.approx(1 - (1 - alpha) * stats.f.isf(0.025, 4, 8), abs=5e-4)
    assert rec["ci_high"] == pytest.approx(1 - (1 - alpha) * stats.f.isf(0.975, 4, 8), abs=5e-4)
    assert rec["ci_low"] < rec["estimate"] < rec["ci_high"]


def test_alpha_uses_complete_rows_only():
    items = pd.DataFrame({"a": [1, 2, 3, 4, 5, nan, 1], "b": [2, 2, 4, 4, 5, 3, nan], "c": [1, 3, 3, 5, 4, 2, 2]})
    rec = cronbach_alpha(items)
    assert rec["estimate"] == pytest.approx(16.2 / 17.3, abs=1e-12)
    assert (rec["n"], rec["n_dropped"]) == (5, 2)


def test_kr20_by_hand_on_binary_items():
    # p = .75, .50, .25: sum p(1-p) = .625; totals 3, 2, 1, 0: population variance 1.25.
    # KR-20 = 3/2 (1 - .625/1.25) = 0.75
    items = pd.DataFrame({"x1": [1, 1, 1, 0], "x2": [1, 1, 0, 0], "x3": [1, 0, 0, 0]})
    rec = cronbach_alpha(items)
    assert rec["statistic"] == "KR-20"
    assert rec["estimate"] == pytest.approx(0.75, abs=1e-12)
    # one non-0/1 value makes it alpha again
    items.loc[0, "x1"] = 2
    assert cronbach_alpha(items)["statistic"] == "Cronbach's alpha"


def test_alpha_errors_are_clear():
    with pytest.raises(ReliabilityError, match="at least 2 items, got 1"):
        cronbach_alpha(pd.DataFrame({"a": [1, 2, 3]}), what="DPQ")
    with pytest.raises(ReliabilityError, match=r"DPQ: 0 rows have every item"):
        cronbach_alpha(pd.DataFrame({"a": [1, nan], "b": [nan, 2]}), what="DPQ")
    with pytest.raises(ReliabilityError, match="item b is not numeric"):
        cronbach_alpha(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    with pytest.raises(ReliabilityError, match="no variance"):
        cronbach_alpha(pd.DataFrame({"a": [1, 1, 1], "b": [0, 0, 0]}))


def _long(wide: list[list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"person": f"p{i}", "wave": w + 1, "score": v}
                         for i, row in enumerate(wide) for w, v in enumerate(row)])


# 4 persons x 2 waves. Row means 2.5, 5, 6.5, 8; wave means 5, 6; grand mean 5.5.
# SS persons = 2 (9 + .25 + 1 + 6.25) = 33 -> MSR = 11; SS waves = 4 (.25 + .25) = 2 -> MSC = 2;
# SS total = 36 -> SS error = 1 -> MSE = 1/3; MSW (one-way within) = (2 + 1) / 4 = .75.
WIDE = [[2, 3], [4, 6], [6, 7], [8, 8]]
MSR, MSC, MSE, MSW, N, K = 11.0, 2.0, 1 / 3, 0.75, 4, 2


@pytest.mark.parametrize("form, expected", [
    ("ICC(A,1)", (MSR - MSE) / (MSR + (K - 1) * MSE + K * (MSC - MSE) / N)),  # = 64/73
    ("ICC(C,1)", (MSR - MSE) / (MSR + (K - 1) * MSE)),  # = 32/34
    ("ICC(1,1)", (MSR - MSW) / (MSR + (K - 1) * MSW)),  # = 10.25/11.75
])
def test_icc_by_hand_from_anova_mean_squares(form, expected):
    rec = icc(_long(WIDE), "person", "wave", "score", form=form)
    assert rec["statistic"] == form
    assert rec["estimate"] == pytest.approx(expected, abs=1e-12)
    assert (rec["n"], rec["k"], rec["n_dropped"]) == (4, 2, 0)
    assert rec["ci_low"] < rec["estimate"] < rec["ci_high"] and rec["ci_level"] == 0.95


def test_icc_default_is_absolute_agreement_with_its_f_test():
    rec = icc(_long(WIDE), "person", "wave", "score")
    assert rec["statistic"] == "ICC(A,1)" and rec["estimate"] == pytest.approx(64 / 73, abs=1e-12)
    assert rec["f_statistic"] == pytest.approx(MSR / MSE) and (rec["df1"], rec["df2"]) == (3, 3)
    assert rec["p_value"] == pytest.approx(stats.f.sf(33, 3, 3))
    # the interval is not rounded (pingouin's default would round it to 2 decimals)
    assert rec["ci_low"] != round(rec["ci_low"], 2)


def test_icc_keeps_only_persons_seen_at_every_wave():
    long = pd.concat([_long(WIDE), pd.DataFrame({"person": ["p9", "p8", "p8"], "wave": [1, 1, 2],
                                                 "score": [5.0, 3.0, nan]})], ignore_index=True)
    rec = icc(long, "person", "wave", "score")
    assert rec["estimate"] == pytest.approx(64 / 73, abs=1e-12)
    assert (rec["n"], rec["n_dropped"]) == (4, 2)


def test_icc_errors_are_clear():
    long = _long(WIDE)
    with pytest.raises(ReliabilityError, match="p0' has two rows at wave 1"):
        icc(pd.concat([long, long.iloc[[0]]]), "person", "wave", "score")
    with pytest.raises(ReliabilityError, match="at least 2 occasions"):
        icc(long[long["wave"] == 1], "person", "wave", "score")
    with pytest.raises(ReliabilityError, match="1 person value"):
        icc(long[long["person"] == "p0"], "person", "wave", "score")
    with pytest.raises(ReliabilityError, match="column rating is missing"):
        icc(long, "person", "wave", "rating")
    with pytest.raises(ReliabilityError, match="not one of"):
        icc(long, "person", "wave", "score", form="ICC3")


def test_describe_reads_the_record():
    rec = cronbach_alpha(pd.DataFrame({"x1": [1, 1, 1, 0], "x2": [1, 1, 0, 0], "x3": [1, 0, 0, 0]}))
    text = describe(rec)
    assert text.startswith("KR-20 0.75 (95% CI ") and text.endswith("; n = 4, items = 3)")
    assert describe(icc(_long(WIDE), "person", "wave", "score")).startswith("ICC(A,1) 0.88 (95% CI ")
