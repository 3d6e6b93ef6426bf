"""Cox models: known truth, an independent implementation (statsmodels PHReg), lifelines' own sandwich."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from statsmodels.duration.hazard_regression import PHReg

from analysis.estimators.records import RECORD_COLUMNS, ModelSpec
from analysis.estimators.survival import (
    EfronCoxFitter,
    cluster_robust_covariance,
    cox_ph_test,
    cox_score_residuals,
    fit_cox,
)
from support.survival import TRUE_LOG_HR, simulate_cohort

SPEC = ModelSpec(outcome="death", exposure="group", covariates="z", exposure_type="categorical",
                 covariate_set="z", study="simulated", outcome_label="Death", exposure_label="Exposure")


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulate_cohort()


@pytest.mark.parametrize("design", ["design-based", "multilevel", "unweighted"])
def test_recovers_the_true_hazard_ratio(cohort, design):
    rec = fit_cox(cohort, SPEC, duration="followup_months", event="died", design=design, weight="weight")
    assert list(rec.columns) == RECORD_COLUMNS and len(rec) == 1
    row = rec.iloc[0]
    assert row["term"] == "group[exposed]" and row["term_label"] == "exposed vs unexposed"
    assert row["ci_low"] < TRUE_LOG_HR < row["ci_high"]
    assert abs(row["estimate"] - TRUE_LOG_HR) < 0.15
    model = "stratified_cox" if design == "multilevel" else "cox"  # the multilevel design stratifies the baseline
    assert row["measure"] == "HR" and row["model"] == model and row["design"] == design and row["converged"]
    assert row["vcov"] == ("model_based" if design == "unweighted" else "cluster") and row["interval"] == "z"
    assert row["ratio"] == pytest.approx(math.exp(row["estimate"]), rel=1e-12)
    complete = cohort.dropna(subset=["z"])
    assert row["n"] == len(complete) and row["events"] == complete["died"].sum()


def test_unweighted_fit_matches_statsmodels_phreg_efron(cohort):
    """lifelines and statsmodels are independent implementations of the Efron partial likelihood."""
    rec = fit_cox(cohort, SPEC, duration="followup_months", event="died", design="unweighted").iloc[0]
    data = cohort.dropna(subset=["z"])
    assert data["followup_months"].duplicated().mean() > 0.5  # heavily tied, as NHANES months are
    ref = PHReg(data["followup_months"].to_numpy(), data[["exposed", "z"]].to_numpy(float),
                status=data["died"].to_numpy(int), ties="efron").fit()
    assert rec["estimate"] == pytest.approx(ref.params[0], abs=1e-6)
    assert rec["std_error"] == pytest.approx(ref.bse[0], rel=1e-6)


def test_sandwich_equals_lifelines_robust_without_ties():
    """Untied times: our vectorised sandwich (no small-sample factor) is lifelines' robust=True exactly."""
    data = simulate_cohort(n=400, seed=3, whole_months=False).dropna()
    data["w"] = data["weight"] / data["weight"].mean()
    ref = CoxPHFitter().fit(data[["followup_months", "died", "exposed", "z", "w", "cluster"]],
                            "followup_months", "died", weights_col="w", robust=True, cluster_col="cluster",
                                fit_options={"precision": 1e-12, "r_precision": 1e-14})
    X = data[["exposed", "z"]].to_numpy(float)
    u = cox_score_residuals(X, data["followup_months"], data["died"], ref.params_.to_numpy(), data["w"])
    cov = cluster_robust_covariance(u, ref.variance_matrix_.to_numpy(), data["cluster"], small_sample=False)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), ref.standard_errors_.to_numpy(), rtol=1e-8)

    # ... and fit_cox's design-based SE is that sandwich times sqrt(G/(G-1)).
    spec = ModelSpec(outcome="death", exposure="exposed", covariates="z")
    rec = fit_cox(data, spec, duration="followup_months", event="died", design="design-based", weight="weight")
    g = data["cluster"].nunique()
    assert rec.loc[0, "estimate"] == pytest.approx(ref.params_["exposed"], abs=1e-7)
    assert rec.loc[0, "std_error"] == pytest.approx(ref.standard_errors_["exposed"] * math.sqrt(g / (g - 1)),
                                                    rel=1e-6)


def test_sandwich_equals_phreg_robust_with_ties_and_strata(cohort):
    """Tied times, stratified: with Breslow residuals, statsmodels PHReg's cluster-robust covariance."""
    data = cohort.dropna(subset=["z"]).iloc[:1500]
    X = data[["exposed", "z"]].to_numpy(float)
    t, d, s, g = (data["followup_months"].to_numpy(), data["died"].to_numpy(int), data["stratum"].to_numpy(),
                  data["cluster"].to_numpy())
    model = PHReg(t, X, status=d, strata=s, ties="efron")
    ref = model.fit(groups=g)
    fitter = EfronCoxFitter(strata=["s"]).fit(
        pd.DataFrame({"exposed": X[:, 0], "z": X[:, 1], "t": t, "d": d, "s": s}), "t", "d",
        fit_options={"precision": 1e-10, "r_precision": 1e-13})
    np.testing.assert_allclose(fitter.params_.to_numpy(), ref.params, atol=1e-6)
    u = cox_score_residuals(X, t, d, fitter.params_.to_numpy(), strata=s, ties="breslow")
    cov = cluster_robust_covariance(u, fitter.variance_matrix_.to_numpy(), g, small_sample=False)
    np.testing.assert_allclose(cov, model.robust_covariance(ref.params), rtol=1e-5, atol=1e-12)
    # Efron residuals (R coxph's; tests/test_reference_r.py) differ with ties, and sum to the score (zero)
    tight = EfronCoxFitter(strata=["s"]).fit(
        pd.DataFrame({"exposed": X[:, 0], "z": X[:, 1], "t": t, "d": d, "s": s}), "t", "d",
        fit_options={"precision": 1e-12, "r_precision": 1e-14})
    efron = cox_score_residuals(X, t, d, tight.params_.to_numpy(), strata=s)
    assert not np.allclose(efron, u)
    np.testing.assert_allclose(efron.sum(axis=0), 0.0, atol=1e-8)
    # the trimmed fitter is lifelines' CoxPHFitter in every estimate
    full = CoxPHFitter().fit(pd.DataFrame({"exposed": X[:, 0], "z": X[:, 1], "t": t, "d": d, "s": s}), "t", "d",
                             strata=["s"])
    np.testing.assert_allclose(fitter.params_.to_numpy(), full.params_.to_numpy(), atol=1e-6)


def test_multilevel_is_stratified_by_stratum_not_a_frailty(cohort):
    rec = fit_cox(cohort, SPEC, duration="followup_months", event="died", design="multilevel").iloc[0]
    assert "stratified baseline hazards, not a frailty" in rec["note"]
    assert "30 levels" in rec["note"] and "unweighted" in rec["note"]
    data = cohort.dropna(subset=["z"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = CoxPHFitter().fit(data[["followup_months", "died", "exposed", "z", "stratum"]], "followup_months",
                                "died", strata=["stratum"])
    assert rec["estimate"] == pytest.approx(ref.params_["exposed"], abs=1e-6)


def test_ph_test_flags_non_proportional_hazards():
    """Exposure quadruples the hazard for 24 months, then halves it: the Schoenfeld test must flag it."""
    rng = np.random.default_rng(5)
    n = 1500
    exposed = rng.binomial(1, 0.5, n)
    early = np.where(exposed == 1, 0.04, 0.01)
    late = np.where(exposed == 1, 0.005, 0.01)
    first = rng.exponential(1 / early)
    time = np.where(first < 24, first, 24 + rng.exponential(1 / late))
    censor = rng.uniform(60, 200, n)
    data = pd.DataFrame({"t": np.ceil(np.minimum(time, censor)), "e": (time < censor).astype(int),
                         "exposed": exposed, "age": rng.normal(size=n)})
    spec = ModelSpec(outcome="death", exposure="exposed", covariates="age")
    table = cox_ph_test(data, spec, duration="t", event="e", ph_alpha=0.01)
    row = table.set_index("term").loc["exposed"]
    assert row["exposure_term"] and row["flagged"] and row["p_value"] < 1e-6
    assert "unweighted" in row["note"] and "rank" in row["note"]
    assert not table.set_index("term").loc["age", "flagged"]  # age acts proportionally


def test_ph_test_does_not_flag_proportional_hazards(cohort):
    table = cox_ph_test(cohort, SPEC, duration="followup_months", event="died", ph_alpha=0.01, weight="weight")
    exposure = table[table["exposure_term"]].iloc[0]
    assert exposure["term"] == "group[exposed]"
    assert set(table["term"]) == {"group[exposed]", "z"} and not table["flagged"].any()


def test_design_based_needs_a_weight(cohort):
    with pytest.raises(ValueError, match="weight"):
        fit_cox(cohort, SPEC, duration="followup_months", event="died", design="design-based")
    with pytest.raises(ValueError, match="column 'nope'"):
        fit_cox(cohort, SPEC, duration="nope", event="died", design="unweighted")


def test_a_diverging_newton_step_is_retried_with_a_smaller_step(monkeypatch):
    """fit_efron: lifelines' NaN-step ConvergenceError (seen on a spline model of real NHANES data) triggers one
    refit with RETRY_STEP_SIZE, whose estimate is the maximum of the partial likelihood (= CoxPHFitter's), and
    says so; the failed attempt's warnings are dropped; any other ConvergenceError propagates."""
    from lifelines.exceptions import ConvergenceError

    from analysis.estimators import survival

    rng = np.random.default_rng(4)
    x = rng.normal(size=400)
    training = pd.DataFrame({"x": x, "T": rng.exponential(1 / np.exp(0.5 * x)), "E": rng.binomial(1, 0.8, 400)})
    original = survival.EfronCoxFitter.fit
    calls = []

    def diverging(self, df, *args, fit_options=None, **kwargs):
        calls.append(dict(fit_options))
        if "step_size" not in fit_options:
            warnings.warn("overflow encountered in exp", RuntimeWarning, stacklevel=2)
            raise ConvergenceError("delta contains nan value(s). Convergence halted.")
        return original(self, df, *args, fit_options=fit_options, **kwargs)

    monkeypatch.setattr(survival.EfronCoxFitter, "fit", diverging)
    cph, caught, note = survival.fit_efron(training, survival.FIT_OPTIONS, duration_col="T", event_col="E")
    assert [c.get("step_size") for c in calls] == [None, survival.RETRY_STEP_SIZE]
    assert "step size 0.5" in note and not [w for w in caught if "overflow" in str(w.message)]
    reference = original(survival.EfronCoxFitter(), training, duration_col="T", event_col="E",
                         fit_options=survival.FIT_OPTIONS)  # the default step, which converges here
    assert cph.params_["x"] == pytest.approx(reference.params_["x"], rel=1e-9)
    assert cph.params_["x"] == pytest.approx(CoxPHFitter().fit(training, "T", "E").params_["x"], rel=1e-6)

    def other_error(self, df, *args, fit_options=None, **kwargs):
        raise ConvergenceError("Convergence halted due to matrix inversion problems.")

    monkeypatch.setattr(survival.EfronCoxFitter, "fit", other_error)
    with pytest.raises(ConvergenceError, match="matrix inversion"):
        survival.fit_efron(training, survival.FIT_OPTIONS, duration_col="T", event_col="E")
