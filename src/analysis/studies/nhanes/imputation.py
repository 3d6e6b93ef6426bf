"""Multiple imputation of the missing NHANES covariates (stage ``mi_nhanes``): the headline models on
every respondent with the outcome and the exposure, instead of on complete cases only.

Every headline model (the primary estimate's covariate set of ``models.covariate_sets``, every exposure and outcome,
design-based) drops the rows missing any covariate: 17% of the mortality sample, mostly the
income-to-poverty ratio (INDFMPIR, 9% missing) and BMI (BMXBMI, 10%: no exam). Complete-case estimates are
unbiased only if missingness does not depend on the outcome given the covariates; multiple imputation
needs only that it is missing at random given what the imputation model holds.

**What is imputed.** The covariates of the primary set that have missing values (``imputation.covariate_set``;
a categorical one is imputed as its category code by predictive mean matching, so it keeps observed
categories; ordered as the schema orders its levels). Outcomes and exposures are **not** imputed for the
analysis: a row missing them is outside the analytic domain, as in the complete-case fits (their imputed
values, drawn because they sit in the imputation model, are discarded: "multiple imputation, then
deletion", von Hippel 2007).

**The imputation model** (:func:`imputation_frame`), one frame for every headline model so that each is
congenial with it: the imputed covariates; the complete covariates (categorical ones as 0/1 indicators);
every exposure of ``models.exposures`` that is a numeric column (the categorical exposures are groupings of
the index); every outcome: for each survival outcome its event indicator and the Nelson-Aalen cumulative
hazard at the row's follow-up time (White & Royston 2009), for each regression outcome its column
(``imputation.auxiliary`` names the outcome columns to use); and the design: the log of the survey weight
and an indicator per masked variance stratum (``imputation.design_strata``).

**Analysis and pooling.** Each of the ``imputation.m`` completed tables is fitted by the design-based
estimator of the headline models (:mod:`analysis.estimators.survey`, PSUs in strata, weighted as the
complete-case model: ``models.exam_weight`` when the model holds a MEC measure, else ``models.weight``); the
``m`` fits are combined by Rubin's rules with the design variance inside each imputation and
the Barnard-Rubin degrees of freedom on the design df (:func:`analysis.estimators.imputation.pool`). The
imputations are independent chains seeded ``(imputation.seed, j)``, drawn and fitted in
``compute.n_jobs`` worker processes with a progress bar; the results do not depend on ``n_jobs``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.core import config, io
from analysis.core.settings import Workers
from analysis.estimators.formula import formula_variables
from analysis.estimators.imputation import impute_once, nelson_aalen, pool
from analysis.estimators.records import (
    RECORD_COLUMNS,
    ModelSpec,
    check_columns,
    exposure_coefficients,
    exposure_levels,
    record_row,
    records_frame,
)
from analysis.estimators.runner import run_jobs
from analysis.estimators.survey import cox_design_fit, glm_design_fit
from analysis.studies.nhanes.schema import model_weight
from analysis.studies.nhanes.settings import Imputation, Models, NhanesSettings, load

#: The MI records: the record columns (``df`` the Barnard-Rubin df of the t interval), then the analysis key,
#: the fraction of missing information, the relative increase in variance and the number of imputations.
MI_COLUMNS: list[str] = [*RECORD_COLUMNS, "analysis", "fmi", "riv", "m"]
STRATUM, PSU = "stratum", "psu"
ANALYSIS = "multiple imputation"


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(name)).strip("_") or "x"


def imputed_set(nh: NhanesSettings) -> str:
    """The covariate set whose missing values are imputed (``imputation.covariate_set``; null: the primary
    estimate's)."""
    return nh.covariate_set(nh.imputation.covariate_set)


def imputation_frame(table: pd.DataFrame, nh: NhanesSettings) -> tuple[pd.DataFrame, dict[str, list]]:
    """The numeric frame the chained equations run on (module docstring), one row per row of ``table``,
    and the categories of each imputed categorical covariate (code ``k`` is ``categories[k]``)."""
    settings, models = nh.imputation, nh.models
    covariates = formula_variables(models.covariate_sets[imputed_set(nh)])
    check_columns(table, covariates, f"params.yaml {models.key('covariate_sets', imputed_set(nh))}")
    columns: dict[str, pd.Series] = {}
    categories: dict[str, list] = {}
    for name in covariates:
        values = table[name]
        categorical = isinstance(values.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(values)
        if values.isna().any():
            if categorical:
                cat = values.astype("category")
                categories[name] = list(cat.cat.categories)
                codes = cat.cat.codes.astype(float)
                columns[name] = codes.where(codes >= 0)
            else:
                columns[name] = values.astype(float)
        elif categorical:
            dummies = pd.get_dummies(values.astype("category"), drop_first=True, dtype=float)
            for level in dummies.columns:
                columns[f"{_safe(name)}__{_safe(level)}"] = dummies[level]
        else:
            columns[name] = values.astype(float)
    for name in models.exposures:
        check_columns(table, [name], f"params.yaml {models.key('exposures', name)}")
        if pd.api.types.is_numeric_dtype(table[name]) and name not in columns:
            columns[name] = table[name].astype(float)
    for name, spec in models.survival.items():
        event, duration = spec.event, spec.duration
        check_columns(table, [event, duration], f"params.yaml {models.key('survival', name)}")
        columns[event] = table[event].astype(float)
        columns[f"cumhaz_{_safe(name)}"] = pd.Series(nelson_aalen(table[duration], table[event]), index=table.index)
    for name in settings.auxiliary:
        check_columns(table, [name], f"params.yaml {settings.key('auxiliary')}")
        columns[name] = table[name].astype(float)
    weight = models.weight
    check_columns(table, [weight, STRATUM], "the survey design")
    columns["log_weight"] = np.log(table[weight].where(table[weight] > 0))
    if settings.design_strata:
        dummies = pd.get_dummies(table[STRATUM].astype("category"), drop_first=True, dtype=float)
        for level in dummies.columns:
            columns[f"stratum__{_safe(level)}"] = dummies[level]
    frame = pd.DataFrame(columns, index=table.index)
    return frame, categories


def completed_table(table: pd.DataFrame, imputed: pd.DataFrame, categories: dict[str, list],
                    covariates: list[str]) -> pd.DataFrame:
    """``table`` with its missing covariates filled from one imputation (codes back to categories);
    outcomes, exposures and every other column as observed."""
    out = table.copy()
    for name in covariates:
        if name not in imputed or not table[name].isna().any():
            continue
        if name in categories:
            levels = categories[name]
            codes = imputed[name].round().clip(0, len(levels) - 1).astype(int)
            filled = pd.Categorical.from_codes(codes, categories=levels)
            out[name] = out[name].where(out[name].notna(), pd.Series(filled, index=table.index))
        else:
            out[name] = out[name].fillna(imputed[name])
    return out


def _model_list(nh: NhanesSettings) -> list[tuple[str, ModelSpec, dict]]:
    """(kind, spec, keywords) of every headline model: exposures x (survival, regression) outcomes."""
    models, covariate_set = nh.models, imputed_set(nh)
    rhs = models.covariate_sets[covariate_set]
    out = []
    for exposure, ex in models.exposures.items():
        def spec_for(name: str, label: str, exposure=exposure, ex=ex) -> ModelSpec:
            return ModelSpec(outcome=name, exposure=exposure, covariates=rhs, exposure_type=ex.type,
                             covariate_set=covariate_set, study=nh.study, outcome_label=label,
                             exposure_label=ex.label)
        for name, s in models.survival.items():
            out.append(("cox", spec_for(name, s.label), {"duration": s.duration, "event": s.event}))
        for name, s in models.regression.items():
            out.append((s.family, spec_for(name, s.label), {"outcome": s.outcome}))
    return out


def _fit_one(table: pd.DataFrame, kind: str, spec: ModelSpec, kw: dict, levels, models: Models):
    """One design-based fit of an imputed table, weighted as the complete-case model is
    (:func:`analysis.studies.nhanes.schema.model_weight`: the MEC weight when the model holds a MEC measure)."""
    rhs = spec.rhs(levels[0] if levels else None)
    weight = model_weight([*kw.values(), *spec.variables()], models.weight, models.exam_weight)
    common = dict(weight=weight, stratum=STRATUM, psu=PSU, lonely_psu=models.lonely_psu)
    if kind == "cox":
        return cox_design_fit(table, rhs, duration=kw["duration"], event=kw["event"], **common)
    return glm_design_fit(table, rhs, outcome=kw["outcome"], family=kind, **common)


def _imputation_fits(table: pd.DataFrame, frame: pd.DataFrame, categories: dict, models: Models,
                     settings: Imputation, model_list: list[tuple[str, ModelSpec, dict]], j: int,
                     levels: dict[str, list | None]) -> list[tuple]:
    """Draw imputation ``j`` and fit every model of ``model_list`` on it: ``[(params, cov, df, n, events, PSUs),
    ...]``.
    (A worker process receives only the blocks it reads: ``nhanes.models`` and ``nhanes.imputation``.)"""
    imputed = impute_once(frame, seed=(settings.seed, j), burn_in=settings.burn_in, k_pmm=settings.k_pmm)
    covariates = formula_variables(model_list[0][1].covariates) if model_list else []
    completed = completed_table(table, imputed, categories, covariates)
    out = []
    for kind, spec, kw in model_list:
        fit = _fit_one(completed, kind, spec, kw, levels[spec.exposure], models)
        out.append((fit.params, fit.cov, fit.df, fit.n, fit.events, fit.n_psu))
    return out


def pooled_records(fits_by_imputation: list[list[tuple]], nh: NhanesSettings,
                   levels: dict[str, list | None]) -> pd.DataFrame:
    """Rubin's rules per model over the imputations: one MI record per exposure term (t on the
    Barnard-Rubin df), with its df, fraction of missing information and relative increase in variance."""
    alpha, settings = nh.models.alpha, nh.imputation
    m = len(fits_by_imputation)
    rows = []
    for i, (kind, spec, _) in enumerate(_model_list(nh)):
        fits = [per[i] for per in fits_by_imputation]
        design_df = min(f[2] for f in fits)
        pooled = pool([f[0] for f in fits], [f[1] for f in fits], df_complete=design_df)
        n, events, n_psu = fits[0][3], fits[0][4], fits[0][5]
        model = "cox" if kind == "cox" else ("logistic" if kind == "binomial" else "linear")
        note = (f"multiple imputation of the missing covariates (chained equations, predictive mean matching, "
                f"m = {m}, {settings.burn_in} cycles per chain, seed {settings.seed}); design-based "
                f"variance (Taylor linearisation, PSUs in strata) within each imputation, pooled by Rubin's rules; "
                f"t intervals on the Barnard-Rubin df (complete-data df {design_df})")
        for coefficient, term, term_label in exposure_coefficients(spec, levels[spec.exposure]):
            estimate, se = float(pooled.params[coefficient]), float(pooled.std_errors[coefficient])
            df = float(pooled.df[coefficient])
            # t interval on the fractional Barnard-Rubin df (record df; scipy's t takes it)
            row = record_row(spec, term, term_label, estimate, se, model=model, design="design-based",
                             vcov="linearisation", n=n, events=events, converged=True, note=note, alpha=alpha, df=df,
                             n_groups=n_psu)
            row.update(analysis=ANALYSIS, fmi=float(pooled.fmi[coefficient]), riv=float(pooled.riv[coefficient]), m=m)
            rows.append(row)
    records = records_frame(pd.DataFrame(rows)[RECORD_COLUMNS])
    extra = pd.DataFrame(rows)[["analysis", "fmi", "riv", "m"]]
    return pd.concat([records, extra], axis=1)[MI_COLUMNS]


def run_multiple_imputation(table: pd.DataFrame, nh: NhanesSettings, *, progress: bool = True,
                            n_jobs: Workers = 1) -> pd.DataFrame:
    """Impute, fit and pool every headline model (module docstring); the tidy MI records. ``n_jobs`` worker
    processes (the stage passes ``compute.n_jobs``; the results do not depend on it)."""
    frame, categories = imputation_frame(table, nh)
    models = nh.models
    weights = dict.fromkeys([models.weight, models.exam_weight])
    check_columns(table, list(weights), f"params.yaml {models.key('weight')} / {models.key('exam_weight')}")
    design = table.assign(**{w: table[w].fillna(0.0) for w in weights})
    levels = {}
    for exposure, ex in models.exposures.items():
        levels[exposure] = exposure_levels(table[exposure].dropna()) if ex.type == "categorical" else None
    model_list, settings = _model_list(nh), nh.imputation
    jobs = [(f"imputation {j + 1}", lambda j=j: _imputation_fits(design, frame, categories, models, settings,
                                                               model_list, j, levels))
            for j in range(settings.m)]
    fits = run_jobs(jobs, desc="NHANES multiple imputation", n_jobs=n_jobs, progress=progress)
    return pooled_records(fits, nh, levels)


def stage() -> str:
    """DVC stage ``mi_nhanes``: the headline models under multiple imputation, pooled by Rubin's rules."""
    params = load()
    table = io.read_parquet(config.PROCESSED / "nhanes.parquet")
    records = run_multiple_imputation(table, params.nhanes, n_jobs=params.compute.n_jobs)
    io.write_outputs({config.REPORTS / "metrics" / "nhanes_mi.csv": records})
    return f"NHANES multiple imputation: {len(records)} pooled records (m = {params.nhanes.imputation.m})"
