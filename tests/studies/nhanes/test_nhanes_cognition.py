"""Cognition (CFQ) and reach measures on hand-computed codebook cases (CFQ/CFQ_B codebooks, LMF dictionary)."""

import numpy as np
import pandas as pd
import pytest

from analysis.core.contract import SourceDataError
from analysis.studies.nhanes.cognition_source import check_codes, death_cause, dsst_status
from analysis.studies.nhanes.reach import group_labels
from analysis.studies.nhanes.settings import ReachGrouping

NA = np.nan


def _cfq(rows):
    return pd.DataFrame(rows, columns=["SEQN", "CFD010", "CFD030", "CFD040", "CFD050", "CFDFINSH", "CFDRIGHT"])


def test_dsst_status_follows_the_capi_flow():
    cfq = _cfq([[1, 1, 1, NA, 1, 29, 29],      # completed
                [2, NA, NA, NA, NA, NA, NA],   # section not started (proxy)
                [3, 2, NA, NA, NA, NA, NA],    # CFD010 2: distraction
                [4, 1, 7, NA, NA, NA, NA],     # CFD030 7: refused
                [5, 1, 2, 1, NA, NA, NA],      # unable, physical
                [6, 1, 2, 2, NA, NA, NA],      # unable, cognitive
                [7, 1, 2, 3, NA, NA, NA],      # unable, other
                [8, 1, 1, NA, 2, NA, NA],      # stopped before 2 minutes
                [9, 1, 1, NA, 1, NA, NA],      # form misplaced
                [10, 1, 1, NA, 1, 0, 0]])      # scored 0 after the full 2 minutes: a score
    assert list(dsst_status(cfq).astype(str)) == [
        "completed", "not_attempted", "distraction", "refused", "unable_physical", "unable_cognitive",
        "unable_other", "stopped_early", "score_missing", "completed"]


def test_undocumented_cfq_code_names_file_column_value():
    cfq = _cfq([[1, 1, 9, NA, NA, NA, NA]])  # CFD030 has no code 9
    with pytest.raises(SourceDataError, match=r"CFQ\.csv\.xz: column CFD030 has the value 9 \(SEQN 1\)"):
        check_codes(cfq, "CFQ.csv.xz")
    with pytest.raises(SourceDataError, match="CFDRIGHT has the value 134"):
        check_codes(_cfq([[1, 1, 1, NA, 1, 134, 134]]), "CFQ.csv.xz")


def test_death_cause_alzheimer_other_alive():
    died = pd.Series([0.0, 1.0, 1.0, 1.0, NA])
    ucod = pd.Series([pd.NA, "006", "001", pd.NA, pd.NA], dtype="string")
    out = death_cause(died, ucod, "006")
    assert out.iloc[:4].tolist() == [0.0, 1.0, 2.0, 2.0] and np.isnan(out.iloc[4])


def test_group_labels_by_cuts_and_levels():
    g = ReachGrouping(name="age_group", label="Age", column="age", cuts=[40, 60, 80])
    labels = group_labels(pd.Series([39.0, 40.0, 59.0, 60.0, 85.0, np.nan]), g)
    assert labels.tolist()[:5] == [pd.NA, "40 to < 60", "40 to < 60", "60 to < 80", "80+"]
    assert pd.isna(labels.iloc[5]) and pd.isna(labels.iloc[0])
    with pytest.raises(ValueError, match="must increase"):
        ReachGrouping(name="x", label="X", column="age", cuts=[60, 40])


# --- the cognition models on a simulated table with stated truth ------------------------------------------


def _simulated_table(n: int = 3000, seed: int = 22) -> pd.DataFrame:
    """DSST = 60 - 2.5 x index - 0.4 (age - 70) + noise; completion depends on fair/poor health and the index
    (missing at random given the completion predictors); Alzheimer's death (cause 1) and other deaths (cause 2)
    from exponential hazards, censoring at 240 months."""
    rng = np.random.default_rng(seed)
    index = rng.choice([0, 1, 2, 3, 4], n, p=[0.35, 0.35, 0.18, 0.08, 0.04]).astype(float)
    age = rng.integers(60, 86, n).astype(float)
    poor = rng.binomial(1, 0.2 + 0.05 * index)
    score = np.clip(np.round(60 - 2.5 * index - 0.4 * (age - 70) - 8 * poor + rng.normal(0, 10, n)), 0, 133)
    completed = rng.binomial(1, 1 / (1 + np.exp(-(2.5 - 1.5 * poor - 0.3 * index))))
    t1, t2 = rng.exponential(1 / (0.0005 * np.exp(0.2 * index)), n), rng.exponential(1 / 0.004, n)
    time = np.minimum.reduce([t1, t2, np.full(n, 240.0)])
    status = np.where(time == 240.0, 0, np.where(t1 < t2, 1, 2)).astype(float)
    cats = lambda values, levels: pd.Categorical(values, categories=levels)  # noqa: E731
    groups = ["Connected (0)", "Moderate (1)", "Isolated (2+)"]
    return pd.DataFrame({
        "seqn": np.arange(n), "cycle": "1999-2000", "age": age,
        "sex": cats(rng.choice(["Male", "Female"], n), ["Female", "Male"]),
        "race_ethnicity": cats(rng.choice(["A", "B"], n), ["A", "B"]),
        "education": cats(rng.choice(["low", "high"], n), ["low", "high"]),
        "income_poverty_ratio": rng.uniform(0, 5, n), "fair_poor_health": poor.astype(float),
        "isolation_index": index, "isolation_category": cats(np.array(groups)[np.minimum(index, 2).astype(int)],
                                                             groups),
        "weight_interview": rng.uniform(500, 1500, n), "stratum": np.repeat(np.arange(15), n // 15),
        "psu": np.tile([1, 2], n // 2), "dsst_eligible": 1, "dsst_score": np.where(completed == 1, score, np.nan),
        "dsst_completed": completed.astype(float), "followup_months": np.ceil(time), "death_status": status,
        "alzheimer_death": (status == 1).astype(float)})


@pytest.fixture(scope="module")
def nh():
    from analysis.studies.nhanes.settings import load

    return load().nhanes


def test_dsst_records_recover_the_stated_slope(nh):
    from analysis.estimators.records import validate_records
    from analysis.studies.nhanes.cognition import dsst_records

    data = _simulated_table()
    records, ipw = dsst_records(data, nh)
    validate_records(records)
    per_point = records[(records["outcome"] == "dsst_score") & (records["term"] == "isolation_index")]
    assert set(per_point["sample"]) == {"main", "ipw"}
    for r in per_point.itertuples():  # adjusted for age but not health: the total effect -2.5 - 8 x 0.05
        assert abs(r.estimate - (-2.9)) < 4 * r.std_error
    assert (ipw[data["dsst_completed"] == 0] == 0).all() and (ipw[data["dsst_completed"] == 1] > 0).all()
    completion = records[(records["outcome"] == "dsst_completed") & (records["term"] == "isolation_index")]
    assert completion["estimate"].iloc[0] < 0  # completion falls with the index, as simulated


def test_alzheimer_records_cox_and_fine_gray(nh):
    from analysis.studies.nhanes.cognition import alzheimer_records

    records = alzheimer_records(_simulated_table(), nh)
    per_point = records[records["term"] == "isolation_index"].set_index("model")
    assert set(per_point.index) == {"cox", "fine_gray"} and per_point["converged"].all()
    assert abs(per_point.loc["cox", "estimate"] - 0.2) < 4 * per_point.loc["cox", "std_error"]
    # persons, not expanded rows; the same events
    assert per_point.loc["fine_gray", "n"] == per_point.loc["cox", "n"]
    assert per_point.loc["fine_gray", "events"] == per_point.loc["cox", "events"]


def test_reach_indicators_follow_the_index_rules(nh):
    from analysis.studies.nhanes.reach import indicators

    groups = ["Connected (0)", "Moderate (1)", "Isolated (2+)"]
    table = pd.DataFrame({
        "partnered": pd.array([1, 0, 0, pd.NA], dtype="Int8"),
        "close_friends": pd.array([5, 1, 0, 2], dtype="Int64"),
        "emotional_support": pd.array([1, 1, 0, 1], dtype="Int8"),
        "financial_support": pd.array([1, 0, 0, 1], dtype="Int8"),
        "isolation_category": pd.Categorical(["Connected (0)", "Isolated (2+)", "Isolated (2+)", None],
                                             categories=groups)})
    got = {name: values.tolist() for name, (_, values) in indicators(table, nh).items()}
    nan = got["isolated"][3]
    assert np.isnan(nan) and got["isolated"][:3] == [0.0, 1.0, 1.0]
    assert got["partnered"][:3] == [0.0, 1.0, 1.0] and np.isnan(got["partnered"][3])  # not partnered: DMDMARTL
    assert got["close_friends"] == [0.0, 1.0, 1.0, 0.0]  # at most one close friend
    assert got["emotional_support"] == [0.0, 0.0, 1.0, 0.0]  # nobody for emotional support
    assert got["financial_support"] == [0.0, 1.0, 1.0, 0.0]


def test_interaction_tests_beside_the_prevalences(nh):
    from analysis.studies.nhanes.reach import interaction_table

    subgroups = pd.DataFrame({
        "record": ["interaction", "interaction", "subgroup"], "modifier": ["race_ethnicity", "sex", "sex"],
        "exposure": ["isolation_category"] * 3, "outcome": ["all_cause_death"] * 3, "F": [2.9, 0.3, np.nan],
        "df_num": [8, 2, np.nan], "df_den": [51, 57, np.nan], "p_value": [0.009, 0.71, 0.5]})
    tests = interaction_table(subgroups, nh).set_index(["grouping", "outcome"])
    assert tests.loc[("race_ethnicity", "all_cause_death"), "p_value"] == 0.009
    assert tests.loc[("sex", "all_cause_death"), "p_value"] == 0.71
    assert np.isnan(tests.loc[("education", "all_cause_death"), "p_value"])  # no modifier tested
    assert np.isnan(tests.loc[("sex", "cvd_death"), "p_value"])  # not in the file
