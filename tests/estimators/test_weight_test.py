"""The DuMouchel-Duncan weight-association test: by hand and on known truth.

* By hand: the F statistic from the two OLS fits (residual sums of squares) and the LR statistics from two
  statsmodels GLM / lifelines Cox fits of the explicitly augmented design; a collinear product is dropped.
* Known truth: with weights that depend only on a covariate of a correct model (non-informative), the test
  does not reject (the p-values of 200 simulated samples are about uniform: mean near 0.5, 5% rejection
  within Monte-Carlo error); with weights that depend on the outcome given the covariates (informative,
  the weighted and unweighted slopes differ), it rejects, for the linear, logistic and Cox models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter
from scipy import stats

from analysis.estimators.weight_test import dumouchel_duncan, weight_terms


def simulate(n: int, seed: int, informative: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.choice(["a", "b", "c"], size=n)
    y = 1 + 0.5 * x + 0.3 * (g == "b") + rng.normal(size=n)
    lp = 0.5 * x + 0.3 * (g == "b")
    case = (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + lp)))).astype(float)
    time = rng.exponential(1 / np.exp(lp))
    event = (time < 2).astype(float)
    time = np.minimum(time, 2)
    # selection probability: by x only (non-informative) or by the outcome too (informative)
    if informative:
        w = np.exp(0.8 * (y - 1 - 0.5 * x) * (x > 0) + 0.8 * case * x - 0.6 * event * x)
    else:
        w = np.exp(0.7 * x)
    return pd.DataFrame({"y": y, "case": case, "time": time, "event": event, "x": x, "g": g, "w": w})


def test_f_statistic_by_hand():
    d = simulate(400, 1, informative=True)
    result = dumouchel_duncan(d, "x + C(g)", weight="w", model="gaussian", outcome="y")
    w = d["w"] / d["w"].mean()
    X = sm.add_constant(pd.DataFrame({"x": d["x"], "b": (d["g"] == "b") * 1.0, "c": (d["g"] == "c") * 1.0}))
    big = pd.concat([X, pd.DataFrame({"w": w, "wx": w * d["x"], "wb": w * X["b"], "wc": w * X["c"]})], axis=1)
    rss0, rss1 = sm.OLS(d["y"], X).fit().ssr, sm.OLS(d["y"], big).fit().ssr
    F = ((rss0 - rss1) / 4) / (rss1 / (400 - 8))
    assert result.test == "F" and result.df_num == 4 and result.df_den == 392
    assert result.statistic == pytest.approx(F, rel=1e-9)
    assert result.p_value == pytest.approx(stats.f.sf(F, 4, 392), rel=1e-9)


def test_lr_statistics_by_hand():
    d = simulate(500, 2, informative=True)
    w = d["w"] / d["w"].mean()
    X = sm.add_constant(pd.DataFrame({"x": d["x"]}))
    big = X.assign(w=w, wx=w * d["x"])
    lr = 2 * (sm.GLM(d["case"], big, family=sm.families.Binomial()).fit().llf
              - sm.GLM(d["case"], X, family=sm.families.Binomial()).fit().llf)
    result = dumouchel_duncan(d, "x", weight="w", model="binomial", outcome="case")
    assert result.statistic == pytest.approx(lr, rel=1e-6) and result.df_num == 2
    cox = dumouchel_duncan(d, "x", weight="w", model="cox", duration="time", event="event")
    frame = pd.DataFrame({"x": d["x"], "w": w, "wx": w * d["x"], "T": d["time"], "E": d["event"]})
    ll1 = CoxPHFitter().fit(frame, "T", "E").log_likelihood_
    ll0 = CoxPHFitter().fit(frame[["x", "T", "E"]], "T", "E").log_likelihood_
    assert cox.statistic == pytest.approx(2 * (ll1 - ll0), rel=1e-5)
    assert cox.p_value == pytest.approx(stats.chi2.sf(cox.statistic, 2), rel=1e-9)


def test_collinear_product_is_dropped():
    X = pd.DataFrame({"Intercept": 1.0, "x": [1.0, 2, 3, 4, 5], "z": [0.0, 0, 0, 0, 0]})
    w = np.array([1.0, 2, 1, 2, 1])
    assert list(weight_terms(X, w).columns) == ["weight", "weight:x"]  # w x z = 0 adds nothing


@pytest.mark.parametrize("model,kw", [("gaussian", {"outcome": "y"}), ("binomial", {"outcome": "case"}),
                                      ("cox", {"duration": "time", "event": "event"})])
def test_rejects_informative_weights_and_keeps_size_otherwise(model, kw):
    informative = dumouchel_duncan(simulate(3000, 11, True), "x + C(g)", weight="w", model=model, **kw)
    assert informative.p_value < 1e-4, informative
    p = np.array([dumouchel_duncan(simulate(300, seed, False), "x + C(g)", weight="w", model=model, **kw).p_value
                  for seed in range(100, 300 if model != "cox" else 180)])
    # non-informative weights: about uniform p-values (Monte-Carlo SD of the mean ~0.02-0.03)
    assert 0.4 < p.mean() < 0.6 and (p < 0.05).mean() < 0.12


def test_bad_input_is_named():
    d = simulate(50, 3, False)
    with pytest.raises(ValueError, match="model 'poisson'"):
        dumouchel_duncan(d, "x", weight="w", model="poisson", outcome="y")
    with pytest.raises(ValueError, match="column 'nope'"):
        dumouchel_duncan(d, "x", weight="nope", model="gaussian", outcome="y")
