"""Discrete-time cloglog hazard (analysis.estimators.discrete_time): estimates from an independent maximiser of
the likelihood, SEs from the project's one cluster rule G/(G-1) computed by hand, non-convergence recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis.estimators.discrete_time import fit_cloglog_hazard
from analysis.estimators.records import RECORD_COLUMNS, ModelSpec

SPEC = ModelSpec(outcome="death", exposure="x", covariates="z", covariate_set="demographic", study="sim",
                 outcome_label="Death", exposure_label="X")


@pytest.fixture(scope="module")
def intervals() -> pd.DataFrame:
    """120 persons, up to 4 intervals each (1 to 3 years long), the hazard rising with x; a weight per row."""
    rng = np.random.default_rng(7)
    rows = []
    for person in range(120):
        x, z = rng.normal(), rng.integers(0, 2)
        for interval in range(1, 5):
            length = rng.uniform(1, 3)
            hazard = np.exp(-2.0 + 0.2 * interval + 0.5 * x + 0.3 * z) * length
            event = float(rng.random() < 1 - np.exp(-hazard))
            rows.append({"person_id": f"p{person}", "interval": interval, "length_years": length, "x": x,
                         "z": float(z), "death": event, "w": rng.uniform(0.5, 2.0)})
            if event:
                break
            x += rng.normal(0, 0.3)
    return pd.DataFrame(rows)


def hand_fit(data: pd.DataFrame, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Maximum (weighted) likelihood by Newton-Raphson on the cloglog score written out, and the cluster sandwich
    ``G/(G-1) H^-1 (sum_g s_g s_g') H^-1`` with H the observed Hessian (central differences of the score)."""
    dummies = pd.get_dummies(data["interval"], prefix="interval", dtype=float)
    X = np.column_stack([data["x"], data["z"], dummies])
    names = ["x", "z", *dummies.columns]
    y, offset = data["death"].to_numpy(), np.log(data["length_years"].to_numpy())

    def score_rows(beta: np.ndarray) -> np.ndarray:
        eta = X @ beta + offset
        mu = -np.expm1(-np.exp(eta))
        dmu = np.exp(eta - np.exp(eta))
        return X * (weights * (y - mu) * dmu / (mu * (1 - mu)))[:, None]

    def hessian(beta: np.ndarray, h: float = 1e-6) -> np.ndarray:
        return np.column_stack([(score_rows(beta + h * e).sum(0) - score_rows(beta - h * e).sum(0)) / (2 * h)
                                for e in np.eye(len(beta))])

    beta = np.where([n.startswith("interval") for n in names], -2.0, 0.0)  # Newton-Raphson from a hazard of 0.1
    for _ in range(50):
        step = np.linalg.solve(-hessian(beta), score_rows(beta).sum(0))
        beta = beta + step
        if np.abs(step).max() < 1e-12:
            break
    hessian = hessian(beta)
    bread = np.linalg.inv(-hessian)
    codes = pd.factorize(data["person_id"])[0]
    totals = np.zeros((codes.max() + 1, len(beta)))
    np.add.at(totals, codes, score_rows(beta))
    g = totals.shape[0]
    cov = g / (g - 1) * bread @ totals.T @ totals @ bread
    return beta, np.sqrt(np.diag(cov)), names


@pytest.mark.parametrize("weighted", [False, True])
def test_cloglog_se_is_the_g_over_g_minus_1_cluster_sandwich_computed_by_hand(intervals, weighted):
    weight = intervals["w"].to_numpy() if weighted else np.ones(len(intervals))
    beta, se, names = hand_fit(intervals, weight)
    rec = fit_cloglog_hazard(intervals, SPEC, event="death", interval="interval", length="length_years",
                             cluster="person_id", weight="w" if weighted else None).set_index("term").loc["x"]
    # statsmodels stops IRLS on the change in deviance (1e-8): the estimate agrees to about 1e-6
    assert rec["estimate"] == pytest.approx(beta[names.index("x")], rel=1e-5)
    assert rec["std_error"] == pytest.approx(se[names.index("x")], rel=1e-5)
    assert (rec["model"], rec["design"], rec["vcov"], rec["measure"], rec["interval"]) == \
        ("cloglog_hazard", "weighted" if weighted else "unweighted", "cluster", "HR", "z")
    assert rec["n_groups"] == intervals["person_id"].nunique() and bool(rec["converged"])
    assert rec["n"] == len(intervals) and rec["events"] == intervals["death"].sum()


def test_the_rule_drops_statsmodels_small_sample_factor_n_minus_1_over_n_minus_k(intervals):
    """statsmodels' default cluster correction also multiplies by (n-1)/(n-k): the project's rule does not."""
    rec = fit_cloglog_hazard(intervals, SPEC, event="death", interval="interval", length="length_years",
                             cluster="person_id").set_index("term").loc["x"]
    dummies = pd.get_dummies(intervals["interval"], prefix="interval", dtype=float)
    X = pd.concat([intervals[["x", "z"]], dummies], axis=1)
    default = sm.GLM(intervals["death"], X, family=sm.families.Binomial(link=sm.families.links.CLogLog()),
                     offset=np.log(intervals["length_years"])).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(intervals["person_id"])[0]})
    n, k = X.shape
    assert rec["std_error"] == pytest.approx(default.bse["x"] / np.sqrt((n - 1) / (n - k)), rel=1e-10)


def test_a_fit_that_does_not_converge_is_recorded_not_silenced(intervals):
    records = fit_cloglog_hazard(intervals, SPEC, event="death", interval="interval", length="length_years",
                                 cluster="person_id", joint={"z": "Z"}, maxiter=1)
    assert list(records.columns) == RECORD_COLUMNS and list(records["exposure"]) == ["x", "z"]
    assert not records["converged"].any()
    assert records["note"].str.contains("did not converge").all()
