"""NHANES sensitivity analyses (reverse causation, baseline disease) and effect modification.

Every model here is the **design-based** fit of the main analysis - the covariate set ``sensitivity.covariate_set``
(null: the primary estimate's, ``models.primary.covariate_set``, as the headline), every exposure of
``models.exposures`` and every
outcome of ``models.survival`` (Cox, Efron ties) and ``models.regression`` (logistic or linear) - changed one
way at a time. Every change of sample is a **domain** of the full survey design (R ``subset(design, ...)``,
the ``subset=`` mask of :mod:`analysis.estimators.survey`): the rows outside it keep their stratum and PSU,
so the Taylor-linearised variance and the design degrees of freedom are those of the full design, not of a
smaller table. The analyses (``analysis`` column of ``reports/metrics/nhanes_sensitivity.csv``):

* ``main``: the fit itself (the same numbers as the headline rows of ``nhanes_models.csv``).
* ``early_deaths_excluded`` (survival outcomes): follow-up starts ``sensitivity.exclude_early_death_years``
  after the interview, i.e. everyone with ``followup_months`` < 12 x years leaves the domain. Deaths soon
  after the interview are the ones most likely caused by illness that was already there and may itself
  have isolated the person (reverse causation). *Everyone* followed less than that long is dropped, not only
  those who died: this is a landmark analysis, whose risk sets are the people alive and under observation
  at the landmark. For the Cox estimate the two choices are the same (no event is left before the landmark,
  so a person censored before it is in no risk set of any remaining event; the test checks it); dropping
  everyone makes ``n`` count the people actually followed from the landmark. In the linked mortality file
  (administrative censoring 31 December 2019) follow-up shorter than 2 years without death is rare.
* ``prevalent_disease_excluded`` (the outcomes in ``sensitivity.prevalent_disease.outcomes``, CVD death):
  restricted to ``prevalent_cvd == 0`` (no self-reported heart failure, CHD, angina, heart attack or stroke,
  MCQ160B-F): people with CVD at baseline are those in whom CVD may have caused the isolation.
* ``self_rated_health_adjusted``: the term ``sensitivity.self_rated_health`` (``C(self_rated_health)``,
  HUQ010 1 excellent ... 5 poor) added to the covariates of every outcome, as a summary of baseline illness
  that the covariate set does not measure. Its complete cases can be slightly fewer (``n`` says).
* ``further_confounders_adjusted``: the term ``sensitivity.further_confounders`` added to the covariates of
  every outcome: the confounders the main set omits that the mirror holds (the reviewer's list): leisure-time
  physical activity (PAQ), drinking status (ALQ, MEC interview: the model takes the MEC weight), health
  insurance (HIQ), ever told cancer (MCQ220) and emphysema or chronic bronchitis (MCQ160G/K). Fitted on
  its own complete cases, so ``n`` is smaller than the main analysis's (MEC-examined adults 20+ for ALQ).

Effect modification (``reports/metrics/nhanes_subgroups.csv``), for each modifier of
``sensitivity.subgroups`` (sex, age group < 65 / 65+, race and ethnicity, income-to-poverty ratio < 1.3):

* ``record`` "subgroup": the main model within each subgroup (a domain); a covariate term whose only variable
  is the modifier's column is dropped when that column is constant in the subgroup (``C(sex)`` among men),
  and kept otherwise (``age`` within < 65).
* ``record`` "interaction": the main model plus the modifier (``C(subgroup_<name>)``, replacing a covariate
  term of the modifier's own column for a ``levels`` rule, which it duplicates) and the exposure x modifier
  terms, and a design-based Wald test that all those interaction coefficients are 0: ``F = W / q`` on ``(q,
  design df - p + 1)`` (:func:`analysis.estimators.survey.wald_test`, R ``regTermTest(fit, ~exposure:modifier,
  method = "Wald")``). The interaction p-values are not corrected for multiplicity (5 outcomes x 2 exposures
  x 4 modifiers = 40 tests); the report says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analysis.core import config, io
from analysis.core.config import ConfigError
from analysis.core.settings import Workers
from analysis.estimators.formula import formula_variables
from analysis.estimators.glm import FAMILIES
from analysis.estimators.records import (
    COMPONENT_COLUMNS,
    MEASURES,
    RECORD_COLUMNS,
    ModelSpec,
    check_columns,
    complete_cases,
    exposure_levels,
    exposure_term,
    records_frame,
)
from analysis.estimators.runner import run_jobs
from analysis.estimators.survey import (
    DESIGN,
    FIT_ERRORS,
    VCOV,
    cox_design_fit,
    fit_cox_design,
    fit_glm_design,
    glm_design_fit,
    wald_test,
)
from analysis.estimators.weight_test import dumouchel_duncan
from analysis.studies.nhanes.models import PSU, STRATUM, row_sample
from analysis.studies.nhanes.schema import model_weight
from analysis.studies.nhanes.settings import (
    AgeTimeScale,
    Models,
    NhanesSettings,
    Sensitivity,
    SubgroupSpec,
    load,
)

#: Sensitivity analyses, in table order: analysis key -> label.
ANALYSES = {
    "main": "Main analysis",
    "early_deaths_excluded": "Follow-up from {years:g} years (earlier deaths excluded)",
    "prevalent_disease_excluded": "{label}",
    "self_rated_health_adjusted": "+ self-rated health",
    "further_confounders_adjusted": "+ physical activity, alcohol, insurance, cancer, COPD",
    "age_time_scale": "Age as the time scale (left-truncated at interview age), splines",
    "splines": "Restricted cubic splines for continuous covariates",
}
#: Derived columns of the age-time-scale Cox model: entry and exit age (years).
AGE_ENTRY, AGE_EXIT = "age_at_entry", "age_at_exit"
WEIGHT_TEST_COLUMNS = ["study", "outcome", "outcome_label", "exposure", "exposure_label", "covariate_set", "model",
                       "weight", "test", "statistic", "df_num", "df_den", "p_value", "n", "note"]
SENSITIVITY_COLUMNS = ["analysis", "analysis_label", *RECORD_COLUMNS]
SUBGROUP_COLUMNS = ["record", "modifier", "modifier_label", "subgroup", *RECORD_COLUMNS, "F", "df_num", "df_den"]
RULES = ("levels", "cut")
MONTHS_PER_YEAR = 12


# --- settings ----------------------------------------------------------------------------------------------


def check_table(table: pd.DataFrame, settings: Sensitivity) -> None:
    """Every column the sensitivity block names must be in the analysis table (the error names the column
    and the params key), and the derived subgroup columns must not collide with one."""
    check_columns(table, formula_variables(settings.self_rated_health),
                  f"params.yaml {settings.key('self_rated_health')}")
    check_columns(table, formula_variables(settings.further_confounders),
                  f"params.yaml {settings.key('further_confounders')}")
    check_columns(table, [settings.prevalent_disease.column],
                  f"params.yaml {settings.key('prevalent_disease', 'column')}")
    for i, subgroup in enumerate(settings.subgroups):
        check_columns(table, [subgroup.column],
                      f"params.yaml {settings.key('subgroups', i, 'column')} ({subgroup.name})")
        if subgroup.modifier_column in table.columns:
            raise ConfigError(f"params.yaml {settings.key('subgroups', i)}: the name '{subgroup.name}' makes the "
                              f"column '{subgroup.modifier_column}', which the analysis table already has; rename it")


# --- domains -----------------------------------------------------------------------------------------------


def followup_domain(table: pd.DataFrame, duration: str, years: float) -> np.ndarray:
    """Rows followed at least ``years`` (``duration`` in months >= 12 x years); missing follow-up -> False."""
    months = pd.to_numeric(table[duration], errors="coerce").to_numpy(dtype=float)
    return np.nan_to_num(months, nan=-np.inf) >= MONTHS_PER_YEAR * years


def no_disease_domain(table: pd.DataFrame, column: str) -> np.ndarray:
    """Rows with ``column`` == 0 (free of the disease at baseline); missing -> False."""
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
    bad = sorted(set(values[~np.isnan(values)]) - {0.0, 1.0})
    if bad:
        raise ValueError(f"column '{column}' (params.yaml nhanes.sensitivity.prevalent_disease.column) must be 0/1; "
                         f"found {bad[:5]}")
    return values == 0


def subgroup_labels(table: pd.DataFrame, subgroup: SubgroupSpec) -> pd.Series:
    """The subgroup of every row as an ordered categorical (missing where ``subgroup.column`` is missing).

    ``levels``: the column's categories (a pandas Categorical keeps its order; otherwise sorted), those
    present in the table; ``cut``: ``labels[0]`` where column < cut, ``labels[1]`` where column >= cut.
    """
    values = table[subgroup.column]
    if subgroup.rule == "levels":
        if isinstance(values.dtype, pd.CategoricalDtype):
            present = set(values.dropna().unique())
            levels = [str(c) for c in values.cat.categories if c in present]
        else:
            levels = sorted(str(v) for v in values.dropna().unique())
        text = values.astype(object).where(values.notna()).map(lambda v: v if pd.isna(v) else str(v))
        return pd.Series(pd.Categorical(text, categories=levels), index=table.index, name=subgroup.modifier_column)
    numbers = pd.to_numeric(values, errors="coerce")
    if values.notna().sum() != numbers.notna().sum():
        raise ValueError(f"column '{subgroup.column}' (params.yaml nhanes.sensitivity.subgroups, {subgroup.name}) "
                         "is not "
                         "numeric: a 'cut' rule needs numbers")
    below, above = subgroup.labels
    labels = np.where(numbers.isna(), None, np.where(numbers < subgroup.cut, below, above))
    return pd.Series(pd.Categorical(labels, categories=[below, above]), index=table.index,
                     name=subgroup.modifier_column)


def split_terms(rhs: str) -> list[str]:
    """The ``+``-separated terms of a right-hand side (a ``+`` inside parentheses does not split)."""
    terms, depth, current = [], 0, []
    for char in " ".join((rhs or "").split()):
        depth += (char == "(") - (char == ")")
        if char == "+" and depth == 0:
            terms.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    terms.append("".join(current).strip())
    return [t for t in terms if t]


def without_column_terms(rhs: str, column: str) -> str:
    """``rhs`` without the terms whose only variable is ``column`` (``C(sex)`` for ``sex``)."""
    return " + ".join(t for t in split_terms(rhs) if formula_variables(t) != [column])


def subgroup_covariates(rhs: str, table: pd.DataFrame, column: str, domain: np.ndarray) -> str:
    """The covariates of a subgroup model: ``rhs`` without the terms of the modifier's own ``column`` when
    that column takes a single value in the subgroup (``domain``), unchanged otherwise."""
    values = table.loc[np.asarray(domain, dtype=bool), column].dropna()
    return without_column_terms(rhs, column) if values.nunique() <= 1 else " ".join(rhs.split())


# --- jobs --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One outcome of ``models.survival`` (Cox) or ``models.regression`` (GLM)."""

    name: str
    label: str
    kind: str  # "survival" or "regression"
    columns: dict[str, str]  # duration/event, or outcome/family

    @property
    def model(self) -> str:
        return "cox" if self.kind == "survival" else FAMILIES[self.columns["family"]][0]

    @property
    def data_columns(self) -> list[str]:
        """The table columns of the outcome: duration and event, or the outcome."""
        return [self.columns["duration"], self.columns["event"]] if self.kind == "survival" \
            else [self.columns["outcome"]]


@dataclass(frozen=True)
class Job:
    label: str
    kind: str  # "sensitivity", "subgroup" or "interaction"
    run: Callable[[], pd.DataFrame]


def outcomes_of(models: Models) -> list[Outcome]:
    out = [Outcome(name, s.label, "survival", {"duration": s.duration, "event": s.event})
           for name, s in models.survival.items()]
    for name, s in models.regression.items():
        assert s.family in FAMILIES, s.family  # the schema's Literal is FAMILIES
        out.append(Outcome(name, s.label, "regression", {"outcome": s.outcome, "family": s.family}))
    return out


@dataclass(frozen=True)
class _Design:
    table: pd.DataFrame  # the full design (weight 0 outside every domain where missing)
    weight: str  # the interview weight (models.weight)
    lonely_psu: str
    alpha: float
    exam_weight: str = ""  # the MEC weight (models.exam_weight) of models with a MEC measure

    def weight_for(self, outcome: Outcome, rhs: str) -> str:
        """The weight of a model (schema.model_weight: the MEC weight when it holds a MEC measure)."""
        columns = [*outcome.data_columns, *formula_variables(rhs)]
        return model_weight(columns, self.weight, self.exam_weight or self.weight)

    def records(self, spec: ModelSpec, outcome: Outcome, subset=None) -> pd.DataFrame:
        """Records of the exposure term(s) of ``spec`` on the domain ``subset`` of the full design."""
        # the gathered tables are checked against the record contract once (sensitivity_frame, subgroups_frame)
        common = {"weight": self.weight_for(outcome, spec.rhs()), "stratum": STRATUM, "psu": PSU, "subset": subset,
                  "lonely_psu": self.lonely_psu, "alpha": self.alpha, "validate": False}
        if outcome.kind == "survival":
            return fit_cox_design(self.table, spec, **outcome.columns, **common)
        return fit_glm_design(self.table, spec, **outcome.columns, **common)

    def age_scale_records(self, spec: ModelSpec, outcome: Outcome) -> pd.DataFrame:
        """Records of the Cox model of ``spec`` with age as the time scale: at risk from the age at interview
        (entry, :data:`AGE_ENTRY`) to the age at death or censoring (:data:`AGE_EXIT`), left-truncated."""
        common = {"weight": self.weight_for(outcome, spec.rhs()), "stratum": STRATUM, "psu": PSU,
                  "lonely_psu": self.lonely_psu, "alpha": self.alpha, "validate": False}
        return fit_cox_design(self.table, spec, duration=AGE_EXIT, event=outcome.columns["event"], entry=AGE_ENTRY,
                              **common)

    def fit(self, rhs: str, outcome: Outcome, table: pd.DataFrame):
        """The :class:`~analysis.estimators.survey.DesignFit` of ``rhs`` on ``table`` (the design + columns)."""
        common = {"weight": self.weight_for(outcome, rhs), "stratum": STRATUM, "psu": PSU,
                  "lonely_psu": self.lonely_psu}
        if outcome.kind == "survival":
            return cox_design_fit(table, rhs, **outcome.columns, **common)
        return glm_design_fit(table, rhs, **outcome.columns, **common)


def _labelled(records: pd.DataFrame, **columns) -> pd.DataFrame:
    return records.assign(**columns)


def interaction_record(design: _Design, spec: ModelSpec, outcome: Outcome, subgroup: SubgroupSpec,
                       labels: pd.Series) -> pd.DataFrame:
    """The exposure x modifier model and the design-based Wald test of its interaction coefficients: one
    row (``record`` "interaction"), the F statistic, its degrees of freedom and p in ``p_value``."""
    mod = subgroup.modifier_column
    table = design.table.assign(**{mod: labels})
    covariates = (without_column_terms(spec.covariates, subgroup.column) if subgroup.rule == "levels"
                  else " ".join(spec.covariates.split()))
    weight = design.weight_for(outcome, covariates)
    sample = complete_cases(table, [*outcome.data_columns, spec.exposure, mod, *formula_variables(covariates),
                                    weight], weight=weight)
    levels = exposure_levels(sample[spec.exposure]) if spec.exposure_type == "categorical" else None
    term = exposure_term(spec.exposure, levels[0] if levels else None)
    rhs = " + ".join([term, *split_terms(covariates), f"C({mod})", f"{term}:C({mod})"])
    model = outcome.model
    row = {"record": "interaction", "modifier": subgroup.name, "modifier_label": subgroup.label, "subgroup": "",
           "study": spec.study, "outcome": spec.outcome, "outcome_label": spec.outcome_label,
           "exposure": spec.exposure, "exposure_label": spec.exposure_label,
           "term": f"{spec.exposure}:{mod}", "term_label": f"{spec.exposure_label} x {subgroup.label}",
           "estimate": math.nan, "std_error": math.nan, "statistic": math.nan, "ci_low": math.nan,
           "ci_high": math.nan, "ratio": math.nan, "ratio_ci_low": math.nan, "ratio_ci_high": math.nan,
           "measure": MEASURES[model], "model": model, "design": DESIGN, "vcov": VCOV,
           "covariate_set": spec.covariate_set, "sample": spec.sample, "n": len(sample),
           "events": float(sample[outcome.columns.get("event", outcome.columns.get("outcome"))].sum())
           if model != "linear" else math.nan, **dict.fromkeys(COMPONENT_COLUMNS, math.nan)}
    try:
        fit = design.fit(rhs, outcome, table)
        names = [n for n in fit.params.index if ":" in n and f"C({mod})" in n]
        test = wald_test(fit, names)
    except FIT_ERRORS as err:
        return pd.DataFrame([{**row, "p_value": math.nan, "F": math.nan, "df_num": math.nan, "df_den": math.nan,
                              "interval": "z", "df": math.nan, "n_groups": math.nan, "converged": False,
                              "note": f"interaction model failed: {str(err).splitlines()[0]}"}])
    note = (f"design-based Wald test of the exposure x {subgroup.label} coefficients (model with C({mod}) and its "
            "interaction with the exposure): F (column F) on (df_num, df_den) df, df_den the design df (PSUs - "
            f"strata) - {len(fit.params)} coefficients + 1, as R survey::regTermTest")
    if fit.problems:
        note += f"; {fit.problems}"
    # the test's F and its (numerator, denominator) df are columns of their own; the record's df is the design df
    return pd.DataFrame([{**row, "n": fit.n, "events": fit.events, "p_value": test.p_value, "F": test.F,
                          "df_num": test.df_num, "df_den": test.df_den, "interval": "t", "df": float(fit.df),
                          "n_groups": float(fit.n_psu), "converged": fit.converged, "note": note}])


def add_age_time_scale(frame: pd.DataFrame, table: pd.DataFrame, timing: AgeTimeScale) -> pd.DataFrame:
    """``frame`` with the entry and exit ages of the age-time-scale Cox model (years):
    ``age_at_entry = age + entry_offset_years`` (RIDAGEYR is completed years at screening: + 0.5 is the
    expected exact age) and ``age_at_exit = age_at_entry + followup / followup_units_per_year``. Rows with
    no follow-up time (0 months: exit = entry, at risk at no age) get a missing exit and leave the domain."""
    check_columns(table, [timing.age, timing.followup], f"params.yaml {timing.key()}")
    entry = table[timing.age].astype(float) + timing.entry_offset_years
    years = table[timing.followup].astype(float) / timing.followup_units_per_year
    return frame.assign(**{AGE_ENTRY: entry, AGE_EXIT: (entry + years).where(years > 0)})


def spline_covariates(rhs: str, splines: dict[str, str]) -> str:
    """``rhs`` with every term that is exactly a column of ``splines`` replaced by its spline term
    (``bmi`` -> ``cr(bmi, df=4, constraints='center')``); other terms unchanged."""
    return " + ".join(splines.get(term, term) for term in split_terms(rhs))


def _weight_test_row(data: pd.DataFrame, rhs: str, row: dict, model: str, kw: dict) -> dict:
    """One row of :func:`weight_test_records`: the test, or the failure in ``note``."""
    w = row["weight"]
    try:
        test = dumouchel_duncan(data, rhs, weight=w, model=model, **kw)
    except FIT_ERRORS as err:
        return {**row, "test": "", "statistic": math.nan, "df_num": math.nan, "df_den": math.nan,
                "p_value": math.nan, "n": math.nan, "note": f"failed: {str(err).splitlines()[0]}"}
    return {**row, "test": test.test, "statistic": test.statistic, "df_num": test.df_num, "df_den": test.df_den,
            "p_value": test.p_value, "n": test.n,
            "note": f"DuMouchel-Duncan: unweighted fit + {w} and {w} x each of the other {test.df_num - 1} "
                    "independent columns, tested jointly"}


def weight_test_records(table: pd.DataFrame, nh: NhanesSettings, *, progress: bool = False,
                        n_jobs: Workers = 1) -> pd.DataFrame:
    """The DuMouchel-Duncan weight-association test (:func:`analysis.estimators.weight_test.dumouchel_duncan`)
    of every model of ``nhanes_models.csv`` (exposure x covariate set x outcome), one row each: the unweighted
    model plus the model's weight (schema.model_weight: MEC weight with a MEC measure) and weight x every
    column, tested jointly (F for the linear model, likelihood ratio for the logistic and Cox models). Each test
    is on its model's sample and weight: with ``models.common_sample`` the nested sets of one exposure and
    outcome share the complete cases of every set (:func:`analysis.studies.nhanes.models.row_sample`).
    ``n_jobs`` worker processes share the tests (the stage passes ``compute.n_jobs``); rows in model order."""
    models = nh.models
    weight, exam_weight = models.weight, models.exam_weight
    outcomes = outcomes_of(models)
    jobs = []
    for exposure, exposure_spec in models.exposures.items():
        samples = {o.name: row_sample(table, models, exposure, o.data_columns) for o in outcomes}
        for set_name, covariates in models.covariate_sets.items():
            for outcome in outcomes:
                spec = ModelSpec(outcome=outcome.name, exposure=exposure, covariates=" ".join(covariates.split()),
                                 exposure_type=exposure_spec.type, covariate_set=set_name)
                shared = samples[outcome.name]
                w, data = ((shared[0], table.loc[shared[1]]) if shared is not None else
                           (model_weight([*outcome.data_columns, *spec.variables()], weight, exam_weight), table))
                sample = complete_cases(data, [*outcome.data_columns, *spec.variables()])
                levels = exposure_levels(sample[exposure]) if spec.exposure_type == "categorical" else None
                rhs = spec.rhs(levels[0] if levels else None)
                kw = ({"duration": outcome.columns["duration"], "event": outcome.columns["event"]}
                      if outcome.kind == "survival" else {"outcome": outcome.columns["outcome"]})
                model = "cox" if outcome.kind == "survival" else outcome.columns["family"]
                row = {"study": nh.study, "outcome": outcome.name, "outcome_label": outcome.label,
                       "exposure": exposure, "exposure_label": exposure_spec.label,
                       "covariate_set": set_name, "model": outcome.model, "weight": w}
                jobs.append((f"weight test {outcome.name} ~ {exposure} + {set_name}",
                             lambda data=data, rhs=rhs, row=row, model=model, kw=kw: _weight_test_row(
                                 data, rhs, row, model, kw)))
    results = run_jobs(jobs, desc="NHANES weight tests", n_jobs=n_jobs, progress=progress)
    return pd.DataFrame(results, columns=WEIGHT_TEST_COLUMNS)


def sensitivity_jobs(table: pd.DataFrame, nh: NhanesSettings) -> list[Job]:
    """Every fit, in output order: the sensitivity analyses (exposure x outcome x analysis), then per
    modifier, exposure and outcome the subgroup fits and the interaction test."""
    settings, models = nh.sensitivity, nh.models
    set_name = nh.covariate_set(settings.covariate_set)
    weight, exam_weight = models.weight, models.exam_weight
    check_columns(table, [weight, STRATUM, PSU], f"params.yaml {models.key('weight')} and the survey design")
    check_table(table, settings)
    covariates = " ".join(models.covariate_sets[set_name].split())
    outcomes = outcomes_of(models)
    check_columns(table, formula_variables(covariates),
                  f"params.yaml {models.key('covariate_sets', set_name)}")
    for exposure in models.exposures:
        check_columns(table, [exposure], f"params.yaml {models.key('exposures', exposure)}")
    for outcome in outcomes:
        check_columns(table, outcome.data_columns, f"params.yaml {models.key(outcome.kind, outcome.name)}")
    # The design keeps every row but only the columns a model reads (each worker gets a copy).
    check_columns(table, [exam_weight], f"params.yaml {models.key('exam_weight')}")
    timing, splines = settings.age_time_scale, settings.splines
    needed = [STRATUM, PSU, weight, exam_weight, *models.exposures,
              *formula_variables(f"{covariates} + {settings.self_rated_health} + {settings.further_confounders}"),
              *[c for o in outcomes for c in o.data_columns],
              settings.prevalent_disease.column, *[s.column for s in settings.subgroups]]
    check_columns(table, needed, f"params.yaml {models.key()} / {settings.key()}")
    columns = list(dict.fromkeys(needed))
    frame = table[columns].assign(**{w: table[w].fillna(0.0) for w in dict.fromkeys([weight, exam_weight])})
    frame = add_age_time_scale(frame, table, timing)
    design = _Design(frame, weight, models.lonely_psu, models.alpha, exam_weight)
    study = nh.study
    prevalent_free = no_disease_domain(table, settings.prevalent_disease.column)
    modifiers = [(s, subgroup_labels(table, s)) for s in settings.subgroups]
    labels = {"main": ANALYSES["main"],
              "early_deaths_excluded": ANALYSES["early_deaths_excluded"].format(
                  years=settings.exclude_early_death_years),
              "prevalent_disease_excluded": ANALYSES["prevalent_disease_excluded"].format(
                  label=settings.prevalent_disease.label),
              "self_rated_health_adjusted": ANALYSES["self_rated_health_adjusted"],
              "further_confounders_adjusted": ANALYSES["further_confounders_adjusted"],
              "age_time_scale": ANALYSES["age_time_scale"], "splines": ANALYSES["splines"]}

    jobs: list[Job] = []
    subgroup_jobs: list[Job] = []
    for exposure, exposure_spec in models.exposures.items():
        for outcome in outcomes:
            def spec(rhs: str, outcome=outcome, exposure=exposure, exposure_spec=exposure_spec) -> ModelSpec:
                return ModelSpec(outcome=outcome.name, exposure=exposure, covariates=rhs,
                                 exposure_type=exposure_spec.type, covariate_set=set_name, study=study,
                                 outcome_label=outcome.label, exposure_label=exposure_spec.label)

            main = spec(covariates)
            what = f"{outcome.name} ~ {exposure}"

            def add(analysis: str, model_spec: ModelSpec, subset=None, outcome=outcome, what=what) -> None:
                # a domain that leaves part of the main sample out is a sample of its own (record ``sample``)
                model_spec = replace(model_spec, sample=analysis) if subset is not None else model_spec
                jobs.append(Job(f"{analysis}: {what}", "sensitivity", lambda: _labelled(
                    design.records(model_spec, outcome, subset), analysis=analysis, analysis_label=labels[analysis])))

            add("main", main)
            if outcome.kind == "survival":
                add("early_deaths_excluded", main,
                    followup_domain(table, outcome.columns["duration"], settings.exclude_early_death_years))
            if outcome.name in settings.prevalent_disease.outcomes:
                add("prevalent_disease_excluded", main, prevalent_free)
            add("self_rated_health_adjusted", spec(f"{covariates} + {settings.self_rated_health}"))
            add("further_confounders_adjusted", spec(f"{covariates} + {settings.further_confounders}"))
            add("splines", spec(spline_covariates(covariates, splines)))
            if outcome.kind == "survival":
                age_spec = spec(spline_covariates(without_column_terms(covariates, timing.age), splines))
                jobs.append(Job(f"age_time_scale: {what}", "sensitivity",
                                lambda age_spec=age_spec, outcome=outcome: _labelled(
                                    design.age_scale_records(age_spec, outcome), analysis="age_time_scale",
                                    analysis_label=labels["age_time_scale"])))

            for subgroup, column_labels in modifiers:
                for level in column_labels.cat.categories:
                    domain = (column_labels == level).to_numpy()
                    sub_spec = replace(spec(subgroup_covariates(covariates, table, subgroup.column, domain)),
                                       sample=f"{subgroup.name}={level}")
                    subgroup_jobs.append(Job(
                        f"{subgroup.name}={level}: {what}", "subgroup",
                        lambda sub_spec=sub_spec, domain=domain, subgroup=subgroup, level=level, outcome=outcome:
                        _labelled(design.records(sub_spec, outcome, domain), record="subgroup",
                                  modifier=subgroup.name, modifier_label=subgroup.label, subgroup=str(level),
                                  F=math.nan, df_num=math.nan, df_den=math.nan)))
                subgroup_jobs.append(Job(
                    f"{subgroup.name} x {exposure}: {outcome.name}", "interaction",
                    lambda subgroup=subgroup, column_labels=column_labels, outcome=outcome, main=main:
                    interaction_record(design, main, outcome, subgroup, column_labels)))
    return jobs + subgroup_jobs


def sensitivity_frame(rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sensitivity records: the analysis key and label, then :data:`RECORD_COLUMNS`."""
    if rows is None or rows.empty:
        return pd.DataFrame(columns=SENSITIVITY_COLUMNS)
    frame = records_frame(rows.loc[:, RECORD_COLUMNS])
    return pd.concat([rows[["analysis", "analysis_label"]].reset_index(drop=True), frame], axis=1)


def subgroups_frame(rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Subgroup and interaction records: :data:`SUBGROUP_COLUMNS`."""
    if rows is None or rows.empty:
        return pd.DataFrame(columns=SUBGROUP_COLUMNS)
    frame = records_frame(rows.loc[:, RECORD_COLUMNS])
    extra = rows[["record", "modifier", "modifier_label", "subgroup"]].reset_index(drop=True)
    stats_ = rows[["F", "df_num", "df_den"]].reset_index(drop=True).astype("float64")
    return pd.concat([extra, frame, stats_], axis=1).loc[:, SUBGROUP_COLUMNS]


def run_sensitivity(table: pd.DataFrame, nh: NhanesSettings, *, progress: bool = True,
                    n_jobs: Workers = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit every sensitivity and subgroup model; return ``(sensitivity records, subgroup records)``.

    A column the ``sensitivity`` block names but the table lacks raises a ValueError naming the column and
    the params key, before anything is fit. ``n_jobs`` worker processes (the stage passes ``compute.n_jobs``;
    results in job order, so reruns give identical tables).
    """
    jobs = sensitivity_jobs(table, nh)
    results = run_jobs([(job.label, job.run) for job in jobs], desc="NHANES sensitivity", n_jobs=n_jobs,
                       progress=progress)
    sensitivity = [r for job, r in zip(jobs, results) if job.kind == "sensitivity"]
    subgroups = [r for job, r in zip(jobs, results) if job.kind != "sensitivity"]
    return (sensitivity_frame(pd.concat(sensitivity, ignore_index=True) if sensitivity else None),
            subgroups_frame(pd.concat(subgroups, ignore_index=True) if subgroups else None))


def stage() -> str:
    """DVC stage ``sensitivity_nhanes``: the sensitivity analyses and the effect-modification records."""
    params = load()
    table = io.read_parquet(config.PROCESSED / "nhanes.parquet")
    n_jobs = params.compute.n_jobs
    sensitivity, subgroups = run_sensitivity(table, params.nhanes, n_jobs=n_jobs)
    weight_tests = weight_test_records(table, params.nhanes, progress=True, n_jobs=n_jobs)
    metrics = config.REPORTS / "metrics"
    io.write_outputs({metrics / "nhanes_sensitivity.csv": sensitivity, metrics / "nhanes_subgroups.csv": subgroups,
                      metrics / "nhanes_weight_tests.csv": weight_tests})
    tests = int((subgroups["record"] == "interaction").sum())
    return f"NHANES sensitivity: {len(sensitivity)} sensitivity records, {len(subgroups) - tests} subgroup records, " \
           f"{tests} interaction tests"
