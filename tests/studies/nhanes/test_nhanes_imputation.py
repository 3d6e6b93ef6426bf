"""The NHANES multiple-imputation stage on a simulated analysis table, with the real params.yaml."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from analysis.core.config import ConfigError
from analysis.core.settings import validate
from analysis.estimators.formula import formula_variables
from analysis.studies.nhanes.imputation import (
    MI_COLUMNS,
    completed_table,
    imputation_frame,
    run_multiple_imputation,
)
from analysis.studies.nhanes.settings import NhanesSettings
from support.config import edited, schema_problem
from support.nhanes import fake_analysis_table


@pytest.fixture(scope="module")
def nh(params):
    """The validated ``nhanes:`` settings of params.yaml, with 3 short chains."""
    return edited(params.nhanes, **{"imputation.m": 3, "imputation.burn_in": 3})


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return fake_analysis_table(n=1500)


def test_frame_holds_covariates_outcomes_exposure_and_design(table, nh):
    frame, categories = imputation_frame(table, nh)
    assert frame.index.equals(table.index)
    assert all(pd.api.types.is_numeric_dtype(frame[c]) for c in frame)
    # incomplete categorical covariates are imputed as codes, complete ones enter as indicators
    assert set(categories) == {"education"}  # the primary (socioeconomic) set: no smoking status
    assert set(frame["education"].dropna()) <= set(range(len(categories["education"])))
    assert "education" in frame and "sex" not in frame and any(c.startswith("sex__") for c in frame)
    # survival outcomes: the event and the Nelson-Aalen cumulative hazard; exposure index; design
    for column in ["died", "cumhaz_all_cause_death", "cvd_death", "cumhaz_cvd_death", "isolation_index",
                   "phq9_score", "prevalent_cvd", "log_weight"]:
        assert column in frame, column
    assert "isolation_category" not in frame  # a grouping of the index, not a separate predictor
    assert sum(c.startswith("stratum__") for c in frame) == table["stratum"].nunique() - 1
    # the cumulative hazard rises with follow-up
    ordered = frame.assign(t=table["followup_months"]).dropna(subset=["t"]).sort_values("t")
    assert ordered["cumhaz_all_cause_death"].is_monotonic_increasing


def test_completed_table_fills_only_the_covariates(table, nh):
    frame, categories = imputation_frame(table, nh)
    imputed = frame.fillna(0.0)  # stand-in imputation: code 0 / value 0
    covariates = formula_variables(nh.models.covariate_sets[nh.models.headline_set])  # the set imputed
    done = completed_table(table, imputed, categories, covariates)
    assert done[covariates].notna().all().all()
    assert (done.loc[table["education"].isna(), "education"] == categories["education"][0]).all()
    observed = table["bmi"].notna()
    pd.testing.assert_series_equal(done.loc[observed, "bmi"], table.loc[observed, "bmi"])
    # outcomes and exposures stay as observed: missing ones keep rows out of the analytic domain
    for column in ["phq9_score", "isolation_index", "followup_months", "died"]:
        assert done[column].isna().sum() == table[column].isna().sum()


def test_settings_are_checked(raw_params):
    """The schema rejects a bad ``nhanes.imputation`` block before anything runs, naming the key."""
    def problem(edit) -> str:
        return schema_problem(NhanesSettings, raw_params["nhanes"], edit)

    assert "imputation.m = 1: Input should be greater than or equal to 2" in problem(
        lambda r: r["imputation"].__setitem__("m", 1))
    assert "imputation.burn_in = 0: Input should be greater than or equal to 1" in problem(
        lambda r: r["imputation"].__setitem__("burn_in", 0))
    assert "imputation.k_pmm = 0: Input should be greater than or equal to 1" in problem(
        lambda r: r["imputation"].__setitem__("k_pmm", 0))
    assert "imputation.covariate_set: 'nope' is not a key of models.covariate_sets" in problem(
        lambda r: r["imputation"].__setitem__("covariate_set", "nope"))
    assert "imputation.n_jobs: unknown key" in problem(lambda r: r["imputation"].__setitem__("n_jobs", 2))
    # the block is optional: without it, the defaults (m = 20, the primary estimate's covariate set)
    nhanes = {k: v for k, v in raw_params["nhanes"].items() if k != "imputation"}
    settings = validate(NhanesSettings, nhanes)
    assert settings.imputation.m == 20
    assert settings.covariate_set(settings.imputation.covariate_set) == settings.models.primary.covariate_set


def test_missing_auxiliary_column_is_named(table, nh, raw_params):
    nhanes = copy.deepcopy(raw_params["nhanes"])
    nhanes["imputation"]["auxiliary"] = ["no_such_column"]
    with pytest.raises(ConfigError, match=r"imputation.auxiliary: 'no_such_column' is not a column"):
        validate(NhanesSettings, nhanes)
    bad = edited(nh, **{"imputation.auxiliary": ["no_such_column"]})
    with pytest.raises(ValueError, match=r"column 'no_such_column' \(named in params.yaml "
                                         r"nhanes.imputation.auxiliary\)"):
        imputation_frame(table, bad)


def test_pooled_records_one_per_headline_term(table, nh):
    out = run_multiple_imputation(table, nh, progress=False)
    assert list(out.columns) == MI_COLUMNS
    models = nh.models
    n_terms = sum(2 if spec.type == "categorical" else 1 for spec in models.exposures.values())
    n_outcomes = len(models.survival) + len(models.regression)
    assert len(out) == n_terms * n_outcomes
    assert (out["analysis"] == "multiple imputation").all() and (out["m"] == 3).all()
    assert (out["covariate_set"] == models.primary.covariate_set).all()  # the primary estimate's set
    assert out["estimate"].notna().all() and (out["std_error"] > 0).all()
    assert ((out["fmi"] > 0) & (out["fmi"] < 1)).all()
    # n: respondents with the outcome, the exposure, follow-up and a weight (covariates imputed)
    death = out[(out["outcome"] == "all_cause_death") & (out["exposure"] == "isolation_index")].iloc[0]
    # the primary (socioeconomic) set holds no MEC measure: the interview weight, everyone interviewed in the domain
    expected = table[["isolation_index", "followup_months", "died"]].notna().all(axis=1) & \
        (table["weight_interview"] > 0)
    assert death["n"] == int(expected.sum())
    # the simulated truth: isolation raises the hazard (log-HR 0.15 per point)
    assert 0.0 < death["estimate"] < 0.35
    np.testing.assert_allclose(out["ratio"].dropna(), np.exp(out.loc[out["ratio"].notna(), "estimate"]))
    # reproducible
    again = run_multiple_imputation(table, nh, progress=False)
    pd.testing.assert_frame_equal(out, again)
