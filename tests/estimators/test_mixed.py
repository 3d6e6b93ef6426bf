"""Multilevel models: known truth, a hand-coded GLS/REML check of the linear fit, the Laplace-ML logistic records."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm

from analysis.estimators import mixed
from analysis.estimators.mixed import fit_mixed_logistic, fit_multilevel, fit_random_slope_linear, fit_reml
from analysis.estimators.records import RECORD_COLUMNS, ModelSpec
from support.mixed import (
    TRUE_MEAN_DIFF,
    TRUE_VAR_PSU,
    TRUE_VAR_RESIDUAL,
    TRUE_VAR_STRATUM,
    simulate_linear,
    simulate_survey,
)

REFERENCE_TERM = "C(isolation_group, Treatment(reference='Low'))"


# Logistic model (depressed yes/no): log-ORs vs Low, random-intercept SDs.
TRUE_LOG_OR = {"Moderate": 0.5, "High": 1.0}
TRUE_SD_STRATUM, TRUE_SD_PSU = 0.5, 0.3






def simulate_logistic(n: int = 3200, seed: int = 5) -> pd.DataFrame:
    """Binary outcome: logit = -1 + {0, 0.5, 1.0} by isolation group + 0.03 per year of age + stratum
    intercept (SD 0.5) + PSU-within-stratum intercept (SD 0.3); 40 strata x 4 PSUs; 2% of age missing."""
    frame, s = simulate_survey(n, n_strata=40, psu_per_stratum=4, seed=seed)
    rng = s["rng"]
    u_stratum = rng.normal(0, TRUE_SD_STRATUM, 41)[s["stratum"]]
    u_psu = rng.normal(0, TRUE_SD_PSU, (41, 5))[s["stratum"], s["psu"]]
    log_or = np.array([0.0, TRUE_LOG_OR["Moderate"], TRUE_LOG_OR["High"]])[s["level"]]
    lp = -1 + log_or + 0.03 * (frame["age"].to_numpy() - 50) + u_stratum + u_psu
    frame["depressed"] = pd.array(rng.binomial(1, 1 / (1 + np.exp(-lp))), dtype="Int8")
    frame.loc[rng.random(n) < 0.02, "age"] = np.nan
    return frame


LINEAR = ModelSpec(outcome="phq9_score", exposure="isolation_group", covariates="age",
                   exposure_type="categorical", covariate_set="age", study="simulated",
                   outcome_label="PHQ-9 score", exposure_label="Isolation")
LOGISTIC = ModelSpec(outcome="depression", exposure="isolation_group", covariates="age",
                     exposure_type="categorical", covariate_set="age", study="simulated",
                     outcome_label="Depression", exposure_label="Isolation")


@pytest.fixture(scope="module")
def linear_data() -> pd.DataFrame:
    return simulate_linear()


@pytest.fixture(scope="module")
def linear_records(linear_data) -> pd.DataFrame:
    return fit_multilevel(linear_data, LINEAR, outcome="phq9_score", family="gaussian", weight="weight")


@pytest.fixture(scope="module")
def logistic_data() -> pd.DataFrame:
    return simulate_logistic()


@pytest.fixture(scope="module")
def logistic_records(logistic_data) -> pd.DataFrame:
    return fit_multilevel(logistic_data, LOGISTIC, outcome="depressed", family="binomial")


# --- linear mixed model ---------------------------------------------------------------------------------

def test_linear_recovers_the_mean_differences(linear_records):
    rec = linear_records
    for level, (_, row) in zip(["Moderate", "High"], rec.iterrows()):
        truth = TRUE_MEAN_DIFF[level]
        assert row["ci_low"] < truth < row["ci_high"], (level, row["estimate"], row["std_error"])
        assert abs(row["estimate"] - truth) < 0.3  # about 3.5 SE
        assert 0.05 < row["std_error"] < 0.15
    assert (rec["measure"] == "Mean difference").all() and (rec["model"] == "multilevel_linear").all()
    assert (rec["design"] == "multilevel").all() and (rec["vcov"] == "model_based").all()
    assert rec["ratio"].isna().all() and rec["events"].isna().all()


def test_linear_variance_components_near_the_truth(linear_records):
    """The model has one random intercept, per PSU within stratum (no stratum intercept): it absorbs the
    simulated stratum variance, so its variance is near stratum + PSU = 2.5 (320 PSUs; about 3 sampling SDs
    of tolerance), the residual near 4.0 (about 3%). They fail if the components were swapped, if a stratum
    intercept were still fitted (the PSU variance would be near 0.5), or on statsmodels' unscaled scale."""
    rec = linear_records.loc[0]
    assert rec["var_group"] == pytest.approx(TRUE_VAR_STRATUM + TRUE_VAR_PSU, rel=0.3)
    assert rec["var_residual"] == pytest.approx(TRUE_VAR_RESIDUAL, rel=0.1)
    assert np.isnan(rec["var_slope"]) and 310 <= rec["n_groups"] < 330  # the PSUs with rows
    assert "random intercept for PSU within stratum (no stratum intercept)" in rec["note"]
    assert rec["note"].endswith("SE sigma^2 (X'V^-1 X)^-1 (lme4's vcov)") and rec["converged"]


def hand_reml(X: np.ndarray, y: np.ndarray, groups: list[np.ndarray], var_u: float, var_e: float):
    """GLS and the REML log-likelihood of a random-intercept model, block by block, without statsmodels.

    V_g = var_u J + var_e I; beta = (X' V^-1 X)^-1 X' V^-1 y;
    REML loglik = -1/2 [sum_g log|V_g| + log|X' V^-1 X| + r' V^-1 r + (n - p) log(2 pi)], r = y - X beta.
    Returns (beta, (X' V^-1 X)^-1, loglik).
    """
    n, p = X.shape
    xtvx, xtvy, logdet, inverses = np.zeros((p, p)), np.zeros(p), 0.0, []
    for rows in groups:
        V_inv = np.linalg.inv(var_u * np.ones((len(rows), len(rows))) + var_e * np.eye(len(rows)))
        logdet -= np.linalg.slogdet(V_inv)[1]
        xtvx += X[rows].T @ V_inv @ X[rows]
        xtvy += X[rows].T @ V_inv @ y[rows]
        inverses.append(V_inv)
    beta = np.linalg.solve(xtvx, xtvy)
    quad = sum((y[rows] - X[rows] @ beta) @ V_inv @ (y[rows] - X[rows] @ beta)
               for rows, V_inv in zip(groups, inverses))
    loglik = -0.5 * (logdet + np.linalg.slogdet(xtvx)[1] + quad + (n - p) * math.log(2 * math.pi))
    return beta, np.linalg.inv(xtvx), loglik


def test_linear_fit_equals_hand_coded_gls_and_reml(linear_data):
    """Single grouping level (PSU): the fixed effects are GLS at the fit's own variance components, to 1e-8, the
    SEs are lme4's sqrt(diag(sigma^2 (X' V^-1 X)^-1)), the criterion is the hand-coded REML criterion (not ML), and
    the variance components maximise it."""
    frame = linear_data.dropna(subset=["phq9_score", "age", "cluster"])
    rhs = f"{REFERENCE_TERM} + age"
    result, exog = fit_reml(frame, "phq9_score", rhs, "cluster")
    assert result.converged
    var_u, var_e = float(result.cov_re[0, 0]), float(result.scale)
    assert var_u > 0.5  # PSU intercepts absorb the stratum variance too: an interior optimum

    design = patsy.dmatrix(rhs, frame, return_type="dataframe")
    X, y = design.to_numpy(), frame["phq9_score"].to_numpy()
    assert list(exog.columns) == list(design.columns)
    groups = list(frame.groupby("cluster").indices.values())
    beta, cov, loglik = hand_reml(X, y, groups, var_u, var_e)

    np.testing.assert_allclose(result.params[design.columns].to_numpy(), beta, rtol=1e-8)
    np.testing.assert_allclose(result.bse[design.columns].to_numpy(), np.sqrt(np.diag(cov)), rtol=1e-8)
    assert -2 * loglik == pytest.approx(result.reml_criterion, rel=1e-10)
    for factor_u, factor_e in [(1.02, 1), (0.98, 1), (1, 1.02), (1, 0.98)]:
        assert hand_reml(X, y, groups, var_u * factor_u, var_e * factor_e)[2] < loglik


def _not_converged(monkeypatch):
    """Make every REML fit of the module report that it did not converge (the optimizer's message kept)."""
    real = mixed.fit_lmm

    def failing(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), converged=False, message="L-BFGS-B: ABNORMAL (test)")

    monkeypatch.setattr(mixed, "fit_lmm", failing)


def test_a_fit_that_does_not_converge_is_recorded_as_such(linear_data, monkeypatch):
    """A fit the optimizer did not bring to convergence is never taken as converged: the records say so
    (``converged`` False, the optimizer's message in the note), for the PSU model and the random-slope model,
    and the random-slope model's group effects too."""
    _not_converged(monkeypatch)
    rec = fit_multilevel(linear_data, LINEAR, outcome="phq9_score", family="gaussian", weight="weight")
    assert not rec["converged"].any()
    assert rec["note"].str.endswith("; did not converge (L-BFGS-B: ABNORMAL (test))").all()
    spec = ModelSpec(outcome="phq9_score", exposure="age", study="simulated", covariate_set="none")
    records, effects = fit_random_slope_linear(linear_data, spec, group="cluster")
    assert not records["converged"].any() and "did not converge" in records["note"].iloc[0]
    assert len(effects) and not effects["converged"].any()


# --- logistic mixed model -------------------------------------------------------------------------------

def test_logistic_recovers_the_odds_ratios(logistic_records):
    rec = logistic_records
    for level, (_, row) in zip(["Moderate", "High"], rec.iterrows()):
        truth = TRUE_LOG_OR[level]
        assert row["ci_low"] < truth < row["ci_high"], (level, row["estimate"], row["std_error"])
        assert row["ratio_ci_low"] < math.exp(truth) < row["ratio_ci_high"]
        assert abs(row["estimate"] - truth) < 0.35  # about 3.5 SE
        assert row["ratio"] == pytest.approx(math.exp(row["estimate"]), rel=1e-12)
    assert (rec["measure"] == "OR").all() and (rec["model"] == "multilevel_logistic").all()


def test_logistic_se_close_to_a_plain_glm_and_note(logistic_data, logistic_records):
    """The records are the Laplace-ML fit (glmer's method, checked against R in test_glmm.py): SEs of
    conditional log-ORs a little above an ordinary logistic GLM's (the random intercepts make conditional
    effects larger and absorb no exposure variation); the note names the method and gives the SDs, which
    is near the combined simulated stratum and PSU SD (160 PSUs)."""
    d = logistic_data.dropna(subset=["age"])
    X = patsy.dmatrix(f"{REFERENCE_TERM} + age", d, return_type="dataframe")
    glm = sm.GLM(d["depressed"].to_numpy(float), X, family=sm.families.Binomial()).fit()
    glm_se = glm.bse[[f"{REFERENCE_TERM}[T.{level}]" for level in ("Moderate", "High")]].to_numpy()
    ratio = logistic_records["std_error"].to_numpy() / glm_se
    assert np.all((ratio > 0.98) & (ratio < 1.2)), ratio

    rec = logistic_records.loc[0]
    assert rec["note"].startswith("Laplace ML (glmer nAGQ=1)")
    assert 150 <= rec["n_groups"] < 170  # the PSUs with rows
    # the PSU intercept absorbs the simulated stratum intercept: SD near sqrt(0.5^2 + 0.3^2) = 0.58
    assert math.sqrt(rec["var_group"]) == pytest.approx(math.hypot(TRUE_SD_STRATUM, TRUE_SD_PSU), abs=0.2)
    assert np.isnan(rec["var_residual"])  # a logistic model has no residual variance


def test_logistic_non_binary_outcome_is_named(linear_data):
    with pytest.raises(ValueError, match="outcome column 'phq9_score' must be 0/1"):
        fit_mixed_logistic(linear_data, LOGISTIC, outcome="phq9_score")


def test_logistic_is_deterministic(logistic_data, logistic_records):
    again = fit_mixed_logistic(logistic_data, LOGISTIC, outcome="depressed")
    pd.testing.assert_frame_equal(again, logistic_records, check_exact=True)


# --- records --------------------------------------------------------------------------------------------

def test_linear_records(linear_data, linear_records):
    rec = linear_records
    assert list(rec.columns) == RECORD_COLUMNS
    assert list(rec["term"]) == ["isolation_group[Moderate]", "isolation_group[High]"]
    assert list(rec["term_label"]) == ["Moderate vs Low", "High vs Low"]
    assert (rec["design"] == "multilevel").all() and rec["converged"].all()
    assert (rec["study"] == "simulated").all() and (rec["covariate_set"] == "age").all()
    complete = linear_data.dropna(subset=["phq9_score", "isolation_group", "age", "cluster", "weight"])
    complete = complete.loc[complete["weight"] > 0]
    assert len(complete) < len(linear_data) - 100  # the missing values and zero weights did drop rows
    assert (rec["n"] == len(complete)).all()


def test_logistic_records(logistic_data, logistic_records):
    rec = logistic_records
    assert list(rec.columns) == RECORD_COLUMNS
    assert list(rec["term"]) == ["isolation_group[Moderate]", "isolation_group[High]"]
    assert list(rec["term_label"]) == ["Moderate vs Low", "High vs Low"]
    assert (rec["design"] == "multilevel").all() and rec["converged"].all()
    complete = logistic_data.dropna(subset=["depressed", "isolation_group", "age", "cluster"])
    assert len(complete) < len(logistic_data)
    assert (rec["n"] == len(complete)).all() and (rec["events"] == complete["depressed"].sum()).all()


@pytest.mark.parametrize("family, column", [("gaussian", "age"), ("gaussian", "cluster"),
                                            ("binomial", "cluster"), ("binomial", "isolation_group")])
def test_missing_column_is_named(linear_data, family, column):
    data = linear_data.assign(depressed=(linear_data["phq9_score"] > 6).astype(float)).drop(columns=column)
    outcome = "phq9_score" if family == "gaussian" else "depressed"
    with pytest.raises(ValueError, match=f"column '{column}'"):
        fit_multilevel(data, LINEAR, outcome=outcome, family=family)


def test_unknown_options_are_named(linear_data):
    with pytest.raises(ValueError, match="family 'poisson'"):
        fit_multilevel(linear_data, LINEAR, outcome="phq9_score", family="poisson")
