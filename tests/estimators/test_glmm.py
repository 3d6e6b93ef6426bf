"""Laplace-ML random-intercept logistic model: against lme4 glmer, known truth, hand-computed cases."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize

from analysis.estimators.formula import design_matrix
from analysis.estimators.glmm import LaplaceDeviance, fit_laplace_glmm

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "glmer"
_spec = importlib.util.spec_from_file_location("glmer_make_data", REFERENCE / "make_data.py")
make_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_data)

RHS = "1 + C(exposure, Treatment(reference='Low')) + age"
R_TERMS = ["(Intercept)", "exposureModerate", "exposureHigh", "age"]  # glmer's names, same order as RHS
# glmer orders the random-effect terms by number of levels: stratum:psu first
R_THETA = {"psu": "stratum:psu.(Intercept)", "stratum": "stratum.(Intercept)"}


def prepared(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(exposure=pd.Categorical(frame["exposure"], categories=make_data.LEVELS))


def fit(frame: pd.DataFrame):
    frame = prepared(frame)
    cluster = frame["stratum"].astype(str) + ":" + frame["psu"].astype(str)
    return fit_laplace_glmm(frame["y"], design_matrix(frame, RHS), [cluster, frame["stratum"]],
                            names=["psu", "stratum"])


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    table = pd.read_csv(REFERENCE / "expected.csv")
    return table.loc[table["fit"] == "tight"]


@pytest.fixture(scope="module", params=["data", "boundary"])
def case(request):
    return request.param, fit(pd.read_csv(REFERENCE / f"{request.param}.csv"))


def values(expected: pd.DataFrame, case: str, quantity: str) -> pd.Series:
    rows = expected.loc[(expected["case"] == case) & (expected["quantity"] == quantity)]
    return pd.Series(rows["value"].to_numpy(), index=rows["name"].to_numpy())


# --- against R ------------------------------------------------------------------------------------------

def test_fixed_effects_and_ses_equal_glmer(case, expected):
    """glmer (bobyqa, rhoend 1e-10, tolPwrss 1e-12) fixed effects and vcov SEs to 1e-4 relative."""
    name, result = case
    assert result.converged and result.vcov_method == "hessian"
    np.testing.assert_allclose(result.params.to_numpy(), values(expected, name, "fixef")[R_TERMS], rtol=1e-4)
    np.testing.assert_allclose(result.bse.to_numpy(), values(expected, name, "se")[R_TERMS], rtol=1e-4)


def test_log_likelihood_and_sds_equal_glmer(case, expected):
    name, result = case
    assert result.log_likelihood == pytest.approx(values(expected, name, "loglik")["logLik"], rel=1e-8)
    assert result.minus2_loglik == pytest.approx(-2 * result.log_likelihood)
    theta = values(expected, name, "theta")
    if name == "data":
        for ours, theirs in R_THETA.items():
            assert result.theta[ours] == pytest.approx(theta[theirs], rel=1e-4)
    else:  # PSU-within-stratum SD at its bound: glmer 2.6e-8 (its bobyqa stops just inside), here exactly 0
        assert result.theta["psu"] == 0.0 and theta[R_THETA["psu"]] < 1e-6
        assert result.theta["stratum"] == pytest.approx(theta[R_THETA["stratum"]], rel=1e-4)


def test_glmer_default_control_is_looser_than_the_reference(expected):
    """Why the reference fit uses tight control: glmer's default stopping leaves SEs about 0.2% off, which
    is more than our tolerance; the tight fit is the optimum both implementations reach."""
    table = pd.read_csv(REFERENCE / "expected.csv")
    se = table.loc[table["quantity"] == "se"].pivot_table(index=["case", "name"], columns="fit", values="value")
    gap = (se["default"] / se["tight"] - 1).abs().max()
    assert 1e-4 < gap < 1e-2


# --- known truth ----------------------------------------------------------------------------------------

def test_recovers_the_simulated_parameters():
    """make_data.simulate with 12,000 rows in 120 strata: fixed effects within 3.5 SE of the truth
    (intercept -1 - 0.03 x 50 at age 0), SDs 0.5 and 0.3 within about 3 of their sampling SDs."""
    frame = make_data.simulate(n=12_000, n_strata=120, sd_stratum=0.5, sd_psu=0.3, seed=11)
    result = fit(frame)
    truth = make_data.TRUE_BETA
    truth = np.array([truth["Intercept"] - 50 * truth["age"], truth["Moderate"], truth["High"], truth["age"]])
    z = (result.params.to_numpy() - truth) / result.bse.to_numpy()
    assert np.all(np.abs(z) < 3.5), z
    assert result.theta["stratum"] == pytest.approx(0.5, abs=0.15)
    assert result.theta["psu"] == pytest.approx(0.3, abs=0.15)
    assert result.n_groups["stratum"] == 120 and result.converged


# --- hand-checkable cases -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    frame = prepared(make_data.simulate(n=400, n_strata=8, sd_stratum=0.6, sd_psu=0.4, seed=3))
    X = design_matrix(frame, RHS).to_numpy()
    codes = [pd.factorize(frame["stratum"] * 10 + frame["psu"], sort=True)[0],
             pd.factorize(frame["stratum"], sort=True)[0]]
    return frame["y"].to_numpy(float), X, codes


def test_theta_zero_is_the_ordinary_logistic_glm(small):
    """With both SDs 0 the Laplace deviance is the GLM's -2 log-likelihood, its beta-gradient vanishes at
    the GLM estimate, and the conditional modes are 0 (u is then penalised only)."""
    y, X, codes = small
    glm = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12)
    model = LaplaceDeviance(y, X, codes)
    value, grad = model.deviance(np.zeros(2), glm.params, gradient=True)
    assert value == pytest.approx(-2 * glm.llf, rel=1e-12)
    np.testing.assert_allclose(grad[2:], 0, atol=1e-6)
    np.testing.assert_allclose(grad[:2], 0, atol=1e-9)  # the deviance is even in each SD
    np.testing.assert_allclose(model.u, 0, atol=1e-12)


def test_laplace_deviance_by_brute_force(small):
    """At theta = (0.4, 0.7) and a fixed beta: u* by a general-purpose minimiser of the penalised deviance
    and log det(Lambda Z'WZ Lambda + I) from a dense Z; the sum equals LaplaceDeviance to 1e-8."""
    y, X, codes = small
    theta, beta = np.array([0.4, 0.7]), np.array([-2.0, 0.4, 0.9, 0.02])
    Z = np.hstack([np.eye(c.max() + 1)[c] for c in codes])
    lam = np.concatenate([np.full(c.max() + 1, t) for c, t in zip(codes, theta)])

    def penalised(u):
        eta = X @ beta + Z @ (lam * u)
        return 2 * np.sum(np.logaddexp(0, eta) - y * eta) + u @ u

    u = optimize.minimize(penalised, np.zeros(Z.shape[1]), method="BFGS", options={"gtol": 1e-10}).x
    mu = 1 / (1 + np.exp(-(X @ beta + Z @ (lam * u))))
    A = Z * lam
    M = A.T @ (A * (mu * (1 - mu))[:, None]) + np.eye(Z.shape[1])
    brute = penalised(u) + np.linalg.slogdet(M)[1]
    assert LaplaceDeviance(y, X, codes).deviance(theta, beta) == pytest.approx(brute, rel=1e-8)


def test_gradient_matches_finite_differences(small):
    y, X, codes = small
    model = LaplaceDeviance(y, X, codes)
    x0 = np.array([0.4, 0.7, -2.0, 0.4, 0.9, 0.02])
    _, grad = model.deviance(x0[:2], x0[2:], gradient=True)
    numeric = []
    for j in range(len(x0)):
        e = np.zeros_like(x0)
        e[j] = 1e-6
        numeric.append((model.deviance((x0 + e)[:2], (x0 + e)[2:]) - model.deviance((x0 - e)[:2], (x0 - e)[2:]))
                       / 2e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-4)


def test_deterministic_and_names(small):
    y, X, codes = small
    X = pd.DataFrame(X, columns=["Intercept", "b", "c", "age"])
    first = fit_laplace_glmm(y, X, codes, names=["psu", "stratum"])
    second = fit_laplace_glmm(y, X, codes, names=["psu", "stratum"])
    pd.testing.assert_series_equal(first.params, second.params, check_exact=True)
    assert list(first.params.index) == list(X.columns) and list(first.theta.index) == ["psu", "stratum"]
    assert first.hessian.shape == (6, 6) and math.isfinite(first.log_likelihood)


def test_bad_input_is_named(small):
    y, X, codes = small
    with pytest.raises(ValueError, match="must be 0/1; found value 2"):
        fit_laplace_glmm(np.where(y == 1, 2.0, 0.0), X, codes)
    with pytest.raises(ValueError, match="grouping factor 'stratum' has missing values"):
        fit_laplace_glmm(y, X, [codes[0], np.where(codes[1] == 0, np.nan, codes[1])], names=["psu", "stratum"])
    with pytest.raises(ValueError, match="same rows"):
        fit_laplace_glmm(y[:-1], X, codes)
