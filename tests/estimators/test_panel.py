"""Panel estimators: algebraic identities on a typed panel, known truth in simulations, the records contract."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.core.config import ConfigError
from analysis.core.settings import validate
from analysis.estimators.panel import (
    ATTENUATION_COLUMNS,
    BETWEEN_TERM_LABEL,
    DESIGN,
    ESTIMATORS,
    HAUSMAN_TEST,
    MUNDLAK_EXPOSURE_TEST,
    MUNDLAK_TEST,
    PANEL_TEST_COLUMNS,
    RECORD_MODELS,
    PanelLayout,
    PanelSpec,
    attenuation_table,
    fit_conditional_logit,
    fit_first_difference,
    fit_fixed_effects,
    fit_mundlak,
    fit_mundlak_model,
    fit_panel_multilevel,
    fit_pooled_ols,
    fit_random_effects,
    panel_tests,
    prepare_panel,
    run_panel_models,
    with_lag,
    within_person_variance,
)
from analysis.estimators.records import RECORD_COLUMNS, ModelSpec, records_frame
from support.config import edited
from support.panel import STAGE_RAW, TRUE_LOG_OR, TRUE_WITHIN, simulate_binary, simulate_confounded

# ---------------------------------------------------------------------------------------------
# A small panel typed by hand: 6 persons x 3 waves, exposure x, time-varying covariate z, invariant female.

HAND_ROWS = [  # person, wave, x, z, y
    ("A", 1, 1.0, 0.0, 2.1), ("A", 2, 2.0, 1.0, 3.0), ("A", 3, 4.0, 1.0, 4.2),
    ("B", 1, 0.5, 1.0, 1.0), ("B", 2, 0.0, 0.0, 0.4), ("B", 3, 1.5, 1.0, 1.9),
    ("C", 1, 3.0, 0.0, 5.5), ("C", 2, 3.5, 1.0, 5.1), ("C", 3, 2.0, 0.0, 4.4),
    ("D", 1, 2.5, 1.0, 2.2), ("D", 2, 1.0, 1.0, 1.8), ("D", 3, 1.0, 0.0, 0.9),
    ("E", 1, 0.0, 0.0, 0.3), ("E", 2, 1.0, 0.0, 1.2), ("E", 3, 3.0, 1.0, 2.8),
    ("F", 1, 5.0, 1.0, 6.0), ("F", 2, 4.0, 0.0, 5.2), ("F", 3, 4.5, 1.0, 6.3),
]
FEMALE = {"A": 1, "B": 0, "C": 1, "D": 0, "E": 1, "F": 0, "G": 1}

HAND_SPEC = ModelSpec(outcome="y", exposure="x", covariates="z", study="hand", outcome_label="Y", exposure_label="X")
LAYOUT = PanelLayout(entity="person_id", time="wave", invariant="female")


def hand_panel() -> pd.DataFrame:
    frame = pd.DataFrame(HAND_ROWS, columns=["person_id", "wave", "x", "z", "y"])
    return frame.assign(female=frame["person_id"].map(FEMALE))


def unbalanced_hand_panel() -> pd.DataFrame:
    """The typed panel minus B's wave 3 and E's wave 1, plus G seen once (wave 2)."""
    frame = hand_panel()
    frame = frame[~(((frame.person_id == "B") & (frame.wave == 3)) | ((frame.person_id == "E") & (frame.wave == 1)))]
    single = pd.DataFrame([("G", 2, 2.0, 1.0, 3.3, 1)], columns=frame.columns)
    return pd.concat([frame, single], ignore_index=True)


def _estimate(records: pd.DataFrame, term: str = "x") -> pd.Series:
    return records.set_index("term").loc[term]


def test_fixed_effects_is_ols_on_two_way_demeaned_data_with_the_stated_cluster_se():
    """Balanced panel: FE = least squares on y, x, z demeaned by person and by wave (numpy lstsq); SE = the
    uncorrected cluster sandwich on those data times G/(G-1)."""
    frame = hand_panel()
    fe = _estimate(fit_fixed_effects(frame, HAND_SPEC, LAYOUT))

    def two_way(column: str) -> np.ndarray:
        v = frame[column]
        return (v - frame.groupby("person_id")[column].transform("mean")
                - frame.groupby("wave")[column].transform("mean") + v.mean()).to_numpy()

    X = np.column_stack([two_way("x"), two_way("z")])
    y = two_way("y")
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    assert fe["estimate"] == pytest.approx(beta[0], abs=1e-8)

    bread = np.linalg.inv(X.T @ X)
    scores = pd.DataFrame(X * (y - X @ beta)[:, None]).groupby(frame["person_id"].to_numpy()).sum().to_numpy()
    g = len(scores)
    cov = g / (g - 1) * bread @ scores.T @ scores @ bread
    assert fe["std_error"] == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-8)
    assert fe["n"] == 18 and "6 clusters" in fe["note"]


@pytest.mark.parametrize("make", [hand_panel, unbalanced_hand_panel], ids=["balanced", "unbalanced"])
def test_mundlak_within_coefficient_equals_fixed_effects(make):
    """Also unbalanced, where it holds only with the person means of the wave dummies in the model."""
    frame = make()
    fe = _estimate(fit_fixed_effects(frame, HAND_SPEC, LAYOUT))
    mundlak = fit_mundlak(frame, HAND_SPEC, LAYOUT)
    assert list(mundlak["term"]) == ["x", "x:between"]
    assert list(mundlak["term_label"]) == ["per point", BETWEEN_TERM_LABEL]
    assert _estimate(mundlak)["estimate"] == pytest.approx(fe["estimate"], abs=1e-8)
    assert mundlak["n"].iloc[0] == len(frame)  # single-wave G stays in the Mundlak model...
    assert fe["n"] == len(frame) - (1 if make is unbalanced_hand_panel else 0)  # ...and is dropped by FE
    if make is unbalanced_hand_panel:
        assert "1 single-wave persons dropped" in fe["note"]


def test_with_two_waves_first_differences_equal_fixed_effects():
    """T = 2: the FE and FD estimates are identical, and so are their person-clustered SEs."""
    frame = hand_panel().query("wave <= 2")
    fe = _estimate(fit_fixed_effects(frame, HAND_SPEC, LAYOUT))
    fd = _estimate(fit_first_difference(frame, HAND_SPEC, LAYOUT))
    assert fd["estimate"] == pytest.approx(fe["estimate"], abs=1e-8)
    assert fd["std_error"] == pytest.approx(fe["std_error"], rel=1e-8)
    assert fd["n"] == 12 and "6 differences" in fd["note"]


def test_first_differences_are_never_taken_across_a_gap():
    """A person seen in waves 1 and 3 only has no adjacent pair: no difference, not in n."""
    frame = hand_panel()
    frame = frame[~((frame.person_id == "C") & (frame.wave == 2))]
    fd = _estimate(fit_first_difference(frame, HAND_SPEC, LAYOUT))
    assert fd["n"] == 17 - 2 and "1 persons without two adjacent waves dropped" in fd["note"]
    assert "10 differences" in fd["note"]


def test_a_cluster_column_equal_to_the_person_gives_the_person_clustered_ses():
    """The ``cluster`` path (any column, e.g. household) against linearmodels' ``cluster_entity`` path."""
    frame = hand_panel().assign(household=lambda d: "h" + d["person_id"])
    by_household = PanelLayout(entity="person_id", time="wave", invariant="female", cluster="household")
    for fit in (fit_pooled_ols, fit_random_effects, fit_fixed_effects, fit_first_difference, fit_mundlak):
        np.testing.assert_allclose(fit(frame, HAND_SPEC, by_household)["std_error"],
                                   fit(frame, HAND_SPEC, LAYOUT)["std_error"], rtol=1e-10)
    assert "by 'household' (6 clusters" in fit_fixed_effects(frame, HAND_SPEC, by_household).loc[0, "note"]


# ---------------------------------------------------------------------------------------------
# Known truth: a within-person effect of 0.5, with and without a person trait that raises both x and y.





SIM_SPEC = ModelSpec(outcome="y", exposure="x", covariates="z")


@pytest.fixture(scope="module")
def confounded() -> pd.DataFrame:
    return simulate_confounded(True)


def test_pooled_ols_is_biased_and_within_estimators_recover_the_truth(confounded):
    pooled = _estimate(fit_pooled_ols(confounded, SIM_SPEC, LAYOUT))
    assert not pooled["ci_low"] < TRUE_WITHIN < pooled["ci_high"]
    assert pooled["estimate"] > 0.8  # plim 0.5 + cov(x, trait) / var(x) = 1.0
    for records in (fit_fixed_effects(confounded, SIM_SPEC, LAYOUT), fit_mundlak(confounded, SIM_SPEC, LAYOUT),
                    fit_first_difference(confounded, SIM_SPEC, LAYOUT)):
        row = _estimate(records)
        assert row["ci_low"] < TRUE_WITHIN < row["ci_high"], row["model"]
        assert abs(row["estimate"] - TRUE_WITHIN) < 0.1
    between = _estimate(fit_mundlak(confounded, SIM_SPEC, LAYOUT), "x:between")
    assert between["ci_low"] > TRUE_WITHIN  # the person mean carries the trait: plim 0.5 + 1 / (1 + 1/3) = 1.25


def test_hausman_rejects_under_confounding_and_not_without(confounded):
    tests = panel_tests(confounded, SIM_SPEC, LAYOUT)
    assert list(tests.columns) == PANEL_TEST_COLUMNS
    assert list(tests["test"]) == [HAUSMAN_TEST, MUNDLAK_TEST, MUNDLAK_EXPOSURE_TEST]
    assert (tests["p_value"] < 0.01).all()
    assert list(tests["df"]) == [2.0, 2.0, 1.0]  # x and z (wave dummies not compared); x alone
    assert "NON-ROBUST" in tests.loc[0, "note"] and "cluster-robust" in tests.loc[1, "note"]
    assert "not a test of the exposure alone" in tests.loc[1, "note"]

    clean = simulate_confounded(False)
    tests = panel_tests(clean, SIM_SPEC, LAYOUT)
    assert (tests["p_value"] > 0.01).all() and (tests["statistic"] >= 0).all()
    re = _estimate(fit_random_effects(clean, SIM_SPEC, LAYOUT))
    assert re["ci_low"] < TRUE_WITHIN < re["ci_high"]


def test_hausman_statistic_is_the_hand_computed_quadratic_form(confounded):
    """Recompute (b_FE - b_RE)'(V_FE - V_RE)^-1 (b_FE - b_RE) from linearmodels' non-robust fits by hand."""
    from linearmodels import PanelOLS, RandomEffects

    d = confounded.set_index(["person_id", "wave"])
    waves = pd.get_dummies(d.index.get_level_values(1), prefix="w", drop_first=True, dtype=float)
    waves.index = d.index
    fe = PanelOLS(d["y"], d[["x", "z"]], entity_effects=True, time_effects=True).fit()
    re = RandomEffects(d["y"], pd.concat([d[["x", "z"]].assign(const=1.0, female=d["female"]), waves], axis=1)
                       ).fit(small_sample=True)
    # one idiosyncratic variance (the FE residual variance on n - persons - waves + 1 - 2 df) in both
    resid = fe.resids.to_numpy()
    sigma2 = resid @ resid / (len(d) - 400 - 2 - 2)
    v_fe = fe.cov.loc[["x", "z"], ["x", "z"]].to_numpy()
    v_re = re.cov.loc[["x", "z"], ["x", "z"]].to_numpy() / re.s2 * sigma2
    diff = (fe.params - re.params[["x", "z"]]).to_numpy()
    expected = diff @ np.linalg.solve(v_fe - v_re, diff)
    got = panel_tests(confounded, SIM_SPEC, LAYOUT, mundlak=False).iloc[0]
    assert got["statistic"] == pytest.approx(expected, rel=1e-8)


def test_mundlak_exposure_test_is_about_the_exposure_alone():
    """A person trait that drives the covariate z, not the exposure x: the joint Mundlak test rejects (z's
    between and within coefficients differ), the exposure-only test does not; and its statistic is
    (between - within)^2 / Var(between - within) of x from the fitted model, by hand."""
    rng = np.random.default_rng(5)
    n, waves = 600, 3
    person = np.repeat(np.arange(n), waves)
    trait = rng.normal(0, 1, n)[person]
    x = rng.normal(0, 1, n)[person] + rng.normal(0, 1, n * waves)
    z = trait + rng.normal(0, 1, n * waves)
    y = TRUE_WITHIN * x + 0.3 * z + trait + rng.normal(0, 1, n * waves)
    frame = pd.DataFrame({"person_id": [f"p{i:04d}" for i in person], "wave": np.tile(np.arange(1, waves + 1), n),
                          "x": x, "z": z, "y": y, "female": rng.integers(0, 2, n)[person]})
    tests = panel_tests(frame, SIM_SPEC, LAYOUT, hausman=False).set_index("test")
    assert tests.loc[MUNDLAK_TEST, "p_value"] < 0.001
    assert tests.loc[MUNDLAK_EXPOSURE_TEST, "p_value"] > 0.05
    between = _estimate(fit_mundlak(frame, SIM_SPEC, LAYOUT), "x:between")["estimate"]
    within = _estimate(fit_mundlak(frame, SIM_SPEC, LAYOUT))["estimate"]
    # the 1-df statistic is the squared z of between - within from the model's cluster-robust covariance
    result, cov, _, _ = fit_mundlak_model(prepare_panel(frame, SIM_SPEC, LAYOUT))
    v = cov.cov.loc["between: x", "between: x"] + cov.cov.loc["x", "x"] - 2 * cov.cov.loc["between: x", "x"]
    assert tests.loc[MUNDLAK_EXPOSURE_TEST, "statistic"] == pytest.approx((between - within) ** 2 / v, rel=1e-10)
    assert tests.loc[MUNDLAK_EXPOSURE_TEST, "df"] == 1


# ---------------------------------------------------------------------------------------------
# Conditional logit: true within-person log-OR 0.7, person effects correlated with x.





CASE_SPEC = ModelSpec(outcome="case", exposure="x")


def test_conditional_logit_recovers_the_within_person_odds_ratio():
    data = simulate_binary(n=800, waves=3, seed=21)
    row = _estimate(fit_conditional_logit(data, CASE_SPEC, LAYOUT))
    assert row["ci_low"] < TRUE_LOG_OR < row["ci_high"]
    assert row["measure"] == "OR" and row["ratio"] == pytest.approx(math.exp(row["estimate"]), rel=1e-12)
    assert row["ratio_ci_low"] == pytest.approx(math.exp(row["ci_low"]), rel=1e-12) and row["converged"]
    changers = data.groupby("person_id")["case"].transform(lambda s: s.nunique() > 1)
    assert row["n"] == changers.sum() and row["events"] == data.loc[changers, "case"].sum()
    assert f"n = {changers.sum()} person-waves of {data.loc[changers, 'person_id'].nunique()} persons" in row["note"]
    # the pooled linear probability model is confounded by the person effect; the FE-LPM much less so
    assert "linear probability" in _estimate(fit_fixed_effects(data, CASE_SPEC, LAYOUT, binary=True))["note"]


def test_two_wave_conditional_logit_is_a_logit_of_the_second_wave_on_the_change_among_switchers():
    """T = 2: the conditional likelihood of a switcher is logit P(y2 = 1 | one event) on x2 - x1 (plus an
    intercept: the wave-2 dummy). Solved by Newton's method here, independently of statsmodels."""
    data = simulate_binary(n=600, waves=2, seed=5)
    row = _estimate(fit_conditional_logit(data, CASE_SPEC, LAYOUT))
    wide = data.pivot(index="person_id", columns="wave", values=["x", "case"])
    switch = (wide[("case", 1)] != wide[("case", 2)]).to_numpy()
    X = np.column_stack([(wide[("x", 2)] - wide[("x", 1)]).to_numpy()[switch], np.ones(switch.sum())])
    y = wide[("case", 2)].to_numpy()[switch]
    beta = np.zeros(2)
    for _ in range(30):
        mu = 1 / (1 + np.exp(-X @ beta))
        information = X.T @ (X * (mu * (1 - mu))[:, None])
        beta += np.linalg.solve(information, X.T @ (y - mu))
    assert row["estimate"] == pytest.approx(beta[0], abs=1e-6)
    assert row["std_error"] == pytest.approx(math.sqrt(np.linalg.inv(information)[0, 0]), rel=1e-5)
    assert row["n"] == 2 * switch.sum()


# ---------------------------------------------------------------------------------------------
# Multilevel growth model: random intercept and slope, stated fixed slope of x.


def simulate_growth(n: int = 200, waves: int = 4, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(n), waves)
    wave = np.tile(np.arange(1, waves + 1), n)
    intercept = rng.normal(0, 1.0, n)[person]
    slope = rng.normal(0, 0.3, n)[person]
    female = rng.integers(0, 2, n)[person]
    x = rng.normal(0, 1, n * waves)
    y = 1 + TRUE_WITHIN * x + 0.4 * female + intercept + slope * (wave - 1) + rng.normal(0, 0.7, n * waves)
    return pd.DataFrame({"person_id": [f"p{i:04d}" for i in person], "wave": wave, "x": x, "y": y,
                         "female": female})


def test_multilevel_random_slope_recovers_the_fixed_slope():
    data = simulate_growth()
    row = _estimate(fit_panel_multilevel(data, ModelSpec(outcome="y", exposure="x"), LAYOUT))
    assert row["ci_low"] < TRUE_WITHIN < row["ci_high"] and abs(row["estimate"] - TRUE_WITHIN) < 0.1
    assert row["converged"] and row["model"] == "multilevel_linear" and row["measure"] == "Mean difference"
    assert (row["design"], row["vcov"], row["n_groups"]) == ("multilevel", "model_based", data["person_id"].nunique())
    assert "random slope for wave" in row["note"] and "model-based" in row["note"]
    assert 0.3**2 / 2 < row["var_slope"] < 0.3**2 * 2  # the random slope is estimated, near its true 0.09
    assert 1.0 / 2 < row["var_group"] < 1.0 * 2 and 0.7**2 / 2 < row["var_residual"] < 0.7**2 * 2
    two_waves = _estimate(fit_panel_multilevel(data.query("wave <= 2"), ModelSpec(outcome="y", exposure="x"),
                                               LAYOUT))
    assert "random intercept per person only" in two_waves["note"]


# ---------------------------------------------------------------------------------------------
# The stage: records contract, specification errors.

STAGE_SPEC = validate(PanelSpec, STAGE_RAW, "panel_models")


@pytest.fixture(scope="module")
def stage_panel() -> pd.DataFrame:
    data = simulate_binary(n=120, waves=3, seed=8)
    rng = np.random.default_rng(8)
    data["y"] = data["x"] + rng.normal(0, 1, len(data))
    data["z"] = rng.normal(0, 1, len(data))
    data["race"] = data["person_id"].map(dict(zip(data["person_id"].unique(), rng.choice(["a", "b", "c"], 120))))
    data.loc[[5, 40, 41], "x"] = np.nan  # missing exposure: dropped, so p0013 becomes a single-wave person
    return data


@pytest.fixture(scope="module")
def stage(stage_panel):
    return run_panel_models(stage_panel, STAGE_SPEC, study="sim", progress=False)


def test_records_contract(stage_panel, stage):
    records, tests = stage
    assert list(records.columns) == RECORD_COLUMNS
    pd.testing.assert_frame_equal(records_frame(records), records)
    keys = list(zip(records["outcome"], records["model"], records["term"]))
    assert len(set(keys)) == len(keys)  # one row per outcome x estimator x term
    expected = {(o, RECORD_MODELS[e], "x") for o in ("case", "y") for e in ESTIMATORS
                if not (o == "y" and e == "conditional_logit")}
    expected |= {("case", "mundlak", "x:between"), ("y", "mundlak", "x:between")}
    assert set(keys) == expected
    mixed = records["model"] == "multilevel_linear"
    assert (records.loc[~mixed, "design"] == DESIGN).all() and (records.loc[mixed, "design"] == "multilevel").all()
    assert (records["study"] == "sim").all() and (records["covariate_set"] == "z_race").all()
    assert (records["sample"] == "main").all() and (records["interval"] == "z").all()
    model_based = records["model"].isin(["conditional_logit", "multilevel_linear"])
    assert (records.loc[model_based, "vcov"] == "model_based").all()
    assert (records.loc[~model_based, "vcov"] == "cluster").all()
    random = records["model"].isin(["random_effects", "mundlak"])
    assert records.loc[random, ["var_group", "var_residual"]].notna().all().all()
    odds = records["model"] == "conditional_logit"
    assert (records.loc[odds, "measure"] == "OR").all() and (records.loc[~odds, "measure"] == "Mean difference").all()
    np.testing.assert_allclose(records.loc[odds, "ratio"], np.exp(records.loc[odds, "estimate"]), rtol=1e-12)
    assert records.loc[~odds, ["ratio", "ratio_ci_low", "ratio_ci_high"]].isna().all().all()
    assert records.loc[records["outcome"] == "y", "events"].isna().all()
    assert records["converged"].all() and records["estimate"].notna().all()

    complete = stage_panel.dropna(subset=["x"])
    by_model = records[records["outcome"] == "case"].set_index(["model", "term"])
    assert by_model.loc[("pooled_ols", "x"), "n"] == len(complete)
    assert by_model.loc[("pooled_ols", "x"), "events"] == complete["case"].sum()
    assert by_model.loc[("fixed_effects", "x"), "n"] == len(complete) - 1  # p0013 has one complete wave left
    assert "1 single-wave persons dropped" in by_model.loc[("fixed_effects", "x"), "note"]
    assert by_model.loc[("mundlak", "x:between"), "term_label"] == BETWEEN_TERM_LABEL

    assert list(tests.columns) == PANEL_TEST_COLUMNS
    assert list(zip(tests["outcome"], tests["test"])) == [
        ("case", HAUSMAN_TEST), ("case", MUNDLAK_TEST), ("case", MUNDLAK_EXPOSURE_TEST),
        ("y", HAUSMAN_TEST), ("y", MUNDLAK_TEST), ("y", MUNDLAK_EXPOSURE_TEST)]
    assert tests["p_value"].between(0, 1).all()


def test_categorical_exposure_terms(stage_panel):
    data = stage_panel.assign(contact=pd.cut(stage_panel["x"], [-np.inf, -0.5, 0.5, np.inf],
                                             labels=["Low", "Mid", "High"]))
    spec = ModelSpec(outcome="y", exposure="contact", exposure_type="categorical", covariates="z")
    records = fit_mundlak(data, spec, LAYOUT)
    assert list(records["term"]) == ["contact[Mid]", "contact[High]", "contact[Mid]:between", "contact[High]:between"]
    assert list(records["term_label"]) == ["Mid vs Low", "High vs Low", f"{BETWEEN_TERM_LABEL}, Mid vs Low",
                                           f"{BETWEEN_TERM_LABEL}, High vs Low"]
    fe = fit_fixed_effects(data, spec, LAYOUT)
    np.testing.assert_allclose(fe["estimate"], records["estimate"].iloc[:2], atol=1e-8)


def test_spec_errors_are_schema_errors():
    """An unknown estimator, a missing key, an unknown exposure type or no outcome is an error of the spec itself:
    the schema (estimators/panel_spec.py) names the key before any data is read."""
    with pytest.raises(ConfigError, match=r"panel_models: estimators\[1\] = 'random_forest': Input should be "
                                          r"'pooled_ols', .* or 'multilevel'"):
        validate(PanelSpec, {**STAGE_RAW, "estimators": ["fixed_effects", "random_forest"]}, "panel_models")
    with pytest.raises(ConfigError, match="panel_models: entity: required key missing"):
        validate(PanelSpec, {k: v for k, v in STAGE_RAW.items() if k != "entity"}, "panel_models")
    with pytest.raises(ConfigError, match="panel_models: covariate_set: required key missing"):
        validate(PanelSpec, {k: v for k, v in STAGE_RAW.items() if k != "covariate_set"}, "panel_models")
    with pytest.raises(ConfigError, match=r"exposures\.x\.type = 'ordinal': Input should be 'continuous' or "
                                          r"'categorical'"):
        validate(PanelSpec, {**STAGE_RAW, "exposures": {"x": {"label": "X", "type": "ordinal"}}}, "panel_models")
    with pytest.raises(ConfigError, match="panel_models: outcomes: Dictionary should have at least 1 item"):
        validate(PanelSpec, {**STAGE_RAW, "outcomes": {}}, "panel_models")


def test_errors_name_what_is_wrong(stage_panel):
    with pytest.raises(ValueError, match=r"column 'log_real_income' \(named in panel_models.covariates\)"):
        run_panel_models(stage_panel, edited(STAGE_SPEC, covariates="z + log_real_income"), progress=False)
    unhappy = validate(PanelSpec, {**STAGE_RAW, "outcomes": {"unhappy": {"label": "Unhappy", "binary": True}}},
                       "panel_models")
    with pytest.raises(ValueError, match=r"column 'unhappy' \(named in panel_models.outcomes.unhappy\)"):
        run_panel_models(stage_panel, unhappy, progress=False)
    with pytest.raises(ValueError, match=r"column 'household' \(named in panel_models.entity\)"):
        run_panel_models(stage_panel, edited(STAGE_SPEC, entity="household"), progress=False)
    with pytest.raises(ValueError, match=r"share an \(person_id, wave\) pair"):
        fit_fixed_effects(pd.concat([stage_panel, stage_panel.iloc[[0]]]), ModelSpec(outcome="y", exposure="x"),
                          LAYOUT)
    with pytest.raises(ValueError, match="declared binary"):
        fit_conditional_logit(stage_panel, ModelSpec(outcome="y", exposure="x"), LAYOUT)
    with pytest.raises(ValueError, match="must be numeric"):
        fit_fixed_effects(stage_panel.assign(wave=stage_panel["wave"].astype(str)),
                          ModelSpec(outcome="y", exposure="x"), LAYOUT)


# --- weighted fits: R reference (tests/reference/panel_weighted) and known truth ----------------------------

WEIGHTED_REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "panel_weighted"


@pytest.mark.parametrize("estimator,weighted", [("pooled_ols", True), ("fixed_effects", True),
                                                ("pooled_ols", False), ("fixed_effects", False)])
def test_weighted_pooled_and_fe_match_r(estimator, weighted):
    """Weighted pooled OLS (plm and lm agree) and weighted two-way FE (the weighted LSDV in lm), SEs as
    sandwich::vcovCL HC0 times G/(G-1); the unweighted fits of the same rows beside them."""
    data = pd.read_csv(WEIGHTED_REFERENCE / "data.csv", dtype={"person_id": str})
    expected = pd.read_csv(WEIGHTED_REFERENCE / "expected.csv")
    layout = PanelLayout(entity="person_id", time="wave", invariant="female", weight="weight", weighted=weighted)
    fit = fit_pooled_ols if estimator == "pooled_ols" else fit_fixed_effects
    records = fit(data, SIM_SPEC, layout)
    ref = expected[(expected["model"] == estimator + ("" if weighted else "_unweighted"))
                   & (expected["term"] == "x")].iloc[0]
    row = _estimate(records)
    g = data["person_id"].nunique()
    assert row["design"] == ("weighted" if weighted else DESIGN)
    assert row["estimate"] == pytest.approx(ref["estimate"], rel=1e-8)
    assert row["std_error"] == pytest.approx(ref["std_error"] * math.sqrt(g / (g - 1)), rel=1e-6)


def test_weighted_fe_recovers_the_population_average_of_heterogeneous_slopes():
    """Known truth: the within slope is 1.0 in group A and 0.0 in group B; A is 1/4 of the sample but carries
    weight 3 (B weight 1), so the weighted population is half A: weighted FE -> 0.5, unweighted -> 0.25.
    First differences with a person-constant weight give the same target."""
    rng = np.random.default_rng(8)
    n, waves = 4000, 3
    person = np.repeat(np.arange(n), waves)
    group_a = (np.arange(n) < n // 4)[person]
    x = rng.normal(0, 1, n)[person] + rng.normal(0, 1, n * waves)
    y = np.where(group_a, 1.0, 0.0) * x + rng.normal(0, 1, n)[person] + rng.normal(0, 0.5, n * waves)
    data = pd.DataFrame({"person_id": person.astype(str), "wave": np.tile(np.arange(1, waves + 1), n), "x": x,
                         "y": y, "weight": np.where(group_a, 3.0, 1.0)})
    spec = ModelSpec(outcome="y", exposure="x")
    for fit in (fit_fixed_effects, fit_first_difference):
        weighted = _estimate(fit(data, spec, PanelLayout("person_id", "wave", weight="weight", weighted=True)))
        unweighted = _estimate(fit(data, spec, PanelLayout("person_id", "wave", weight="weight")))
        assert abs(weighted["estimate"] - 0.5) < 0.03, fit.__name__
        assert abs(unweighted["estimate"] - 0.25) < 0.03, fit.__name__
        assert "WEIGHTED by 'weight'" in weighted["note"]


def test_weighted_spec_needs_a_weight_and_weightable_estimators(confounded):
    with pytest.raises(ValueError, match="needs a weight column"):
        PanelLayout(entity="person_id", time="wave", weighted=True)
    data = confounded.assign(weight=1.0)
    spec = {"entity": "person_id", "time": "wave", "weight": "weight", "weighted": True, "covariate_set": "none",
            "outcomes": {"y": {"label": "Y"}}, "exposures": {"x": {"label": "X"}},
            "estimators": ["fixed_effects", "conditional_logit"]}
    # both are errors of the spec itself: the schema (estimators/panel_spec.py) says so before any data is read
    with pytest.raises(ConfigError, match=r"panel_models: estimators: \['conditional_logit'\] have no weighted "
                                          r"version"):
        validate(PanelSpec, spec, "panel_models")
    with pytest.raises(ConfigError, match="panel_models: weighted: a weighted spec needs its weight column"):
        validate(PanelSpec, {k: v for k, v in spec.items() if k != "weight"} | {"estimators": ["fixed_effects"]},
                 "panel_models")
    spec["estimators"] = ["pooled_ols", "fixed_effects"]
    records, tests = run_panel_models(data, validate(PanelSpec, {**spec, "sample": "completers"}, "panel_models"),
                                      progress=False)
    assert set(records["design"]) == {"weighted"} and tests.empty
    assert (records["sample"] == "completers").all() and (records["vcov"] == "cluster").all()


# --- lag, within-person variance, attenuation ---------------------------------------------------------------


def test_with_lag_never_crosses_a_gap():
    data = pd.DataFrame({"person_id": ["a", "a", "a", "b", "b"], "wave": [1, 2, 3, 1, 3],
                         "x": [1.0, 2.0, 3.0, 10.0, 30.0]})
    out = with_lag(data, "person_id", "wave", "x", "x_lag")
    assert out["x_lag"].tolist()[:3] == [pytest.approx(v, nan_ok=True) for v in (math.nan, 1.0, 2.0)]
    assert out["x_lag"].iloc[3:].isna().all()  # b has no wave 2: no lag at wave 3
    with pytest.raises(ValueError, match="one row per person"):
        with_lag(pd.concat([data, data.iloc[:1]]), "person_id", "wave", "x", "x_lag")


def test_within_person_variance_hand_computed():
    """Two persons x two waves: values (1, 3) and (5, 5). Person means 2 and 5, grand mean 3.5; MSW =
    (1 + 1 + 0 + 0) / (2 x 1) = 1; MSB = 2 x (2.25 + 2.25) / 1 = 9; sigma_b^2 = (9 - 1) / 2 = 4; share 1/5.
    A third person (2, 2) is added for the 3-person minimum: recomputed below by the same formulas."""
    data = pd.DataFrame({"p": ["a", "a", "b", "b", "c", "c"], "t": [1, 2, 1, 2, 1, 2],
                         "x": [1.0, 3.0, 5.0, 5.0, 2.0, 2.0]})
    out = within_person_variance(data, "p", "t", "x")
    # means 2, 5, 2; grand 3; MSW = 2 / 3; MSB = 2 x (1 + 4 + 1) / 2 = 6; sigma_b^2 = (6 - 2/3) / 2 = 8/3
    assert out["within_variance"] == pytest.approx(2 / 3)
    assert out["between_variance"] == pytest.approx(8 / 3)
    assert out["within_share"] == pytest.approx((2 / 3) / (2 / 3 + 8 / 3))
    assert out["diff_variance"] == pytest.approx(np.var([2.0, 0.0, 0.0], ddof=1))
    assert out["adjacent_correlations"][0] == pytest.approx(np.corrcoef([1, 5, 2], [3, 5, 2])[0, 1])


def test_attenuation_factors_match_simulated_dilution():
    """Known truth: true x = person part (var 1) + wave part (var 0.5); error var 0.5 -> reliability 0.75,
    within share of the observed variance 0.5, so FE is diluted by 1 - 0.25 / 0.5 = 0.5 and pooled by 0.75.
    Fitted slopes (true slope 1) agree with the factors computed from the observed variances."""
    rng = np.random.default_rng(1)
    n, waves = 4000, 3
    person = np.repeat(np.arange(n), waves)
    true_x = rng.normal(0, 1, n)[person] + rng.normal(0, math.sqrt(0.5), n * waves)
    data = pd.DataFrame({"p": person.astype(str), "w": np.tile(np.arange(1, waves + 1), n),
                         "x": true_x + rng.normal(0, math.sqrt(0.5), n * waves)})
    data["y"] = true_x + rng.normal(0, 1, n)[person] + rng.normal(0, 1, n * waves)
    components = within_person_variance(data, "p", "w", "x")
    table = attenuation_table(components, [0.75, 1.0])
    assert list(table.columns) == ATTENUATION_COLUMNS
    row = table.iloc[0]
    assert row["lambda_fixed_effects"] == pytest.approx(0.5, abs=0.03)
    assert row["lambda_first_difference"] == pytest.approx(0.5, abs=0.03)
    layout = PanelLayout(entity="p", time="w")
    spec = ModelSpec(outcome="y", exposure="x")
    assert _estimate(fit_fixed_effects(data, spec, layout))["estimate"] == pytest.approx(
        row["lambda_fixed_effects"], abs=0.04)
    assert _estimate(fit_pooled_ols(data, spec, layout))["estimate"] == pytest.approx(0.75, abs=0.03)
    assert table.iloc[1][["lambda_pooled", "lambda_fixed_effects", "lambda_first_difference"]].tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="reliability must be in"):
        attenuation_table(components, [1.2])


# --- the covariance as a named option (cov_type), joint exposures ----------------------------------------------


def test_a_panel_estimator_takes_its_covariance_as_a_named_option():
    """cov_type="clustered" (default) is linearmodels' uncorrected cluster covariance x G/(G-1); cov_type="kernel"
    is its Driscoll-Kraay covariance as it is; the coefficient does not change; the record says which."""
    from linearmodels import PanelOLS, PooledOLS

    frame = hand_panel()
    indexed = frame.set_index(["person_id", "wave"])
    clustered = fit_fixed_effects(frame, HAND_SPEC, LAYOUT).iloc[0]
    kernel = fit_fixed_effects(frame, HAND_SPEC, LAYOUT, cov_type="kernel", bandwidth=1).iloc[0]
    fe = PanelOLS(indexed["y"], indexed[["x", "z"]], entity_effects=True, time_effects=True)
    ref_kernel = fe.fit(cov_type="kernel", kernel="bartlett", bandwidth=1, debiased=False, auto_df=False,
                        count_effects=False)
    ref_cluster = fe.fit(cov_type="clustered", cluster_entity=True, debiased=False, auto_df=False,
                         count_effects=False)
    assert kernel["estimate"] == pytest.approx(clustered["estimate"], rel=1e-12)
    assert kernel["std_error"] == pytest.approx(ref_kernel.std_errors["x"], rel=1e-10)
    assert clustered["std_error"] == pytest.approx(ref_cluster.std_errors["x"] * math.sqrt(6 / 5), rel=1e-10)
    assert (kernel["vcov"], kernel["n_groups"], clustered["vcov"], clustered["n_groups"]) == \
        ("driscoll_kraay", 3, "cluster", 6)
    assert "Driscoll-Kraay" in kernel["note"] and "bandwidth 1 of 3 waves" in kernel["note"]

    pooled = fit_pooled_ols(frame, HAND_SPEC, LAYOUT, cov_type="kernel").iloc[0]  # default bandwidth: the rule
    exog = pd.concat([pd.Series(1.0, index=indexed.index, name="const"), indexed[["x", "z", "female"]],
                      pd.get_dummies(indexed.index.get_level_values(1), prefix="wave", dtype=float)
                      .set_axis(indexed.index).iloc[:, 1:]], axis=1)
    ref = PooledOLS(indexed["y"], exog).fit(cov_type="kernel", kernel="bartlett", bandwidth=1, debiased=False)
    assert pooled["std_error"] == pytest.approx(ref.std_errors["x"], rel=1e-10)
    with pytest.raises(ValueError, match="cov_type 'robust' unknown"):
        fit_pooled_ols(frame, HAND_SPEC, LAYOUT, cov_type="robust")
    with pytest.raises(ValueError, match="kernel 'triangle' unknown"):
        fit_fixed_effects(frame, HAND_SPEC, LAYOUT, cov_type="kernel", kernel="triangle")


def test_joint_exposures_are_fitted_together_and_recorded_each_as_its_own_exposure():
    frame = hand_panel()
    alone = ModelSpec(outcome="y", exposure="x", study="hand", covariate_set="none")
    joint = fit_fixed_effects(frame, alone, LAYOUT, joint={"z": "Z"}, term_label="within-person, per point")
    as_covariate = fit_fixed_effects(frame, replace(alone, covariates="z"), LAYOUT)
    assert list(joint["exposure"]) == ["x", "z"] and list(joint["exposure_label"]) == ["", "Z"]
    assert set(joint["term_label"]) == {"within-person, per point"}
    assert joint.iloc[0]["estimate"] == pytest.approx(as_covariate.iloc[0]["estimate"], rel=1e-12)
    assert joint.iloc[0]["std_error"] == pytest.approx(as_covariate.iloc[0]["std_error"], rel=1e-12)
