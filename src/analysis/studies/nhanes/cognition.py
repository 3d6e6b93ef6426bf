"""Cognition and dementia in NHANES (issue 22, item 1): the DSST by isolation, its completion, Alzheimer's death.

All fits are design-based (survey-weighted, Taylor-linearised variance with PSUs nested in strata, each sample a
domain of the full design; :mod:`analysis.estimators.survey`) with the pooled **interview** weight: the DSST
was part of the household interview (CFQ codebook, "Interview Setting and Mode of Administration"), as was the
SSQ, so no MEC weight applies.

* **DSST** (``dsst_score``, 0-133) on each exposure of ``cognition.exposures`` (isolation category, index per
  point), adjusted for ``cognition.dsst_covariates``, linear model, in the 60+ sample of 1999-2002 complete on the
  exposure, the covariates and the completion predictors. Two estimates: **complete case** (the completers,
  survey weight) and **IPW** (the completers weighted by survey weight / P(complete), P from the design-weighted
  logistic model of ``dsst_completed`` on ``cognition.completion_predictors`` fitted on the whole eligible
  sample; :func:`analysis.estimators.weights.completion_weights`). Variance of the IPW estimate: the design-based
  linearisation with the IPW weight taken as fixed (the estimation of P is ignored; for an inverse-probability
  weighted estimator with a correctly specified, ML-fitted P that ignoring is usually conservative: Robins,
  Rotnitzky & Zhao 1994; Lunceford & Davidian 2004), record ``sample`` "ipw".
* **Completion**: the odds ratio of completing the DSST by each exposure (design-weighted logistic model with
  the completion predictors), record outcome ``dsst_completed``.
* **Alzheimer's disease death** (``alzheimer_death``, UCOD_LEADING 006) on each exposure with the
  ``cognition.alzheimer_covariate_set``: cause-specific Cox (other deaths censored at death) and Fine-Gray
  subdistribution hazard (other deaths competing; :mod:`analysis.estimators.competing`), both design-based, on
  the whole analysis table (ages 40+, 1999-2008) as the mortality models; and the weighted Aalen-Johansen
  cumulative incidence by ``cognition.cif_exposure`` group.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from analysis.core import config, io
from analysis.estimators.competing import (
    FG_START,
    FG_STATUS,
    FG_STOP,
    FG_WEIGHT,
    finegray_expand,
    grouped_cumulative_incidence,
)
from analysis.estimators.formula import formula_variables
from analysis.estimators.records import ModelSpec, exposure_levels, records_frame
from analysis.estimators.survey import cox_design_fit, design_records, fit_cox_design, fit_glm_design
from analysis.estimators.weights import completion_weights
from analysis.report import interval_figures, tables
from analysis.studies.nhanes.settings import NhanesSettings, load

STRATUM, PSU = "stratum", "psu"
OUTCOMES = {"dsst_score": "DSST score (symbols correct in 120 s)", "dsst_completed": "Completed the DSST",
            "alzheimer_death": "Alzheimer's disease death"}
SAMPLES = {"main": "complete case", "ipw": "inverse-probability weighted"}
MODEL_NAMES = {"linear": "Linear", "logistic": "Logistic", "cox": "Cox, cause-specific", "fine_gray": "Fine-Gray"}


def cognition_frame(table: pd.DataFrame, cognition: pd.DataFrame) -> pd.DataFrame:
    """The analysis table with the cognition columns joined on ``seqn`` (one row each)."""
    joined = table.merge(cognition, on="seqn", how="left", validate="1:1")
    if len(joined) != len(table):
        raise ValueError("the cognition table does not match the analysis table row for row; rerun its clean stage")
    return joined


def _spec(nh: NhanesSettings, outcome: str, exposure: str, covariates: str, covariate_set: str,
          sample: str = "main") -> ModelSpec:
    e = nh.models.exposures[exposure]
    return ModelSpec(outcome=outcome, exposure=exposure, covariates=covariates, exposure_type=e.type,
                     covariate_set=covariate_set, study=nh.study, outcome_label=OUTCOMES[outcome],
                     exposure_label=e.label, sample=sample)


def dsst_domain(data: pd.DataFrame, nh: NhanesSettings) -> np.ndarray:
    """Eligible rows complete on every exposure, the DSST covariates and the completion predictors."""
    cog = nh.cognition
    columns = list(dict.fromkeys([*cog.exposures, *formula_variables(cog.dsst_covariates),
                                  *formula_variables(cog.completion_predictors)]))
    return ((data["dsst_eligible"] == 1) & data[columns].notna().all(axis=1)
            & (data[nh.models.weight] > 0)).to_numpy()


def dsst_records(data: pd.DataFrame, nh: NhanesSettings) -> tuple[pd.DataFrame, pd.Series]:
    """Complete-case and IPW records of the DSST, and the completion odds ratios; returns (records, ipw)."""
    cog, models = nh.cognition, nh.models
    domain = dsst_domain(data, nh)
    weight, alpha, lonely = models.weight, models.alpha, models.lonely_psu
    ipw, _, completion_fit = completion_weights(data, "dsst_completed", cog.completion_predictors, weight=weight,
                                                stratum=STRATUM, psu=PSU, subset=domain, lonely_psu=lonely)
    frame = data.assign(dsst_ipw=ipw.fillna(0.0))
    completers = domain & (data["dsst_completed"] == 1).to_numpy()
    rows = []
    for exposure in cog.exposures:
        for sample, w in (("main", weight), ("ipw", "dsst_ipw")):
            spec = _spec(nh, "dsst_score", exposure, cog.dsst_covariates, "dsst", sample)
            rec = fit_glm_design(frame, spec, outcome="dsst_score", family="gaussian", weight=w, stratum=STRATUM,
                                 psu=PSU, subset=completers, lonely_psu=lonely, alpha=alpha)
            if sample == "ipw":
                rec["note"] = ("IPW: weight = survey weight / P(completed DSST), P from the design-weighted logistic "
                               f"model of completion on {cog.completion_predictors} (eligible sample, "
                               f"{completion_fit.n} rows); the IPW weight taken as fixed in the linearisation "
                               "(usually conservative); " + rec["note"])
            rows.append(rec)
        # completion: the exposure with the other completion predictors
        others = " + ".join(t.strip() for t in cog.completion_predictors.split("+") if t.strip() not in cog.exposures)
        spec = _spec(nh, "dsst_completed", exposure, others, "dsst_completion")
        rows.append(fit_glm_design(data, spec, outcome="dsst_completed", family="binomial", weight=weight,
                                   stratum=STRATUM, psu=PSU, subset=domain, lonely_psu=lonely, alpha=alpha))
    return records_frame(pd.concat(rows, ignore_index=True)), ipw


def alzheimer_records(data: pd.DataFrame, nh: NhanesSettings) -> pd.DataFrame:
    """Cause-specific Cox and Fine-Gray records of Alzheimer's death on each exposure."""
    cog, models = nh.cognition, nh.models
    set_name = cog.alzheimer_covariate_set
    rhs_covariates = models.covariate_sets[set_name]
    weight, alpha, lonely = models.weight, models.alpha, models.lonely_psu
    duration = "followup_months"
    design = data.assign(**{weight: data[weight].fillna(0.0)})
    rows = []
    for exposure in cog.exposures:
        spec = _spec(nh, "alzheimer_death", exposure, rhs_covariates, set_name)
        rows.append(fit_cox_design(design, spec, duration=duration, event="alzheimer_death", weight=weight,
                                   stratum=STRATUM, psu=PSU, lonely_psu=lonely, alpha=alpha))
        rows.append(fine_gray_records(design, spec, duration=duration, weight=weight, alpha=alpha, lonely=lonely))
    return records_frame(pd.concat(rows, ignore_index=True))


def fine_gray_records(design: pd.DataFrame, spec: ModelSpec, *, duration: str, weight: str, alpha: float,
                      lonely: str) -> pd.DataFrame:
    """Design-based Fine-Gray records: the complete cases expanded (:func:`finegray_expand`), the rest of the
    design kept as zero-weight rows so every stratum and PSU stays in the variance."""
    columns = [duration, "death_status", *spec.variables()]
    complete = design[columns].notna().all(axis=1) & (design[weight] > 0)
    rows = design.loc[complete]
    levels = exposure_levels(rows[spec.exposure]) if spec.exposure_type == "categorical" else None
    expanded = finegray_expand(rows, duration=duration, status="death_status", cause=1, weight=weight)
    outside = design.loc[~complete].assign(**{FG_START: np.nan, FG_STOP: np.nan, FG_STATUS: np.nan, FG_WEIGHT: 0.0})
    full = pd.concat([expanded, outside], ignore_index=True)
    fit = cox_design_fit(full, spec.rhs(levels[0] if levels else None), duration=FG_STOP, event=FG_STATUS,
                         weight=FG_WEIGHT, stratum=STRATUM, psu=PSU, lonely_psu=lonely, entry=FG_START)
    fit = replace(fit, n=int(complete.sum()))  # persons, not expanded rows
    note = ("Fine-Gray subdistribution hazard: Cox (Efron ties) on the expanded data (R survival::finegray; "
            "censoring distribution unweighted), weight = survey weight x censoring weight, delayed entry; "
            f"{len(expanded)} expanded rows of {int(complete.sum())} persons; design-based SE by Taylor "
            "linearisation, PSUs nested in strata, censoring weights taken as known")
    return design_records(spec, fit, levels=levels, model="fine_gray", note=note, alpha=alpha)


def cumulative_incidence(data: pd.DataFrame, nh: NhanesSettings) -> pd.DataFrame:
    """Weighted Aalen-Johansen cumulative incidence of Alzheimer's death by ``cognition.cif_exposure`` group,
    other deaths competing, up to ``cognition.cif_horizon_months``."""
    cog = nh.cognition
    rows = data[data[[cog.cif_exposure, "followup_months", "death_status"]].notna().all(axis=1)
                & (data[nh.models.weight] > 0)]
    curves = grouped_cumulative_incidence(rows, duration="followup_months", status="death_status", cause=1,
                                          group=cog.cif_exposure, weight=nh.models.weight, alpha=nh.models.alpha)
    return curves[curves["time"] <= cog.cif_horizon_months].reset_index(drop=True)


def completion_table(data: pd.DataFrame, nh: NhanesSettings) -> pd.DataFrame:
    """DSST status of the eligible sample: rows and weighted % (survey weight), per status."""
    eligible = data[data["dsst_eligible"] == 1]
    w = eligible[nh.models.weight]
    counts = eligible.groupby("dsst_status", observed=False).size()
    shares = w.groupby(eligible["dsst_status"], observed=False).sum() / w.sum() * 100
    return pd.DataFrame({"DSST status": counts.index.astype(str), "N": counts.to_numpy(),
                         "Weighted %": shares.round(1).to_numpy()})


def cognition_numbers(records: pd.DataFrame, curves: pd.DataFrame) -> dict:
    """The numbers the paper's paragraph needs, from the result files (never typed): per exposure term, the DSST
    difference complete-case and IPW, the completion OR, the cause-specific and Fine-Gray HRs (estimate, CI, p,
    n, events), and the cumulative incidence of Alzheimer's death at the horizon by group."""
    out: dict = {"terms": []}
    for (outcome, model, sample, term), r in records.set_index(["outcome", "model", "sample", "term"]).iterrows():
        est = r["ratio"] if r["measure"] in ("HR", "OR") else r["estimate"]
        low = r["ratio_ci_low"] if r["measure"] in ("HR", "OR") else r["ci_low"]
        high = r["ratio_ci_high"] if r["measure"] in ("HR", "OR") else r["ci_high"]
        out["terms"].append({"outcome": outcome, "model": model, "sample": sample, "term": term,
                             "term_label": r["term_label"], "measure": r["measure"], "estimate": float(est),
                             "ci_low": float(low), "ci_high": float(high), "p_value": float(r["p_value"]),
                             "n": int(r["n"]), "events": float(r["events"])})
    last = curves.sort_values("time").groupby("group").tail(1)
    out["cumulative_incidence"] = {g: {"time": float(t), "estimate": float(e), "low": float(lo), "high": float(hi)}
                                   for g, t, e, lo, hi in last[["group", "time", "estimate", "low", "high"]]
                                   .itertuples(index=False)}
    return out


def _dsst_figure_rows(records: pd.DataFrame) -> pd.DataFrame:
    dsst = records[records["outcome"] == "dsst_score"]
    return pd.DataFrame({
        "panel": dsst["exposure_label"], "label": dsst["term_label"], "estimate": dsst["estimate"],
        "low": dsst["ci_low"], "high": dsst["ci_high"], "series": (dsst["sample"] == "ipw").astype(int)})


def write_cognition_reports(records: pd.DataFrame, curves: pd.DataFrame, status: pd.DataFrame, nh: NhanesSettings,
                            formats: tuple[str, ...]) -> dict:
    """The tables (reports/tables/nhanes_cognition) and figures (reports/figures/nhanes_cognition) as outputs."""
    tables_dir = config.REPORTS / "tables" / "nhanes_cognition"
    figures_dir = config.REPORTS / "figures" / "nhanes_cognition"
    shown = records.assign(Estimate=[tables.format_estimate(r) for r in records.to_dict("records")],
                           model=records["model"].map(MODEL_NAMES), sample=records["sample"].map(SAMPLES))
    shown = shown[["outcome_label", "exposure_label", "term_label", "model", "sample", "Estimate", "p_value", "n",
                   "events"]].rename(columns={"outcome_label": "Outcome", "exposure_label": "Exposure",
                                              "term_label": "Term", "model": "Model", "sample": "Sample",
                                              "p_value": "p", "n": "N", "events": "Events"})
    shown.attrs["caption"] = ("Cognition and dementia by social isolation, NHANES (design-based): DSST (1999-2002, "
                              "60+, complete case and IPW), DSST completion, Alzheimer's disease death "
                              "(cause-specific Cox and Fine-Gray)")
    status.attrs["caption"] = "Digit Symbol Substitution Test: completion in the eligible sample (60+, 1999-2002)"
    written = tables.write_table(shown, tables_dir / "cognition_models")
    written += tables.write_table(status, tables_dir / "dsst_completion")
    written += interval_figures.write_interval_panels(
        _dsst_figure_rows(records), figures_dir / "dsst_by_isolation", formats,
        title="DSST score by social isolation, ages 60+, 1999-2002 (design-based)",
        axis_label="Difference in DSST score (symbols)", series_labels=[SAMPLES["main"], SAMPLES["ipw"]])
    written += interval_figures.write_cumulative_incidence(curves, figures_dir / "alzheimer_cif", formats,
                                                  title="Alzheimer's disease death, other deaths competing "
                                                        "(weighted Aalen-Johansen)",
                                                  group_label=nh.models.exposures[nh.cognition.cif_exposure].label)
    return written


def stage() -> str:
    """DVC stage ``cognition_nhanes``: the cognition records, curves, tables and figures."""
    params = load()
    nh = params.nhanes
    table = io.read_parquet(config.PROCESSED / "nhanes.parquet")
    cognition = io.read_parquet(config.PROCESSED / "nhanes_cognition.parquet")
    data = cognition_frame(table, cognition)
    dsst, _ = dsst_records(data, nh)
    records = records_frame(pd.concat([dsst, alzheimer_records(data, nh)], ignore_index=True))
    curves = cumulative_incidence(data, nh)
    metrics = config.REPORTS / "metrics"
    with io.staged_outputs():
        io.write_outputs({metrics / "nhanes_cognition.csv": records, metrics / "nhanes_cognition_cif.csv": curves})
        write_cognition_reports(records, curves, completion_table(data, nh), nh, tuple(params.reports.figure_formats))
    return f"NHANES cognition: {len(records)} records, {curves['group'].nunique()} incidence curves"


def paper_numbers(reports=config.REPORTS) -> dict:
    """:func:`cognition_numbers` of the stage's result files (``reports/metrics/nhanes_cognition.csv`` and
    ``nhanes_cognition_cif.csv``): what the paper's Results paragraph and supplement quote."""
    metrics = reports / "metrics"
    return cognition_numbers(pd.read_csv(metrics / "nhanes_cognition.csv"),
                             pd.read_csv(metrics / "nhanes_cognition_cif.csv"))
