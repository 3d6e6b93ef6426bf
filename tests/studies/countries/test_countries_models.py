"""Country models: known truth on a simulated country panel with country and year confounding, the
Driscoll-Kraay SE against linearmodels and against a numpy implementation, the records contract (ecological
note, designs, scaled terms) and errors that name what is wrong."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from linearmodels import PanelOLS

from analysis.core.config import ConfigError
from analysis.core.settings import validate
from analysis.estimators.panel import default_bandwidth
from analysis.estimators.records import RECORD_COLUMNS
from analysis.studies.countries.models import (
    BETWEEN_TERM_LABEL,
    DESCRIPTIVE_NOTE,
    ECOLOGICAL_NOTE,
    run_country_models,
    specification_keys,
    variation_summary,
)
from analysis.studies.countries.settings import CountryModels
from support.countries import SCALE, SPEC, TRUE_WITHIN, simulate_countries


def country_models(**changes) -> CountryModels:
    """SPEC with ``changes``, validated as the models_countries stage's settings are (params.yaml
    ``countries.models``: messages name the keys under that path)."""
    return validate(CountryModels, {**SPEC, **changes}, "countries.models", root="countries.models")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate_countries()


@pytest.fixture(scope="module")
def records(panel) -> pd.DataFrame:
    """SPEC validated as the models_countries stage passes it (the typed settings block)."""
    return run_country_models(panel, country_models())


def _rec(records: pd.DataFrame, estimator: str, term: str = "social_support") -> pd.Series:
    """The record of one estimator of the spec (its name, e.g. "two_way_fe_driscoll_kraay") and term."""
    return records[(specification_keys(records) == estimator) & (records["term"] == term)].iloc[0]


def test_within_estimators_recover_the_truth_and_pooled_ols_is_biased(records):
    truth = TRUE_WITHIN * SCALE
    for model in ("two_way_fe_clustered", "two_way_fe_driscoll_kraay", "within_between"):
        rec = _rec(records, model)
        assert rec["ci_low"] < truth < rec["ci_high"], model
        assert abs(rec["estimate"] - truth) < 0.5, model
    pooled = _rec(records, "pooled_ols")
    assert not pooled["ci_low"] < truth < pooled["ci_high"]
    assert pooled["estimate"] < -50  # the trait: plim -2 + 0.1 (-120)(0.08) / (0.08^2 + 0.03^2), about -134
    between = _rec(records, "within_between", "social_support:between")
    assert between["ci_high"] < truth and between["term_label"] == f"{BETWEEN_TERM_LABEL}, per 0.1 social support"


def test_fe_fits_share_the_estimate_and_drop_the_single_year_country(records, panel):
    fe = records[records["model"] == "fixed_effects"]
    assert fe["estimate"].nunique() == 1
    assert _rec(records, "within_between")["estimate"] == pytest.approx(fe["estimate"].iloc[0], abs=1e-9)
    assert (fe["n"] == len(panel) - 1).all() and _rec(records, "pooled_ols")["n"] == len(panel)
    assert all("1 single-year countries dropped" in note for note in fe["note"])


def test_driscoll_kraay_se_equals_linearmodels_and_is_positive(records, panel):
    data = panel[panel["iso3"] != "C00"].set_index(["iso3", "year"])
    result = PanelOLS(data["cvd_death_rate"], data[["social_support"]], entity_effects=True,
                      time_effects=True).fit(cov_type="kernel", kernel="bartlett", bandwidth=2, debiased=False,
                                             auto_df=False, count_effects=False)
    dk = _rec(records, "two_way_fe_driscoll_kraay")
    assert dk["std_error"] > 0
    assert dk["std_error"] == pytest.approx(result.std_errors["social_support"] * SCALE, rel=1e-10)
    assert dk["estimate"] == pytest.approx(result.params["social_support"] * SCALE, rel=1e-10)
    assert "bartlett kernel, bandwidth 2 of 15 years" in dk["note"]
    # and it is not the clustered SE
    assert dk["std_error"] != pytest.approx(_rec(records, "two_way_fe_clustered")["std_error"], rel=1e-3)


def _dummies(codes: np.ndarray) -> np.ndarray:
    levels, index = np.unique(codes, return_inverse=True)
    return np.eye(len(levels))[index]


def driscoll_kraay_by_hand(frame: pd.DataFrame, y: str, xs: list[str], bandwidth: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-way FE by least squares on country and year dummies (Frisch-Waugh), then Driscoll & Kraay (1998):
    year sums of the scores, Bartlett weights 1 - j / (bandwidth + 1), (X'X)^-1 S (X'X)^-1, no df factor."""
    dummies = np.column_stack([_dummies(frame["iso3"].to_numpy()), _dummies(frame["year"].to_numpy())[:, 1:]])

    def residual(v: np.ndarray) -> np.ndarray:
        return v - dummies @ np.linalg.lstsq(dummies, v, rcond=None)[0]

    X = np.column_stack([residual(frame[x].to_numpy()) for x in xs])
    Y = residual(frame[y].to_numpy())
    beta = np.linalg.solve(X.T @ X, X.T @ Y)
    scores = X * (Y - X @ beta)[:, None]
    xi = pd.DataFrame(scores).groupby(frame["year"].to_numpy()).sum().sort_index().to_numpy()
    S = xi.T @ xi
    for j in range(1, bandwidth + 1):
        gamma = xi[j:].T @ xi[:-j]
        S += (1 - j / (bandwidth + 1)) * (gamma + gamma.T)
    bread = np.linalg.inv(X.T @ X)
    return beta, bread @ S @ bread


def test_driscoll_kraay_se_equals_an_independent_numpy_implementation(panel):
    """With a covariate, a bandwidth of 3 given in the spec."""
    spec = country_models(covariate_sets={"gdp": "log_gdp_per_capita"}, estimators=["two_way_fe_driscoll_kraay"],
                          driscoll_kraay={"kernel": "bartlett", "bandwidth": 3})
    dk = run_country_models(panel, spec).iloc[0]
    frame = panel[panel["iso3"] != "C00"]
    beta, cov = driscoll_kraay_by_hand(frame, "cvd_death_rate", ["social_support", "log_gdp_per_capita"], 3)
    assert dk["estimate"] == pytest.approx(beta[0] * SCALE, rel=1e-8)
    assert dk["std_error"] == pytest.approx(math.sqrt(cov[0, 0]) * SCALE, rel=1e-8)


def test_clustered_fe_se_is_the_cluster_sandwich_times_g_over_g_minus_1(records, panel):
    frame = panel[panel["iso3"] != "C00"]
    dummies = np.column_stack([_dummies(frame["iso3"].to_numpy()), _dummies(frame["year"].to_numpy())[:, 1:]])
    x = frame["social_support"].to_numpy() - dummies @ np.linalg.lstsq(dummies, frame["social_support"], rcond=None)[0]
    y = frame["cvd_death_rate"].to_numpy() - dummies @ np.linalg.lstsq(dummies, frame["cvd_death_rate"],
                                                                         rcond=None)[0]
    beta = (x @ y) / (x @ x)
    sums = pd.Series(x * (y - beta * x)).groupby(frame["iso3"].to_numpy()).sum().to_numpy()
    g = len(sums)
    se = math.sqrt(g / (g - 1) * (sums @ sums)) / (x @ x)
    rec = _rec(records, "two_way_fe_clustered")
    assert rec["std_error"] == pytest.approx(se * SCALE, rel=1e-8)
    assert rec["n_groups"] == g and rec["vcov"] == "cluster"


def test_default_bandwidth_is_newey_west_rule():
    assert [default_bandwidth(t) for t in (5, 15, 19, 30, 100)] == [2, 2, 2, 3, 4]


# ---------------------------------------------------------------------------------------------
# Records


def test_records_contract(records):
    assert list(records.columns) == RECORD_COLUMNS
    assert len(records) == 6  # five estimators, plus the between term of within_between
    assert set(records["design"]) == {"unweighted"}  # countries weighted equally; fixed effects is a model
    assert list(zip(records["model"], records["vcov"])) == [
        ("pooled_ols", "cluster"), ("random_effects", "cluster"), ("mundlak", "cluster"), ("mundlak", "cluster"),
        ("fixed_effects", "cluster"), ("fixed_effects", "driscoll_kraay")]
    assert list(specification_keys(records)) == ["pooled_ols", "random_effects", "within_between", "within_between",
                                                 "two_way_fe_clustered", "two_way_fe_driscoll_kraay"]
    assert _rec(records, "two_way_fe_driscoll_kraay")["n_groups"] == 15  # years: the kernel sums over time
    assert (records["measure"] == "Mean difference").all() and records["converged"].all()
    assert all(note.startswith(ECOLOGICAL_NOTE) for note in records["note"])
    assert all("estimate per 0.1 units of social_support" in note for note in records["note"])
    assert (records["study"] == "simulated countries").all() and (records["covariate_set"] == "unadjusted").all()
    rec = _rec(records, "pooled_ols")
    assert rec["ci_low"] == pytest.approx(rec["estimate"] - 1.959963984540054 * rec["std_error"])


def test_scale_multiplies_estimate_and_se(panel, records):
    unscaled = run_country_models(panel, country_models(exposures={"social_support": {"label": "Social support"}},
                                                        estimators=["two_way_fe_clustered"])).iloc[0]
    scaled = _rec(records, "two_way_fe_clustered")
    assert scaled["estimate"] == pytest.approx(unscaled["estimate"] * SCALE)
    assert scaled["std_error"] == pytest.approx(unscaled["std_error"] * SCALE)
    assert unscaled["term_label"] == "per 1" and scaled["p_value"] == pytest.approx(unscaled["p_value"])


def test_lagged_exposure_and_common_sample(panel):
    data = panel.copy()
    data.loc[data.index[::10], "log_gdp_per_capita"] = np.nan
    changes = {"exposures": {"social_support_lag1": {"label": "Social support, previous year", "scale": 0.1,
                                                     "sensitivity": "sensitivity: lagged exposure"}},
               "covariate_sets": {"unadjusted": "", "gdp": "log_gdp_per_capita"}, "estimators": ["pooled_ols"]}
    out = run_country_models(data, country_models(**changes))
    complete = data[["social_support_lag1", "log_gdp_per_capita", "cvd_death_rate"]].notna().all(axis=1).sum()
    assert list(out["n"]) == [complete, complete]  # unadjusted on the adjusted model's sample
    assert all(note.endswith("sensitivity: lagged exposure") for note in out["note"])
    separate = run_country_models(data, country_models(**changes, common_sample=False))
    assert separate["n"].iloc[0] > complete


def test_a_failed_fit_gives_nan_records_not_an_exception(panel):
    one_year = panel[panel["year"] == 2010]
    out = run_country_models(one_year, country_models(estimators=["two_way_fe_clustered", "within_between"]))
    fe = _rec(out, "two_way_fe_clustered")
    assert not fe["converged"] and np.isnan(fe["estimate"]) and "no country has two or more years" in fe["note"]


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("change, message", [
    ({"outcomes": {"cvd_rate": {"label": "CVD"}}},
     r"column 'cvd_rate' \(named in params.yaml countries\.models\.outcomes\.cvd_rate\)"),
    ({"covariate_sets": {"gdp": "log_gdp"}},
     r"column 'log_gdp' \(named in params.yaml countries\.models\.covariate_sets\.gdp\)"),
    ({"time": "wave"}, r"column 'wave' \(named in params.yaml countries\.models\.time\)"),
])
def test_spec_errors_name_the_key(panel, change, message):
    """A column the spec names but the panel lacks: found by the model stage, before anything is fit (an unknown
    estimator or kernel, a scale of 0 or a negative bandwidth are schema errors: the next test)."""
    with pytest.raises(ValueError, match=message):
        run_country_models(panel, country_models(**change))


@pytest.mark.parametrize("change, message", [
    ({"estimators": ["fixed_effects"]}, r"estimators\[0\] = 'fixed_effects': Input should be 'pooled_ols'"),
    ({"exposures": {}}, r"exposures: Dictionary should have at least 1 item"),
    ({"exposures": {"social_support": {"label": "x", "scale": 0}}},
     r"exposures\.social_support\.scale = 0: Input should be greater than 0"),
    ({"driscoll_kraay": {"kernel": "gaussian"}}, r"driscoll_kraay\.kernel = 'gaussian': Input should be 'bartlett'"),
    ({"driscoll_kraay": {"bandwidth": -1}}, r"driscoll_kraay\.bandwidth = -1: Input should be greater than or equal"),
])
def test_schema_refuses_the_same_spec_errors_before_any_stage(change, message):
    """In params.yaml these mistakes never reach the models: the schema names the key and what is allowed."""
    with pytest.raises(ConfigError, match=message):
        validate(CountryModels, {**SPEC, **change}, "countries.models")


def test_spec_needs_its_keys_and_one_row_per_country_year(panel):
    # a missing key is a schema error (it never reaches the models)
    with pytest.raises(ConfigError, match=r"countries\.models: exposures: required key missing"):
        validate(CountryModels, {k: v for k, v in SPEC.items() if k != "exposures"}, "countries.models")
    doubled = pd.concat([panel, panel.iloc[[5]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"2 rows sharing a \(iso3, year\) pair, e.g. iso3='C01'"):
        run_country_models(doubled, country_models())


def test_variation_summary_by_hand():
    """Two countries x two years: A (1, 3), B (5, 5). Country means 2 and 5: between SD = sqrt(4.5); within
    deviations (-1, 1, 0, 0): within SD = sqrt(2/3); within SS 2 of total SS 2 + 2 x (2-3.5)^2 + 2 x (5-3.5)^2 = 11."""
    panel = pd.DataFrame({"iso3": ["A", "A", "B", "B", "C"], "year": [1, 2, 1, 2, 1],
                          "y": [1.0, 3.0, 5.0, 5.0, np.nan]})
    row = variation_summary(panel, ["y"], "iso3").iloc[0]
    assert (row["countries"], row["country_years"]) == (2, 4)
    assert row["sd_between"] == pytest.approx(math.sqrt(4.5))
    assert row["sd_within"] == pytest.approx(math.sqrt(2 / 3))
    assert row["within_share_of_variance"] == pytest.approx(2 / 11)


def test_every_record_says_the_country_panel_is_descriptive(records):
    assert records["note"].str.contains(DESCRIPTIVE_NOTE, regex=False).all()
