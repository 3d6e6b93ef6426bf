"""Longitudinal models of the ageing cohorts: depressive symptoms, new CVD and death on isolation and loneliness.

Every model has both exposures, the social isolation index (0-5) and the UCLA loneliness score (3-9),
so each coefficient is the association of one net of the other. Specs are ``params.yaml``
``cohorts.models``; each fit returns :data:`~analysis.estimators.records.RECORD_COLUMNS` records, one per
exposure, ``model`` naming the estimator:

=======================  ===================================================================================
spec estimator           what it estimates (record ``model``, ``design``; library fitter)
=======================  ===================================================================================
``within_between_lmm``   depressive-symptom score on each exposure split into the person's mean (between) and
                         the deviation from it (within), time-invariant covariates, a time trend; random
                         intercept and random slope on time per person, REML (``within_between_lmm``,
                         ``multilevel``; :mod:`analysis.estimators.within_between`). The within term is the
                         person's score moving with their own isolation; the between term also carries stable
                         traits (Curran & Bauer 2011). SE: model-based, lme4's ``sigma^2 (X'V^-1 X)^-1``.
``two_way_fe``           the same within-person coefficient by two-way fixed effects (person and wave)
                         (``fixed_effects``, ``unweighted``; :mod:`analysis.estimators.panel`), SE clustered by
                         person (uncorrected sandwich x G/(G-1)).
``cloglog_hazard``       discrete-time complementary log-log model on person-intervals (interview to next
                         interview) with the exposures measured at the interval's start, interval dummies and
                         ``log(interval length in years)`` as offset: a grouped-time proportional-hazards
                         model, so ``exp(estimate)`` is a hazard ratio (Prentice & Gloeckler 1978)
                         (``cloglog_hazard``, ``unweighted``; :mod:`analysis.estimators.discrete_time`).
                         SE clustered by person, the project's one rule (uncorrected sandwich x G/(G-1)).
``cox_time_varying``     Cox model on the same person-intervals in counting-process form (start, stop],
                         time on study since the first interview, Efron ties (``cox_time_varying``,
                         ``unweighted``; :mod:`analysis.estimators.cox_time_varying`). Model-based SE: a
                         person's intervals do not overlap.
``*_ipw``                the FE and cloglog fits again, weighted by inverse probability of remaining in the
                         study (:func:`attrition_weights`): a sensitivity analysis for attrition (record
                         ``design`` ``weighted``).
=======================  ===================================================================================

The spec's estimator names stay the names of the tables, of ``cohorts.json`` and of the truth table:
:func:`specification_keys` maps each record (``model``, ``design``, ``sample``) back to its name.
``covariate_set`` is ``cohorts.models.depression.covariate_set`` for the depression models (the FE model absorbs
those time-invariant covariates with the person effect) and ``cohorts.models.hazards.covariate_set`` for the
hazard models (each outcome adds its own covariates: death, CVD so far).

**Events.** Death: the death date (``death_months``) falls in (interview, next interview], or in the
nominal interval when the next interview did not happen; a person not interviewed at the next wave and
alive is censored at the interval's end; follow-up ends at the last wave. New CVD: the first report of heart
disease or stroke at the next interview after an interview without it (``incident_cvd``); only intervals
that end with an interview (so the status is known) are used: those who die first are censored before
any later report (the cause-specific hazard, death competing), see :func:`cumulative_incidence` for the
absolute risks with death as a competing event.

**Measures a study lacks, and measures asked every other wave.** An exposure a study never measured
(CHARLS has no UCLA loneliness items) is left out of that study's models, and each of its records says so
in ``note``; the other studies keep both exposures. Measures the HRS asks in the psychosocial Leave-Behind
reach each person every other wave: :func:`carry_forward` links the last measurement to the next outcome
when it is at most ``max_waves`` waves old (``params.yaml cohorts.studies.<study>.carry_forward``), and
with ``cohorts.models.no_carry_sensitivity`` every model of such a study is fitted again without carrying
(record ``sample`` :data:`NO_CARRY`; its spec name ends ``_no_carry``).

**Speed.** The stage runs with one BLAS thread (as every stage, ``analysis.cli``): OpenBLAS's two threads on the tall,
narrow least-squares and SVD calls of the GLM fits (n x ~20) spent about five times the CPU of one thread on
our shared 2-core machine (issue 23; benchmarks/results/), and the results are the same bytes. The records
are validated once, when the fitter builds them and again over the whole table, not after each note is added.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.core import config, io
from analysis.core.disclosure import SUPPRESSED_NOTE, DisclosureRule, rule_of
from analysis.estimators.cox_time_varying import fit_cox_time_varying
from analysis.estimators.discrete_time import fit_cloglog_hazard
from analysis.estimators.incidence import weighted_cumulative_incidence
from analysis.estimators.panel import FITS, PanelLayout, PanelOptions, prepare_panel
from analysis.estimators.records import (
    COMPONENT_COLUMNS,
    ModelSpec,
    check_columns,
    failed_fit_records,
    formula_variables,
    joint_specs,
    records_frame,
)
from analysis.estimators.runner import run_jobs
from analysis.estimators.sem import fit_riclpm, wide_from_long
from analysis.estimators.weights import cumulative_weights, stabilised_ratio
from analysis.estimators.within_between import fit_within_between_lmm, predicted_trajectories
from analysis.studies.cohorts.clean import restricted_studies
from analysis.studies.cohorts.keys import NO_CARRY, SPECIFICATIONS, specification_keys  # noqa: F401  (API)
from analysis.studies.cohorts.metrics import cohort_metrics
from analysis.studies.cohorts.settings import (
    CarryForward,
    CohortModels,
    DepressionModel,
    Estimator,
    HazardOutcome,
    ModelExposure,
    Riclpm,
    load,
)

ESTIMATORS: tuple[str, ...] = Estimator.__args__  # the schema's list (studies/cohorts/settings.py), in its order
CONTINUOUS_ESTIMATORS = ("within_between_lmm", "two_way_fe", "two_way_fe_ipw")
HAZARD_ESTIMATORS = ("cloglog_hazard", "cloglog_hazard_ipw", "cox_time_varying")
SYNTHETIC_NOTE = "SYNTHETIC data simulated from params.yaml cohorts.synthetic (known truth), not real people"
BETWEEN = "between-person"
_FIT_ERRORS = (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError, RuntimeError)  # RI-CLPM


# ---------------------------------------------------------------------------------------------
# Data for the models


def person_intervals(panel: pd.DataFrame, gap_months: dict[int, float] | None = None) -> pd.DataFrame:
    """Person-intervals from interview w to the next wave: the rows of every hazard model.

    One row per interviewed person-wave that has a next wave in the map. Columns: the panel's columns at
    wave w (exposures, covariates, ``cvd_ever``), ``start`` and ``stop`` (months on study since the person's
    first interview), ``length_years``, ``next_interviewed``, ``death`` (1 if the death date falls in the
    interval), ``cvd_event`` (``incident_cvd`` reported at the next interview; missing when the next wave
    has no interview or no CVD answer), ``interval`` (= wave w). ``gap_months`` maps a wave to the nominal
    months to the next wave (default: 24, biennial).
    """
    check_columns(panel, ["person_id", "wave", "interviewed", "months", "died", "death_months", "incident_cvd"],
                  "person_intervals")
    p = as_float(by_person_wave(panel).reset_index(drop=True))
    if "incident_dementia" not in p:
        p = p.assign(incident_dementia=np.nan)
    nxt = p.groupby("person_id")[["wave", "interviewed", "months", "incident_cvd", "incident_dementia"]].shift(-1)
    base = p["months"].where(p["interviewed"] == 1).groupby(p["person_id"]).transform("min")
    rows = (p["interviewed"] == 1) & nxt["wave"].notna()
    gap = p["wave"].map(gap_months).fillna(24.0) if gap_months else pd.Series(24.0, index=p.index)
    next_iw = nxt["interviewed"].eq(1)
    end = np.where(next_iw, nxt["months"], p["months"] + gap)
    death_at = p["death_months"] + 0.5  # mid-month
    death = p["died"].eq(1) & (death_at > p["months"]) & (death_at <= end + 0.5)
    stop = np.where(death, np.minimum(death_at, end + 0.5), end)
    added = {"start": p["months"] - base, "stop": stop - base, "length_years": (end - p["months"]) / 12,
             "next_interviewed": next_iw.astype(float), "death": death.astype(float),
             "cvd_event": nxt["incident_cvd"].where(next_iw).astype("float64"),
             "dementia_event": nxt["incident_dementia"].where(next_iw).astype("float64"), "interval": p["wave"]}
    keep = rows.to_numpy()  # the interval rows taken before the new columns join (no copy of the whole panel)
    out = p.loc[keep].assign(**{k: v[keep] for k, v in added.items()}).reset_index(drop=True)
    bad = out["stop"] <= out["start"]
    if bad.any():
        first = out.loc[bad].iloc[0]
        raise ValueError(f"person {first['person_id']}: the interval from wave {first['wave']} ends at or before "
                         "it starts (an interview dated after the death date?); check the interview and death dates")
    return out


def by_person_wave(panel: pd.DataFrame) -> pd.DataFrame:
    """``panel`` in person and wave order (a stable sort); the frame itself when it is in that order already (the
    clean stage writes it so), which spares a copy of the whole panel."""
    order = panel[["person_id", "wave"]].reset_index(drop=True).sort_values(["person_id", "wave"], kind="stable")
    positions = order.index.to_numpy()
    return panel if (positions == np.arange(len(panel))).all() else panel.take(positions)


def carry_forward(panel: pd.DataFrame, variables: list[str], max_waves: int) -> tuple[pd.DataFrame, int]:
    """``panel`` with each of ``variables`` missing at an interview filled from the same person's latest
    interview at most ``max_waves`` waves earlier (by wave number, so a skipped wave counts), and the number
    of values filled. Only measured values are carried (never a value carried already); 0 waves: unchanged.
    """
    if not variables or max_waves <= 0:
        return panel, 0
    out = panel.sort_values(["person_id", "wave"], kind="stable").copy()
    interviewed = out["interviewed"] == 1
    filled = 0
    for v in variables:
        observed = out[v].where(interviewed)
        source_wave = out["wave"].where(observed.notna())
        last_value = observed.groupby(out["person_id"]).ffill().groupby(out["person_id"]).shift(1)
        last_wave = source_wave.groupby(out["person_id"]).ffill().groupby(out["person_id"]).shift(1)
        take = interviewed & observed.isna() & last_value.notna() & ((out["wave"] - last_wave) <= max_waves)
        out.loc[take, v] = last_value[take]
        filled += int(take.sum())
    return out.reindex(panel.index), filled


def present_exposures(panel: pd.DataFrame, exposures: dict[str, ModelExposure]
                      ) -> tuple[dict[str, ModelExposure], list[str]]:
    """The exposures the study measured at least once at an interview, and the ones it lacks altogether."""
    interviewed = panel.loc[panel["interviewed"] == 1]
    have = {e: v for e, v in exposures.items() if interviewed[e].notna().any()}
    return have, [e for e in exposures if e not in have]


def attrition_weights(panel: pd.DataFrame, predictors: str, *, truncate: float = 0.01) -> pd.Series:
    """Stabilised inverse-probability-of-attrition weights per interviewed person-wave.

    A logistic model of being interviewed at the next wave, among those interviewed now and alive at the
    next wave (deaths are not attrition), on ``predictors`` (a formula right-hand side of wave-w
    variables) plus wave dummies; the numerator model has wave dummies only. The weight of wave w is the
    product over earlier waves of p_num / p_den (1 at a person's first interview), truncated at the
    ``truncate`` and ``1 - truncate`` quantiles (Cole & Hernan 2008). A predictor missing at an interview
    takes the person's last answer; with none, that step's ratio is 1. Returned on ``panel``'s index, NaN
    where the person was not interviewed; ``attrs["problems"]`` lists the attrition models' convergence
    problems (empty when they converged).
    """
    p = as_float(by_person_wave(panel)).copy(deep=False)  # its own object: the predictors are filled below
    nxt = p.groupby("person_id")[["wave", "interviewed"]].shift(-1)
    alive_next = ~(p["died"].eq(1) & (p["death_months"] + 0.5 <= p["months"] + 24.5))
    variables = formula_variables(predictors)
    check_columns(p, variables, "cohorts.models.attrition.predictors")
    for v in variables:  # an item missing at one interview: the person's last answer (else the ratio is 1)
        p[v] = p[v].where(p["interviewed"] == 1).groupby(p["person_id"]).ffill()
    frame = p.loc[(p["interviewed"] == 1) & nxt["wave"].notna() & alive_next].copy()
    frame["stayed"] = nxt.loc[frame.index, "interviewed"].eq(1).astype(float)
    data = frame.dropna(subset=variables)
    ratio = stabilised_ratio(data, "stayed", f"{predictors} + C(wave)", "C(wave)")
    # weight at wave w+1 = product of ratios up to wave w; a missing predictor breaks the chain
    step = pd.Series(1.0, index=p.index)
    step.loc[ratio.index] = ratio
    # a person's first row has no earlier step: weight 1 up to the first interview
    weights = cumulative_weights(step, p["person_id"], p["interviewed"] == 1, truncate).reindex(panel.index)
    weights.attrs["problems"] = list(ratio.attrs.get("problems", []))  # the attrition models' convergence
    return weights


# ---------------------------------------------------------------------------------------------
# One fit


class _Fit:
    """Context of one study's fits: the exposures and their labels, the spec pieces, the note prefix."""

    def __init__(self, study: str, label: str, exposures: dict[str, ModelExposure], alpha: float, synthetic: bool,
                 note: str = ""):
        self.study, self.label, self.exposures, self.alpha = study, label, exposures, alpha
        self.prefix = "; ".join(x for x in (SYNTHETIC_NOTE if synthetic else "", note) if x)

    def spec(self, outcome: str, outcome_label: str, covariates: str, covariate_set: str) -> ModelSpec:
        """The spec of a fit: the first exposure (the others enter jointly, :attr:`joint`), the covariates."""
        first = next(iter(self.exposures))
        return ModelSpec(outcome=outcome, exposure=first, covariates=covariates, covariate_set=covariate_set,
                         study=self.label, outcome_label=outcome_label,
                         exposure_label=self.exposures[first].label)

    @property
    def joint(self) -> dict[str, str]:
        """The exposures after the first (column -> label), entered in every model with it."""
        return {e: v.label for e, v in list(self.exposures.items())[1:]}

    def noted(self, records: pd.DataFrame, suffix: str = "") -> pd.DataFrame:
        """The records with the study's words around each fitter's note (SYNTHETIC, absent exposures, carry)."""
        notes = ["; ".join(x for x in (self.prefix, note, suffix) if x) for note in records["note"]]
        return records.assign(note=notes)  # the fitter validated the records; run_cohort_models validates all

    def weighted(self, records: pd.DataFrame, weights: pd.Series) -> pd.DataFrame:
        """An attrition-weighted fit's records: not converged, and said so, when the attrition model was not."""
        problems = list(weights.attrs.get("problems", []))
        if not problems:
            return records
        notes = [f"{note}; attrition model: {'; '.join(problems)}" for note in records["note"]]
        return records.assign(note=notes, converged=False)

    def failed(self, spec: ModelSpec, model: str, design: str, vcov: str, err: BaseException) -> pd.DataFrame:
        """NaN records (one per exposure) of a fit that could not start (its sample could not be built)."""
        return self.noted(failed_fit_records(joint_specs(spec, self.joint), err, model=model, design=design, vcov=vcov,
                                             n=0, events=math.nan))


def as_float(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer columns (the schema's 0/1 ``Int8``) as float64 with NaN, for numpy and the fitters.

    A new frame only when a column changes (the unchanged columns shared, copy-on-write); a frame already
    converted comes back as the same object, so callers that modify the result pass a frame of their own (a
    sorted or filtered one). The stage so holds no needless copy of the panel.
    """
    nullable = {c: "float64" for c, dtype in frame.dtypes.items()
                if pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype)}
    return frame.astype(nullable) if nullable else frame


def fit_within_between(panel: pd.DataFrame, f: _Fit, depression: DepressionModel) -> pd.DataFrame:
    """Within-between REML mixed model with a random intercept and slope on time (see the module table), on
    the interviewed person-waves; the records carry the predicted trajectories (``attrs``)."""
    outcome, time = depression.outcome, depression.time
    spec = f.spec(outcome, depression.label, depression.covariates, depression.covariate_set)
    fit = fit_within_between_lmm(panel.loc[panel["interviewed"] == 1], spec, entity="person_id", time=time,
                                 joint=f.joint, alpha=f.alpha)
    records = f.noted(fit.records)
    records.attrs["trajectories"] = predicted_trajectories(
        fit, spec.exposure, levels=list(depression.trajectory_levels), alpha=f.alpha,
    ).assign(study=f.label, outcome=outcome, outcome_label=depression.label)
    return records


def fit_two_way_fe(panel: pd.DataFrame, f: _Fit, depression: DepressionModel, weights: pd.Series | None = None
                   ) -> pd.DataFrame:
    """Two-way (person and wave) fixed effects, SE clustered by person (the panel fitter of
    :mod:`analysis.estimators.panel`); weighted when ``weights`` is given. No covariates: the person effects
    absorb the time-invariant ones."""
    spec = f.spec(depression.outcome, depression.label, "", depression.covariate_set)
    frame = panel.loc[panel["interviewed"] == 1]
    weighted = weights is not None
    if weighted:
        frame = frame.assign(_w=weights.reindex(frame.index))
    layout = PanelLayout(entity="person_id", time="wave", weight="_w" if weighted else None, weighted=weighted)
    try:
        p = prepare_panel(frame, spec, layout, joint=f.joint)
    except ValueError as err:
        return f.failed(spec, "fixed_effects", "weighted" if weighted else "unweighted", "cluster", err)
    records = FITS["fixed_effects"](p, PanelOptions(alpha=f.alpha, term_label="within-person, per point"))
    if not weighted:
        return f.noted(records)
    return f.weighted(f.noted(records, "weighted by stabilised inverse probability of remaining in the study "
                                       "(attrition_weights): sensitivity analysis"), weights)


def fit_cloglog(intervals: pd.DataFrame, f: _Fit, outcome: str, o: HazardOutcome, rhs: str, covariate_set: str,
                weights: pd.Series | None = None) -> pd.DataFrame:
    """Discrete-time cloglog hazard with interval dummies and a log-length offset; SE clustered by person
    (:func:`analysis.estimators.discrete_time.fit_cloglog_hazard`)."""
    spec = f.spec(outcome, o.label, rhs, covariate_set)
    data = intervals if weights is None else intervals.assign(_w=weights.reindex(intervals.index))
    records = fit_cloglog_hazard(data, spec, event=o.event, interval="interval", length="length_years",
                                 cluster="person_id", joint=f.joint, weight=None if weights is None else "_w",
                                 alpha=f.alpha)
    if weights is None:
        return f.noted(records)
    weighting = "stabilised inverse probability of remaining in the study: sensitivity analysis"
    return f.weighted(f.noted(records, weighting), weights)


def fit_cox_tv(intervals: pd.DataFrame, f: _Fit, outcome: str, o: HazardOutcome, rhs: str, covariate_set: str
               ) -> pd.DataFrame:
    """Cox model with time-varying exposures on (start, stop] rows (months on study since the first
    interview), Efron ties (:func:`analysis.estimators.cox_time_varying.fit_cox_time_varying`)."""
    spec = f.spec(outcome, o.label, rhs, covariate_set)
    records = fit_cox_time_varying(intervals, spec, event=o.event, start="start", stop="stop", entity="person_id",
                                   joint=f.joint, alpha=f.alpha)
    return f.noted(records, "time on study since the first interview (months)")


# ---------------------------------------------------------------------------------------------
# Absolute risks with competing death


def cumulative_incidence(intervals: pd.DataFrame, group: str, *, horizon_months: float) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of new CVD (death competing) and of death, by baseline ``group``.

    Person level: from the first interview at which ``group`` is known (the clock starts there: HRS measures
    isolation from wave 9, so its curves start at wave 9, not at the person's first HRS interview; in a study
    that measures the group from the start this is the first interview), time to the first CVD report (at
    that interview), to death, or to censoring (the end of the last interval). For CVD, persons with CVD at
    that interview are left out and death is the competing event; for death, everyone is included and
    1 - Kaplan-Meier is reported (``weighted_cumulative_incidence`` with a single cause). Returns a tidy
    frame: ``outcome``, ``group``, ``time_months``, ``estimate``, ``ci_low``, ``ci_high``, ``n``.
    """
    iv = intervals.sort_values(["person_id", "start"], kind="stable")
    # each person from the first interval with a known group; times from that interview
    iv = iv.loc[iv[group].notna().groupby(iv["person_id"]).cummax().to_numpy()]
    origin = iv.groupby("person_id")["start"].transform("first")
    iv = iv.assign(start=iv["start"] - origin, stop=iv["stop"] - origin)
    # the rows themselves (groupby().first() would skip a missing group and take a later wave's)
    first = iv.drop_duplicates("person_id", keep="first").set_index("person_id")
    last = iv.drop_duplicates("person_id", keep="last").set_index("person_id")
    death_time = iv.loc[iv["death"] == 1].groupby("person_id")["stop"].first()
    cvd_time = iv.loc[iv["cvd_event"] == 1].groupby("person_id")["stop"].first()
    persons = pd.DataFrame({"group": first[group], "cvd0": first["cvd_ever"], "end": last["stop"]})
    persons["death_time"] = death_time.reindex(persons.index)
    persons["cvd_time"] = cvd_time.reindex(persons.index)
    out = []
    for outcome in ("cvd", "death"):
        if outcome == "cvd":
            sub = persons.loc[persons["cvd0"] == 0]
            # a CVD report needs an interview; the CVD history after dropping out is unknown: censor there
            cvd_end = iv.loc[iv["cvd_event"].notna()].groupby("person_id")["stop"].max().reindex(sub.index)
            time = sub["cvd_time"].fillna(sub["death_time"]).fillna(cvd_end.fillna(0.0))
            cause = np.where(sub["cvd_time"].notna(), 1, np.where(sub["death_time"].notna(), 2, 0))
        else:
            sub = persons
            time = sub["death_time"].fillna(sub["end"])
            cause = np.where(sub["death_time"].notna(), 1, 0)
        for level in [g for g in pd.unique(sub["group"].dropna())]:
            mask = (sub["group"] == level).to_numpy()
            curve = weighted_cumulative_incidence(time.to_numpy()[mask], cause[mask], cause=1)
            curve = curve.loc[curve.iloc[:, 0] <= horizon_months]
            curve.columns = ["time_months", "estimate", "ci_low", "ci_high"][: len(curve.columns)]
            out.append(curve.assign(outcome=outcome, group=str(level), n=int(mask.sum())))
    columns = ["outcome", "group", "time_months", "estimate", "ci_low", "ci_high", "n"]
    if not out:  # no person has the group at any interview
        return pd.DataFrame(columns=columns)
    return pd.concat(out, ignore_index=True)[columns]


def suppress_small_records(records: pd.DataFrame, restricted: set[str], rule: DisclosureRule) -> pd.DataFrame:
    """Records of a restricted study resting on fewer than ``rule.min_cell`` events (or person-waves): the
    estimate, its SE, CI, p and ratios become NaN, the events NaN, and the note starts with
    :data:`SUPPRESSED_NOTE` (the records file is under reports/, so it is published too)."""
    if records.empty:
        return records
    small = records["study"].isin(restricted) & (records["events"].map(rule.small) | records["n"].map(rule.small))
    out = records.copy()
    numbers = ["estimate", "std_error", "statistic", "ci_low", "ci_high", "p_value", "ratio", "ratio_ci_low",
               "ratio_ci_high", "events", *COMPONENT_COLUMNS]
    out.loc[small, numbers] = np.nan
    out.loc[small & records["n"].map(rule.small), "n"] = 0
    note = SUPPRESSED_NOTE.format(min_cell=rule.min_cell)
    out.loc[small, "note"] = note
    return out


def disclosed(records: pd.DataFrame, incidence: pd.DataFrame, status: pd.DataFrame,
              rule: DisclosureRule) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The records and incidence curves as they may be published: the restricted studies of ``status``
    (column ``restricted``) lose their small-cell estimates and their small groups (params.yaml disclosure)."""
    restricted = restricted_studies(status)
    return suppress_small_records(records, restricted, rule), small_groups_left_out(incidence, restricted, rule)


def small_groups_left_out(incidence: pd.DataFrame, restricted: set[str], rule: DisclosureRule) -> pd.DataFrame:
    """The incidence curves without the groups of a restricted study that hold fewer than ``rule.min_cell``
    persons (their curve would show single persons' event times); the curves keep the attribute
    ``trajectories`` and gain ``left_out``, the (study, outcome, group) left out."""
    if incidence.empty:
        return incidence
    small = incidence["study"].isin(restricted) & incidence["n"].map(rule.small)
    out = incidence.loc[~small].reset_index(drop=True)
    out.attrs = dict(incidence.attrs)
    out.attrs["left_out"] = sorted(set(map(tuple, incidence.loc[small, ["study", "outcome", "group"]].values.tolist())))
    return out


# ---------------------------------------------------------------------------------------------
# The stage


def _check_panel(panel: pd.DataFrame, spec: CohortModels) -> None:
    """The columns the spec names must be in the panel (the schema checked the spec itself)."""
    check_columns(panel, list(spec.exposures), f"params.yaml {spec.key('exposures')}")
    check_columns(panel, [spec.depression.outcome, *formula_variables(spec.depression.covariates)],
                  f"params.yaml {spec.key('depression')}")
    check_columns(panel, formula_variables(spec.hazards.covariates), f"params.yaml {spec.key('hazards', 'covariates')}")
    for name, o in spec.hazards.outcomes.items():
        check_columns(panel, formula_variables(o.covariates),
                      f"params.yaml {spec.key('hazards', 'outcomes', name)}")


def _without(formula: str, absent: list[str]) -> str:
    """A formula right-hand side without the terms naming an absent variable."""
    terms = [t.strip() for t in formula.split("+") if t.strip()]
    return " + ".join(t for t in terms if not set(formula_variables(t)) & set(absent))


def _runs(sub: pd.DataFrame, carry: CarryForward | None, sensitivity: bool) -> list[tuple[str, pd.DataFrame, str]]:
    """The (model suffix, panel, note) runs of one study: carried forward per ``carry`` (and, with
    ``sensitivity``, again without carrying), or the panel as it is."""
    carry = carry if carry is not None else CarryForward()
    variables, max_waves = list(carry.variables), carry.max_waves
    carried, filled = carry_forward(sub, variables, max_waves)
    if not filled:
        return [("", sub, "")]
    rule = (f"{', '.join(variables)} carried forward at most {max_waves} wave(s) to interviews without them "
            f"({filled:,} values; Leave-Behind every other wave)")
    runs = [("", carried, rule)]
    if sensitivity:
        runs.append(("_no_carry", sub, f"sensitivity: no carry-forward of {', '.join(variables)}"))
    return runs


def _in_sample(job: Callable[[], pd.DataFrame], sample: str) -> Callable[[], pd.DataFrame]:
    """A fit whose records are of the analytic sample ``sample`` (a sensitivity run), without trajectories."""
    def run() -> pd.DataFrame:
        out = job()
        out.attrs.pop("trajectories", None)
        return out.assign(sample=sample)
    return run


def continuous_models(panel: pd.DataFrame, spec: CohortModels) -> list[DepressionModel]:
    """The continuous outcomes to fit in one study: depressive symptoms, and cognition when the study has a
    cognition score (``cohorts.models.cognition``; a study without a ``cognition`` block has none)."""
    models = [spec.depression]
    cognition = spec.cognition
    if cognition is not None and cognition.outcome in panel and panel[cognition.outcome].notna().any():
        models.append(cognition)
    return models


def _has_outcome(intervals: pd.DataFrame, event: str) -> bool:
    """Whether the study records the hazard outcome's event at all (column present, some value known)."""
    return event in intervals and intervals[event].notna().any()


def run_cohort_models(panel: pd.DataFrame, spec: CohortModels, labels: dict[str, str] | None = None, *,
                      progress: bool = False, carry: dict[str, CarryForward] | None = None, n_jobs: int = 1
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit every estimator of ``spec`` (params.yaml ``cohorts.models``) in every study of the panel.

    Returns (records, cumulative incidence table). ``labels`` maps a study key to its label (the record
    ``study``); the synthetic study's records carry SYNTHETIC in ``study`` and ``note``. ``carry`` maps a
    study key to its ``carry_forward`` block (``cohorts.studies.<study>.carry_forward``). An exposure the
    study never measured is left out of its models, which say so in ``note``. ``n_jobs`` worker processes
    share the fits (:func:`analysis.estimators.runner.run_jobs`: results in job order, the same bytes).
    """
    jobs, incidence = cohort_model_jobs(panel, spec, labels, carry=carry)
    return cohort_model_results(run_jobs(jobs, desc="cohort models", progress=progress, n_jobs=n_jobs), incidence)


def cohort_model_jobs(panel: pd.DataFrame, spec: CohortModels, labels: dict[str, str] | None = None, *,
                      carry: dict[str, CarryForward] | None = None
                      ) -> tuple[list[tuple[str, Callable[[], pd.DataFrame]]], list[pd.DataFrame]]:
    """The fits of :func:`run_cohort_models` as runner jobs (each returns its records), and the incidence curves
    (computed here, one per study): :func:`cohort_model_results` joins the jobs' results and the curves."""
    _check_panel(panel, spec)
    estimators, alpha = list(spec.estimators), spec.alpha
    jobs: list[tuple[str, Callable[[], pd.DataFrame]]] = []
    incidence = []
    runs = []
    for study, sub in panel.groupby("study", sort=False):
        sub = as_float(sub.reset_index(drop=True))
        for suffix, data, note in _runs(sub, (carry or {}).get(study), spec.no_carry_sensitivity):
            runs.append((study, suffix, data, note))
    for study, suffix, sub, carry_note in runs:
        synthetic = study == "synthetic"
        label = (labels or {}).get(study, study)
        if synthetic and "SYNTHETIC" not in label.upper():
            label = f"SYNTHETIC {label}"
        exposures, absent = present_exposures(sub, spec.exposures)
        absent_note = (f"{', '.join(absent)} not measured in this study: fitted without it" if absent else "")
        if not exposures:
            continue
        f = _Fit(study, label, exposures, alpha, synthetic, "; ".join(x for x in (absent_note, carry_note) if x))
        intervals = person_intervals(sub)
        start = len(jobs)
        weights = None
        if any(e.endswith("_ipw") for e in estimators):
            weights = attrition_weights(sub, _without(spec.attrition.predictors, absent),
                                        truncate=float(spec.attrition.truncate))
        hz = spec.hazards
        hazard_set = hz.covariate_set
        for dep in continuous_models(sub, spec):
            tag = "" if dep.outcome == spec.depression.outcome else f" {dep.outcome}"
            for e in estimators:
                if e == "within_between_lmm":
                    jobs.append((f"{study} {e}{tag}", lambda s=sub, f=f, dep=dep: fit_within_between(s, f, dep)))
                elif e == "two_way_fe":
                    jobs.append((f"{study} {e}{tag}", lambda s=sub, f=f, dep=dep: fit_two_way_fe(s, f, dep)))
                elif e == "two_way_fe_ipw":
                    jobs.append((f"{study} {e}{tag}",
                                 lambda s=sub, f=f, w=weights, dep=dep: fit_two_way_fe(s, f, dep, w)))
        for name, o in hz.outcomes.items():
            if not _has_outcome(intervals, o.event):
                continue  # a study without the measure (no cognition block: no dementia) fits no model of it
            rhs = " + ".join(x for x in (hz.covariates, o.covariates) if x)
            # interval weights: the weight at the interval's start; CVD also needs the next interview
            iw = None
            if weights is not None:
                # the weight of the interval's start; an event known only at the next interview (CVD) takes
                # the next wave's weight (it also needs that interview)
                wave = intervals["wave"] + (1 if o.counted_at_next_interview else 0)
                by_wave = pd.Series(weights.to_numpy(), index=pd.MultiIndex.from_frame(sub[["person_id", "wave"]]))
                iw = by_wave.reindex(pd.MultiIndex.from_arrays([intervals["person_id"], wave])).set_axis(
                    intervals.index)
                iw.attrs["problems"] = list(weights.attrs.get("problems", []))
            for e in estimators:
                if e == "cloglog_hazard":
                    jobs.append((f"{study} {e} {name}", lambda f=f, n=name, o=o, r=rhs, iv=intervals, hs=hazard_set:
                                 fit_cloglog(iv, f, n, o, r, hs)))
                elif e == "cloglog_hazard_ipw":
                    jobs.append((f"{study} {e} {name}",
                                 lambda f=f, n=name, o=o, r=rhs, iv=intervals, w=iw, hs=hazard_set:
                                 fit_cloglog(iv, f, n, o, r, hs, w)))
                elif e == "cox_time_varying":
                    jobs.append((f"{study} {e} {name}", lambda f=f, n=name, o=o, r=rhs, iv=intervals, hs=hazard_set:
                                 fit_cox_tv(iv, f, n, o, r, hs)))
        if suffix:
            jobs[start:] = [(f"{name}{suffix}", _in_sample(job, NO_CARRY)) for name, job in jobs[start:]]
            continue  # the no-carry run adds model records only (curves and trajectories: the main run)
        incidence.append(cumulative_incidence(intervals, spec.incidence_group,
                                              horizon_months=float(spec.horizon_months))
                         .assign(study=label))
    return jobs, incidence


def cohort_model_results(out: list[pd.DataFrame], incidence: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, incidence curves) from the results of :func:`cohort_model_jobs`'s jobs (in job order) and its
    curves; the curves carry the within-between fits' predicted trajectories (``attrs["trajectories"]``)."""
    trajectories = []
    for result in out:
        if "trajectories" in result.attrs:
            trajectories.append(result.attrs.pop("trajectories"))
    records = records_frame(pd.concat(out, ignore_index=True)) if out else records_frame()
    curves = pd.concat(incidence, ignore_index=True) if incidence else pd.DataFrame()
    curves.attrs["trajectories"] = pd.concat(trajectories, ignore_index=True) if trajectories else pd.DataFrame()
    return records, curves


# ---------------------------------------------------------------------------------------------
# Known truth (SYNTHETIC cohort)

#: Which truth key each (outcome, exposure) record estimates; between-person terms estimate no stated truth.
TRUTH_MAP = {("depression_score", "isolation_index"): "cesd_isolation",
             ("depression_score", "loneliness"): "cesd_loneliness",
             ("death", "isolation_index"): "death_isolation", ("death", "loneliness"): "death_loneliness",
             ("cvd", "isolation_index"): "cvd_isolation", ("cvd", "loneliness"): "cvd_loneliness",
             ("cognition_score", "isolation_index"): "cognition_isolation",
             ("cognition_score", "loneliness"): "cognition_loneliness",
             ("dementia", "isolation_index"): "dementia_isolation", ("dementia", "loneliness"): "dementia_loneliness"}
#: Columns of :func:`truth_table`; its ``model`` is the spec's estimator name (:func:`specification_keys`).
TRUTH_COLUMNS = ["study", "model", "outcome", "exposure", "parameter", "truth", "estimate", "std_error", "ci_low",
                 "ci_high", "bias", "covered"]


def truth_table(records: pd.DataFrame, truth: dict[str, float]) -> pd.DataFrame:
    """The SYNTHETIC records beside the stated truth: estimate - truth and whether the 95% CI covers it.

    Only the within-person (LMM, FE) and hazard records of the synthetic study; the between-person terms
    of the within-between model estimate no stated parameter (they also carry the unobserved trait).
    """
    rows = []
    keys = specification_keys(records)
    synthetic = records.loc[records["study"].str.upper().str.contains("SYNTHETIC")
                            & ~records["term"].str.endswith(":between")].assign(model=keys)
    for row in synthetic.itertuples():
        key = TRUTH_MAP.get((row.outcome, row.exposure))
        if key is None or key not in truth:
            continue
        value = float(truth[key])
        rows.append({"study": row.study, "model": row.model, "outcome": row.outcome, "exposure": row.exposure,
                     "parameter": key, "truth": value, "estimate": row.estimate, "std_error": row.std_error,
                     "ci_low": row.ci_low, "ci_high": row.ci_high, "bias": row.estimate - value,
                     "covered": bool(row.ci_low <= value <= row.ci_high)})
    return pd.DataFrame(rows, columns=TRUTH_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Reciprocal effects: RI-CLPM

RICLPM_COLUMNS = ["study", "parameter", "label", "estimate", "std_error", "ci_low", "ci_high", "p_value",
                  "n_persons", "loglik", "converged", "note"]


def run_riclpm(panel: pd.DataFrame, spec: Riclpm, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """RI-CLPM of ``spec.x`` (loneliness) and ``spec.y`` (depressive symptoms) per study, by FIML.

    ``spec``: ``x``, ``y`` (panel columns), ``waves`` (list, or null for every wave of the study). Only
    interviewed person-waves enter; persons lost to death or attrition contribute their observed waves
    (FIML: missing at random). Returns the structural parameters (:mod:`analysis.estimators.sem`) in a
    tidy table, one block per study.
    """
    return riclpm_table([run() for _, run in riclpm_jobs(panel, spec, labels)])


def riclpm_jobs(panel: pd.DataFrame, spec: Riclpm, labels: dict[str, str] | None = None
                ) -> list[tuple[str, Callable[[], pd.DataFrame]]]:
    """:func:`run_riclpm`'s fits as runner jobs, one per study (each returns that study's block of the table);
    :func:`riclpm_table` joins their results."""
    x, y = spec.x, spec.y
    check_columns(panel, [x, y], f"params.yaml {spec.key()}")
    jobs = []
    for study, sub in panel.loc[panel["interviewed"] == 1].groupby("study", sort=False):
        jobs.append((f"{study} RI-CLPM", lambda s=study, sub=as_float(sub): _riclpm_block(s, sub, spec, labels)))
    return jobs


def riclpm_table(blocks: list[pd.DataFrame]) -> pd.DataFrame:
    """The RI-CLPM table from the studies' blocks (:func:`riclpm_jobs`, in job order)."""
    frame = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame()
    return frame.reindex(columns=RICLPM_COLUMNS)


def _riclpm_block(study: str, sub: pd.DataFrame, spec: Riclpm, labels: dict[str, str] | None) -> pd.DataFrame:
    """One study's RI-CLPM rows (``sub``: its interviewed person-waves), or one row saying why it was not fitted."""
    x, y = spec.x, spec.y
    label = (labels or {}).get(study, study)
    lacking = [v for v in (x, y) if not sub[v].notna().any()]
    if lacking:
        return pd.DataFrame([{"study": label, "parameter": "not fitted", "converged": False,
                              "note": f"{', '.join(lacking)} not measured in this study: no RI-CLPM"}])
    waves = spec.waves or sorted(sub["wave"].unique())
    wide, xs, ys = wide_from_long(sub, id="person_id", wave="wave", x=x, y=y, waves=[int(w) for w in waves])
    try:
        result = fit_riclpm(wide, xs, ys, x_label=x, y_label=y)
    except _FIT_ERRORS as err:
        return pd.DataFrame([{"study": label, "parameter": "a_x", "converged": False,
                              "note": f"RI-CLPM failed ({type(err).__name__}): {err}"}])
    table = result.params.loc[~result.params["parameter"].str.startswith("mu_")].copy()
    note = (f"RI-CLPM (Hamaker et al. 2015), FIML over {result.n_patterns} missingness patterns, waves "
            f"{int(waves[0])}-{int(waves[-1])}; lags constant over waves; chi2 vs saturated {result.chi2:.1f} on "
            f"{result.chi2_df} df, RMSEA {result.rmsea:.3f}")
    if study == "synthetic":
        note = f"{SYNTHETIC_NOTE}; {note}"
    return table.assign(study=label, n_persons=result.n_persons, loglik=result.loglik, converged=result.converged,
                        note=note)


def model_outputs(panel: pd.DataFrame, status: pd.DataFrame, spec: CohortModels, truth: dict[str, float],
                  rule: DisclosureRule, metrics: Path, *, progress: bool = False,
                  carry: dict[str, CarryForward] | None = None, n_jobs: int = 1) -> dict[Path, Any]:
    """Every output of the model stage, as ``path -> content`` under ``metrics``: the records, incidence
    curves, RI-CLPM, trajectories, the truth table and cohorts.json, after disclosure control
    (:func:`disclosed`).

    The RI-CLPM fits and the model fits are independent: ``n_jobs`` worker processes share them in one runner
    call (the RI-CLPM first, as the longest; results in job order, the same bytes for any ``n_jobs``)."""
    labels = dict(zip(status["study"], status["label"]))
    sem_jobs = riclpm_jobs(panel, spec.riclpm, labels)
    jobs, curves = cohort_model_jobs(panel, spec, labels, carry=carry)
    out = run_jobs([*sem_jobs, *jobs], desc="cohort models", progress=progress, n_jobs=n_jobs)
    riclpm = riclpm_table(out[:len(sem_jobs)])
    records, incidence = disclosed(*cohort_model_results(out[len(sem_jobs):], curves), status, rule)
    checks = truth_table(records, truth)
    return {metrics / "cohorts_models.csv": records, metrics / "cohorts_incidence.csv": incidence,
            metrics / "cohorts_riclpm.csv": riclpm,
            metrics / "cohorts_trajectories.csv": incidence.attrs["trajectories"],
            metrics / "cohorts_truth.csv": checks,
            metrics / "cohorts.json": cohort_metrics(records, status, checks, riclpm, rule,
                                                     keys=specification_keys(records))}


def stage() -> str:
    """DVC stage ``models_cohorts``: every cohort model, incidence, RI-CLPM, trajectories and the truth table."""
    params = load()
    panel = io.read_parquet(config.PROCESSED / "cohorts_panel.parquet")
    status = io.read_csv(config.PROCESSED / "cohorts_studies.csv", keep_default_na=False)
    truth = io.read_json(config.RAW / "cohorts" / "synthetic_truth.json")["truth"]
    metrics = config.REPORTS / "metrics"
    carry = {k: v.carry_forward for k, v in params.cohorts.studies.items()}
    outputs = model_outputs(panel, status, params.cohorts.models, truth, rule_of(params.disclosure), metrics,
                            progress=True, carry=carry, n_jobs=params.compute.n_jobs)
    io.write_outputs(outputs)
    records, checks = outputs[metrics / "cohorts_models.csv"], outputs[metrics / "cohorts_truth.csv"]
    return (f"cohort models: {len(records)} records; SYNTHETIC truth covered {int(checks['covered'].sum())}"
            f"/{len(checks)}")
