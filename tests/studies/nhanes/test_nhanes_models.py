"""run_nhanes_models on a simulated analysis table, with the real ``nhanes.models`` section of params.yaml."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.estimators.formula import formula_variables
from analysis.estimators.records import DESIGNS, PH_TEST_COLUMNS, RECORD_COLUMNS
from analysis.studies.nhanes.models import run_nhanes_models
from support.config import edited
from support.nhanes import fake_analysis_table


@pytest.fixture(scope="module")
def nh(params):
    """The validated ``nhanes:`` settings of params.yaml."""
    return params.nhanes


@pytest.fixture(scope="module")
def models_params(nh):
    return nh.models


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return fake_analysis_table()


@pytest.fixture(scope="module")
def results(table, nh):
    return run_nhanes_models(table, nh, progress=False)


def test_records_have_the_contract_columns_and_one_row_per_key(results, models_params):
    records, _ = results
    assert list(records.columns) == RECORD_COLUMNS
    key = ["outcome", "exposure", "term", "covariate_set", "design"]
    assert not records.duplicated(key).any()
    outcomes = list(models_params.survival) + list(models_params.regression)
    terms_per_exposure = {"isolation_category": 2, "isolation_index": 1}
    expected = len(outcomes) * len(models_params.covariate_sets) * len(DESIGNS) * sum(
        terms_per_exposure[e] for e in models_params.exposures)
    assert len(records) == expected
    assert set(records["outcome"]) == set(outcomes)
    assert set(records["design"]) == set(DESIGNS)
    assert set(records["covariate_set"]) == set(models_params.covariate_sets)
    assert records["converged"].all(), records.loc[~records["converged"], ["outcome", "design", "note"]]
    assert records["estimate"].notna().all() and (records["std_error"] > 0).all()


def test_terms_labels_and_measures(results):
    records, _ = results
    categorical = records[records["exposure"] == "isolation_category"]
    assert set(categorical["term"]) == {"isolation_category[Moderate (1)]", "isolation_category[Isolated (2+)]"}
    assert set(categorical["term_label"]) == {"Moderate (1) vs Connected (0)", "Isolated (2+) vs Connected (0)"}
    continuous = records[records["exposure"] == "isolation_index"]
    assert set(continuous["term"]) == {"isolation_index"} and set(continuous["term_label"]) == {"per point"}
    measure = {"all_cause_death": "HR", "cvd_death": "HR", "depression_phq9": "OR", "prevalent_cvd": "OR",
               "phq9_score": "Mean difference"}
    assert (records["measure"] == records["outcome"].map(measure)).all()
    # the estimator of each design: the multilevel design fits the random-intercept (or stratified) version
    model = records.groupby(["outcome", "design"])["model"].unique().map(list).to_dict()
    assert model[("all_cause_death", "design-based")] == model[("all_cause_death", "unweighted")] == ["cox"]
    assert model[("all_cause_death", "multilevel")] == ["stratified_cox"]
    assert model[("phq9_score", "unweighted")] == ["linear"]
    assert model[("phq9_score", "multilevel")] == ["multilevel_linear"]
    assert model[("prevalent_cvd", "design-based")] == ["logistic"]
    assert model[("prevalent_cvd", "multilevel")] == ["multilevel_logistic"]
    vcov = records.groupby("design")["vcov"].unique().map(set).to_dict()
    assert vcov == {"design-based": {"linearisation"}, "unweighted": {"model_based"},
                    "multilevel": {"cluster", "model_based"}}


def test_ratios_are_exp_of_the_linear_scale(results):
    records, _ = results
    ratio = records[records["measure"].isin(["HR", "OR"])]
    np.testing.assert_allclose(ratio["ratio"], np.exp(ratio["estimate"]), rtol=1e-12)
    np.testing.assert_allclose(ratio["ratio_ci_low"], np.exp(ratio["ci_low"]), rtol=1e-12)
    np.testing.assert_allclose(ratio["ratio_ci_high"], np.exp(ratio["ci_high"]), rtol=1e-12)
    linear = records[records["measure"] == "Mean difference"]
    assert linear[["ratio", "ratio_ci_low", "ratio_ci_high", "events"]].isna().all().all()
    # model-based and multilevel fits: normal-scale Wald intervals; design-based: t on the design df
    normal = records["design"] != "design-based"
    np.testing.assert_allclose((records["ci_high"] - records["estimate"])[normal],
                               1.959964 * records.loc[normal, "std_error"], rtol=1e-6)
    assert (records.loc[normal, "interval"] == "z").all() and records.loc[normal, "df"].isna().all()
    design = records.loc[~normal]
    # the design df: PSUs - strata holding domain rows (at most 150 - 75 here; PHQ-9 is in 2 of 5 cycles only);
    # n_groups counts those PSUs
    assert (design["interval"] == "t").all() and design["df"].between(1, 75).all()
    assert (design["df"] < design["n_groups"]).all()
    np.testing.assert_allclose(design["ci_high"] - design["estimate"],
                               stats.t.ppf(0.975, design["df"]) * design["std_error"], rtol=1e-6)


def test_n_is_the_complete_case_count_and_events_are_counted(results, table):
    records, _ = results
    health = ["age", "sex", "race_ethnicity", "education", "income_poverty_ratio", "smoking_status", "bmi",
              "hypertension", "diabetes"]
    # BMI is a MEC measure: the health set's models take the MEC weight, so the unexamined (weight 0) leave
    base = table.dropna(subset=["weight_exam", "isolation_category", *health])
    base = base[base["weight_exam"] > 0]
    death = base.dropna(subset=["followup_months", "died"])
    row = records.query("outcome == 'all_cause_death' and exposure == 'isolation_category' "
                        "and covariate_set == 'health' and design == 'design-based'").iloc[0]
    assert row["n"] == len(death) and row["events"] == death["died"].sum()
    phq = base.dropna(subset=["phq9_score"])
    assert set(records.query("outcome == 'phq9_score' and exposure == 'isolation_category' "
                             "and covariate_set == 'health'")["n"]) == {len(phq)}
    assert len(phq) < len(death)  # PHQ-9 exists only in 2005-2008
    # every design of one model uses the same analytic sample
    assert (records.groupby(["outcome", "exposure", "covariate_set"])["n"].nunique() == 1).all()


def test_every_covariate_set_of_a_row_is_fitted_on_one_sample(results, table, nh, models_params):
    """models.common_sample: the age-sex model of a row is fitted on the fullest set's complete cases, with
    its MEC weight: the same n as the health model; with common_sample false, its own (larger) sample."""
    records, _ = results
    assert models_params.common_sample is True
    assert (records.groupby(["outcome", "exposure", "design"])["n"].nunique() == 1).all()
    age_sex = records.query("outcome == 'all_cause_death' and exposure == 'isolation_category' "
                            "and covariate_set == 'age_sex' and design == 'design-based'").iloc[0]
    own = table.dropna(subset=["weight_interview", "isolation_category", "age", "sex", "followup_months", "died"])
    own = own[own["weight_interview"] > 0]
    assert age_sex["n"] < len(own)
    # the fit equals the age-sex model on the common sample as a domain: rows outside it get weight 0
    health = records.query("outcome == 'all_cause_death' and exposure == 'isolation_category' "
                           "and covariate_set == 'health' and design == 'design-based'").iloc[0]
    assert age_sex["n"] == health["n"]
    separate = edited(nh, **{"models.common_sample": False,
                             "models.covariate_sets": {"age_sex": models_params.covariate_sets["age_sex"]},
                             "models.regression": {},
                             "models.survival": {"all_cause_death": models_params.survival["all_cause_death"]}})
    alone, _ = run_nhanes_models(table, separate, designs=("design-based",), progress=False)
    first = alone.query("exposure == 'isolation_category'").iloc[0]
    assert first["n"] == len(own) and first["estimate"] != age_sex["estimate"]
    sets = [v for rhs in models_params.covariate_sets.values() for v in formula_variables(rhs)]
    common = table.dropna(subset=["weight_exam", "isolation_category", "followup_months", "died", *sets])
    common = table.assign(weight_interview=np.where(table.index.isin(common[common["weight_exam"] > 0].index),
                                                    table["weight_exam"], 0.0))
    by_hand, _ = run_nhanes_models(common, separate, designs=("design-based",), progress=False)
    row = by_hand.query("exposure == 'isolation_category'").iloc[0]
    assert row["n"] == age_sex["n"]
    assert np.isclose(row["estimate"], age_sex["estimate"], rtol=1e-10)
    assert np.isclose(row["std_error"], age_sex["std_error"], rtol=1e-10)


def test_design_notes_state_the_method(results):
    records, _ = results
    notes = records.groupby(["model", "design"])["note"].first()
    assert "Efron ties" in notes[("cox", "design-based")] and "Taylor linearisation" in notes[("cox", "design-based")]
    assert "PSUs nested in strata" in notes[("cox", "design-based")]
    assert "stratified baseline hazards, not a frailty" in notes[("stratified_cox", "multilevel")]
    assert "Laplace ML (glmer nAGQ=1)" in notes[("multilevel_logistic", "multilevel")]
    assert "unweighted" in notes[("multilevel_linear", "multilevel")]
    assert "REML" in notes[("multilevel_linear", "multilevel")]
    assert "survey-weighted pseudo-ML" in notes[("logistic", "design-based")]
    assert "Taylor linearisation" in notes[("logistic", "design-based")]


def test_ph_tests_table(results, models_params):
    _, ph = results
    assert list(ph.columns) == PH_TEST_COLUMNS
    assert set(ph["outcome"]) == set(models_params.survival)
    assert (ph["flagged"] == (ph["p_value"] < models_params.ph_test_alpha)).all()
    exposure_rows = ph[ph["exposure_term"]]
    assert len(exposure_rows) == len(models_params.survival) * len(models_params.covariate_sets) * 3
    assert exposure_rows["note"].str.contains("unweighted").all()


def test_missing_column_is_named(table, nh):
    with pytest.raises(ValueError, match=r"column 'bmi' \(named in params.yaml nhanes.models.covariate_sets.health\)"):
        run_nhanes_models(table.drop(columns="bmi"), nh, progress=False)
    with pytest.raises(ValueError, match=r"column 'weight_interview' \(named in params.yaml nhanes.models.weight\)"):
        run_nhanes_models(table.drop(columns="weight_interview"), nh, progress=False)
    with pytest.raises(ValueError, match=r"column 'followup_months' \(named in params.yaml "
                                         r"nhanes.models.survival.all_cause_death\)"):
        run_nhanes_models(table.drop(columns="followup_months"), nh, progress=False)


def test_a_new_covariate_set_is_one_formula_string(table, nh, models_params):
    params = edited(nh, **{"models.exposures": {"isolation_index": models_params.exposures["isolation_index"]},
                           "models.covariate_sets": {"age_squared": "age + I(age ** 2) + C(sex)"},
                           "models.regression": {"phq9_score": models_params.regression["phq9_score"]},
                           "models.survival": {}})
    records, ph = run_nhanes_models(table, params, designs=("unweighted",), progress=False)
    assert len(records) == 1 and ph.empty and records.loc[0, "covariate_set"] == "age_squared"
    assert 0.5 < records.loc[0, "estimate"] < 2.0  # simulated: +1.2 PHQ-9 points per isolation point


def test_parallel_fits_give_the_same_records(table, nh, models_params, results):
    """Worker processes (compute.n_jobs) change nothing: same records, same order, same numbers."""
    # every covariate set (the common sample depends on all of them), one exposure, the GLM outcomes
    small = edited(nh, **{"models.exposures": {"isolation_index": models_params.exposures["isolation_index"]},
                          "models.survival": {}})
    serial, _ = run_nhanes_models(table, small, designs=("design-based",), progress=False, n_jobs=1)
    parallel, _ = run_nhanes_models(table, small, designs=("design-based",), progress=False, n_jobs=2)
    pd.testing.assert_frame_equal(serial, parallel)
    expected = results[0][(results[0]["exposure"] == "isolation_index") & (results[0]["design"] == "design-based")
                          & results[0]["outcome"].isin(list(models_params.regression))]
    np.testing.assert_allclose(serial["estimate"], expected["estimate"], rtol=1e-10)


def test_weight_tests_are_on_each_models_sample(table, nh, models_params, results):
    """The DuMouchel-Duncan test of every model uses that model's sample and weight: with common_sample the
    same n as the model's records, set by set."""
    from analysis.studies.nhanes.sensitivity import weight_test_records

    params = edited(nh, **{"models.exposures": {"isolation_index": models_params.exposures["isolation_index"]},
                           "models.covariate_sets": {k: models_params.covariate_sets[k]
                                                     for k in ("age_sex", "health")}})
    tests = weight_test_records(table, params, n_jobs=1)
    assert list(tests["covariate_set"]) == ["age_sex"] * 5 + ["health"] * 5  # model order: set, then outcome
    fits, _ = run_nhanes_models(table, params, designs=("unweighted",), progress=False)
    n = fits.drop_duplicates(["outcome", "covariate_set"]).set_index(["outcome", "covariate_set"])["n"]
    assert tests.set_index(["outcome", "covariate_set"])["n"].astype(int).to_dict() == n.astype(int).to_dict()
    assert set(tests["weight"]) == {"weight_exam"}  # the health set holds BMI: the MEC weight for the whole row
