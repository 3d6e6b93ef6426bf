"""REML linear mixed model (analysis.estimators.lmm.fit_lmm) against statsmodels MixedLM and lme4, on simulated data:
fixed effects, variance components, the REML criterion, lme4-convention standard errors computed densely,
the random-intercept-only case, and the input errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.regression.mixed_linear_model import MixedLM

from analysis.estimators import lmm
from analysis.estimators.lmm import GroupStats, LMMResult, fit_lmm

FE_TOL = 1e-5   # fixed effects, absolute
VC_TOL = 1e-4   # variance components (cov_re entries and the residual variance), absolute


def simulate(groups: int = 120, seed: int = 3, slope: bool = True) -> tuple[np.ndarray, pd.DataFrame, np.ndarray,
                                                                            np.ndarray]:
    """y = 1 + 0.5 x1 - 0.3 x2 + 0.2 t + u0 + u1 t + e; 2-7 observations per group (unbalanced).

    Random intercept SD 0.8, random slope SD 0.3 (uncorrelated), residual SD 1. Returns y, X (with the
    constant), t and the group codes.
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 8, size=groups)
    group = np.repeat(np.arange(groups), sizes)
    n = len(group)
    t = np.concatenate([np.arange(k) for k in sizes]).astype(float)
    x1 = rng.normal(size=n)
    x2 = (rng.random(n) < 0.4).astype(float)
    u0 = rng.normal(0, 0.8, groups)
    u1 = rng.normal(0, 0.3, groups)
    y = 1 + 0.5 * x1 - 0.3 * x2 + 0.2 * t + u0[group] + (u1[group] * t if slope else 0) + rng.normal(0, 1.0, n)
    return y, pd.DataFrame({"const": 1.0, "x1": x1, "x2": x2, "t": t}), t, group


def statsmodels_fit(y, x, z, group):
    """statsmodels MixedLM, REML; BFGS converges tightly on these data (L-BFGS stops early or fails)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = MixedLM(y, x, groups=group, exog_re=z).fit(reml=True, method=["bfgs"], maxiter=5000)
    assert result.converged
    return result


def dense_cov(x: pd.DataFrame, z: np.ndarray, group: np.ndarray, cov_re: np.ndarray, scale: float) -> np.ndarray:
    """sigma^2 (X'V^-1 X)^-1 with V_i = I + Z_i Psi Z_i' (Psi = cov_re / sigma^2), group by group, densely."""
    xm = np.asarray(x, dtype=float)
    info = np.zeros((xm.shape[1], xm.shape[1]))
    for g in np.unique(group):
        rows = group == g
        v = scale * np.eye(rows.sum()) + z[rows] @ cov_re @ z[rows].T
        info += xm[rows].T @ np.linalg.solve(v, xm[rows])
    return np.linalg.inv(info)


@pytest.fixture(scope="module")
def slope_data():
    y, x, t, group = simulate()
    return y, x, np.column_stack([np.ones_like(t), t]), group


@pytest.fixture(scope="module")
def slope_fits(slope_data):
    y, x, z, group = slope_data
    return fit_lmm(y, x, z, group), statsmodels_fit(y, x, z, group)


@pytest.fixture(scope="module")
def intercept_data():
    y, x, t, group = simulate(seed=5, slope=False)
    return y, x, np.ones((len(y), 1)), group


@pytest.fixture(scope="module")
def intercept_fits(intercept_data):
    y, x, z, group = intercept_data
    return fit_lmm(y, x, z, group), statsmodels_fit(y, x, z, group)


# ---------------------------------------------------------------------------------------------
# Against statsmodels MixedLM


@pytest.mark.parametrize("case", ["slope", "intercept"])
def test_fixed_effects_match_statsmodels(slope_fits, intercept_fits, case):
    ours, theirs = slope_fits if case == "slope" else intercept_fits
    assert isinstance(ours, LMMResult) and ours.converged
    assert list(ours.params.index) == ["const", "x1", "x2", "t"]
    np.testing.assert_allclose(ours.params.to_numpy(), theirs.fe_params.to_numpy(), rtol=0, atol=FE_TOL)


@pytest.mark.parametrize("case", ["slope", "intercept"])
def test_variance_components_match_statsmodels(slope_fits, intercept_fits, case):
    ours, theirs = slope_fits if case == "slope" else intercept_fits
    q = 2 if case == "slope" else 1
    assert ours.cov_re.shape == (q, q)
    np.testing.assert_allclose(ours.cov_re, np.asarray(theirs.cov_re), rtol=0, atol=VC_TOL)
    assert abs(ours.scale - theirs.scale) < VC_TOL
    np.testing.assert_allclose(ours.cov_re, ours.cov_re.T)
    assert np.all(np.linalg.eigvalsh(ours.cov_re) >= -1e-12)


@pytest.mark.parametrize("case", ["slope", "intercept"])
def test_reml_criterion_is_minus_twice_the_reml_loglik(slope_fits, intercept_fits, case):
    ours, theirs = slope_fits if case == "slope" else intercept_fits
    assert abs(ours.reml_criterion - (-2 * theirs.llf)) < 1e-5
    assert ours.reml_criterion <= -2 * theirs.llf + 1e-6  # ours is at least as good an optimum


@pytest.mark.parametrize("case", ["slope", "intercept"])
def test_standard_errors_are_sigma2_inverse_xvx(slope_data, intercept_data, slope_fits, intercept_fits, case):
    """lme4's convention, sigma^2 (X'V^-1 X)^-1, at the fitted cov_re and scale, computed group by group."""
    y, x, z, group = slope_data if case == "slope" else intercept_data
    ours, _ = slope_fits if case == "slope" else intercept_fits
    cov = dense_cov(x, z, group, ours.cov_re, ours.scale)
    np.testing.assert_allclose(ours.cov_params.to_numpy(), cov, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(ours.bse.to_numpy(), np.sqrt(np.diag(cov)), rtol=1e-8)
    assert list(ours.cov_params.index) == list(ours.cov_params.columns) == list(x.columns)


def test_counts_and_message(slope_data, slope_fits):
    y, _, _, group = slope_data
    ours, _ = slope_fits
    assert ours.n_obs == len(y) and ours.n_groups == len(np.unique(group)) == 120
    assert "L-BFGS-B (analytic gradient)" in ours.message
    assert "Nelder-Mead" not in ours.message  # the gradient converged: no polish


@pytest.mark.parametrize("q", [1, 2, 3])
def test_gradient_matches_finite_differences(slope_data, q):
    """The analytic gradient of the profiled REML criterion against central differences, at a random point
    (off-diagonal entries of L negative and positive) for q = 1, 2, 3 random effects."""
    y, x, z, group = slope_data
    zq = np.column_stack([z, x["x1"].to_numpy()])[:, :q]
    stats = GroupStats(y, x.to_numpy(), zq, group)
    for seed in range(3):
        theta = np.random.default_rng(seed).normal(0.4, 0.4, q * (q + 1) // 2)
        theta[[i * (i + 3) // 2 for i in range(q)]] = np.abs(theta[[i * (i + 3) // 2 for i in range(q)]])
        value, gradient = stats.criterion_and_gradient(theta)
        assert value == pytest.approx(stats.criterion(theta), abs=1e-9)
        h = 1e-5
        numeric = [(stats.criterion(theta + h * e) - stats.criterion(theta - h * e)) / (2 * h)
                   for e in np.eye(len(theta))]
        np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-5)


def _theta(result: LMMResult) -> np.ndarray:
    """lme4's theta (the lower triangle of L, Psi = L L') of a fit."""
    low = np.linalg.cholesky(result.cov_re / result.scale)
    return low[np.tril_indices(low.shape[0])]


def test_gradient_is_zero_at_the_optimum(slope_data, slope_fits):
    y, x, z, group = slope_data
    ours, _ = slope_fits
    stats = GroupStats(y, x.to_numpy(), z, group)
    value, gradient = stats.criterion_and_gradient(_theta(ours))
    assert value == pytest.approx(ours.reml_criterion, abs=1e-8)
    assert np.max(np.abs(gradient)) < 1e-3


def test_polish_runs_when_the_gradient_has_not_converged(slope_data, slope_fits, monkeypatch):
    """A gradient tolerance no fit can meet sends the fit to the Nelder-Mead polish, which keeps the optimum."""
    y, x, z, group = slope_data
    ours, _ = slope_fits
    monkeypatch.setattr(lmm, "GRADIENT_TOL", -1.0)
    polished = fit_lmm(y, x, z, group)
    assert "Nelder-Mead polish" in polished.message and polished.converged
    np.testing.assert_allclose(polished.params.to_numpy(), ours.params.to_numpy(), rtol=0, atol=1e-6)
    assert polished.reml_criterion <= ours.reml_criterion + 1e-9


def test_newton_refinement_finishes_a_fit_that_stopped_short(slope_data, slope_fits, monkeypatch):
    """L-BFGS-B cut off after two iterations (as when its line search fails on the SYNTHETIC cohort's cognition
    model): Newton steps reach the same optimum, with no Nelder-Mead polish."""
    y, x, z, group = slope_data
    ours, _ = slope_fits
    monkeypatch.setattr(lmm, "LBFGSB_OPTIONS", {**lmm.LBFGSB_OPTIONS, "maxiter": 2})
    short = fit_lmm(y, x, z, group)
    assert "Newton refinement" in short.message and ": converged" in short.message, short.message
    assert "Nelder-Mead" not in short.message and short.converged
    np.testing.assert_allclose(short.params.to_numpy(), ours.params.to_numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(_theta(short), _theta(ours), rtol=0, atol=1e-5)
    assert short.reml_criterion == pytest.approx(ours.reml_criterion, abs=1e-8)


def test_newton_refinement_from_a_perturbed_point(slope_data, slope_fits):
    """From 0.05 off the optimum in every direction, a handful of Newton steps bring the projected gradient
    under the tolerance at the fit's optimum; at the optimum itself no step is taken."""
    y, x, z, group = slope_data
    ours, _ = slope_fits
    stats = GroupStats(y, x.to_numpy(), z, group)
    bounds = [(0.0, None), (None, None), (0.0, None)]
    theta, value, steps, converged = lmm.newton_refine(stats.criterion_and_gradient, _theta(ours) + 0.05, bounds)
    assert converged and 1 <= steps <= 8
    np.testing.assert_allclose(theta, _theta(ours), rtol=0, atol=1e-5)
    assert np.max(np.abs(stats.criterion_and_gradient(theta)[1])) <= lmm.GRADIENT_TOL
    assert lmm.newton_refine(stats.criterion_and_gradient, theta, bounds)[2] == 0


def test_newton_refinement_keeps_an_active_bound():
    """A hand-made case: f = 3 (a - 1)^2 + (a - 1)(b + 2) + 2 (b + 2)^2 with b >= 0. The unconstrained minimum
    (1, -2) is outside the bound, so b stays at 0 (its gradient there, 8, pushes against the bound) and a
    solves df/da = 6 (a - 1) + 2 = 0: a = 2/3."""
    def fun_and_gradient(theta):
        a, b = theta
        value = 3 * (a - 1) ** 2 + (a - 1) * (b + 2) + 2 * (b + 2) ** 2
        return value, np.array([6 * (a - 1) + (b + 2), (a - 1) + 4 * (b + 2)])

    theta, _, steps, converged = lmm.newton_refine(fun_and_gradient, np.array([0.2, 0.0]), [(None, None), (0.0, None)],
                                                   tol=1e-10)
    assert converged and steps == 1
    np.testing.assert_allclose(theta, [2 / 3, 0.0], rtol=0, atol=1e-10)  # the Hessian by differences


def test_three_random_effects_match_statsmodels():
    """q = 3 (intercept, slope on t, slope on x1): the Cholesky parameters' lower-triangle indexing."""
    y, x, t, group = simulate(groups=150, seed=11)
    y = y + np.random.default_rng(111).normal(0, 0.4, 150)[group] * x["x1"].to_numpy()  # random x1 slope, SD 0.4
    z = np.column_stack([np.ones_like(t), t, x["x1"].to_numpy()])
    ours = fit_lmm(y, x, z, group)
    theirs = statsmodels_fit(y, x, z, group)
    np.testing.assert_allclose(ours.params.to_numpy(), theirs.fe_params.to_numpy(), rtol=0, atol=FE_TOL)
    np.testing.assert_allclose(ours.cov_re, np.asarray(theirs.cov_re), rtol=0, atol=VC_TOL)
    assert abs(ours.reml_criterion - (-2 * theirs.llf)) < 1e-5


def test_row_order_and_group_labels_do_not_matter(slope_data, slope_fits):
    y, x, z, group = slope_data
    ours, _ = slope_fits
    order = np.random.default_rng(0).permutation(len(y))
    labels = np.array([f"person-{g:04d}" for g in group])
    again = fit_lmm(y[order], x.iloc[order].reset_index(drop=True), z[order], labels[order])
    np.testing.assert_allclose(again.params.to_numpy(), ours.params.to_numpy(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(again.cov_re, ours.cov_re, rtol=0, atol=1e-6)
    assert abs(again.reml_criterion - ours.reml_criterion) < 1e-8


def test_array_x_gets_positional_names(slope_data):
    y, x, z, group = slope_data
    result = fit_lmm(y, x.to_numpy(), z, group)
    assert list(result.params.index) == ["x0", "x1", "x2", "x3"]


# ---------------------------------------------------------------------------------------------
# Against lme4 (numbers written by R; the data are simulate() with its defaults)
#
#   d <- read.csv("lmm_data.csv")   # y, x1, x2, t, g of simulate(), written with float_format="%.17g"
#   f <- lmer(y ~ x1 + x2 + t + (1 + t | g), data = d, REML = TRUE, control = lmerControl(
#        optimizer = "nloptwrap", optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14, maxeval = 100000)))
#   fixef(f); sqrt(diag(as.matrix(vcov(f)))); VarCorr(f)$g; sigma(f)^2; REMLcrit(f)
#
# R 4.2.2, lme4 1.1.31 (the default optimizer settings give the same fixed effects and criterion).

LME4 = {
    "fixef": [1.05091265770500120, 0.50260884789849625, -0.31056144795428325, 0.26134287918968302],
    "se": [0.105662548767051723, 0.048976938355155708, 0.097682846095228301, 0.044833992922462082],
    "cov_re": [[0.572336003678233785, -0.016737933401100927], [-0.016737933401100927, 0.099199050582971793]],
    "sigma2": 0.9068953166081255,
    "reml_crit": 1718.577344293195,
}
LME4_DATA = {"n": 533, "sum_y": 808.4202982319869}


def test_random_slope_model_matches_lme4(slope_data, slope_fits):
    y, _, _, _ = slope_data
    if len(y) != LME4_DATA["n"] or abs(y.sum() - LME4_DATA["sum_y"]) > 1e-9:
        pytest.fail("simulate() no longer draws the data lme4 was run on (numpy's generator changed?): "
                    "rerun the R script above on the new data and update LME4")
    ours, _ = slope_fits
    np.testing.assert_allclose(ours.params.to_numpy(), LME4["fixef"], rtol=0, atol=FE_TOL)
    np.testing.assert_allclose(ours.bse.to_numpy(), LME4["se"], rtol=1e-5)
    np.testing.assert_allclose(ours.cov_re, LME4["cov_re"], rtol=0, atol=VC_TOL)
    assert abs(ours.scale - LME4["sigma2"]) < VC_TOL
    assert abs(ours.reml_criterion - LME4["reml_crit"]) < 1e-5


# ---------------------------------------------------------------------------------------------
# Input errors


@pytest.mark.parametrize("where", ["y", "x", "z"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_missing_or_infinite_values_are_an_error(slope_data, where, bad):
    y, x, z, group = slope_data
    y, x, z = y.copy(), x.copy(), z.copy()
    if where == "y":
        y[5] = bad
    elif where == "x":
        x.iloc[5, 1] = bad
    else:
        z[5, 1] = bad
    with pytest.raises(ValueError, match="missing or infinite"):
        fit_lmm(y, x, z, group)


@pytest.mark.parametrize("shorter", ["y", "x", "z", "groups"])
def test_mismatched_lengths_are_an_error(slope_data, shorter):
    y, x, z, group = slope_data
    args = {"y": y, "x": x, "z": z, "groups": group}
    args[shorter] = args[shorter][:-1]
    with pytest.raises(ValueError, match="differ in length"):
        fit_lmm(args["y"], args["x"], args["z"], args["groups"])


def test_one_group_is_an_error(slope_data):
    y, x, z, _ = slope_data
    with pytest.raises(ValueError, match="fewer than two groups"):
        fit_lmm(y, x, z, np.zeros(len(y)))
