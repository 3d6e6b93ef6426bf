"""County models: social isolation and health across US counties, and within counties over time.

**These are ecological associations.** Every row is a county (a population): a coefficient says how a
county's prevalence of an outcome differs with its prevalence of isolation, not that isolated people
are more often ill. Every record's ``note`` says so.

``run_places_models(table, panel, spec)`` fits, from a spec (``params.yaml`` ``places``; see the keys
below), every outcome x exposure x covariate set of ``county_models`` in each design, and every outcome
x exposure x covariate set of ``panel_models``:

=====================  ====================  ==========================================================  ==========
record model           record design         what is fitted (library fitter)                             weights
=====================  ====================  ==========================================================  ==========
multilevel_linear      multilevel            counties within states: REML linear mixed model, random     unweighted
                                             state intercept and random slope of the exposure by state
                                             (:func:`analysis.estimators.mixed.fit_random_slope_linear`)
group_fixed_effects    unweighted            OLS with state fixed effects: the within-state              none
                                             association; SE clustered by state
                                             (:func:`analysis.estimators.group_fixed_effects.fit_group_fixed_effects`)
group_fixed_effects    weighted              the same, population-weighted (WLS, weight = county         population
                                             population)
fixed_effects          unweighted            county panel 2010-2011 (CHR&R): county and year fixed       none
                                             effects, change in the outcome on change in inadequate
                                             social support (:mod:`analysis.estimators.panel`);
                                             DESCRIPTIVE only (overlapping BRFSS windows, shared
                                             respondents)
=====================  ====================  ==========================================================  ==========

The tables and ``places.json`` name each fit by its county design ("weighted", "unweighted", "multilevel") or,
for the county panel, "fixed-effects" (:func:`report_designs`).

**Exposures per 1 percentage point.** Exposures are prevalences in percent and enter as they are, so
``estimate`` is the difference in the outcome (percentage points, YPLL per 100,000, years ...) per 1
percentage point more adults isolated (or lacking support). In the multilevel model the exposure is
centred at its sample mean (the slope is unchanged; the state intercept becomes the state's level at
the average exposure, and the intercept-slope correlation is not an artefact of an origin far outside
the data).

**The population-weighted design is primary** (:data:`PRIMARY_DESIGN`): the question is how health differs
with isolation where people live, not across counties each counted once; the unweighted fits are
sensitivity analyses. **PLACES values are small-area model predictions** (CDC's multilevel regression
and post-stratification of BRFSS), so a county's value borrows strength from its demographic make-up
and state: adjusting for composition (age, race and ethnicity, language, insurance, rurality) matters
all the more. **The county panel is descriptive** (:data:`PANEL_DESCRIPTIVE`).

**Weights.** The REML mixed model (as lme4's ``lmer`` here) takes no weights, so the multilevel fits are **unweighted**
(each county counts once, a county of 500 people as much as Los Angeles). The population-weighted
question is answered by the ``weighted`` design: state fixed effects with population weights. Every
design uses one analytic sample per outcome x exposure x covariate set (complete cases on outcome,
exposure, covariates, state and a positive weight), except that the fixed-effects fits drop states with
a single county (DC), which carry no within-state contrast.

**Standard errors.** State fixed effects: cluster-robust by state,
``V = G/(G-1) (X'WX)^-1 (sum_g s_g s_g') (X'WX)^-1`` with ``s_g`` the summed (weighted) scores of state
``g`` - statsmodels ``cov_type="cluster"`` with ``use_correction=False`` times ``G/(G-1)``, the convention of
:mod:`analysis.estimators.vcov`. County panel: cluster-robust by county,
linearmodels' uncorrected clustered covariance (``debiased=False``, absorbed effects not counted) times
``G/(G-1)``. Multilevel: model-based, ``sigma^2 (X'V^-1 X)^-1`` at the REML estimate (lme4's ``vcov``; the
statsmodels ``MixedLM`` fits used before 2026-12 inverted the full Hessian, a little larger). Wald intervals on
the normal scale, as every record (with about 40 state clusters a t reference would widen them by about 2%).

**State random effects.** Besides the records, :func:`run_places_models` returns the state random
effects of every multilevel fit (:data:`STATE_EFFECT_COLUMNS`): for each state the BLUP (conditional
mode) of its intercept and slope deviation, its conditional SD (statsmodels ``random_effects_cov``:
given the data and the estimated fixed effects and variances, so intervals ignore the uncertainty in
those), a 95% interval, the fixed part, their sum, and the fit's variance components.

The spec (``params["places"]``)::

    study: "US counties (CDC PLACES 2024, CHR&R)"
    county_models:
      outcomes: {depression_pct: {label: "Depression (%)"}, ...}
      exposures: {isolation_pct: {label: "..."}, emotional_support_lacking_pct: {label: "..."}}
      covariate_sets: {unadjusted: "", socioeconomic: "log_median_income + ...", composition: "...", ...}
      group: state
      weight: population
      designs: [weighted, unweighted, multilevel]
      random_slope: true
      alpha: 0.05
    panel_models:
      entity: fips
      time: year
      outcomes: {premature_death_ypll: {label: "..."}, ...}
      exposures: {inadequate_support_pct: {label: "..."}}
      covariate_sets: {unadjusted: "", smoking: "smoking_pct"}
      alpha: 0.05

A covariate that is the model's outcome is left out of that model (the note says so).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from analysis.core import config, io
from analysis.core.metrics import ecological_metrics
from analysis.estimators.formula import without_terms
from analysis.estimators.group_fixed_effects import fit_group_fixed_effects
from analysis.estimators.mixed import fit_random_slope_linear
from analysis.estimators.panel import FITS, PanelLayout, PanelOptions, prepare_panel
from analysis.estimators.records import (
    ModelSpec,
    check_columns,
    failed_records,
    formula_variables,
    records_frame,
)
from analysis.estimators.runner import run_jobs
from analysis.studies.places.schema import ECOLOGICAL, MODEL_BASED
from analysis.studies.places.settings import (
    COUNTY_DESIGNS,
    PANEL_DESIGN,
    CountyModels,
    CountyPanel,
    PlacesSettings,
    load,
    report_designs,
)

#: The primary county design: population-weighted, so that the estimate describes where people live rather than
#: the average county (a county of 500 people would otherwise count as much as Los Angeles).
PRIMARY_DESIGN = "weighted"
#: How the panel fitters name a county and a year in their notes.
UNIT_WORDS = {"unit": "county", "units": "counties", "period": "year"}

#: What the 2010-2011 county panel can and cannot show.
PANEL_DESCRIPTIVE = ("DESCRIPTIVE, not evidence of an effect: each CHR&R release pools several overlapping BRFSS "
                     "years, so a county's change between releases is mostly a shift of the window, and the exposure "
                     "and the BRFSS outcomes are computed from the same respondents")

STATE_EFFECT_COLUMNS: list[str] = [
    "study", "outcome", "outcome_label", "exposure", "exposure_label", "covariate_set", "state", "n_counties",
    "component", "fixed", "deviation", "deviation_sd", "ci_low", "ci_high", "state_value",
    "state_intercept_var", "state_slope_var", "intercept_slope_corr", "residual_var", "converged",
]

# ---------------------------------------------------------------------------------------------
# Helpers


def _dropped_text(dropped: list[str]) -> str:
    return f"; covariate {', '.join(dropped)} left out (it is the outcome)" if dropped else ""


def _first_line(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return f"{type(err).__name__}: {text}"


# ---------------------------------------------------------------------------------------------
# (a) counties within states: multilevel


def fit_state_multilevel(
    data: pd.DataFrame, spec: ModelSpec, *, group: str = "state", weight: str | None = None,
    random_slope: bool = True, alpha: float = 0.05, validate: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counties within states: random state intercept (and slope of the exposure); (records, state effects).

    :func:`analysis.estimators.mixed.fit_random_slope_linear` (unweighted: ``weight`` only restricts the sample
    to rows with a positive weight, so the sample equals the weighted design's; the exposure centred at its
    mean), after leaving out a covariate that is the outcome; the note adds the county wording.
    """
    covariates, dropped = without_terms(spec.covariates, {spec.outcome})
    spec = replace(spec, covariates=covariates)
    records, effects = fit_random_slope_linear(data, spec, group=group, weight=weight, random_slope=random_slope,
                                               alpha=alpha, validate=validate)
    suffix = (f"; counties within states, per 1 percentage point; the population-weighted analogue is the "
              f"'weighted' design{_dropped_text(dropped)}; {MODEL_BASED}; {ECOLOGICAL}")
    records = records.assign(note=records["note"] + suffix)
    renamed = effects.rename(columns={"group": "state", "n": "n_counties", "value": "state_value",
                                      "var_group": "state_intercept_var", "var_slope": "state_slope_var",
                                      "corr_group_slope": "intercept_slope_corr", "var_residual": "residual_var"})
    rows = renamed.assign(study=spec.study, outcome=spec.outcome, outcome_label=spec.outcome_label,
                          exposure=spec.exposure, exposure_label=spec.exposure_label,
                          covariate_set=spec.covariate_set).to_dict("records")
    return records, _effects_frame(rows)


def _effects_frame(rows: list[dict] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows or [], columns=STATE_EFFECT_COLUMNS)
    frame["n_counties"] = frame["n_counties"].astype("int64")
    frame["converged"] = frame["converged"].astype(bool)
    return frame


# ---------------------------------------------------------------------------------------------
# (b) state fixed effects, unweighted and population-weighted


def fit_state_fixed_effects(
    data: pd.DataFrame, spec: ModelSpec, *, group: str = "state", weight: str | None = None,
    weighted: bool = False, alpha: float = 0.05, validate: bool = True,
) -> pd.DataFrame:
    """OLS (or population-weighted WLS) with state fixed effects, SE clustered by state (G/(G-1)); records.

    :func:`analysis.estimators.group_fixed_effects.fit_group_fixed_effects` after leaving out a covariate that
    is the outcome: the exposure coefficient compares counties of the same state (within-state association).
    ``weight`` is the population column: used as WLS weights (normalised to mean 1) when ``weighted``, else it
    only restricts the sample. States with a single county are dropped (named in the note).
    """
    if weighted and not weight:
        raise ValueError("the population-weighted design needs the weight column (params.yaml "
                         "places.county_models.weight)")
    covariates, dropped_terms = without_terms(spec.covariates, {spec.outcome})
    spec = replace(spec, covariates=covariates)
    records = fit_group_fixed_effects(data, spec, group=group, weight=weight, weighted=weighted, alpha=alpha,
                                      validate=validate)
    primary = "PRIMARY design (population-weighted); " if weighted else ""
    suffix = f"; {primary}counties, per 1 percentage point{_dropped_text(dropped_terms)}; {MODEL_BASED}; {ECOLOGICAL}"
    return records.assign(note=records["note"] + suffix)


# ---------------------------------------------------------------------------------------------
# (c) county panel 2010-2011: county and year fixed effects


def fit_county_panel(
    panel: pd.DataFrame, spec: ModelSpec, *, entity: str = "fips", time: str = "year", alpha: float = 0.05,
) -> pd.DataFrame:
    """County and year fixed effects, SE clustered by county (G/(G-1)); records (the two-way FE fitter of
    :mod:`analysis.estimators.panel`).

    The within-county association: how a county's outcome changed with its change in the exposure, net of the
    change common to all counties (year effect). Only counties with complete data in 2+ years contribute;
    with two years this equals the first-difference regression of the change in the outcome on the change in
    the exposure (with an intercept), and the clustered SE equals that regression's HC0 SE times G/(G-1).
    """
    covariates, dropped_terms = without_terms(spec.covariates, {spec.outcome})
    spec = replace(spec, covariates=covariates)
    check_columns(panel, [entity, time], "the county panel layout (entity, time)")
    layout = PanelLayout(entity=entity, time=time, **UNIT_WORDS)
    try:
        p = prepare_panel(panel, spec, layout)
    except ValueError as err:
        if "rows share" in str(err):  # a county with two rows in one year: a data error, not a failed fit
            raise
        return failed_records(spec, levels=None, model="fixed_effects", design="unweighted", vcov="cluster", n=0,
                              events=math.nan, note=f"{_first_line(err)}; {ECOLOGICAL}")
    records = FITS["fixed_effects"](p, PanelOptions(alpha=alpha))
    suffix = f"; per 1 percentage point{_dropped_text(dropped_terms)}; {ECOLOGICAL}"
    return records.assign(note=PANEL_DESCRIPTIVE + "; " + records["note"] + suffix)


# ---------------------------------------------------------------------------------------------
# The stage


def _check_block(data: pd.DataFrame, block: CountyModels | CountyPanel, extra: list[str]) -> None:
    """The columns a block names must be in its table (the schema checked the block itself)."""
    check_columns(data, [c for c in extra if c], f"params.yaml {block.key()}")
    for name in block.outcomes:
        check_columns(data, [name], f"params.yaml {block.key('outcomes', name)}")
    for name in block.exposures:
        check_columns(data, [name], f"params.yaml {block.key('exposures', name)}")
    for set_name, rhs in block.covariate_sets.items():
        check_columns(data, formula_variables(rhs), f"params.yaml {block.key('covariate_sets', set_name)}")


def _specs(block: CountyModels | CountyPanel, study: str):
    for exposure, e in block.exposures.items():
        for outcome, o in block.outcomes.items():
            for set_name, rhs in block.covariate_sets.items():
                yield ModelSpec(outcome=outcome, exposure=exposure, covariates=rhs, covariate_set=set_name,
                                study=study, outcome_label=o.label, exposure_label=e.label)


def run_places_models(table: pd.DataFrame, panel: pd.DataFrame | None, places: PlacesSettings, *,
                      progress: bool = True, n_jobs: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit the county models and the county panel models of ``places`` (params.yaml ``places``, keys in the module
    docstring); return ``(records, state_effects)``.

    ``records`` has :data:`~analysis.estimators.records.RECORD_COLUMNS`; ``state_effects``
    :data:`STATE_EFFECT_COLUMNS` (one row per multilevel fit x state x component). A column named in the spec but
    absent from the tables raises a ValueError before anything is fit; a fit that fails numerically gives NaN rows
    with ``converged`` False and the error in ``note``. ``panel`` may be None when ``panel_models`` is absent.
    ``n_jobs`` worker processes share the fits (every fit is deterministic; results in job order). The per-fit
    functions return their fitter's records (unvalidated: ``validate=False``) with a longer ``note`` (text
    only), so the records are validated once, here.
    """
    study, county = places.study, places.county_models
    group, weight, designs = county.group, county.weight, list(county.designs)
    random_slope, alpha = county.random_slope, county.alpha
    _check_block(table, county, [group, weight])

    panel_block = places.panel_models
    if panel_block is not None:
        if panel is None:
            raise ValueError("params.yaml places.panel_models is set but no county panel table was given")
        entity, time = panel_block.entity, panel_block.time
        _check_block(panel, panel_block, [entity, time])

    jobs = []
    for model_spec in _specs(county, study):
        for design in designs:
            if design == "multilevel":
                jobs.append((f"multilevel {model_spec.outcome} ~ {model_spec.exposure} [{model_spec.covariate_set}]",
                             lambda s=model_spec: fit_state_multilevel(table, s, group=group, weight=weight,
                                                                       random_slope=random_slope, alpha=alpha,
                                                                       validate=False)))
            else:
                jobs.append((f"{design} {model_spec.outcome} ~ {model_spec.exposure} [{model_spec.covariate_set}]",
                             lambda s=model_spec, d=design: (fit_state_fixed_effects(
                                 table, s, group=group, weight=weight, weighted=d == "weighted", alpha=alpha,
                                 validate=False), None)))
    if panel_block is not None:
        panel_alpha = panel_block.alpha
        for model_spec in _specs(panel_block, study):
            jobs.append((f"panel {model_spec.outcome} ~ {model_spec.exposure} [{model_spec.covariate_set}]",
                         lambda s=model_spec: (fit_county_panel(panel, s, entity=entity, time=time,
                                                                alpha=panel_alpha), None)))

    records, effects = [], []
    for rec, eff in run_jobs(jobs, desc="county models", n_jobs=n_jobs, progress=progress):
        records.append(rec)
        if eff is not None and not eff.empty:
            effects.append(eff)
    out = records_frame(pd.concat(records, ignore_index=True)) if records else records_frame()
    state_effects = pd.concat(effects, ignore_index=True) if effects else _effects_frame()
    return out, state_effects


__all__ = [
    "COUNTY_DESIGNS", "ECOLOGICAL", "MODEL_BASED", "PANEL_DESCRIPTIVE", "PANEL_DESIGN", "PRIMARY_DESIGN",
    "STATE_EFFECT_COLUMNS", "fit_county_panel", "fit_state_fixed_effects", "fit_state_multilevel", "report_designs",
    "run_places_models", "without_terms",
]


def stage() -> str:
    """DVC stage ``models_places``: the county models, the state effects and the metrics."""
    params = load()
    table = io.read_parquet(config.PROCESSED / "places_county.parquet")
    panel = io.read_parquet(config.PROCESSED / "places_panel.parquet")
    records, effects = run_places_models(table, panel, params.places, n_jobs=params.compute.n_jobs)
    sample = {"counties": int(len(table)), "states": int(table["state"].nunique()),
              "counties_with_isolation": int(table["isolation_pct"].notna().sum()),
              "states_with_isolation": int(table.loc[table["isolation_pct"].notna(), "state"].nunique()),
              "county_years": int(len(panel))}
    metrics = config.REPORTS / "metrics"
    io.write_outputs({metrics / "places_models.csv": records, metrics / "places_state_effects.csv": effects,
                      metrics / "places.json": ecological_metrics(records, sample, report_designs(records))})
    return f"county models: {len(records)} records"
