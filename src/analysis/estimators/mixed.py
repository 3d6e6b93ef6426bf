"""Multilevel models: participants within PSUs (primary sampling units), a random intercept per PSU, unweighted.

The records carry ``design = "multilevel"``, ``model`` ``multilevel_linear`` or ``multilevel_logistic`` and the
variance components in ``var_group`` (PSU) and ``var_residual`` (linear model). These fits ignore the survey
weights (mixed models with sampling weights need weights at every level, which public NHANES does not provide);
they answer "is the association the same once each PSU has its own baseline level?", not the population-average
question the design-based fits answer. Whether the weights matter is tested formally by the weight-association test
(:mod:`analysis.estimators.weight_test`), not by this model.

**Why no stratum intercept.** Earlier versions gave the (masked) design strata random intercepts too. Strata
are a device of the sampling design, built by the survey from geography and demography, with 2-3 PSUs
each in NHANES; they are neither a population of interest nor a sample of higher-level units, and a
variance component estimated from strata that hold 2-3 PSUs mostly relabels PSU variation. The only level
with many units and a substantive meaning (a county or group of counties: the neighbourhood, the health
services, the interviewers) is the PSU, so the PSU within its stratum (``cluster``, unique across strata)
carries the one random intercept.

* **Linear outcome** (PHQ-9 score): REML, a random intercept per PSU within stratum (``groups = cluster``;
  lme4 ``lmer(y ~ ... + (1 | cluster), REML = TRUE)``), by :func:`fit_reml`, the project's vectorised REML fitter
  (:func:`analysis.estimators.lmm.fit_lmm`; the same estimates as lme4 to about 1e-6, tests/reference/). Fixed-effect
  SEs as lme4's ``vcov``: ``sigma^2 (X'V^-1 X)^-1`` at the REML estimate. (Until 2026-12 these fits used
  statsmodels ``MixedLM``, whose SEs invert the *full* Hessian with the variance parameters, about 0-6% larger,
  ../shared/TOOLING.md, and whose optimizers stopped a little short of lme4's optimum; a fit that does not
  converge is still recorded with ``converged`` False and the optimizer's message in the note.)
* **Binary outcome**: logistic model with a random intercept per PSU within stratum, fit by **maximum
  likelihood with the Laplace approximation**, lme4 ``glmer``'s default (``nAGQ = 1``; R ``glmer(y ~ ...,
  family = binomial)`` with ``(1 | cluster)``), by :func:`analysis.estimators.glmm.fit_laplace_glmm`
  (hand-written: no Python library fits GLMMs by ML; see that module). ``estimate`` = ML estimate;
  ``std_error`` as ``vcov(glmer fit)``: twice the fixed-effect block of the inverse Hessian of the Laplace
  deviance over (random-intercept SD, fixed effects). Wald (normal) CI and p, as ``summary(glmer fit)``.
  The random-intercept variance is the record's ``var_group`` (its SD squared).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from analysis.estimators.formula import design_matrix
from analysis.estimators.glmm import fit_laplace_glmm
from analysis.estimators.lmm import LMMResult, fit_lmm
from analysis.estimators.records import (
    ModelSpec,
    complete_cases,
    exposure_levels,
    exposure_records,
    failed_records,
)


def fit_reml(frame: pd.DataFrame, outcome: str, rhs: str, group: str, slope: str | None = None
             ) -> tuple[LMMResult, pd.DataFrame]:
    """REML fit of ``outcome ~ 1 + rhs`` with a random intercept (and, given ``slope``, a correlated random slope of
    that column) per ``group``, by :func:`analysis.estimators.lmm.fit_lmm`; returns (fit, fixed-effects design).

    The one linear mixed fit of this module (lme4 ``lmer(outcome ~ rhs + (1 | group), REML = TRUE)``, or
    ``(1 + slope | group)``): profiled REML criterion with its analytic gradient, L-BFGS-B then Newton
    refinement (:mod:`analysis.estimators.lmm`), vectorised over groups. It replaced statsmodels ``MixedLM``,
    which loops over groups in Python at every likelihood evaluation (60-80% of the places and GSS model stages)
    and whose optimizers stopped a little short of lme4's optimum (tests/reference/lmm/). Term names are the
    formula engine's, as in every record.
    """
    exog = design_matrix(frame, f"1 + {rhs}" if rhs.strip() else "1")
    ones = np.ones((len(frame), 1))
    z = ones if slope is None else np.column_stack([ones, frame[slope].to_numpy(float)])
    return fit_lmm(frame[outcome].to_numpy(float), exog, z, frame[group].to_numpy()), exog


def convergence_text(result: LMMResult) -> str:
    """The note's ending for a fit that did not converge (empty when it did): the optimizer's own account."""
    return "" if result.converged else f"; did not converge ({result.message})"


def fit_mixed_linear(
    data: pd.DataFrame,
    spec: ModelSpec,
    *,
    outcome: str,
    cluster: str = "cluster",
    weight: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Linear mixed model (REML) with a random intercept per PSU within stratum (``cluster``, a label unique
    across strata); records.

    ``weight`` is not used in the fit; given, it restricts the sample to rows with a positive weight so the
    analytic sample matches the design-based fit.
    """
    frame = complete_cases(data, [outcome, *spec.variables(), weight, cluster], weight=weight)
    levels = exposure_levels(frame[spec.exposure]) if spec.exposure_type == "categorical" else None
    common = dict(levels=levels, model="multilevel_linear", design="multilevel", vcov="model_based", n=len(frame),
                  events=np.nan, n_groups=float(frame[cluster].nunique()))
    try:
        result, _ = fit_reml(frame, outcome, spec.rhs(levels[0] if levels else None), cluster)
    except (np.linalg.LinAlgError, ValueError) as err:
        return failed_records(spec, note=f"REML fit failed: {str(err).splitlines()[0]}", **common)
    note = ("REML linear mixed model (lmer), random intercept for PSU within stratum (no stratum intercept); "
            "unweighted; SE sigma^2 (X'V^-1 X)^-1 (lme4's vcov)" + convergence_text(result))
    components = {"var_group": float(result.cov_re[0, 0]), "var_residual": float(result.scale)}
    return exposure_records(spec, result.params, result.bse, converged=result.converged,
                            note=note, alpha=alpha, components=components, **common)


def fit_mixed_logistic(
    data: pd.DataFrame,
    spec: ModelSpec,
    *,
    outcome: str,
    cluster: str = "cluster",
    weight: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Random-intercept logistic model (PSU within stratum) by Laplace ML; records (measure OR).

    ``cluster`` labels PSU within stratum (unique across strata). ``weight`` only restricts the sample to
    positive weights. An outcome that is not 0/1 raises a ValueError naming the column; a fit that fails
    numerically gives failed records with the error in ``note``.
    """
    frame = complete_cases(data, [outcome, *spec.variables(), weight, cluster], weight=weight)
    outside = np.setdiff1d(np.unique(frame[outcome].to_numpy(float)), [0.0, 1.0])
    if outside.size:
        raise ValueError(f"outcome column '{outcome}' must be 0/1 for a logistic model; found the value "
                         f"{outside[0]:g} (params.yaml family binomial needs a 0/1 outcome)")
    levels = exposure_levels(frame[spec.exposure]) if spec.exposure_type == "categorical" else None
    common = {"levels": levels, "model": "multilevel_logistic", "design": "multilevel", "vcov": "model_based",
              "n": len(frame), "events": float(frame[outcome].sum()), "n_groups": float(frame[cluster].nunique())}
    try:
        X = design_matrix(frame, f"1 + {spec.rhs(levels[0] if levels else None)}")
        result = fit_laplace_glmm(frame[outcome].to_numpy(float), X, [frame[cluster]], names=["psu"])
    except (np.linalg.LinAlgError, ValueError) as err:
        return failed_records(spec, note=f"Laplace GLMM failed: {str(err).splitlines()[0]}", **common)
    note = ("Laplace ML (glmer nAGQ=1), random intercept for PSU within stratum (no stratum intercept); "
            f"unweighted; SE from the Hessian of the Laplace deviance (lme4 vcov, {result.vcov_method}); Wald CI "
            f"and p; log-likelihood {result.log_likelihood:.2f}")
    common["n_groups"] = float(result.n_groups["psu"])
    return exposure_records(spec, result.params, result.bse, converged=result.converged, note=note,
                            alpha=alpha, components={"var_group": float(result.theta["psu"]) ** 2}, **common)


def fit_multilevel(
    data: pd.DataFrame,
    spec: ModelSpec,
    *,
    outcome: str,
    family: str,
    weight: str | None = None,
    cluster: str = "cluster",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Dispatch on family: "gaussian" -> :func:`fit_mixed_linear`, "binomial" -> :func:`fit_mixed_logistic`;
    both with a random intercept per PSU within stratum (``cluster``)."""
    if family == "gaussian":
        return fit_mixed_linear(data, spec, outcome=outcome, cluster=cluster, weight=weight, alpha=alpha)
    if family == "binomial":
        return fit_mixed_logistic(data, spec, outcome=outcome, cluster=cluster, weight=weight, alpha=alpha)
    raise ValueError(f"family '{family}' unknown for outcome '{spec.outcome}'; use 'binomial' or 'gaussian'")


# ---------------------------------------------------------------------------------------------
# Rows within groups with a random intercept and a random slope of the exposure


#: Columns of the group effects returned by :func:`fit_random_slope_linear` (one row per group x component).
GROUP_EFFECT_COLUMNS: list[str] = [
    "group", "n", "component", "fixed", "deviation", "deviation_sd", "ci_low", "ci_high", "value",
    "var_group", "var_slope", "corr_group_slope", "var_residual", "converged",
]


def group_effects_frame(rows: list[dict] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows or [], columns=GROUP_EFFECT_COLUMNS)
    frame["n"] = frame["n"].astype("int64")
    frame["converged"] = frame["converged"].astype(bool)
    return frame


def fit_random_slope_linear(
    data: pd.DataFrame, spec: ModelSpec, *, group: str, weight: str | None = None, random_slope: bool = True,
    alpha: float = 0.05, validate: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows within groups: REML linear mixed model with a random intercept (and a random slope of the exposure,
    correlated) per ``group``; returns (records, group effects).

    Unweighted: ``weight`` only restricts the sample to rows with a positive weight. The exposure is centred
    at its sample mean (the slope is unchanged; the group intercept becomes the group's level at the average
    exposure, and the intercept-slope correlation is not an artefact of an origin far outside the data).
    :func:`fit_reml` (lme4 ``lmer(y ~ ... + (1 + exposure | group), REML = TRUE)``); SE ``sigma^2 (X'V^-1 X)^-1``,
    lme4's ``vcov``.

    Records: model ``multilevel_linear``, design ``multilevel``, vcov ``model_based``, ``n_groups`` the groups,
    the variances in ``var_group``, ``var_slope``, ``cov_group_slope``, ``var_residual``. Group effects
    (:data:`GROUP_EFFECT_COLUMNS`): for each group the BLUP (conditional mode) of its intercept and slope
    deviation, its conditional SD (lme4 ``ranef(condVar = TRUE)``: given the data, the fixed effects and the
    variances, so intervals ignore the uncertainty in those), a Wald interval, the fixed part (the intercept
    at the sample means of the regressors, or the slope) and their sum, and the fit's variance components.
    ``validate=False`` leaves the record-contract check to the caller (``records_frame``).
    """
    outcome = spec.outcome
    frame = complete_cases(data, [outcome, *spec.variables(), group, weight], weight=weight)
    common = dict(levels=None, model="multilevel_linear", design="multilevel", vcov="model_based", n=len(frame),
                  events=np.nan, validate=validate)
    if frame.empty:
        return failed_records(spec, note="no complete rows", **common), group_effects_frame()
    mean = float(frame[spec.exposure].mean())
    frame[spec.exposure] = frame[spec.exposure] - mean
    frame[group] = frame[group].astype(str)
    try:
        result, exog = fit_reml(frame, outcome, spec.rhs(), group, spec.exposure if random_slope else None)
    except (np.linalg.LinAlgError, ValueError) as err:
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        return (failed_records(spec, note=f"REML fit failed ({type(err).__name__}: {text})", **common),
                group_effects_frame())
    cov_re = np.asarray(result.cov_re, dtype=float)
    var_int = float(cov_re[0, 0])
    var_slope = float(cov_re[1, 1]) if random_slope else math.nan
    corr = float(cov_re[0, 1] / math.sqrt(var_int * var_slope)) if random_slope and var_int > 0 and var_slope > 0 \
        else math.nan
    residual = float(result.scale)
    n_groups = result.n_groups
    components = {"var_group": var_int, "var_residual": residual}
    if random_slope:
        components |= {"var_slope": var_slope, "cov_group_slope": float(cov_re[0, 1])}
    slope_text = " and random slope of the exposure (correlated)" if random_slope else ""
    note = (f"REML linear mixed model (lmer), {len(frame)} rows within {n_groups} groups "
            f"('{group}'): random intercept{slope_text} per group; exposure centred at its mean {mean:.2f}; "
            f"UNWEIGHTED; SE sigma^2 (X'V^-1 X)^-1 (lme4's vcov)" + convergence_text(result))
    records = exposure_records(spec, result.params, result.bse, converged=result.converged, note=note,
                               alpha=alpha, n_groups=float(n_groups), components=components, **common)

    z = float(stats.norm.ppf(1 - alpha / 2))
    fe = result.params
    level = float(exog.to_numpy().mean(0) @ fe.to_numpy())  # fitted value at the sample means
    counts = frame[group].value_counts()
    rows = []
    parts = [("intercept", 0, level)] + ([("slope", 1, float(fe[spec.exposure]))] if random_slope else [])
    for name, blup, cond in zip(result.groups, result.random_effects, result.random_effects_cov):
        for component, k, fixed in parts:
            dev, sd = float(blup[k]), float(math.sqrt(max(cond[k, k], 0.0)))
            rows.append({"group": str(name), "n": int(counts[name]), "component": component, "fixed": fixed,
                         "deviation": dev, "deviation_sd": sd, "ci_low": dev - z * sd, "ci_high": dev + z * sd,
                         "value": fixed + dev, "var_group": var_int, "var_slope": var_slope,
                         "corr_group_slope": corr, "var_residual": residual, "converged": result.converged})
    return records, group_effects_frame(rows)
