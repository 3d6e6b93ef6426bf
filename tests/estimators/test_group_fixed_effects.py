"""The within-transformation fit of group fixed effects against the library it replaced: statsmodels' OLS/WLS with a
dummy per group and its uncorrected group-clustered covariance (``cov_type="cluster"``, ``use_correction=False``),
every slope and the whole slope covariance to 1e-8, with a categorical covariate and unequal group sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from analysis.estimators.formula import covariate_matrix
from analysis.estimators.group_fixed_effects import fit_group_fixed_effects, within_fit
from analysis.estimators.records import ModelSpec, normalised_weights

RHS = "x + z + C(kind)"


def _groups(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 40, size=25)
    group = np.repeat([f"g{i:02d}" for i in range(len(sizes))], sizes)
    n = len(group)
    level = pd.Series(rng.normal(0, 2, len(sizes)), index=[f"g{i:02d}" for i in range(len(sizes))])[group].to_numpy()
    x = rng.normal(10 + level, 3, n)
    z = rng.normal(0, 1, n)
    kind = rng.choice(["a", "b", "c"], n)
    y = 5 + level + 0.4 * x - 0.7 * z + (kind == "b") * 1.5 + rng.normal(0, 1 + 0.1 * np.abs(x), n)
    return pd.DataFrame({"y": y, "x": x, "z": z, "kind": kind, "group": group,
                         "w": rng.uniform(500, 5e5, n)})


@pytest.mark.parametrize("weighted", [False, True])
def test_within_fit_equals_the_statsmodels_dummy_regression(weighted):
    frame = _groups()
    codes = pd.factorize(frame["group"], sort=True)[0]
    w = normalised_weights(frame["w"]) if weighted else None
    formula = f"y ~ {RHS} + C(group)"
    model = smf.wls(formula, frame, weights=w) if weighted else smf.ols(formula, frame)
    library = model.fit(cov_type="cluster", cov_kwds={"groups": codes, "use_correction": False})
    x = covariate_matrix(frame, RHS)
    beta, cov = within_fit(frame["y"].to_numpy(), x.to_numpy(), codes, w)
    expected_cov = library.cov_params().loc[x.columns, x.columns].to_numpy()
    np.testing.assert_allclose(beta, library.params[x.columns].to_numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(cov, expected_cov, rtol=1e-8, atol=1e-12 * np.abs(expected_cov).max())


@pytest.mark.parametrize("weighted", [False, True])
def test_group_fixed_effects_record_equals_the_dummy_regression(weighted):
    frame = _groups(11)
    spec = ModelSpec(outcome="y", exposure="x", covariates="z + C(kind)", covariate_set="adjusted", study="sim",
                     outcome_label="y", exposure_label="x")
    record = fit_group_fixed_effects(frame, spec, group="group", weight="w", weighted=weighted).iloc[0]
    codes = pd.factorize(frame["group"], sort=True)[0]
    formula = f"y ~ {RHS} + C(group)"
    model = (smf.wls(formula, frame, weights=normalised_weights(frame["w"])) if weighted
             else smf.ols(formula, frame))
    library = model.fit(cov_type="cluster", cov_kwds={"groups": codes, "use_correction": False})
    g = frame["group"].nunique()
    assert record["estimate"] == pytest.approx(library.params["x"], rel=1e-8)
    assert record["std_error"] == pytest.approx(library.bse["x"] * np.sqrt(g / (g - 1)), rel=1e-8)
    assert record["n"] == len(frame) and record["n_groups"] == g
