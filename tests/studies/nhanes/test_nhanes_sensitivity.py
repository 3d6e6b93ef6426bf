"""NHANES sensitivity analyses and effect modification (analysis.studies.nhanes.sensitivity).

* The domain rules by hand on an 8-row table: follow-up from the landmark, no prevalent disease, subgroups by
  levels and by a cut (the boundary value goes up), the covariate term of a constant modifier dropped.
* The landmark choice: dropping everyone followed less than 2 years and dropping only the early deaths give
  the same Cox estimate and SE (no event is left before the landmark).
* Known truth: a simulated stratified cluster sample where isolation raises the death hazard more in men
  (log-HR 0.6 vs 0.1): the subgroup estimates recover both and the design-based Wald test of isolation x sex
  rejects (p < 0.001, seed 7); the same sample without the interaction does not (p > 0.05, seed 8).
* Errors: a missing self-rated-health column names the column and the params key; bad subgroup rules and
  other bad ``nhanes.sensitivity`` values are rejected by the schema (settings.py) with the key path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimators.records import ModelSpec
from analysis.estimators.survey import fit_cox_design
from analysis.studies.nhanes.sensitivity import (
    SENSITIVITY_COLUMNS,
    SUBGROUP_COLUMNS,
    followup_domain,
    no_disease_domain,
    run_sensitivity,
    split_terms,
    subgroup_covariates,
    subgroup_labels,
    without_column_terms,
)
from analysis.studies.nhanes.settings import NhanesSettings, SubgroupSpec
from support.config import edited, schema_problem

GROUPS = ["Connected (0)", "Moderate (1)", "Isolated (2+)"]
HEALTH = ["Excellent", "Very good", "Good", "Fair", "Poor"]


# --- the domain rules by hand ------------------------------------------------------------------------------
SMALL = pd.DataFrame({
    "followup_months": [0.0, 23.0, 24.0, 25.0, np.nan, 200.0, 12.0, 24.5],
    "prevalent_cvd": pd.array([0, 1, 0, pd.NA, 0, 1, 0, 0], dtype="Int8"),
    "sex": pd.Categorical(["Male", "Female", "Male", None, "Female", "Male", "Male", "Female"],
                          categories=["Male", "Female"]),
    "age": [64.0, 65.0, 64.9, 80.0, np.nan, 40.0, 65.1, 70.0],
    "income_poverty_ratio": [1.29, 1.3, 0.0, 5.0, np.nan, 1.31, 2.0, 1.0],
})


def test_followup_domain_by_hand():
    # 2 years = 24 months: 24 and more stay, missing follow-up leaves.
    assert followup_domain(SMALL, "followup_months", 2).tolist() == [False, False, True, True, False, True, False,
                                                                      True]
    assert followup_domain(SMALL, "followup_months", 1).tolist() == [False, True, True, True, False, True, True,
                                                                      True]
    assert followup_domain(SMALL, "followup_months", 0).tolist() == [True, True, True, True, False, True, True, True]


def test_no_disease_domain_by_hand():
    assert no_disease_domain(SMALL, "prevalent_cvd").tolist() == [True, False, True, False, True, False, True, True]
    with pytest.raises(ValueError, match="'followup_months'.*must be 0/1"):
        no_disease_domain(SMALL, "followup_months")


def test_subgroup_labels_by_hand():
    sex = subgroup_labels(SMALL, SubgroupSpec(name="sex", label="Sex", column="sex", rule="levels"))
    assert list(sex.cat.categories) == ["Male", "Female"]  # the column's category order
    assert sex.astype(object).where(sex.notna(), None).tolist() == [
        "Male", "Female", "Male", None, "Female", "Male", "Male", "Female"]
    age = subgroup_labels(SMALL, SubgroupSpec(name="age_group", label="Age", column="age", rule="cut", cut=65.0,
                                              labels=["< {cut}", "{cut}+"]))
    assert age.name == "subgroup_age_group"
    assert list(age.cat.categories) == ["< 65", "65+"]
    assert age.astype(object).where(age.notna(), None).tolist() == [
        "< 65", "65+", "< 65", "65+", None, "< 65", "65+", "65+"]
    income = subgroup_labels(SMALL, SubgroupSpec(name="low_income", label="Income", column="income_poverty_ratio",
                                                 rule="cut", cut=1.3, labels=["< 1.3", ">= 1.3"]))
    assert income.astype(object).where(income.notna(), None).tolist() == [
        "< 1.3", ">= 1.3", "< 1.3", ">= 1.3", None, ">= 1.3", ">= 1.3", "< 1.3"]
    with pytest.raises(ValueError, match="'sex'.*not numeric"):
        subgroup_labels(SMALL, SubgroupSpec(name="bad", label="Bad", column="sex", rule="cut", cut=1.0,
                                            labels=["a", "b"]))


def test_covariate_terms_of_a_constant_modifier_are_dropped():
    rhs = "age + C(sex) + C(race_ethnicity) + income_poverty_ratio"
    men = (SMALL["sex"] == "Male").to_numpy()
    assert subgroup_covariates(rhs, SMALL, "sex", men) == "age + C(race_ethnicity) + income_poverty_ratio"
    under_65 = (SMALL["age"] < 65).to_numpy()
    assert subgroup_covariates(rhs, SMALL, "age", under_65) == rhs  # age still varies: kept
    assert subgroup_covariates(rhs, SMALL, "sex", np.ones(len(SMALL), bool)) == rhs  # both sexes: kept
    assert without_column_terms("C(x, Treatment(reference='a + b')) + C(sex) + sex + age", "sex") == \
        "C(x, Treatment(reference='a + b')) + age"
    assert split_terms(" age +\n C(x, Treatment(reference='a + b')) ") == [
        "age", "C(x, Treatment(reference='a + b'))"]


# --- simulated study ---------------------------------------------------------------------------------------
def simulated_table(seed: int, interaction: float, n: int = 6000) -> pd.DataFrame:
    """20 strata x 2 PSUs with PSU effects and weights; log-HR of death for Moderate / Isolated vs Connected
    0.05 / 0.1 in women and (0.05 + interaction / 2) / (0.1 + interaction) in men; age 0.06 per year; 1% of
    follow-up ends in the first 2 years by censoring, not death."""
    rng = np.random.default_rng(seed)
    stratum = rng.integers(1, 21, n)
    psu = rng.integers(1, 3, n)
    u = rng.normal(0, 0.2, 50)[stratum * 2 + psu - 3]
    sex = rng.choice(["Male", "Female"], n)
    male = (sex == "Male").astype(float)
    group = rng.choice(GROUPS, n, p=[0.4, 0.3, 0.3])
    moderate, isolated = (group == GROUPS[1]).astype(float), (group == GROUPS[2]).astype(float)
    age = rng.uniform(40, 85, n).round()
    lp = (0.06 * (age - 60) + (0.05 + interaction / 2 * male) * moderate + (0.1 + interaction * male) * isolated
          + 0.2 * male + u)
    death = rng.exponential(1 / (0.004 * np.exp(lp)))
    censor = np.where(rng.random(n) < 0.01, rng.uniform(1, 23, n), rng.uniform(130, 250, n))
    followup = np.floor(np.minimum(death, censor))
    died = (death < censor).astype(int)
    index = np.select([group == GROUPS[0], group == GROUPS[1]], [0.0, 1.0], default=2.0)
    return pd.DataFrame({
        "stratum": stratum, "psu": psu, "weight_interview": rng.uniform(1_000, 30_000, n),
        "weight_exam": rng.uniform(1_000, 30_000, n),
        "age": age, "sex": pd.Categorical(sex, categories=["Female", "Male"]),
        "income_poverty_ratio": rng.uniform(0, 5, n).round(2),
        "isolation_category": pd.Categorical(group, categories=GROUPS), "isolation_index": index,
        "followup_months": followup, "died": pd.array(died, dtype="Int8"),
        "prevalent_cvd": pd.array(rng.binomial(1, 0.2, n), dtype="Int8"),
        "self_rated_health": pd.Categorical(rng.choice(HEALTH, n), categories=HEALTH),
        "insured": pd.array(rng.binomial(1, 0.85, n), dtype="Int8"),
    })


@pytest.fixture(scope="module")
def nh(params):
    """The validated ``nhanes:`` settings of params.yaml."""
    return params.nhanes


def small_params(nh, **changes):
    """The real ``nhanes:`` settings, narrowed to one exposure, one outcome, a short covariate set and two
    modifiers (``conftest.edited``: not re-validated); ``changes`` edit it further (dotted keys)."""
    models, real = nh.models, nh.sensitivity
    assert [s.name for s in real.subgroups[:2]] == ["sex", "age_group"]
    assert real.subgroups[1].cut == 65 and real.subgroups[1].labels == ["< 65", "65+"]
    return edited(nh, **{
        "models.exposures": {"isolation_category": models.exposures["isolation_category"]},
        "models.covariate_sets": {"demographic": "age + C(sex)"},
        "models.survival": {"all_cause_death": models.survival["all_cause_death"]},
        "models.regression": {},
        "sensitivity.covariate_set": "demographic", "sensitivity.exclude_early_death_years": 2,
        "sensitivity.prevalent_disease.column": "prevalent_cvd",
        "sensitivity.prevalent_disease.outcomes": ["all_cause_death"],
        "sensitivity.self_rated_health": "C(self_rated_health)",
        "sensitivity.further_confounders": "insured",
        "sensitivity.subgroups": list(real.subgroups[:2]),
        **changes,
    })


def test_landmark_equals_dropping_only_early_deaths():
    """With no event left before the landmark, a person censored before it is in no risk set: the same
    estimate and SE whether everyone followed < 24 months leaves or only those who died that early."""
    table = simulated_table(3, interaction=0.0)
    spec = ModelSpec(outcome="all_cause_death", exposure="isolation_category", covariates="age + C(sex)",
                     exposure_type="categorical")
    kw = {"duration": "followup_months", "event": "died", "weight": "weight_interview"}
    landmark = followup_domain(table, "followup_months", 2)
    early_deaths = ((table["died"] == 1) & (table["followup_months"] < 24)).to_numpy()
    assert (~landmark & ~early_deaths).sum() > 20  # censored before 2 years: the rows the choices differ on
    a = fit_cox_design(table, spec, subset=landmark, **kw)
    b = fit_cox_design(table, spec, subset=~early_deaths, **kw)
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-9)
    np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=1e-9)
    assert (a["n"] < b["n"]).all()


def _interaction_row(subgroups: pd.DataFrame, modifier: str) -> pd.Series:
    rows = subgroups[(subgroups["record"] == "interaction") & (subgroups["modifier"] == modifier)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_interaction_detected_with_known_truth(nh):
    table = simulated_table(7, interaction=0.5)
    sensitivity, subgroups = run_sensitivity(table, small_params(nh), progress=False, n_jobs=1)
    assert list(sensitivity.columns) == SENSITIVITY_COLUMNS and list(subgroups.columns) == SUBGROUP_COLUMNS
    test = _interaction_row(subgroups, "sex")
    assert (test["df_num"], test["converged"]) == (2, True)
    assert test["p_value"] < 0.001
    isolated = subgroups[(subgroups["record"] == "subgroup")
                         & (subgroups["term"] == "isolation_category[Isolated (2+)]")]
    by_sex = isolated[isolated["modifier"] == "sex"].set_index("subgroup")["estimate"]
    assert by_sex["Male"] == pytest.approx(0.6, abs=0.15)
    assert by_sex["Female"] == pytest.approx(0.1, abs=0.15)
    # Age does not modify the effect in the simulation.
    assert _interaction_row(subgroups, "age_group")["p_value"] > 0.05

    # Domains: n of each analysis against the rules applied by hand to the complete cases.
    complete = table.dropna()
    n = sensitivity.drop_duplicates("analysis").set_index("analysis")["n"]
    assert n["main"] == len(complete)
    assert n["early_deaths_excluded"] == (complete["followup_months"] >= 24).sum()
    assert n["prevalent_disease_excluded"] == (complete["prevalent_cvd"] == 0).sum()
    assert n["self_rated_health_adjusted"] == len(complete)
    assert n["further_confounders_adjusted"] == len(complete)
    sub_n = subgroups[subgroups["record"] == "subgroup"].drop_duplicates(["modifier", "subgroup"])
    assert sub_n.set_index("subgroup")["n"].to_dict() == {
        "Female": (complete["sex"] == "Female").sum(), "Male": (complete["sex"] == "Male").sum(),
        "< 65": (complete["age"] < 65).sum(), "65+": (complete["age"] >= 65).sum()}


def test_no_interaction_not_detected_when_absent(nh):
    table = simulated_table(8, interaction=0.0)
    _, subgroups = run_sensitivity(table, small_params(nh), progress=False, n_jobs=1)
    assert _interaction_row(subgroups, "sex")["p_value"] > 0.05


# --- errors ------------------------------------------------------------------------------------------------
def test_missing_self_rated_health_names_column_and_key(nh):
    table = simulated_table(3, interaction=0.0, n=500).drop(columns="self_rated_health")
    with pytest.raises(ValueError, match=r"column 'self_rated_health' \(named in params.yaml "
                                         r"nhanes.sensitivity.self_rated_health\) is not in the analysis table"):
        run_sensitivity(table, small_params(nh), progress=False, n_jobs=1)


def test_bad_settings_are_named(nh, raw_params):
    """The schema rejects a bad ``nhanes.sensitivity`` block before anything runs, naming the key."""
    def problem(edit) -> str:
        return schema_problem(NhanesSettings, raw_params["nhanes"], edit)

    assert "sensitivity.subgroups[1].rule = 'quantiles': Input should be 'levels' or 'cut'" in problem(
        lambda r: r["sensitivity"]["subgroups"][1].__setitem__("rule", "quantiles"))
    assert "sensitivity.subgroups[1]: rule 'cut' needs 'cut' (a number)" in problem(
        lambda r: r["sensitivity"]["subgroups"][1].pop("cut"))
    assert "sensitivity.subgroups[1].labels" in problem(
        lambda r: r["sensitivity"]["subgroups"][1].__setitem__("labels", ["< {cut}"]))
    assert "sensitivity.subgroups[1]: labels ['x', 'x'] must differ" in problem(
        lambda r: r["sensitivity"]["subgroups"][1].__setitem__("labels", ["x", "x"]))
    assert "sensitivity: subgroups repeat a name" in problem(
        lambda r: r["sensitivity"]["subgroups"][1].__setitem__("name", "sex"))
    assert "sensitivity.covariate_set: 'everything' is not a key of models.covariate_sets" in problem(
        lambda r: r["sensitivity"].__setitem__("covariate_set", "everything"))
    assert "sensitivity.prevalent_disease.outcomes: ['stroke_death'] are not outcomes" in problem(
        lambda r: r["sensitivity"]["prevalent_disease"].__setitem__("outcomes", ["stroke_death"]))
    assert "sensitivity: required key missing" in problem(lambda r: r.pop("sensitivity"))
    assert "sensitivity.subgroups[0].column: 'gender' is not a column of the NHANES analysis table" in problem(
        lambda r: r["sensitivity"]["subgroups"][0].__setitem__("column", "gender"))
    # a table that lacks a column the (unvalidated, edited) settings name: named at run time, before any fit
    table = simulated_table(3, interaction=0.0, n=500)
    small = small_params(nh)
    params = small_params(nh, **{"sensitivity.subgroups": [edited(small.sensitivity.subgroups[0], column="gender"),
                                                           small.sensitivity.subgroups[1]]})
    with pytest.raises(ValueError, match=r"column 'gender' \(named in params.yaml "
                                         r"nhanes.sensitivity.subgroups\[0\]"):
        run_sensitivity(table, params, progress=False, n_jobs=1)


def test_real_params_block_reads(params):
    settings = params.nhanes.sensitivity
    assert settings.exclude_early_death_years == 2
    assert [s.name for s in settings.subgroups] == ["sex", "age_group", "race_ethnicity", "low_income"]
    assert settings.subgroups[1].cut == 65 and settings.subgroups[3].cut == 1.3
    # the labels state the cut from its value ("< {cut}" in params.yaml)
    assert settings.subgroups[1].labels == ["< 65", "65+"] and settings.subgroups[3].labels == ["< 1.3", ">= 1.3"]
