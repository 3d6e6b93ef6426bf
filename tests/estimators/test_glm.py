"""Logistic and linear GLMs: known truth, duplicated rows, and a hand-computed sandwich."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import patsy
import pytest

from analysis.estimators.glm import fit_glm
from analysis.estimators.records import RECORD_COLUMNS, ModelSpec
from support.glm import TRUE_LOG_OR, TRUE_SLOPE, simulate

LOGIT = ModelSpec(outcome="case", exposure="group", covariates="age + C(sex)", exposure_type="categorical",
                  covariate_set="age_sex", study="sim", outcome_label="Case", exposure_label="Group")
LINEAR = ModelSpec(outcome="y", exposure="score", covariates="age + C(sex)", exposure_type="continuous",
                   covariate_set="age_sex")


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return simulate()


@pytest.mark.parametrize("design", ["design-based", "unweighted"])
def test_logistic_recovers_the_odds_ratios(data, design):
    rec = fit_glm(data, LOGIT, outcome="case", family="binomial", design=design, weight="weight")
    assert list(rec.columns) == RECORD_COLUMNS
    assert list(rec["term"]) == ["group[Mid]", "group[High]"]
    assert list(rec["term_label"]) == ["Mid vs Low", "High vs Low"]
    for truth, (_, row) in zip([TRUE_LOG_OR, 2 * TRUE_LOG_OR], rec.iterrows()):
        assert row["ci_low"] < truth < row["ci_high"]
        assert abs(row["estimate"] - truth) < 0.2
    assert (rec["measure"] == "OR").all() and (rec["model"] == "logistic").all() and rec["converged"].all()
    np.testing.assert_allclose(rec["ratio"], np.exp(rec["estimate"]), rtol=1e-12)
    complete = data.dropna(subset=["age"])
    assert (rec["n"] == len(complete)).all() and (rec["events"] == complete["case"].sum()).all()


def test_integer_weights_equal_duplicated_rows(data):
    """var_weights = w reproduces the estimate and the cluster-robust SE of rows repeated w times."""
    weighted = fit_glm(data, LOGIT, outcome="case", family="binomial", design="design-based", weight="weight")
    repeats = data.loc[data.index.repeat(data["weight"].astype(int))].assign(weight=1.0)
    duplicated = fit_glm(repeats, LOGIT, outcome="case", family="binomial", design="design-based",
                         weight="weight")
    np.testing.assert_allclose(weighted["estimate"], duplicated["estimate"], atol=1e-8)
    np.testing.assert_allclose(weighted["std_error"], duplicated["std_error"], rtol=1e-6)
    assert duplicated["n"].iloc[0] == data.dropna(subset=["age"])["weight"].sum()
    # the weights' scale does not matter (they are normalised to mean 1)
    scaled = fit_glm(data.assign(weight=data["weight"] * 1234.5), LOGIT, outcome="case", family="binomial",
                     design="design-based", weight="weight")
    np.testing.assert_allclose(weighted["std_error"], scaled["std_error"], rtol=1e-8)


def _hand_sandwich(X, y, w, cluster, beta, logistic: bool):
    """H^-1 (sum_g s_g s_g') H^-1 * G/(G-1), by hand."""
    mu = 1 / (1 + np.exp(-X @ beta)) if logistic else X @ beta
    v = mu * (1 - mu) if logistic else np.ones_like(mu)
    bread = np.linalg.inv(X.T @ (X * (w * v)[:, None]))
    scores = X * (w * (y - mu))[:, None]
    codes, uniques = pd.factorize(cluster)
    sums = np.zeros((len(uniques), X.shape[1]))
    np.add.at(sums, codes, scores)
    g = len(uniques)
    return g / (g - 1) * bread @ sums.T @ sums @ bread, scores.sum(0)


def test_design_based_logistic_se_is_the_hand_computed_sandwich(data):
    rec = fit_glm(data, LOGIT, outcome="case", family="binomial", design="design-based", weight="weight")
    d = data.dropna(subset=["age"])
    design = patsy.dmatrix("C(group, Treatment(reference='Low')) + age + C(sex)", d, return_type="dataframe")
    X = design.to_numpy()
    cols = [design.columns.get_loc(f"C(group, Treatment(reference='Low'))[T.{g}]") for g in ("Mid", "High")]
    # solve the weighted score equations by Newton, independently of statsmodels
    w = d["weight"].to_numpy() / d["weight"].mean()
    y = d["case"].to_numpy(float)
    beta = np.zeros(X.shape[1])
    for _ in range(25):
        mu = 1 / (1 + np.exp(-X @ beta))
        beta += np.linalg.solve(X.T @ (X * (w * mu * (1 - mu))[:, None]), X.T @ (w * (y - mu)))
    cov, score = _hand_sandwich(X, y, w, d["cluster"].to_numpy(), beta, logistic=True)
    assert np.abs(score).max() < 1e-8
    np.testing.assert_allclose(rec["estimate"], beta[cols], atol=1e-8)
    np.testing.assert_allclose(rec["std_error"], np.sqrt(np.diag(cov))[cols], rtol=1e-6)
    assert "factor G/(G-1)" in rec.loc[0, "note"] and "80 clusters" in rec.loc[0, "note"]


@pytest.mark.parametrize("design", ["design-based", "unweighted"])
def test_linear_recovers_the_slope_and_matches_least_squares(data, design):
    rec = fit_glm(data, LINEAR, outcome="y", family="gaussian", design=design, weight="weight")
    assert len(rec) == 1
    row = rec.iloc[0]
    assert row["term"] == "score" and row["term_label"] == "per point" and row["measure"] == "Mean difference"
    assert row["ci_low"] < TRUE_SLOPE < row["ci_high"] and abs(row["estimate"] - TRUE_SLOPE) < 0.1
    assert math.isnan(row["ratio"]) and math.isnan(row["ratio_ci_low"]) and math.isnan(row["events"])
    d = data.dropna(subset=["age"])
    design_matrix = patsy.dmatrix("score + age + C(sex)", d, return_type="dataframe")
    X, j = design_matrix.to_numpy(), design_matrix.columns.get_loc("score")
    y = d["y"].to_numpy()
    w = d["weight"].to_numpy() / d["weight"].mean() if design == "design-based" else np.ones(len(d))
    beta = np.linalg.solve(X.T @ (X * w[:, None]), X.T @ (w * y))  # (weighted) least squares
    assert row["estimate"] == pytest.approx(beta[j], abs=1e-9)
    if design == "design-based":
        cov, _ = _hand_sandwich(X, y, w, d["cluster"].to_numpy(), beta, logistic=False)
        assert row["std_error"] == pytest.approx(math.sqrt(cov[j, j]), rel=1e-6)
    else:  # classical OLS standard error
        resid = y - X @ beta
        sigma2 = resid @ resid / (len(y) - X.shape[1])
        assert row["std_error"] == pytest.approx(math.sqrt(sigma2 * np.linalg.inv(X.T @ X)[j, j]), rel=1e-8)


def test_errors_name_what_is_wrong(data):
    with pytest.raises(ValueError, match="family 'poisson'"):
        fit_glm(data, LOGIT, outcome="case", family="poisson")
    with pytest.raises(ValueError, match="weight"):
        fit_glm(data, LOGIT, outcome="case", family="binomial", design="design-based")
    with pytest.raises(ValueError, match="column 'bmi'"):
        fit_glm(data, ModelSpec(outcome="case", exposure="score", covariates="age + bmi"), outcome="case",
                family="binomial", design="unweighted")
