"""The random-intercept fitter from per-group cross-products, and the cluster-bootstrap indirect effect.

Checked against the general REML fitter (analysis.estimators.lmm.fit_lmm) and statsmodels MixedLM on the same
data, against simulated data of stated parameters, and on a hand-computed case (no group variance -> OLS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from analysis.estimators.lmm import fit_lmm
from analysis.estimators.mediation import bootstrap_mediation
from analysis.estimators.random_intercept import GroupCrossProducts, fit_random_intercept


def simulate_mediation(n_groups=60, per_group=40, a=0.5, b=0.8, direct=0.3, seed=1) -> pd.DataFrame:
    """x -> m -> y with random group intercepts in m and y; true indirect a*b, direct ``direct``."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    n = len(g)
    c = rng.normal(size=n)
    x = 0.4 * c + rng.normal(size=n) + rng.normal(size=n_groups)[g] * 0.5
    m = a * x + 0.3 * c + rng.normal(scale=0.7, size=n_groups)[g] + rng.normal(size=n)
    y = direct * x + b * m - 0.2 * c + rng.normal(scale=0.9, size=n_groups)[g] + rng.normal(size=n)
    return pd.DataFrame({"x": x, "m": m, "y": y, "c": c, "group": g.astype(str)})


def test_same_reml_fit_as_fit_lmm_and_statsmodels():
    data = simulate_mediation(n_groups=30, per_group=25, seed=3)
    fit = fit_random_intercept(GroupCrossProducts(data, ["y", "x", "c"], "group"), "y", ["x", "c"])
    design = pd.DataFrame({"const": 1.0, "x": data["x"], "c": data["c"]})
    general = fit_lmm(data["y"], design, np.ones((len(data), 1)), data["group"].to_numpy())
    assert fit.params == pytest.approx(general.params.to_numpy(), abs=1e-5)
    assert fit.reml_criterion == pytest.approx(general.reml_criterion, abs=1e-6)
    assert fit.var_group == pytest.approx(float(general.cov_re[0, 0]), rel=1e-4)
    assert np.sqrt(np.diag(fit.cov)) == pytest.approx(general.bse.to_numpy(), rel=1e-4)
    sm = smf.mixedlm("y ~ x + c", data, groups=data["group"]).fit(reml=True)
    assert fit.params == pytest.approx(sm.fe_params.to_numpy(), abs=1e-4)
    assert fit.var_residual == pytest.approx(sm.scale, rel=1e-4)


def test_no_group_variance_gives_ols_by_hand():
    # three groups, x = 0, 0, 2, 2, y = 1 + 0.5 x + (0.3, -0.3, -0.2, 0.2): every group's residuals sum to 0, so
    # the REML optimum is on the boundary (no group variance) and the fit is OLS: b = (1, 0.5) exactly,
    # sigma^2 = RSS / (n - p) = 3 x (0.09 + 0.09 + 0.04 + 0.04) / (12 - 2) = 0.078.
    x = np.tile([0.0, 0.0, 2.0, 2.0], 3)
    data = pd.DataFrame({"x": x, "y": 1 + 0.5 * x + np.tile([0.3, -0.3, -0.2, 0.2], 3),
                         "group": np.repeat(["a", "b", "c"], 4)})
    fit = fit_random_intercept(GroupCrossProducts(data, ["y", "x"], "group"), "y", ["x"])
    assert fit.var_group == 0.0
    assert fit.params == pytest.approx([1.0, 0.5], abs=1e-12)
    assert fit.var_residual == pytest.approx(0.078, abs=1e-12)
    # OLS covariance sigma^2 (X'X)^-1: X'X = [[12, 12], [12, 24]] -> var(slope) = 0.078 x 12 / 144
    assert fit.coefficient("x")[1] == pytest.approx(np.sqrt(0.078 * 12 / 144), abs=1e-12)


def test_recovers_known_paths_and_bootstrap_covers_the_indirect_effect():
    a, b, direct = 0.5, 0.8, 0.3
    data = simulate_mediation(n_groups=60, per_group=40, a=a, b=b, direct=direct, seed=7)
    result = bootstrap_mediation(data, exposure="x", mediator="m", outcome="y", covariates=["c"], group="group",
                                 n_boot=60, seed=11)
    assert result.a == pytest.approx(a, abs=4 * result.a_se)
    assert result.b == pytest.approx(b, abs=4 * result.b_se)
    assert result.direct == pytest.approx(direct, abs=4 * result.direct_se)
    assert result.indirect == pytest.approx(result.a * result.b)
    assert result.ci_low < a * b < result.ci_high
    assert result.total == pytest.approx(result.direct + result.indirect, abs=0.03)  # linear decomposition
    assert 0 < result.boot_se < 0.1 and result.n_failed == 0 and result.n_groups == 60
    again = bootstrap_mediation(data, exposure="x", mediator="m", outcome="y", covariates=["c"], group="group",
                                n_boot=60, seed=11)
    assert np.array_equal(result.boot_indirect, again.boot_indirect)  # the seed fixes the draws


def test_no_indirect_effect_interval_covers_zero():
    data = simulate_mediation(n_groups=50, per_group=30, a=0.0, b=0.8, seed=5)
    result = bootstrap_mediation(data, exposure="x", mediator="m", outcome="y", covariates=["c"], group="group",
                                 n_boot=60, seed=2)
    assert result.ci_low < 0 < result.ci_high


def test_bad_input_is_refused():
    data = simulate_mediation(n_groups=5, per_group=5)
    with pytest.raises(ValueError, match="both a path variable and a covariate"):
        bootstrap_mediation(data, exposure="x", mediator="m", outcome="y", covariates=["m"], group="group",
                            n_boot=10, seed=1)
    with pytest.raises(ValueError, match="not in the data"):
        GroupCrossProducts(data, ["y", "nope"], "group")
    with pytest.raises(ValueError, match="complete cases"):
        GroupCrossProducts(data.assign(y=np.nan), ["y", "x"], "group")


def test_matches_lmer():
    """lme4::lmer(y ~ x + c + (1 | state), REML) on tests/reference/random_intercept/data.csv (lmer.R)."""
    here = Path(__file__).resolve().parents[1] / "reference" / "random_intercept"
    data = pd.read_csv(here / "data.csv")
    expected = pd.read_csv(here / "expected.csv", keep_default_na=False)
    ref = {(q, t): v for q, t, v in expected.itertuples(index=False)}
    fit = fit_random_intercept(GroupCrossProducts(data, ["y", "x", "c"], "state"), "y", ["x", "c"])
    for name, r_name in (("const", "(Intercept)"), ("x", "x"), ("c", "c")):
        estimate, se = fit.coefficient(name)
        assert estimate == pytest.approx(ref[("estimate", r_name)], abs=1e-6)
        assert se == pytest.approx(ref[("std_error", r_name)], rel=1e-5)  # sigma^2 (X'V^-1X)^-1, lme4's convention
    assert fit.var_group == pytest.approx(ref[("variance", "state")], rel=1e-5)
    assert fit.var_residual == pytest.approx(ref[("variance", "Residual")], rel=1e-6)
    assert fit.reml_criterion == pytest.approx(ref[("reml_criterion", "")], abs=1e-5)
