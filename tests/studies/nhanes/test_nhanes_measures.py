"""Derived measures on cases computed by hand from the codebooks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.core import index
from analysis.core.config import ConfigError
from analysis.core.index import IndexSpec
from analysis.core.settings import validate
from analysis.studies.nhanes import measures
from analysis.studies.nhanes import source as src
from analysis.studies.nhanes.settings import NhanesSettings

nan = np.nan


def s(values):
    return pd.Series(values, dtype="float64")


def test_phq9_sum_and_missing_rule():
    items = pd.DataFrame(
        [
            [0, 0, 0, 0, 0, 0, 0, 0, 0],  # 0
            [3, 3, 3, 3, 3, 3, 3, 3, 3],  # 27
            [1, 2, 0, 1, 3, 0, 2, 1, 0],  # 10: at the cut-off
            [1, 2, 0, 1, 2, 0, 2, 1, 0],  # 9: just below
            [1, 2, 0, nan, 2, 0, 2, 1, 0],  # one item refused/don't know (already NaN) -> missing
        ],
        columns=[f"DPQ0{i}0" for i in range(1, 10)],
    )
    score = measures.phq9_score(items)
    np.testing.assert_array_equal(score.to_numpy(), [0, 27, 10, 9, nan])
    np.testing.assert_array_equal(measures.at_or_above(score, 10).to_numpy(), [0, 1, 1, 0, nan])


def test_support_items_three_means_not_lacking():
    # 1 yes, 2 no, 3 doesn't need help / offered but wouldn't accept, NaN = 7/9 recoded
    np.testing.assert_array_equal(measures.has_support(s([1, 2, 3, nan])).to_numpy(), [1, 0, 1, nan])


def test_partnered_and_living_alone():
    # DMDMARTL 1 married, 2 widowed, 3 divorced, 4 separated, 5 never, 6 partner, NaN (77/99)
    np.testing.assert_array_equal(
        measures.partnered(s([1, 2, 3, 4, 5, 6, nan])).to_numpy(), [1, 0, 0, 0, 0, 1, nan]
    )
    np.testing.assert_array_equal(measures.lives_alone(s([1, 2, 7, nan])).to_numpy(), [1, 0, 0, nan])


def test_smoking_status_from_two_items():
    smq020 = s([2, 1, 1, 1, 1, nan])
    smq040 = s([nan, 1, 2, 3, nan, 1])
    out = measures.smoking_status(smq020, smq040)
    assert out.tolist()[:4] == ["Never", "Current", "Current", "Former"]
    assert pd.isna(out[4]) and pd.isna(out[5])


def test_prevalent_cvd_any_yes_all_no():
    cols = [f"MCQ160{c}" for c in "BCDEF"]
    mcq = pd.DataFrame(
        [
            [2, 2, 2, 2, 2],  # all no -> 0
            [2, 2, 2, 2, 1],  # stroke -> 1
            [nan, 1, 2, 2, 2],  # CHD yes with one unknown -> 1
            [2, 2, nan, 2, 2],  # one unknown, no yes -> missing
        ],
        columns=cols,
    )
    np.testing.assert_array_equal(measures.prevalent_cvd(mcq).to_numpy(), [0, 1, 1, nan])


def test_diabetes_borderline_is_no():
    np.testing.assert_array_equal(measures.diabetes(s([1, 2, 3, nan])).to_numpy(), [1, 0, 0, nan])


def test_cause_specific_death():
    died = s([1, 1, 1, 0, nan])
    ucod = pd.Series(["001", "005", "002", pd.NA, pd.NA], dtype="string")
    out = measures.cause_specific_death(died, ucod, ["001", "005"])
    np.testing.assert_array_equal(out.to_numpy(), [1, 1, 0, 0, nan])


ISOLATION_DATA = {
    "items": [
        {"variable": "partnered", "op": "eq", "value": 0},
        {"variable": "lives_alone", "op": "eq", "value": 1},
        {"variable": "emotional_support", "op": "eq", "value": 0},
        {"variable": "financial_support", "op": "eq", "value": 0},
        {"variable": "close_friends", "op": "le", "value": 1},
    ],
    "missing": "complete",
    "groups": [
        {"label": "Connected (0)", "min": 0, "max": 0},
        {"label": "Moderate (1)", "min": 1, "max": 1},
        {"label": "Isolated (2+)", "min": 2, "max": 5},
    ],
}
ISOLATION = validate(IndexSpec, ISOLATION_DATA)


def people():
    # columns: partnered, lives_alone, emotional_support, financial_support, close_friends
    return pd.DataFrame(
        [
            [1, 0, 1, 1, 5],  # 0 points
            [0, 1, 1, 1, 5],  # unpartnered + alone = 2
            [0, 1, 0, 0, 0],  # all five = 5
            [1, 0, 1, 1, 1],  # one friend = 1 (le 1)
            [1, 0, 1, 1, 2],  # two friends = 0
            [1, 0, nan, 1, 0],  # one item missing -> missing (complete); prorate 1/4*5 = 1.25
        ],
        columns=["partnered", "lives_alone", "emotional_support", "financial_support", "close_friends"],
    )


def test_isolation_index_by_hand():
    score = index.build_index(people(), ISOLATION)
    np.testing.assert_array_equal(score.to_numpy(), [0, 2, 5, 1, 0, nan])
    groups = index.group_index(score, ISOLATION.groups)
    assert groups.tolist()[:5] == ["Connected (0)", "Isolated (2+)", "Isolated (2+)", "Moderate (1)", "Connected (0)"]
    assert pd.isna(groups[5])
    assert list(groups.cat.categories) == ["Connected (0)", "Moderate (1)", "Isolated (2+)"]


def test_index_prorate_rule():
    spec = validate(IndexSpec, dict(ISOLATION_DATA, missing="prorate", min_items=4))
    score = index.build_index(people(), spec)
    assert score[5] == pytest.approx(1.25)
    # a fractional, prorated score falls in the group whose range it starts in: 1.25 -> Moderate (1)
    assert index.group_index(score, ISOLATION.groups)[5] == "Moderate (1)"
    boundaries = index.group_index(s([0.0, 0.5, 0.99, 1.0, 1.99, 2.0, 5.0]), ISOLATION.groups).tolist()
    assert boundaries == ["Connected (0)"] * 3 + ["Moderate (1)"] * 2 + ["Isolated (2+)"] * 2
    spec = validate(IndexSpec, dict(ISOLATION_DATA, missing="prorate", min_items=5))
    assert pd.isna(index.build_index(people(), spec)[5])


def test_another_index_from_data_alone():
    """A support score over different items and thresholds, defined only as data."""
    spec = validate(IndexSpec, {
        "items": [
            {"variable": "emotional_support", "op": "eq", "value": 1},
            {"variable": "financial_support", "op": "eq", "value": 1},
            {"variable": "close_friends", "op": "ge", "value": 3},
        ],
        "groups": [{"label": "low", "min": 0, "max": 1}, {"label": "high", "min": 2, "max": 3}],
    })
    score = index.build_index(people(), spec)
    np.testing.assert_array_equal(score.to_numpy(), [3, 3, 0, 2, 2, nan])
    assert index.group_index(score, spec.groups).tolist()[:5] == ["high", "high", "low", "high", "high"]


def test_index_errors_are_clear(raw_params):
    # an unknown operator: the schema names the index, the item and the value (nhanes.indices.<name>...)
    bad = {"items": [{"variable": "partnered", "op": "equals", "value": 0}]}
    nhanes = dict(raw_params["nhanes"], indices={**raw_params["nhanes"]["indices"], "x": bad})
    with pytest.raises(ConfigError, match=r"indices\.x\.items\[0\]\.op = 'equals': Input should be 'eq'"):
        validate(NhanesSettings, nhanes)
    missing_col = validate(IndexSpec, {"items": [{"variable": "lonely", "op": "eq", "value": 1}]})
    with pytest.raises(KeyError, match="'lonely'"):
        index.build_index(people(), missing_col)
    with pytest.raises(ValueError, match="falls in none of the groups"):
        index.group_index(s([0, 7]), ISOLATION.groups)
    # groups out of order (or not covering the 0-5 scale) are rejected by the schema, before any grouping
    shuffled = [ISOLATION_DATA["groups"][0], ISOLATION_DATA["groups"][2], {"label": "Moderate (1)", "min": 1, "max": 5}]
    with pytest.raises(ConfigError, match="overlap or are out of order"):
        validate(IndexSpec, dict(ISOLATION_DATA, groups=shuffled))
    with pytest.raises(ConfigError, match="must cover the scale 0-5"):
        validate(IndexSpec, dict(ISOLATION_DATA, groups=list(reversed(ISOLATION_DATA["groups"]))))


def test_self_rated_health_from_huq010_codes():
    # HUQ010 as read (codes 1-5, 7 refused, 9 don't know, blank) -> recoded -> the two measures
    raw = pd.DataFrame({"SEQN": range(8), "HUQ010": [1, 2, 3, 4, 5, 7, 9, nan]})
    huq010 = src.recode(raw, "HUQ010", "HUQ_D.csv.xz")
    np.testing.assert_array_equal(huq010.to_numpy(), [1, 2, 3, 4, 5, nan, nan, nan])
    labels = measures.self_rated_health(huq010)
    assert labels.tolist()[:5] == ["Excellent", "Very good", "Good", "Fair", "Poor"]
    assert labels.iloc[5:].isna().all()
    np.testing.assert_array_equal(measures.fair_poor_health(huq010).to_numpy(), [0, 0, 0, 1, 1, nan, nan, nan])


def test_self_rated_health_undocumented_code_names_file_column_value():
    raw = pd.DataFrame({"SEQN": [21, 22, 23], "HUQ010": [3, 6, 1]})
    with pytest.raises(src.SourceDataError, match=r"HUQ_B\.csv\.xz: column HUQ010 has the value 6 \(SEQN 22\)"):
        src.recode(raw, "HUQ010", "HUQ_B.csv.xz")


def test_further_confounders_from_codes_by_hand():
    # ALQ skip pattern (ALQ_D codebook): 12+ drinks in a year (ALQ101) no -> ALQ110 lifetime; no -> end
    # (abstainer); else ALQ120Q times in the past 12 months (0 -> former, 1+ -> current; 777/999 missing).
    raw = pd.DataFrame({"SEQN": range(7),
                        "ALQ101": [1, 1, 2, 2, 2, 9, nan],
                        "ALQ110": [nan, nan, 1, 2, 9, 9, nan],
                        "ALQ120Q": [0, 104, 3, nan, nan, nan, 999]})
    rec = {c: src.recode(raw, c, "ALQ_D.csv.xz") for c in ("ALQ101", "ALQ110", "ALQ120Q")}
    status = measures.drinking_status(rec["ALQ101"], rec["ALQ110"], rec["ALQ120Q"])
    assert status.tolist()[:4] == ["Former", "Current", "Current", "Lifetime abstainer"]
    assert status.iloc[4:].isna().all()  # don't know, nothing asked, ALQ120Q "don't know" (999)
    # PAD200/PAD320: 1 yes, 2 no, 3 unable to do activity (= no activity), 7/9 missing
    vig = src.recode(pd.DataFrame({"SEQN": range(6), "PAD200": [1, 2, 3, 2, 7, 2]}), "PAD200", "PAQ.csv.xz")
    mod = src.recode(pd.DataFrame({"SEQN": range(6), "PAD320": [2, 1, 3, 2, 2, 9]}), "PAD320", "PAQ.csv.xz")
    np.testing.assert_array_equal(measures.leisure_activity(vig, mod).to_numpy(), [1, 1, 0, 0, nan, nan])
    # 2007-2008 GPAQ items have no code 3
    with pytest.raises(src.SourceDataError, match=r"PAQ_E\.csv\.xz: column PAQ650 has the value 3"):
        src.recode(pd.DataFrame({"SEQN": [1], "PAQ650": [3]}), "PAQ650", "PAQ_E.csv.xz")
    # emphysema or chronic bronchitis: either yes -> 1, both no -> 0, else missing
    copd = measures.any_yes(pd.DataFrame({"MCQ160G": [1, 2, 2, nan, 2], "MCQ160K": [2, 1, 2, 2, nan]}))
    np.testing.assert_array_equal(copd.to_numpy(), [1, 1, 0, nan, nan])
    # ALQ120Q above its documented range (0-365) is an error, not a number
    with pytest.raises(src.SourceDataError, match=r"column ALQ120Q has the value 400"):
        src.recode(pd.DataFrame({"SEQN": [5], "ALQ120Q": [400]}), "ALQ120Q", "ALQ_B.csv.xz")
