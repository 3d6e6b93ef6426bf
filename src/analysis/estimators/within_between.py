"""Within-between linear mixed model: each exposure split into the unit's mean and the deviation from it.

``y_it = b0 + sum_e [w_e (x_eit - xbar_ei) + b_e xbar_ei] + covariates + c * t + u_0i + u_1i * t + e_it``, REML,
random intercept and random slope on time per unit (:func:`analysis.estimators.lmm.fit_lmm`: REML from per-unit
sufficient statistics, lme4's conventions; SE ``sigma^2 (X'V^-1 X)^-1``, model-based). The within coefficient
``w_e`` is the unit's outcome moving with its own exposure; the between coefficient ``b_e`` also carries stable
traits (Curran & Bauer 2011). Several exposures enter jointly, so each coefficient is net of the others.

Records (one pair per exposure): ``term`` the exposure (within) and ``<exposure>:between``; model
``within_between_lmm``, design ``multilevel``, vcov ``model_based``, ``n_groups`` the units, the variances in
``var_group`` (intercept), ``var_slope``, ``cov_group_slope`` and ``var_residual``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.estimators.formula import formula_variables, regressor_matrix
from analysis.estimators.lmm import LMMResult, fit_lmm
from analysis.estimators.records import (
    ModelSpec,
    check_columns,
    failed_fit_records,
    joint_specs,
    record_row,
    records_frame,
)

MODEL = "within_between_lmm"
DESIGN = "multilevel"
FIT_ERRORS = (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError, RuntimeError)


@dataclass
class WithinBetweenFit:
    """A fitted within-between model: its records, the REML result and the design matrix it was fitted on
    (for predictions, :func:`predicted_trajectories`)."""

    records: pd.DataFrame
    result: LMMResult | None
    exog: pd.DataFrame | None
    time_values: list[float]


def fit_within_between_lmm(
    data: pd.DataFrame, spec: ModelSpec, *, entity: str, time: str, joint: Mapping[str, str] | None = None,
    alpha: float = 0.05, unit: str = "person", units: str = "persons", period: str = "wave",
) -> WithinBetweenFit:
    """Fit the within-between model of ``spec.outcome`` on ``spec.exposure`` (and the ``joint`` exposures,
    column -> label) with ``spec.covariates`` (time-invariant covariates, formula right-hand side) and a linear
    time trend (``time`` from its first value); random intercept and slope on that time per ``entity``.

    The sample is the complete cases of ``data`` on outcome, exposures, time and covariates. ``unit``,
    ``units`` and ``period`` name a unit and a time point in the labels and the note. A fit that fails
    numerically gives NaN records with ``converged`` False.
    """
    specs = joint_specs(spec, joint)
    exposures = [s.exposure for s in specs]
    outcome, rhs = spec.outcome, spec.covariates
    check_columns(data, [entity, time, outcome, *exposures, *formula_variables(rhs)], "the within-between model")
    sample = data.dropna(subset=list(dict.fromkeys([outcome, *exposures, time, *formula_variables(rhs)]))).copy()
    within_label, between_label = f"within-{unit}, per point", f"between-{unit}, per point of the {unit} mean"
    try:
        exog = regressor_matrix(sample, rhs)
        t = (sample[time] - sample[time].min()).astype(float)
        for e in exposures:
            mean = sample.groupby(entity)[e].transform("mean")
            exog[f"{e}:within"] = sample[e] - mean
            exog[f"{e}:between"] = mean
        exog.insert(0, "const", 1.0)
        exog["time"] = t
        groups = pd.factorize(sample[entity])[0]
        result = fit_lmm(sample[outcome].to_numpy(float), exog, np.column_stack([np.ones(len(t)), t.to_numpy()]),
                         groups)
    except FIT_ERRORS as err:
        failed = failed_fit_records(specs, err, model=MODEL, design=DESIGN, vcov="model_based", n=0, events=math.nan)
        return WithinBetweenFit(failed, None, None, [])
    cov_re = np.asarray(result.cov_re)
    components = {"var_group": float(cov_re[0, 0]), "var_slope": float(cov_re[1, 1]),
                  "cov_group_slope": float(cov_re[0, 1]), "var_residual": float(result.scale)}
    note = (f"REML linear mixed model (analysis.estimators.lmm, checked against statsmodels MixedLM): "
            f"{spec.outcome_label or outcome} on each exposure split into {unit} mean (between) and deviation "
            f"(within), covariates '{rhs}', linear time ({time} from the first); random intercept and slope per "
            f"{unit}; n = {len(sample):,} {unit}-{period}s of {sample[entity].nunique():,} {units}; SE model-based, "
            f"sigma^2 (X'V^-1 X)^-1 (lme4's convention)")
    if not result.converged:
        note += f"; did not converge ({result.message})"
    rows = []
    for one in specs:
        e = one.exposure
        for term, term_label, column in ((e, within_label, f"{e}:within"), (f"{e}:between", between_label,
                                                                            f"{e}:between")):
            rows.append(record_row(one, term, term_label, float(result.params[column]), float(result.bse[column]),
                                   model=MODEL, design=DESIGN, vcov="model_based", n=len(sample), events=math.nan,
                                   converged=bool(result.converged), note=note, alpha=alpha,
                                   n_groups=float(result.n_groups), components=components))
    return WithinBetweenFit(records_frame(rows), result, exog, sorted(t.unique()))


def predicted_trajectories(fit: WithinBetweenFit, exposure: str, *, levels, alpha: float = 0.05) -> pd.DataFrame:
    """Predicted outcome over time for units whose ``exposure`` stays at each level, from the mixed model.

    The unit mean of ``exposure`` is the level and its deviation 0; every other column is held at its
    sample mean (the other exposures' unit means too). CI from the fixed-effect covariance. Columns:
    ``exposure``, ``level``, ``time``, ``predicted``, ``ci_low``, ``ci_high``.
    """
    columns = ["exposure", "level", "time", "predicted", "ci_low", "ci_high"]
    if fit.result is None:
        return pd.DataFrame(columns=columns)
    z = stats.norm.ppf(1 - alpha / 2)
    base = fit.exog.mean()
    for c in fit.exog.columns:
        if c.endswith(":within"):
            base[c] = 0.0
    rows = []
    for level in levels:
        for time in fit.time_values:
            row = base.copy()
            row[f"{exposure}:between"], row["time"] = float(level), float(time)
            value = float(row @ fit.result.params)
            se = float(np.sqrt(row @ fit.result.cov_params @ row))
            rows.append({"exposure": exposure, "level": float(level), "time": float(time), "predicted": value,
                         "ci_low": value - z * se, "ci_high": value + z * se})
    return pd.DataFrame(rows, columns=columns)
