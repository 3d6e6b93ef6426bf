"""The REML linear mixed models against lme4::lmer on the same simulated data (tests/reference/lmm/).

``lmer.R`` fitted a places-style model (counties within states, random state intercept and slope of the centred
exposure, correlated) and a GSS-style growth model (waves within persons, random intercept and slope for time,
wave dummies); ``expected.csv`` holds lme4's fixed effects, ``vcov`` SEs, variance components and REML criterion,
``effects.csv`` the state BLUPs with their conditional SDs (``ranef(condVar = TRUE)``). CI needs no R. Our fits
go through the entry points the stages use (:func:`analysis.estimators.mixed.fit_random_slope_linear`,
:func:`analysis.estimators.panel.fit_panel_multilevel`) and, for every fixed effect, through
:func:`analysis.estimators.lmm.fit_lmm` directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimators import lmm
from analysis.estimators.mixed import fit_random_slope_linear
from analysis.estimators.panel import PanelLayout, fit_panel_multilevel
from analysis.estimators.records import ModelSpec
from support.config import ROOT

HERE = ROOT / "tests" / "reference" / "lmm"
COUNTIES = ModelSpec(outcome="y", exposure="x", covariates="c", study="simulated", covariate_set="c")
PERSONS = ModelSpec(outcome="y", exposure="x", covariates="z", study="simulated", covariate_set="z")
LAYOUT = PanelLayout(entity="person_id", time="wave", invariant="female")


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return pd.read_csv(HERE / "expected.csv", keep_default_na=False, na_values=[""])


def _r(expected: pd.DataFrame, model: str, quantity: str, term: str = "") -> float:
    row = expected[(expected["model"] == model) & (expected["quantity"] == quantity)
                   & (expected["term"].fillna("") == term)]
    assert len(row) == 1, f"no lme4 reference for {model} {quantity} {term}"
    return float(row["value"].iloc[0])


@pytest.fixture(scope="module")
def counties() -> pd.DataFrame:
    return pd.read_csv(HERE / "counties.csv")


@pytest.fixture(scope="module")
def county_fit(counties):
    return fit_random_slope_linear(counties, COUNTIES, group="state")


def _county_design(counties: pd.DataFrame):
    x = counties["x"] - counties["x"].mean()
    exog = pd.DataFrame({"(Intercept)": 1.0, "x": x, "c": counties["c"]})
    return counties["y"].to_numpy(), exog, np.column_stack([np.ones(len(x)), x]), counties["state"].to_numpy()


def test_county_random_slope_record_matches_lmer(county_fit, expected):
    records, _ = county_fit
    row = records.iloc[0]
    assert row["converged"] and row["n"] == _r(expected, "counties", "n_obs") and row["n_groups"] == 45
    assert row["estimate"] == pytest.approx(_r(expected, "counties", "estimate", "x"), rel=1e-6)
    assert row["std_error"] == pytest.approx(_r(expected, "counties", "std_error", "x"), rel=1e-6)
    for column, term in [("var_group", "(Intercept)"), ("var_slope", "x"), ("cov_group_slope", "(Intercept):x"),
                         ("var_residual", "residual")]:
        assert row[column] == pytest.approx(_r(expected, "counties", "variance", term), rel=1e-5), column


def test_county_state_effects_match_lmer_ranef(county_fit):
    """BLUPs (conditional modes) and their conditional SDs, per state and component, as lme4's
    ranef(condVar = TRUE); absolute tolerance 1e-5 of each component's typical size."""
    _, effects = county_fit
    reference = pd.read_csv(HERE / "effects.csv").set_index("group")
    for component in ("intercept", "slope"):
        ours = effects[effects["component"] == component].set_index("group").loc[reference.index]
        scale = reference[component].abs().max()
        np.testing.assert_allclose(ours["deviation"], reference[component], rtol=0, atol=1e-5 * scale)
        np.testing.assert_allclose(ours["deviation_sd"], reference[f"{component}_sd"], rtol=1e-5)
        np.testing.assert_allclose(ours["value"] - ours["fixed"], ours["deviation"], rtol=1e-12)


def test_every_county_fixed_effect_matches_lmer(counties, expected):
    result = lmm.fit_lmm(*_county_design(counties))
    assert result.converged
    assert result.reml_criterion == pytest.approx(_r(expected, "counties", "reml_criterion"), abs=1e-6)
    for term in ("(Intercept)", "x", "c"):
        assert result.params[term] == pytest.approx(_r(expected, "counties", "estimate", term), rel=1e-6)
        assert result.bse[term] == pytest.approx(_r(expected, "counties", "std_error", term), rel=1e-6)


def test_a_slope_stuck_at_its_bound_is_moved_off_the_saddle(counties, expected, monkeypatch):
    """Started with the slope's Cholesky entry at its bound 0, where the criterion's gradient in it is exactly 0
    (it enters as its square), L-BFGS-B alone stays there, far above lme4's optimum (the correlation pinned at 1);
    the fitter's step off the bound (lmm.off_the_boundary) reaches lme4's REML criterion."""
    data = _county_design(counties)
    start = np.array([1.0, 0.05, 0.0])
    monkeypatch.setattr(lmm, "BOUNDARY_ESCAPES", 0)
    stuck = lmm.fit_lmm(*data, start=start)
    assert stuck.reml_criterion > _r(expected, "counties", "reml_criterion") + 1.0
    monkeypatch.undo()
    moved = lmm.fit_lmm(*data, start=start)
    assert moved.converged and "restarted 1x off a diagonal of L" in moved.message
    assert moved.reml_criterion == pytest.approx(_r(expected, "counties", "reml_criterion"), abs=1e-6)
    assert moved.params["x"] == pytest.approx(_r(expected, "counties", "estimate", "x"), rel=1e-6)


@pytest.fixture(scope="module")
def persons() -> pd.DataFrame:
    return pd.read_csv(HERE / "persons.csv")


def test_growth_model_record_matches_lmer(persons, expected):
    row = fit_panel_multilevel(persons, PERSONS, LAYOUT).set_index("term").loc["x"]
    assert row["converged"] and row["n"] == _r(expected, "persons", "n_obs")
    assert row["estimate"] == pytest.approx(_r(expected, "persons", "estimate", "x"), rel=1e-6)
    assert row["std_error"] == pytest.approx(_r(expected, "persons", "std_error", "x"), rel=1e-6)
    for column, term in [("var_group", "(Intercept)"), ("var_slope", "t"), ("cov_group_slope", "(Intercept):t"),
                         ("var_residual", "residual")]:
        assert row[column] == pytest.approx(_r(expected, "persons", "variance", term), rel=1e-5), column
    assert "lme4's vcov" in row["note"] and "did not converge" not in row["note"]


def test_every_growth_fixed_effect_matches_lmer(persons, expected):
    t = (persons["wave"] - persons["wave"].min()).to_numpy(float)
    exog = pd.DataFrame({"(Intercept)": 1.0, "x": persons["x"], "z": persons["z"], "female": persons["female"],
                         "factor(wave)2": (persons["wave"] == 2).astype(float),
                         "factor(wave)3": (persons["wave"] == 3).astype(float)})
    result = lmm.fit_lmm(persons["y"], exog, np.column_stack([np.ones(len(t)), t]), persons["person_id"])
    assert result.converged
    assert result.reml_criterion == pytest.approx(_r(expected, "persons", "reml_criterion"), abs=1e-6)
    for term in exog.columns:
        assert result.params[term] == pytest.approx(_r(expected, "persons", "estimate", term), rel=1e-6), term
        assert result.bse[term] == pytest.approx(_r(expected, "persons", "std_error", term), rel=1e-6), term
