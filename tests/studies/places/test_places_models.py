"""County models on simulated counties with known truth: the multilevel model recovers the slope and the
state variance; state fixed-effects OLS equals a hand-computed within-state demeaned regression with the
clustered sandwich; the county panel FE equals the first-difference regression; specs fail clearly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.core.config import ConfigError
from analysis.core.settings import validate
from analysis.estimators.records import RECORD_COLUMNS, ModelSpec, formula_variables
from analysis.studies.places import models
from analysis.studies.places.models import (
    ECOLOGICAL,
    STATE_EFFECT_COLUMNS,
    fit_county_panel,
    fit_state_fixed_effects,
    fit_state_multilevel,
    run_places_models,
    without_terms,
)
from analysis.studies.places.schema import COUNTY_VARIABLES
from analysis.studies.places.settings import PlacesSettings
from support.places import (
    RESIDUAL_SD,
    SLOPE_SD,
    STAGE,
    STAGE_SETTINGS,
    STATE_SD,
    TRUE_SLOPE,
    places_settings,
    simulate_counties,
    simulate_panel,
)

SPEC = ModelSpec(outcome="outcome_pct", exposure="isolation_pct", covariates="z", covariate_set="adjusted",
                 study="sim", outcome_label="Outcome (%)", exposure_label="Isolation (per point)")


@pytest.fixture(scope="module")
def counties():
    return simulate_counties()


@pytest.fixture(scope="module")
def multilevel(counties):
    table, _ = counties
    return fit_state_multilevel(table, SPEC, weight="population")


def test_multilevel_recovers_slope_and_state_variance(counties, multilevel):
    table, _ = counties
    records, effects = multilevel
    rec = records.iloc[0]
    assert list(records.columns) == RECORD_COLUMNS
    assert (rec["design"], rec["model"], rec["measure"]) == ("multilevel", "multilevel_linear", "Mean difference")
    assert (rec["vcov"], rec["n_groups"]) == ("model_based", table["state"].nunique())
    assert rec["converged"] and rec["n"] == len(table)
    assert rec["ci_low"] < TRUE_SLOPE < rec["ci_high"]
    var_int = effects["state_intercept_var"].iloc[0]
    var_slope = effects["state_slope_var"].iloc[0]
    assert (rec["var_group"], rec["var_slope"]) == (var_int, var_slope)  # the record's columns, the fit's values
    assert 0.5 * STATE_SD**2 < var_int < 2 * STATE_SD**2  # 40 states: the REML estimate's SE is ~25%
    assert 0.4 * SLOPE_SD**2 < var_slope < 2.5 * SLOPE_SD**2
    assert effects["residual_var"].iloc[0] == pytest.approx(RESIDUAL_SD**2, rel=0.1)
    assert "ECOLOGICAL" in rec["note"] and "UNWEIGHTED" in rec["note"]


def test_state_effects_are_tidy_blups_that_track_the_truth(counties, multilevel):
    table, truth = counties
    _, effects = multilevel
    assert list(effects.columns) == STATE_EFFECT_COLUMNS
    assert len(effects) == 2 * truth.shape[0] and set(effects["component"]) == {"intercept", "slope"}
    intercepts = effects[effects["component"] == "intercept"].set_index("state")
    slopes = effects[effects["component"] == "slope"].set_index("state")
    merged = truth.set_index("state").join(intercepts["deviation"]).join(slopes["deviation"], rsuffix="_slope")
    assert np.corrcoef(merged["u"], merged["deviation"])[0, 1] > 0.95
    assert np.corrcoef(merged["v"], merged["deviation_slope"])[0, 1] > 0.8
    assert (intercepts["ci_low"] < intercepts["deviation"]).all()
    assert (intercepts["deviation"] < intercepts["ci_high"]).all()
    assert (intercepts["deviation_sd"] > 0).all()
    assert intercepts["n_counties"].sum() == len(table)
    # the intercepts are the states' levels at the average exposure: fixed part + deviation
    assert np.allclose(intercepts["state_value"], intercepts["fixed"] + intercepts["deviation"])
    assert slopes["fixed"].iloc[0] == pytest.approx(multilevel[0]["estimate"].iloc[0])


def _by_hand(table: pd.DataFrame, weighted: bool) -> tuple[float, float]:
    """Within-state demeaned (weighted) least squares of y on x and z, and the state-clustered sandwich x G/(G-1)."""
    w = table["population"].to_numpy() if weighted else np.ones(len(table))
    w = w / w.mean()
    cols = ["outcome_pct", "isolation_pct", "z"]
    data = table[cols].to_numpy(float)
    demeaned = np.empty_like(data)
    groups = table["state"].to_numpy()
    for g in np.unique(groups):
        m = groups == g
        demeaned[m] = data[m] - np.average(data[m], axis=0, weights=w[m])
    y, X = demeaned[:, 0], demeaned[:, 1:]
    bread = np.linalg.inv(X.T @ (X * w[:, None]))
    beta = bread @ X.T @ (w * y)
    resid = y - X @ beta
    meat = np.zeros((2, 2))
    for g in np.unique(groups):
        m = groups == g
        s = (X[m] * (w[m] * resid[m])[:, None]).sum(axis=0)
        meat += np.outer(s, s)
    n_groups = len(np.unique(groups))
    cov = bread @ meat @ bread * n_groups / (n_groups - 1)
    return float(beta[0]), float(np.sqrt(cov[0, 0]))


@pytest.mark.parametrize("weighted", [False, True])
def test_state_fixed_effects_equal_the_demeaned_regression(counties, weighted):
    table, _ = counties
    records = fit_state_fixed_effects(table, SPEC, weight="population", weighted=weighted)
    estimate, std_error = _by_hand(table, weighted)
    rec = records.iloc[0]
    assert rec["design"] == ("weighted" if weighted else "unweighted")
    assert rec["estimate"] == pytest.approx(estimate, rel=1e-9)
    assert rec["std_error"] == pytest.approx(std_error, rel=1e-8)
    assert "within-state" in rec["note"] and ECOLOGICAL in rec["note"]


def test_state_fixed_effects_drop_lone_counties_and_say_so(counties):
    table, _ = counties
    lone = pd.DataFrame({"state": ["DC"], "isolation_pct": [35.0], "z": [0.0], "outcome_pct": [25.0],
                         "population": [680000.0]})
    records = fit_state_fixed_effects(pd.concat([table, lone], ignore_index=True), SPEC, weight="population")
    assert records["n"].iloc[0] == len(table) and "state(s) with one row dropped: DC" in records["note"].iloc[0]
    assert (records["model"].iloc[0], records["vcov"].iloc[0]) == ("group_fixed_effects", "cluster")
    assert records["estimate"].iloc[0] == pytest.approx(_by_hand(table, False)[0], rel=1e-9)




def test_county_panel_equals_first_differences_with_hc0(tmp_path):
    panel = simulate_panel()
    spec = ModelSpec(outcome="outcome", exposure="inadequate_support_pct", covariate_set="unadjusted", study="sim")
    rec = fit_county_panel(panel, spec).iloc[0]
    wide = panel.pivot(index="fips", columns="year").dropna()
    dy = (wide[("outcome", 2011)] - wide[("outcome", 2010)]).to_numpy()
    dx = (wide[("inadequate_support_pct", 2011)] - wide[("inadequate_support_pct", 2010)]).to_numpy()
    X = np.column_stack([np.ones_like(dx), dx])
    beta, *_ = np.linalg.lstsq(X, dy, rcond=None)
    e = dy - X @ beta
    bread = np.linalg.inv(X.T @ X)
    g = len(dy)
    cov = bread @ (X.T @ (X * (e**2)[:, None])) @ bread * g / (g - 1)
    assert rec["estimate"] == pytest.approx(beta[1], rel=1e-9)
    assert rec["std_error"] == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-8)
    assert rec["ci_low"] < 0.04 < rec["ci_high"]
    assert (rec["model"], rec["design"], rec["vcov"], rec["n_groups"]) == ("fixed_effects", "unweighted", "cluster", g)
    assert rec["n"] == 2 * g and "1 single-year counties dropped" in rec["note"]


def test_without_terms_drops_the_outcome_from_the_covariates():
    assert without_terms("a + np.log(b) + C(c, Treatment('x'))", {"b"}) == ("a + C(c, Treatment('x'))", ["np.log(b)"])
    assert without_terms("", {"b"}) == ("", [])


# ---------------------------------------------------------------------------------------------
# The stage








@pytest.fixture(scope="module")
def stage():
    table, _ = simulate_counties(n_states=15, per_state=30, seed=11)
    return run_places_models(table, simulate_panel(200), STAGE_SETTINGS, progress=False, n_jobs=1)


def test_stage_fits_every_design_with_ecological_notes(stage):
    records, effects = stage
    assert list(records.columns) == RECORD_COLUMNS
    assert len(records) == 2 * 2 * 3 + 1
    assert set(models.report_designs(records)) == {"multilevel", "unweighted", "weighted", "fixed-effects"}
    assert set(records["model"]) == {"multilevel_linear", "group_fixed_effects", "fixed_effects"}
    assert records["note"].str.contains("ECOLOGICAL").all() and records["converged"].all()
    # z is the outcome of one model and a covariate of the adjusted set: left out there, and said so
    z_adjusted = records[(records["outcome"] == "z") & (records["covariate_set"] == "adjusted")]
    assert z_adjusted["note"].str.contains("covariate z left out").all()
    # z does not vary by state: the state variances sit at 0 (a boundary, not a saddle), and the SE is lme4's
    # fixed-effect block given the variances (finite, and said so)
    z_multilevel = records[(records["outcome"] == "z") & (records["design"] == "multilevel")]
    assert np.isfinite(z_multilevel["std_error"]).all() and z_multilevel["converged"].all()
    assert z_multilevel["note"].str.contains("lme4's vcov").all()
    assert set(effects["covariate_set"]) == {"unadjusted", "adjusted"} and effects["state"].nunique() == 15


def test_stage_errors_name_what_is_wrong(counties):
    table, _ = counties
    bad = {**STAGE, "county_models": {**STAGE["county_models"], "covariate_sets": {"adjusted": "z + poverty_pct"}}}
    with pytest.raises(ValueError, match=r"column 'poverty_pct' \(named in params.yaml "
                                         r"places\.county_models\.covariate_sets\.adjusted\)"):
        run_places_models(table, simulate_panel(50), places_settings(bad), progress=False)
    # an unknown design or a missing block is an error of the spec itself: the schema names the key (and the
    # designs allowed) before any stage reads a table
    bad = {**STAGE, "county_models": {**STAGE["county_models"], "designs": ["multilevel", "bayesian"]}}
    with pytest.raises(ConfigError, match=r"county_models\.designs\[1\] = 'bayesian': Input should be 'weighted', "
                                          r"'unweighted' or 'multilevel'"):
        validate(PlacesSettings, bad, "places")
    with pytest.raises(ConfigError, match=r"places: county_models: required key missing"):
        validate(PlacesSettings, {"study": "x"}, "places")
    with pytest.raises(ValueError, match="places.panel_models is set but no county panel table was given"):
        run_places_models(table, None, STAGE_SETTINGS, progress=False)


def test_primary_county_model_adjusts_for_composition_not_co_outcomes(params):
    """Issue 15 item 9: the report's set adjusts for composition and leaves out the co-outcomes; the
    population-weighted design is fitted first and is the primary one."""
    places = params.places
    county = places.county_models
    assert places.report.covariate_set is not None and places.report_set == places.report.covariate_set
    primary = county.covariate_sets[places.report.covariate_set]
    used = set(formula_variables(primary))
    assert {"age65plus_pct", "black_nh_pct", "hispanic_pct", "limited_english_pct", "uninsured_under65_pct",
            "rural_pct"} <= used
    assert not used & {"obesity_pct", "diabetes_pct"}
    assert not any({"obesity_pct", "diabetes_pct"} & set(formula_variables(rhs))
                   for rhs in county.covariate_sets.values())
    assert county.designs[0] == models.PRIMARY_DESIGN == "weighted"
    assert set(formula_variables(primary)) <= {v.name for v in COUNTY_VARIABLES}


def test_panel_records_say_they_are_descriptive():
    panel = simulate_panel()
    spec = ModelSpec(outcome="outcome", exposure="inadequate_support_pct", covariate_set="unadjusted", study="sim")
    rec = models.fit_county_panel(panel, spec)
    assert rec["note"].str.startswith(models.PANEL_DESCRIPTIVE).all()
