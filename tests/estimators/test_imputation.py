"""Chained-equations imputation, Nelson-Aalen and Rubin's rules: by hand, against statsmodels, and a
simulation with data missing at random in which complete cases are biased and MI recovers the truth."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.imputation.mice import MICEData

import analysis.estimators.formula  # noqa: F401  (the package's formula-engine settings, as in the pipeline)
from analysis.estimators.imputation import chained_imputations, impute_once, nelson_aalen, pool
from analysis.estimators.survey import glm_design_fit


def test_nelson_aalen_by_hand():
    # times 1, 2, 2, 3, 4 (events 1, 1, 0, 1, 0): at t=1 1/5; t=2 1/4 (the censored tie is at risk);
    # t=3 1/2; t=4 no event. A row with a missing time is in no risk set.
    h = nelson_aalen([1, 2, 2, 3, 4, np.nan], [1, 1, 0, 1, 0, 1])
    expected = [1 / 5, 1 / 5 + 1 / 4, 1 / 5 + 1 / 4, 1 / 5 + 1 / 4 + 1 / 2, 1 / 5 + 1 / 4 + 1 / 2, np.nan]
    np.testing.assert_allclose(h, expected, equal_nan=True)


def _incomplete_frame(n: int = 500, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "z": 0.5 * x + rng.normal(size=n),
                          "b": (rng.random(n) < 0.4).astype(float), "c": rng.normal(size=n),
                          "zeros_where_c_observed": 0.0})
    for column, share in [("z", 0.2), ("b", 0.1), ("c", 0.6)]:
        frame.loc[rng.random(n) < share, column] = np.nan
    # a predictor that is 0 on every row where c is observed: c's imputation model is rank-deficient
    frame.loc[frame["c"].isna(), "zeros_where_c_observed"] = rng.normal(size=int(frame["c"].isna().sum()))
    return frame


def test_impute_once_matches_statsmodels_micedata():
    frame = _incomplete_frame()
    mine = impute_once(frame, seed=5, burn_in=4, k_pmm=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = MICEData(frame, k_pmm=5, rng=np.random.default_rng(5))
        reference.update_all(4)
    np.testing.assert_allclose(mine.to_numpy(), reference.data.to_numpy(), rtol=0, atol=1e-12)
    assert mine.notna().all().all()
    # observed values untouched; imputed values are observed donors (predictive mean matching)
    observed = frame.notna()
    pd.testing.assert_frame_equal(mine[observed].dropna(how="all"), frame[observed].dropna(how="all"))
    assert set(mine.loc[frame["b"].isna(), "b"]) <= {0.0, 1.0}


def test_chains_are_reproducible_and_distinct():
    frame = _incomplete_frame()
    first = chained_imputations(frame, m=3, seed=11, burn_in=2)
    again = chained_imputations(frame, m=3, seed=11, burn_in=2)
    for a, b in zip(first, again):
        pd.testing.assert_frame_equal(a, b)
    assert not first[0].equals(first[1])


@pytest.mark.parametrize("bad, message", [
    (pd.DataFrame({"a b": [1.0, np.nan]}), "identifiers"),
    (pd.DataFrame({"a": ["x", None]}), "not numeric"),
    (pd.DataFrame({"a": [np.nan, np.nan], "b": [1.0, np.nan]}), "no observed value"),
])
def test_bad_frames_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        impute_once(bad, seed=1)


def test_rubins_rules_by_hand():
    # m = 3 fits of one coefficient: Q = 1.0, 1.2, 1.1 with variances 0.04, 0.05, 0.06, complete-data df 20.
    fit = pool([pd.Series({"b": q}) for q in (1.0, 1.2, 1.1)],
               [np.array([[u]]) for u in (0.04, 0.05, 0.06)], df_complete=20)
    # Qbar = 1.1; Ubar = 0.05; B = (0.01 + 0.01 + 0) / 2 = 0.01; T = 0.05 + (4/3) 0.01 = 0.0633...
    assert fit.params["b"] == pytest.approx(1.1)
    assert fit.within["b"] == pytest.approx(0.05)
    assert fit.between["b"] == pytest.approx(0.01)
    assert fit.total["b"] == pytest.approx(0.05 + 4 / 300)
    lam = (4 / 300) / (0.05 + 4 / 300)  # 0.2105...
    nu_old = 2 / lam ** 2  # 45.125
    nu_obs = 21 / 23 * 20 * (1 - lam)  # 14.4165...
    assert fit.df["b"] == pytest.approx(nu_old * nu_obs / (nu_old + nu_obs))  # 10.93
    assert fit.df["b"] == pytest.approx(10.92589, abs=1e-5)
    assert fit.riv["b"] == pytest.approx((4 / 300) / 0.05)
    r = (4 / 300) / 0.05
    assert fit.fmi["b"] == pytest.approx((r + 2 / (fit.df["b"] + 3)) / (1 + r))
    # infinite complete-data df: Rubin's (1987) df
    assert pool([pd.Series({"b": q}) for q in (1.0, 1.2, 1.1)], [np.array([[0.05]])] * 3).df["b"] == \
        pytest.approx(nu_old)
    # no between-imputation variance: nu = nu_obs at lambda = 0
    assert pool([pd.Series({"b": 1.0})] * 3, [np.array([[0.05]])] * 3, df_complete=20).df["b"] == \
        pytest.approx(21 / 23 * 20)


def test_pooled_total_variance_matches_statsmodels_mice_combine():
    # statsmodels MICE.combine: cov = mean(cov_j) + (1 + 1/m) cov(params_j)
    rng = np.random.default_rng(7)
    params = [pd.Series(rng.normal(size=2), index=["a", "b"]) for _ in range(5)]
    covs = [np.diag(rng.uniform(0.01, 0.02, 2)) for _ in range(5)]
    q = np.vstack(params)
    expected = np.mean(covs, axis=0) + (1 + 1 / 5) * np.cov(q.T)
    np.testing.assert_allclose(pool(params, covs).total.to_numpy(), np.diag(expected))


def test_pool_needs_two_fits_with_the_same_terms():
    with pytest.raises(ValueError, match="at least 2"):
        pool([pd.Series({"b": 1.0})], [np.eye(1)])
    with pytest.raises(ValueError, match="different coefficients"):
        pool([pd.Series({"b": 1.0}), pd.Series({"c": 1.0})], [np.eye(1)] * 2)


def test_missing_at_random_complete_cases_biased_mi_recovers_truth():
    """y = 1 + 0.5 x + 0.5 z + e (x, z correlated 0.6); z is missing with a probability that rises steeply
    with y (MAR: y is observed). Complete cases select on the outcome and attenuate the coefficient of z;
    MI with y in the imputation model recovers it. Stated seed; 2,000 rows in 20 strata x 50 PSUs."""
    rng = np.random.default_rng(20261201)
    n, truth = 2000, 0.5
    x = rng.normal(size=n)
    z = 0.6 * x + 0.8 * rng.normal(size=n)
    y = 1 + 0.5 * x + truth * z + rng.normal(size=n)
    p_missing = 1 / (1 + np.exp(-(2.5 * (y - 1.5))))
    z_observed = np.where(rng.random(n) < p_missing, np.nan, z)
    design = pd.DataFrame({"y": y, "x": x, "z": z_observed, "w": 1.0, "stratum": np.arange(n) % 20,
                           "psu": (np.arange(n) // 20) % 50})
    assert 0.3 < np.isnan(z_observed).mean() < 0.6

    def fit(table):
        return glm_design_fit(table, "x + z", outcome="y", family="gaussian", weight="w")

    complete = fit(design)
    low, high = complete.params["z"] + np.array([-1.96, 1.96]) * complete.std_errors["z"]
    assert high < truth, f"complete cases should be biased: CI ({low:.3f}, {high:.3f})"

    frame = design[["y", "x", "z"]]
    fits = [fit(design.assign(z=imputed["z"])) for imputed in chained_imputations(frame, m=20, seed=1)]
    pooled = pool([f.params for f in fits], [f.cov for f in fits], df_complete=fits[0].df)
    se = math.sqrt(pooled.total["z"])
    assert abs(pooled.params["z"] - truth) < 1.96 * se, (pooled.params["z"], se)
    assert abs(pooled.params["z"] - truth) < abs(complete.params["z"] - truth) / 2
    assert 0 < pooled.fmi["z"] < 1
