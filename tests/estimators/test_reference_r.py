"""Our estimators against R (survival::coxph and clogit, survey::svyglm, lme4::lmer, plm) on the same simulated data.

The expected numbers were produced by ``tests/reference/models.R`` (R and package versions in
``tests/reference/versions.txt``) from the CSVs written by ``tests/reference/make_data.py``; CI needs no R.
Conventions that differ on purpose, checked exactly:

* R's robust Cox variance (``cluster=``) has no small-sample factor; ours multiplies it by G/(G-1).
* ``svyglm`` with ``ids = ~cluster`` uses the G/(G-1) with-replacement variance, as we do.
* The linear mixed model reports lme4's SEs, ``sigma^2 (X'V^-1 X)^-1`` (the statsmodels MixedLM fits used before
  2026-12 inverted the full Hessian, a few per cent larger); tests/reference/lmm/ adds a random slope.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimators.glm import fit_glm
from analysis.estimators.mixed import fit_mixed_linear
from analysis.estimators.records import ModelSpec
from analysis.estimators.survival import fit_cox
from support.config import ROOT

REFERENCE = ROOT / "tests" / "reference"


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "expected.csv")


def _r(expected: pd.DataFrame, model: str, term: str) -> pd.Series:
    row = expected[(expected["model"] == model) & (expected["term"] == term)]
    assert len(row) == 1, f"no R reference for {model} {term}"
    return row.iloc[0]


@pytest.fixture(scope="module")
def cox() -> pd.DataFrame:
    frame = pd.read_csv(REFERENCE / "cox.csv")
    frame["group"] = pd.Categorical(frame["group"], categories=["unexposed", "exposed"])
    return frame


@pytest.mark.parametrize("design", ["design-based", "multilevel", "unweighted"])
def test_cox_matches_survival_coxph(cox, expected, design):
    spec = ModelSpec(outcome="death", exposure="z", covariates="C(group)")
    ours = fit_cox(cox, spec, duration="followup_months", event="died", design=design, weight="weight")
    ref = _r(expected, f"cox_{design.replace('-', '_')}", "z")
    g = cox["cluster"].nunique()
    factor = 1.0 if design == "unweighted" else np.sqrt(g / (g - 1))
    assert ours["estimate"].iloc[0] == pytest.approx(ref["estimate"], rel=1e-6)
    assert ours["std_error"].iloc[0] == pytest.approx(ref["std_error"] * factor, rel=1e-5)


def test_cox_categorical_term_matches(cox, expected):
    spec = ModelSpec(outcome="death", exposure="group", covariates="z", exposure_type="categorical")
    ours = fit_cox(cox, spec, duration="followup_months", event="died", design="design-based", weight="weight")
    ref = _r(expected, "cox_design_based", "groupexposed")
    g = cox["cluster"].nunique()
    assert ours["estimate"].iloc[0] == pytest.approx(ref["estimate"], rel=1e-6)
    assert ours["std_error"].iloc[0] == pytest.approx(ref["std_error"] * np.sqrt(g / (g - 1)), rel=1e-5)


@pytest.fixture(scope="module")
def glm_data() -> pd.DataFrame:
    frame = pd.read_csv(REFERENCE / "glm.csv")
    frame["group"] = pd.Categorical(frame["group"], categories=["Low", "Mid", "High"])
    return frame


def test_survey_logistic_matches_svyglm(glm_data, expected):
    spec = ModelSpec(outcome="case", exposure="group", covariates="age + C(sex)", exposure_type="categorical")
    ours = fit_glm(glm_data, spec, outcome="case", family="binomial", design="design-based", weight="weight")
    for level in ("Mid", "High"):
        row = ours[ours["term_label"].str.startswith(level)].iloc[0]
        ref = _r(expected, "logistic_design_based", f"group{level}")
        assert row["estimate"] == pytest.approx(ref["estimate"], rel=1e-6)
        assert row["std_error"] == pytest.approx(ref["std_error"], rel=1e-4)


def test_survey_linear_matches_svyglm(glm_data, expected):
    spec = ModelSpec(outcome="y", exposure="score", covariates="age + C(sex)")
    ours = fit_glm(glm_data, spec, outcome="y", family="gaussian", design="design-based", weight="weight")
    ref = _r(expected, "linear_design_based", "score")
    assert ours["estimate"].iloc[0] == pytest.approx(ref["estimate"], rel=1e-6)
    assert ours["std_error"].iloc[0] == pytest.approx(ref["std_error"], rel=1e-4)


def test_linear_mixed_model_matches_lmer(expected):
    frame = pd.read_csv(REFERENCE / "mixed.csv")
    frame["isolation_group"] = pd.Categorical(frame["isolation_group"], categories=["Low", "Moderate", "High"])
    spec = ModelSpec(outcome="phq9_score", exposure="isolation_group", covariates="age",
                     exposure_type="categorical")
    ours = fit_mixed_linear(frame, spec, outcome="phq9_score", weight="weight")
    for level in ("Moderate", "High"):
        row = ours[ours["term_label"].str.startswith(level)].iloc[0]
        ref = _r(expected, "linear_mixed", f"isolation_group{level}")
        assert row["estimate"] == pytest.approx(ref["estimate"], rel=1e-6)
        assert row["std_error"] == pytest.approx(ref["std_error"], rel=1e-6)  # lme4's vcov
    assert ours["var_group"].iloc[0] == pytest.approx(_r(expected, "linear_mixed_variance", "stratum:psu")["estimate"],
                                                      rel=1e-5)
    assert ours["var_residual"].iloc[0] == pytest.approx(_r(expected, "linear_mixed_variance", "Residual")["estimate"],
                                                         rel=1e-6)


# --- panel estimators (plm; survival::clogit) -------------------------------------------------------------
# plm's vcovHC(method="arellano", type="HC0") is the plain cluster sandwich; ours multiplies by G/(G-1).


@pytest.fixture(scope="module")
def panel_data() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "panel.csv", dtype={"person_id": str})


@pytest.mark.parametrize("estimator", ["pooled_ols", "fixed_effects", "random_effects"])
def test_panel_estimators_match_plm(panel_data, expected, estimator):
    from analysis.estimators import panel

    fit = {"pooled_ols": panel.fit_pooled_ols, "fixed_effects": panel.fit_fixed_effects,
           "random_effects": panel.fit_random_effects}[estimator]
    layout = panel.PanelLayout(entity="person_id", time="wave", invariant="female")
    ours = fit(panel_data, ModelSpec(outcome="y", exposure="x", covariates="z"), layout).iloc[0]
    ref = _r(expected, f"panel_{estimator}", "x")
    g = panel_data["person_id"].nunique()
    assert ours["estimate"] == pytest.approx(ref["estimate"], rel=1e-6)
    assert ours["std_error"] == pytest.approx(ref["std_error"] * np.sqrt(g / (g - 1)), rel=1e-5)


def test_conditional_logit_matches_clogit(expected):
    from analysis.estimators import panel

    data = pd.read_csv(REFERENCE / "panel_binary.csv", dtype={"person_id": str})
    layout = panel.PanelLayout(entity="person_id", time="wave")
    ours = panel.fit_conditional_logit(data, ModelSpec(outcome="case", exposure="x"), layout).iloc[0]
    ref = _r(expected, "panel_conditional_logit", "x")
    assert ours["estimate"] == pytest.approx(ref["estimate"], rel=1e-5)
    assert ours["std_error"] == pytest.approx(ref["std_error"], rel=1e-4)
