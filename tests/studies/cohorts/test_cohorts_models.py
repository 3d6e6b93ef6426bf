"""Cohort models (analysis.studies.cohorts.models): known truth on the SYNTHETIC cohort, agreement between estimators,
and hand-built cases for the person-intervals, the attrition weights and the cumulative incidence.

The synthetic cohort here has 6,000 persons (params.yaml's 20,000 take too long for a unit test) and the
default seed of params.yaml cohorts.synthetic. Every estimator's 95% CI covers the stated truth with that
seed; coverage of each interval is 95%, so a different seed can make one of the 18 (correlated) checks miss
by chance: then change the seed here, say why, and never widen the intervals. The cognition score
(within-person LMM and FE) and dementia onset (the hazard models) have stated truths too (synthetic.py, step 6).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest

from analysis.core.config import ConfigError
from analysis.core.settings import validate
from analysis.estimators.records import RECORD_COLUMNS
from analysis.estimators.sem import PARAMETERS
from analysis.studies.cohorts import models as mc
from analysis.studies.cohorts.clean import build_cohort_panel
from analysis.studies.cohorts.settings import CohortModels, CohortsSettings
from analysis.studies.cohorts.synthetic import simulate_cohort, write_synthetic
from support.config import edited

PERSONS = 6000
CONTINUOUS = {"cesd_isolation": "isolation_index", "cesd_loneliness": "loneliness",
              "cognition_isolation": "isolation_index", "cognition_loneliness": "loneliness"}
HAZARDS = {"death_isolation": ("death", "isolation_index"), "death_loneliness": ("death", "loneliness"),
           "cvd_isolation": ("cvd", "isolation_index"), "cvd_loneliness": ("cvd", "loneliness"),
           "dementia_isolation": ("dementia", "isolation_index"),
           "dementia_loneliness": ("dementia", "loneliness")}
CASES = ([(m, p) for m in mc.CONTINUOUS_ESTIMATORS for p in CONTINUOUS]
         + [(m, p) for m in mc.HAZARD_ESTIMATORS for p in HAZARDS])


@pytest.fixture(scope="module")
def cohorts(raw_params) -> CohortsSettings:
    """params.yaml ``cohorts:`` with no study file configured, validated (messages name the params.yaml keys)."""
    out = copy.deepcopy(raw_params["cohorts"])
    for spec in out["studies"].values():
        spec["path"] = None
    return validate(CohortsSettings, out, "cohorts", root="cohorts")


def models_with(raw_params: dict, change) -> CohortModels:
    """params.yaml ``cohorts.models`` (plain YAML values) changed by ``change``, then validated as the
    pipeline validates it."""
    raw = copy.deepcopy(raw_params["cohorts"]["models"])
    change(raw)
    return validate(CohortModels, raw, "cohorts.models", root="cohorts.models")


@pytest.fixture(scope="module")
def synthetic(cohorts, tmp_path_factory):
    """(panel, truth): 6,000 simulated persons written as .dta and cleaned, as the stages do."""
    frame, truth = simulate_cohort(cohorts.synthetic, persons=PERSONS)
    path = tmp_path_factory.mktemp("synthetic") / "synthetic_rand.dta"
    write_synthetic(frame, path)
    panel, _, _, _ = build_cohort_panel(cohorts, path)
    return panel, truth


@pytest.fixture(scope="module")
def fitted(synthetic, cohorts):
    panel, truth = synthetic
    records, incidence = mc.run_cohort_models(panel, cohorts.models, {"synthetic": "SYNTHETIC cohort"})
    return records, incidence, mc.truth_table(records, truth["truth"])


def _record(records: pd.DataFrame, model: str, outcome: str, term: str) -> pd.Series:
    """The record of one estimator of the spec (its name, e.g. "two_way_fe_ipw"), outcome and term."""
    keys = mc.specification_keys(records)
    rows = records.loc[(keys == model) & (records["outcome"] == outcome) & (records["term"] == term)]
    assert len(rows) == 1, (model, outcome, term)
    return rows.iloc[0]


# ---------------------------------------------------------------------------------------------
# Known truth


def test_records_contract(fitted):
    records, _, _ = fitted
    assert list(records.columns) == list(RECORD_COLUMNS)
    assert set(mc.specification_keys(records)) == set(mc.ESTIMATORS)
    assert set(records["model"]) == {"within_between_lmm", "fixed_effects", "cloglog_hazard", "cox_time_varying"}
    assert set(zip(records["model"], records["design"])) == set(mc.SPECIFICATIONS.values())
    assert (records["covariate_set"] == "demographic").all() and (records["sample"] == "main").all()
    clustered = records["model"].isin(["fixed_effects", "cloglog_hazard"])
    assert (records.loc[clustered, "vcov"] == "cluster").all()
    assert (records.loc[~clustered, "vcov"] == "model_based").all()
    lmm = records["model"] == "within_between_lmm"
    assert records.loc[lmm, ["var_group", "var_slope", "cov_group_slope", "var_residual"]].notna().all().all()
    assert (records["study"] == "SYNTHETIC cohort").all()
    assert records["note"].str.startswith("SYNTHETIC").all()
    assert records["converged"].all(), records.loc[~records["converged"], ["model", "note"]]
    assert np.isfinite(records[["estimate", "std_error", "ci_low", "ci_high"]].to_numpy(float)).all()
    assert (records["n"] > 0).all()


def test_truth_table_has_every_estimator_and_parameter(fitted):
    _, _, table = fitted
    assert sorted(zip(table["model"], table["parameter"])) == sorted(CASES)
    assert np.isfinite(table[["estimate", "std_error"]].to_numpy(float)).all()
    assert (table["study"] == "SYNTHETIC cohort").all()


@pytest.mark.parametrize("model, parameter", CASES)
def test_estimator_recovers_the_truth_within_its_95_ci(fitted, model, parameter):
    _, _, table = fitted
    row = table.loc[(table["model"] == model) & (table["parameter"] == parameter)].iloc[0]
    assert math.isclose(row["ci_high"] - row["ci_low"], 2 * 1.959964 * row["std_error"], rel_tol=1e-4)
    assert row["ci_low"] <= row["truth"] <= row["ci_high"], (
        f"{model} {parameter}: truth {row['truth']} outside [{row['ci_low']:.4f}, {row['ci_high']:.4f}] "
        f"(estimate {row['estimate']:.4f})")


@pytest.mark.parametrize("outcome", ["depression_score", "cognition_score"])
@pytest.mark.parametrize("exposure", ["isolation_index", "loneliness"])
def test_within_person_lmm_and_fixed_effects_agree(fitted, outcome, exposure):
    """Same within-person coefficient, and the LMM's model-based SE near the FE's person-clustered one (an LMM
    SE that missed the within-person dependence would fall below it; tests/estimators/test_within_person_se.py
    checks both against the spread over repeated samples)."""
    records, _, _ = fitted
    lmm = _record(records, "within_between_lmm", outcome, exposure)
    fe = _record(records, "two_way_fe", outcome, exposure)
    assert abs(lmm["estimate"] - fe["estimate"]) < 0.2 * fe["std_error"]
    assert math.isclose(lmm["std_error"], fe["std_error"], rel_tol=0.15)


@pytest.mark.parametrize("exposure", ["isolation_index", "loneliness"])
def test_between_person_term_carries_the_unobserved_trait(fitted, exposure):
    """The trait T raises both the exposures and CES-D: the between term is larger than the within term
    (well beyond its SE), the within term is the stated effect."""
    records, _, _ = fitted
    within = _record(records, "within_between_lmm", "depression_score", exposure)
    between = _record(records, "within_between_lmm", "depression_score", f"{exposure}:between")
    assert between["estimate"] - within["estimate"] > 3 * between["std_error"]
    assert between["term_label"].startswith(mc.BETWEEN)


@pytest.mark.parametrize("outcome, exposure", list(HAZARDS.values()))
def test_cloglog_and_cox_agree(fitted, outcome, exposure):
    """Constant hazards within each interval, exposures fixed at its start: both estimate the same log-HR."""
    records, _, _ = fitted
    cloglog = _record(records, "cloglog_hazard", outcome, exposure)
    cox = _record(records, "cox_time_varying", outcome, exposure)
    assert abs(cloglog["estimate"] - cox["estimate"]) < 0.25 * cox["std_error"]
    assert math.isclose(cloglog["std_error"], cox["std_error"], rel_tol=0.15)


def test_weighted_fits_stay_near_the_unweighted(fitted):
    """Attrition depends on isolation and age (observed): the IPW fits move by a fraction of an SE."""
    records, _, _ = fitted
    for weighted, plain in (("two_way_fe_ipw", "two_way_fe"), ("cloglog_hazard_ipw", "cloglog_hazard")):
        keys = mc.specification_keys(records)
        w = records.loc[keys == weighted].set_index(["outcome", "term"])
        p = records.loc[keys == plain].set_index(["outcome", "term"])
        assert (abs(w["estimate"] - p["estimate"]) < 0.5 * p["std_error"]).all()


# ---------------------------------------------------------------------------------------------
# Cumulative incidence on the synthetic cohort


def test_cumulative_incidence_is_monotone_within_0_1(fitted):
    _, incidence, _ = fitted
    assert set(incidence["outcome"]) == {"cvd", "death"}
    assert set(incidence["group"]) == {"Connected (0-1)", "Isolated (2+)"}
    for _, curve in incidence.groupby(["outcome", "group"]):
        estimate = curve.sort_values("time_months")["estimate"].to_numpy()
        assert np.all(np.diff(estimate) >= -1e-12)
        assert estimate.min() >= 0 and estimate.max() <= 1
        assert (curve["ci_low"] <= curve["estimate"] + 1e-12).all()
        assert (curve["estimate"] <= curve["ci_high"] + 1e-12).all()
        assert curve["time_months"].max() <= 312
    final = incidence.sort_values("time_months").groupby(["outcome", "group"])["estimate"].last()
    # isolation raises both hazards (truth): the isolated group's curves end higher
    assert final[("death", "Isolated (2+)")] > final[("death", "Connected (0-1)")]
    assert final[("cvd", "Isolated (2+)")] > final[("cvd", "Connected (0-1)")]


# ---------------------------------------------------------------------------------------------
# Attrition weights


@pytest.fixture(scope="module")
def weights(synthetic, cohorts):
    panel, _ = synthetic
    p = mc.as_float(panel)
    attrition = cohorts.models.attrition
    w = mc.attrition_weights(p, attrition.predictors, truncate=attrition.truncate)
    return p.assign(w=w)


def test_weights_are_one_at_first_interviews_and_missing_without_interview(weights):
    interviewed = weights.loc[weights["interviewed"] == 1]
    first = interviewed["wave"] == interviewed.groupby("person_id")["wave"].transform("min")
    assert (interviewed.loc[first, "w"] == 1).all()
    assert interviewed["w"].notna().all() and (interviewed["w"] > 0).all()
    assert weights.loc[weights["interviewed"] == 0, "w"].isna().all()


def test_stabilised_weights_have_mean_near_one(weights):
    interviewed = weights.loc[weights["interviewed"] == 1]
    assert abs(interviewed["w"].mean() - 1) < 0.03
    by_wave = interviewed.groupby("wave")["w"].mean()
    assert abs(by_wave[2] - 1) < 0.01  # one step: E[p_num / p_den | stayed] = 1
    # later waves drift a little below 1: the isolated, who carry the larger weights, also die more
    assert (abs(by_wave - 1) < 0.1).all()


def test_weights_up_weight_the_isolated_who_drop_out_more(weights):
    interviewed = weights.loc[weights["interviewed"] == 1].copy()
    interviewed["iso0"] = interviewed.groupby("person_id")["isolation_index"].transform("first")
    late = interviewed.loc[interviewed["wave"] >= 6].groupby("iso0")["w"].mean()
    assert late[late.index >= 3].min() > late[late.index <= 1].max()


def _attrition_panel(n: int = 300, seed: int = 7) -> pd.DataFrame:
    """Persons x 3 waves, staying at the next wave depends on x; nobody dies."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        x = rng.normal(size=3)
        stay = rng.random(3) < 1 / (1 + np.exp(-(1.5 - x)))
        interviewed = [1, int(stay[0]), int(stay[0] and stay[1])]
        for w in range(3):
            rows.append({"person_id": f"p{i:03d}", "wave": w + 1, "interviewed": interviewed[w], "died": 0.0,
                         "death_months": np.nan, "months": 24.0 * w if interviewed[w] else np.nan, "x": x[w]})
    return pd.DataFrame(rows)


def test_weights_on_a_small_panel_by_hand():
    """The weight at wave 2 is p_num / p_den of wave 1, at wave 3 the product of waves 1 and 2: the two
    logistic models (stayed ~ x + wave, stayed ~ wave) refitted here on the person-waves at risk."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    panel = _attrition_panel()
    w = mc.attrition_weights(panel, "x", truncate=0.0)
    wide = panel.pivot(index="person_id", columns="wave", values="interviewed")
    at_risk = panel.loc[(panel["wave"] < 3) & (panel["interviewed"] == 1)].copy()
    at_risk["stayed"] = [wide.at[p, w + 1] for p, w in zip(at_risk["person_id"], at_risk["wave"])]
    den = smf.glm("stayed ~ x + C(wave)", at_risk, family=sm.families.Binomial()).fit()
    share = at_risk.groupby("wave")["stayed"].mean()  # numerator: wave only (saturated)
    ratio = pd.Series(at_risk["wave"].map(share).to_numpy() / den.predict(at_risk).to_numpy(),
                      index=[at_risk["person_id"], at_risk["wave"]])
    got = pd.Series(w.to_numpy(), index=[panel["person_id"], panel["wave"]])
    checked = 0
    for person in wide.index:
        assert got[(person, 1)] == 1.0
        if wide.at[person, 2] == 1:
            assert math.isclose(got[(person, 2)], ratio[(person, 1)], rel_tol=1e-6)
            checked += 1
        if wide.at[person, 3] == 1:
            assert math.isclose(got[(person, 3)], ratio[(person, 1)] * ratio[(person, 2)], rel_tol=1e-6)
        else:
            assert math.isnan(got[(person, 3)])
    assert checked > 100


def test_weight_is_one_at_a_first_interview_after_a_nonresponse():
    panel = _attrition_panel()
    late = panel.loc[panel["person_id"] == "p000"].copy()
    late["person_id"] = "late"
    late["interviewed"] = [0, 1, 1]
    late["months"] = [np.nan, 24.0, 48.0]
    w = mc.attrition_weights(pd.concat([panel, late], ignore_index=True), "x", truncate=0.0)
    got = w.iloc[-3:].to_numpy()
    assert math.isnan(got[0])
    assert got[1] == 1.0
    assert np.isfinite(got[2])


# ---------------------------------------------------------------------------------------------
# Person-intervals, by hand

HAND_PANEL = pd.DataFrame([
    # person, wave, interviewed, months, died, death_months, incident_cvd, x
    ("p", 1, 1, 3.0, 0, np.nan, np.nan, 1.0),
    ("p", 2, 1, 27.0, 0, np.nan, 0.0, 2.0),
    ("p", 3, 0, np.nan, 0, np.nan, np.nan, np.nan),  # alive, not interviewed
    ("p", 4, 1, 75.0, 0, np.nan, 1.0, 3.0),          # back at wave 4: its last row, no interval
    ("q", 1, 1, 5.0, 1, 40.0, np.nan, 4.0),
    ("q", 2, 1, 30.0, 1, 40.0, 1.0, 5.0),
    ("q", 3, 0, np.nan, 1, 40.0, np.nan, np.nan),    # died (iwstat 5); death in month 40
    ("r", 1, 1, 0.0, 1, 24.0, np.nan, 6.0),
    ("r", 2, 0, np.nan, 1, 24.0, np.nan, np.nan),    # died in the month the next interview was due
    ("t", 1, 1, 0.0, 1, 30.0, np.nan, 7.0),
    ("t", 2, 0, np.nan, 1, 30.0, np.nan, np.nan),    # alive and missed: censored at the nominal end
    ("t", 3, 0, np.nan, 1, 30.0, np.nan, np.nan),
], columns=["person_id", "wave", "interviewed", "months", "died", "death_months", "incident_cvd", "x"])

HAND_INTERVALS = pd.DataFrame([
    # person, wave, start, stop, length_years, next_interviewed, death, cvd_event, x
    ("p", 1, 0.0, 24.0, 2.0, 1.0, 0.0, 0.0, 1.0),
    ("p", 2, 24.0, 48.0, 2.0, 0.0, 0.0, np.nan, 2.0),   # next missed: 27 + 24 - 3
    ("q", 1, 0.0, 25.0, 25 / 12, 1.0, 0.0, 1.0, 4.0),
    ("q", 2, 25.0, 35.5, 2.0, 0.0, 1.0, np.nan, 5.0),   # death at month 40 + 0.5, from the first interview at 5
    ("r", 1, 0.0, 24.5, 2.0, 0.0, 1.0, np.nan, 6.0),
    ("t", 1, 0.0, 24.0, 2.0, 0.0, 0.0, np.nan, 7.0),    # death at 30.5 is after the nominal end 24
], columns=["person_id", "wave", "start", "stop", "length_years", "next_interviewed", "death", "cvd_event", "x"])


def test_person_intervals_by_hand():
    got = mc.person_intervals(HAND_PANEL)
    columns = list(HAND_INTERVALS.columns)
    pd.testing.assert_frame_equal(got[columns].reset_index(drop=True), HAND_INTERVALS, check_dtype=False)
    assert (got["interval"] == got["wave"]).all()


def test_person_intervals_nominal_gap():
    got = mc.person_intervals(HAND_PANEL, gap_months={2: 36})
    p2 = got.loc[(got["person_id"] == "p") & (got["wave"] == 2)].iloc[0]
    assert (p2["stop"], p2["length_years"]) == (60.0, 3.0)
    q2 = got.loc[(got["person_id"] == "q") & (got["wave"] == 2)].iloc[0]
    assert (q2["stop"], q2["death"]) == (35.5, 1.0)


def test_person_intervals_in_any_row_order_and_leaves_the_panel_alone():
    """The speed path (rows taken before the new columns join; no sort copy of an ordered panel) gives the same
    intervals for a shuffled panel with the schema's nullable columns, and never modifies the caller's frame."""
    panel = HAND_PANEL.astype({"interviewed": "Int8", "died": "Int8"})
    shuffled = panel.sample(frac=1.0, random_state=3)
    before = shuffled.copy()
    pd.testing.assert_frame_equal(mc.person_intervals(shuffled), mc.person_intervals(panel))
    pd.testing.assert_frame_equal(shuffled, before)
    assert "incident_dementia" not in shuffled


def test_by_person_wave_is_pandas_stable_sort():
    shuffled = HAND_PANEL.sample(frac=1.0, random_state=5).set_index(pd.Index([7] * len(HAND_PANEL)))  # dup labels
    pd.testing.assert_frame_equal(mc.by_person_wave(shuffled),
                                  shuffled.sort_values(["person_id", "wave"], kind="stable"))
    assert mc.by_person_wave(HAND_PANEL) is HAND_PANEL  # in order already: no copy


def test_as_float_converts_nullable_columns_only_and_copies_only_then():
    panel = HAND_PANEL.astype({"died": "Int8"})
    got = mc.as_float(panel)
    assert got["died"].dtype == "float64" and got["died"].tolist() == panel["died"].astype(float).tolist()
    assert panel["died"].dtype == "Int8"
    assert mc.as_float(got) is got


def test_interval_ending_before_it_starts_is_rejected():
    bad = HAND_PANEL.copy()
    bad.loc[(bad["person_id"] == "q") & (bad["wave"] == 2), "months"] = 4.0  # dated before wave 1's 5
    with pytest.raises(ValueError, match=r"person q.*wave 1"):
        mc.person_intervals(bad)


def test_person_intervals_needs_its_columns():
    with pytest.raises(ValueError, match="death_months"):
        mc.person_intervals(HAND_PANEL.drop(columns="death_months"))


# ---------------------------------------------------------------------------------------------
# Cumulative incidence, by hand (Aalen-Johansen; 1 - Kaplan-Meier for death)

HAND_IV = pd.DataFrame([
    # person, start, stop, death, cvd_event, cvd_ever, g
    ("1", 0.0, 24.0, 0.0, 1.0, 0.0, "A"),            # CVD at 24
    ("2", 0.0, 24.0, 0.0, 0.0, 0.0, "A"),
    ("2", 24.0, 40.0, 1.0, np.nan, 0.0, "A"),        # death at 40 (competing)
    ("3", 0.0, 24.0, 0.0, 0.0, 0.0, "A"),
    ("3", 24.0, 48.0, 0.0, 1.0, 0.0, "A"),           # CVD at 48
    ("4", 0.0, 24.0, 0.0, 0.0, 0.0, "A"),
    ("4", 24.0, 48.0, 0.0, np.nan, 0.0, "A"),        # CVD status unknown after 24: censored at 24 for CVD
    ("5", 0.0, 10.0, 1.0, np.nan, 1.0, "A"),         # CVD at baseline: no CVD curve; death at 10
], columns=["person_id", "start", "stop", "death", "cvd_event", "cvd_ever", "g"])


def _at(curve: pd.DataFrame, t: float) -> float:
    return float(curve.loc[curve["time_months"] <= t].sort_values("time_months")["estimate"].iloc[-1])


def test_cumulative_incidence_by_hand():
    """CVD (persons 1-4): at 24, 4 at risk, 1 CVD (4 censored at 24 counts at risk): F = 1/4, S = 3/4; at 40,
    2 at risk, 1 death: F stays 1/4, S = 3/8; at 48, 1 at risk, 1 CVD: F = 1/4 + 3/8 = 5/8.
    Death (1 - KM, everyone): 10: 5 at risk, 1 death -> 1/5; 40: 3 at risk (1 censored at 24) -> 1 - 4/5 x 2/3."""
    out = mc.cumulative_incidence(HAND_IV, "g", horizon_months=312)
    cvd = out.loc[out["outcome"] == "cvd"]
    death = out.loc[out["outcome"] == "death"]
    assert cvd["n"].unique().tolist() == [4] and death["n"].unique().tolist() == [5]
    for t, expected in ((0, 0.0), (23.9, 0.0), (24, 0.25), (40, 0.25), (47.9, 0.25), (48, 0.625)):
        assert math.isclose(_at(cvd, t), expected, abs_tol=1e-12), t
    for t, expected in ((9.9, 0.0), (10, 0.2), (39.9, 0.2), (40, 7 / 15), (48, 7 / 15)):
        assert math.isclose(_at(death, t), expected, abs_tol=1e-12), t
    assert sorted(cvd["time_months"]) == [0.0, 24.0, 40.0, 48.0]


def test_cumulative_incidence_horizon():
    out = mc.cumulative_incidence(HAND_IV, "g", horizon_months=30)
    assert out["time_months"].max() <= 30


def test_cumulative_incidence_starts_at_the_first_interview_with_the_group():
    """HRS measures isolation from wave 9: a person enters the curves at the first interview with a known
    group, and the clock starts there. Group B: person 6 (group unknown at the first interview, B from month
    24, CVD reported at 48, i.e. at 24 on its own clock) and person 7 (B from the start, dies at 30). Person 8
    never has a group and is in no curve; group A is unchanged."""
    iv = pd.concat([HAND_IV, pd.DataFrame([
        ("6", 0.0, 24.0, 0.0, 0.0, 0.0, None),        # group unknown at the first interview
        ("6", 24.0, 48.0, 0.0, 1.0, 0.0, "B"),        # B from 24; CVD reported at 48 = 24 on its clock
        ("7", 0.0, 30.0, 1.0, np.nan, 0.0, "B"),      # death at 30
        ("8", 0.0, 24.0, 0.0, 0.0, 0.0, None),        # never a group: in no curve
    ], columns=HAND_IV.columns)], ignore_index=True)
    out = mc.cumulative_incidence(iv, "g", horizon_months=312)
    assert set(out["group"]) == {"A", "B"}
    a = out.loc[out["group"] == "A"]
    pd.testing.assert_frame_equal(a.reset_index(drop=True),
                                  mc.cumulative_incidence(HAND_IV, "g", horizon_months=312).reset_index(drop=True))
    cvd = out.loc[(out["group"] == "B") & (out["outcome"] == "cvd")]
    death = out.loc[(out["group"] == "B") & (out["outcome"] == "death")]
    assert cvd["n"].unique().tolist() == [2] and death["n"].unique().tolist() == [2]
    # CVD: at 24 (6's clock), 2 at risk, 1 CVD -> 1/2; 7's death at 30 is competing: F stays 1/2
    for t, expected in ((23.9, 0.0), (24, 0.5), (30, 0.5)):
        assert math.isclose(_at(cvd, t), expected, abs_tol=1e-12), t
    # death: 6 censored at 24 (its last interval ends at 48 - 24), 7 dies at 30 alone at risk -> 1
    for t, expected in ((23.9, 0.0), (29.9, 0.0), (30, 1.0)):
        assert math.isclose(_at(death, t), expected, abs_tol=1e-12), t


def test_cumulative_incidence_cvd_needs_the_cvd_status_at_the_first_interview():
    """A person whose CVD status is unknown at the first interview (known 'no' only later) is not in the CVD
    risk set from time 0; they still count for death."""
    iv = pd.concat([HAND_IV, pd.DataFrame([
        ("7", 0.0, 24.0, 0.0, np.nan, np.nan, "A"),   # CVD unknown at the first interview
        ("7", 24.0, 48.0, 0.0, 1.0, 0.0, "A"),
    ], columns=HAND_IV.columns)], ignore_index=True)
    out = mc.cumulative_incidence(iv, "g", horizon_months=312)
    assert out.loc[out["outcome"] == "cvd", "n"].unique().tolist() == [4]
    assert out.loc[out["outcome"] == "death", "n"].unique().tolist() == [6]


# ---------------------------------------------------------------------------------------------
# RI-CLPM and spec errors


def test_riclpm_on_the_synthetic_panel(synthetic, cohorts):
    panel, _ = synthetic
    spec = edited(cohorts.models.riclpm, waves=list(range(1, 8)))  # 7 waves: the same model, faster
    table = mc.run_riclpm(panel, spec, {"synthetic": "SYNTHETIC cohort"})
    assert list(table.columns) == mc.RICLPM_COLUMNS
    assert table["parameter"].tolist() == list(PARAMETERS) and len(table) == 13
    assert np.isfinite(table[["estimate", "std_error"]].to_numpy(float)).all()
    assert (table["std_error"] > 0).all() and table["converged"].all()
    assert (table["study"] == "SYNTHETIC cohort").all() and table["note"].str.startswith("SYNTHETIC").all()
    assert (table["n_persons"] == PERSONS).all()
    # loneliness raises later CES-D within person (the stated within-person effect feeds a positive cross-lag)
    assert table.set_index("parameter").at["b_xy", "ci_low"] > 0


@pytest.mark.parametrize("where, change, name", [
    ("exposures", lambda s: s["exposures"].update(wealth={"label": "Wealth"}), "wealth"),
    ("depression", lambda s: s["depression"].update(covariates="female + smoker"), "smoker"),
    ("depression", lambda s: s["depression"].update(outcome="phq9"), "phq9"),
    ("hazards", lambda s: s["hazards"]["outcomes"]["death"].update(covariates="cvd_ever + bmi"), "bmi"),
])
def test_spec_naming_a_missing_column_is_an_error(synthetic, raw_params, where, change, name):
    panel, _ = synthetic
    with pytest.raises(ValueError, match=rf"'{name}'.*params\.yaml cohorts\.models\.{where}"):
        mc.run_cohort_models(panel.head(200), models_with(raw_params, change))


def test_attrition_predictor_missing_is_named(synthetic):
    panel, _ = synthetic
    with pytest.raises(ValueError, match=r"'wealth'.*attrition"):
        mc.attrition_weights(mc.as_float(panel.head(200)), "age + wealth")


def test_unknown_estimator_and_missing_key(raw_params):
    """Errors of the spec itself: the schema refuses them before any stage runs, naming the key and what is
    allowed (the models never see such a spec)."""
    raw = copy.deepcopy(raw_params["cohorts"]["models"])
    with pytest.raises(ConfigError, match=r"estimators\[1\] = 'gee': Input should be 'within_between_lmm'"):
        validate(CohortModels, dict(raw, estimators=["two_way_fe", "gee"]), "cohorts.models")
    del raw["hazards"]
    with pytest.raises(ConfigError, match=r"cohorts\.models: hazards: required key missing"):
        validate(CohortModels, raw, "cohorts.models")
    # the names of the covariates in the records are required too
    for block in ("depression", "hazards"):
        raw = copy.deepcopy(raw_params["cohorts"]["models"])
        del raw[block]["covariate_set"]
        with pytest.raises(ConfigError, match=rf"cohorts\.models: {block}\.covariate_set: required key missing"):
            validate(CohortModels, raw, "cohorts.models")


def test_riclpm_missing_column_is_named(synthetic, cohorts):
    panel, _ = synthetic
    with pytest.raises(ValueError, match=r"'ucla' \(named in params\.yaml cohorts\.models\.riclpm\)"):
        mc.run_riclpm(panel.head(200), edited(cohorts.models.riclpm, x="ucla", waves=None))
