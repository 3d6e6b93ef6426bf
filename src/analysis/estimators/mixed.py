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

* **Linear outcome** (PHQ-9 score): statsmodels ``MixedLM``, REML, a random intercept per PSU within
  stratum (``groups = cluster``; lme4 ``lmer(y ~ ... + (1 | cluster), REML = TRUE)``). Fixed-effect SEs are
  statsmodels' ``bse_fe``: the inverse of the *full* Hessian (fixed effects and variance parameters). lme4
  uses ``sigma^2 (X'V^-1 X)^-1``, which is a little smaller (about 6% in our benchmark,
  ../shared/TOOLING.md). When the variance component sits at zero, statsmodels' default gradient optimizers
  (bfgs, lbfgs, cg) stop away from the optimum, so :func:`fit_mixedlm` fits with Nelder-Mead and Powell and
  keeps the better converged fit (the note names the optimizer).
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
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.regression.mixed_linear_model import MixedLM
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from analysis.estimators.formula import design_matrix
from analysis.estimators.glmm import fit_laplace_glmm
from analysis.estimators.records import (
    ModelSpec,
    complete_cases,
    exposure_levels,
    exposure_records,
    failed_records,
)

#: Derivative-free optimizers always tried for MixedLM (the fixed effects are profiled out, so they search
#: only the variance parameters), and statsmodels' default gradient sequence, tried when neither converges.
MIXEDLM_METHODS: tuple[tuple[str, ...], ...] = (("nm",), ("powell",))
MIXEDLM_FALLBACK: tuple[str, ...] = ("bfgs", "lbfgs", "cg")


def fit_mixedlm(frame: pd.DataFrame, formula: str, group: str, vc_formula: dict[str, str] | None = None):
    """REML linear mixed model; returns (result, optimizer label).

    Fits with Nelder-Mead and with Powell and keeps the converged fit with the higher REML log-likelihood;
    only if neither converges, statsmodels' default bfgs/lbfgs/cg sequence (if nothing converges: the highest
    log-likelihood, ``converged`` False). Why: with a variance component at zero (PSU within stratum often
    is) the gradient optimizers stopped away from the optimum in our checks, and lbfgs alone once reported
    convergence at a lower likelihood; Nelder-Mead matched bfgs at interior optima, Powell stopped slightly
    short of them (hence both, best kept).
    """
    return best_reml_fit(lambda: MixedLM.from_formula(formula, frame, groups=group, re_formula="1",
                                                      vc_formula=vc_formula),
                         MIXEDLM_METHODS, (MIXEDLM_FALLBACK,))


def best_reml_fit(build, methods, fallback=()):
    """REML fits of ``build()`` with each optimizer sequence of ``methods``; only if none converges, with each
    of ``fallback``: :func:`select_reml_fit` with the two stages ``(methods, fallback)``."""
    return select_reml_fit(build, (tuple(methods), tuple(fallback)))


def _chain(attempt) -> tuple[tuple[str, ...], ...]:
    """An attempt as a chain of optimizer sequences: ("nm",) -> (("nm",),)."""
    return tuple(attempt) if attempt and isinstance(attempt[0], (tuple, list)) else (tuple(attempt),)


@contextmanager
def _no_hessian(model):
    """``model.fit`` without its final Hessian (a placeholder ``-I`` instead): for a fit whose estimate only starts
    another fit, whose standard errors, covariance and convergence flag are never read."""
    size = model.k_fe + model.k_re2 + model.k_vc
    model.hessian = lambda params: (-np.eye(size), False)
    try:
        yield model
    finally:
        del model.hessian


def select_reml_fit(build, stages):
    """The one optimizer selection for every statsmodels MixedLM fit of the package (REML).

    ``build()`` returns the model to fit. ``stages`` are tried in turn; a stage is a sequence of
    *attempts*, and an attempt is one optimizer sequence such as ``("nm",)`` or ``("bfgs", "lbfgs", "cg")``
    (statsmodels' ``method=`` list), or a chain of them, ``(("lbfgs",), ("bfgs",))``, each link started at
    the previous link's estimate (only the chain's last fit counts). Every attempt of a stage is run; when
    one or more converged, the converged fit with the highest REML log-likelihood is returned, else the
    next stage is tried. If nothing converges, the fit with the highest log-likelihood is returned
    (``converged`` False). Fits that raise or give a non-finite log-likelihood are skipped; none left ->
    LinAlgError. Returns (result, optimizer label), e.g. ``"nm"`` or ``"lbfgs then bfgs"``.

    A link that only starts the next one (not the chain's last) skips statsmodels' Hessian (:func:`_no_hessian`):
    only its estimate is used, and the Hessian, a loop over groups, cost as much as the optimisation itself.
    """
    tried = []

    def fit(sequence: tuple[str, ...], start_params=None, last: bool = True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            try:
                options = {"start_params": start_params} if start_params is not None else {}
                model = build()
                if last:
                    return model.fit(reml=True, method=list(sequence), **options)
                with _no_hessian(model):
                    return model.fit(reml=True, method=list(sequence), **options)
            except (np.linalg.LinAlgError, ValueError):
                return None

    for stage in stages:
        converged = []
        for attempt in stage:
            links = _chain(attempt)
            result = None
            for i, sequence in enumerate(links):
                result = fit(sequence, start_params=result.params_object if i else None, last=i == len(links) - 1)
                if result is None:
                    break
            if result is None or not np.isfinite(result.llf):
                continue
            label = " then ".join("/".join(sequence) for sequence in links)
            tried.append((bool(result.converged), result.llf, label, result))
            if result.converged:
                converged.append(tried[-1])
        if converged:
            _, _, label, best = max(converged, key=lambda t: t[1])
            return best, label
    if not tried:
        raise np.linalg.LinAlgError("MixedLM failed with every optimizer")
    _, _, label, best = max(tried, key=lambda t: t[1])
    return best, label


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
    formula = f"{outcome} ~ {spec.rhs(levels[0] if levels else None)}"
    common = dict(levels=levels, model="multilevel_linear", design="multilevel", vcov="model_based", n=len(frame),
                  events=np.nan, n_groups=float(frame[cluster].nunique()))
    try:
        result, optimizer = fit_mixedlm(frame, formula, cluster)
    except (np.linalg.LinAlgError, ValueError) as err:
        return failed_records(spec, note=f"MixedLM failed: {str(err).splitlines()[0]}", **common)
    note = ("REML linear mixed model (statsmodels MixedLM), random intercept for PSU within stratum (no stratum "
            "intercept); unweighted; SE from the inverse of the full Hessian (statsmodels bse_fe, not lme4's "
            f"fixed-effect block); optimizer {optimizer}")
    components = {"var_group": float(result.cov_re.iloc[0, 0]), "var_residual": float(result.scale)}
    return exposure_records(spec, result.fe_params, result.bse_fe, converged=bool(result.converged),
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


#: Optimizers of :func:`fit_random_slope_linear`; the converged fit with the highest REML log-likelihood is
#: kept. With a random slope, Nelder-Mead stopped at its iteration limit in our checks; Powell converged a
#: little short of the optimum and the gradient sequence reached it; Powell guards against a variance on the
#: boundary, where the gradient optimizers can stop early. Nelder-Mead only when neither converges.
RANDOM_SLOPE_METHODS: tuple[tuple[str, ...], ...] = (("bfgs", "lbfgs", "cg"), ("powell",))
RANDOM_SLOPE_FALLBACK: tuple[tuple[str, ...], ...] = (("nm",),)
#: Columns of the group effects returned by :func:`fit_random_slope_linear` (one row per group x component).
GROUP_EFFECT_COLUMNS: list[str] = [
    "group", "n", "component", "fixed", "deviation", "deviation_sd", "ci_low", "ci_high", "value",
    "var_group", "var_slope", "corr_group_slope", "var_residual", "converged",
]


def fixed_effect_cov(result) -> np.ndarray:
    """``(sum_g X_g' V_g^-1 X_g)^-1`` with ``V_g = Z_g Psi Z_g' + sigma^2 I`` at the estimated variances: the
    covariance of the fixed effects given the variance parameters (lme4's ``vcov``)."""
    model = result.model
    psi = np.asarray(result.cov_re, dtype=float)
    scale = float(result.scale)
    information = np.zeros((model.k_fe, model.k_fe))
    for x, z in zip(model.exog_li, model.exog_re_li):
        v = z @ psi @ z.T + scale * np.eye(len(x))
        information += x.T @ np.linalg.solve(v, x)
    return np.linalg.inv(information)


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
    SE: statsmodels' ``bse_fe`` (the inverse of the full Hessian), or, when that Hessian is singular (a
    variance at its boundary, 0), lme4's ``sigma^2 (X'V^-1 X)^-1`` given the variances (:func:`fixed_effect_cov`).

    Records: model ``multilevel_linear``, design ``multilevel``, vcov ``model_based``, ``n_groups`` the groups,
    the variances in ``var_group``, ``var_slope``, ``cov_group_slope``, ``var_residual``. Group effects
    (:data:`GROUP_EFFECT_COLUMNS`): for each group the BLUP (conditional mode) of its intercept and slope
    deviation, its conditional SD (statsmodels ``random_effects_cov``: given the data, the fixed effects and the
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
    formula = f"{outcome} ~ {spec.rhs()}"
    re_formula = f"~{spec.exposure}" if random_slope else "1"
    try:
        # one model (one formula parse and split by group) for every optimizer: each fit starts afresh from it
        model = MixedLM.from_formula(formula, frame, groups=group, re_formula=re_formula)
        result, optimizer = best_reml_fit(lambda: model, RANDOM_SLOPE_METHODS, RANDOM_SLOPE_FALLBACK)
    except (np.linalg.LinAlgError, ValueError) as err:
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        return (failed_records(spec, note=f"MixedLM failed ({type(err).__name__}: {text})", **common),
                group_effects_frame())
    cov_re = np.asarray(result.cov_re, dtype=float)
    var_int = float(cov_re[0, 0])
    var_slope = float(cov_re[1, 1]) if random_slope else math.nan
    corr = float(cov_re[0, 1] / math.sqrt(var_int * var_slope)) if random_slope and var_int > 0 and var_slope > 0 \
        else math.nan
    residual = float(result.scale)
    n_groups = frame[group].nunique()
    components = {"var_group": var_int, "var_residual": residual}
    if random_slope:
        components |= {"var_slope": var_slope, "cov_group_slope": float(cov_re[0, 1])}
    with warnings.catch_warnings(record=True):  # a negative variance of the full Hessian's inverse: checked below
        warnings.simplefilter("always")
        std_errors = result.bse_fe
    se_text = "SE from the inverse of the full Hessian (statsmodels bse_fe)"
    if not np.isfinite(std_errors[spec.exposure]):
        std_errors = pd.Series(np.sqrt(np.diag(fixed_effect_cov(result))), index=result.fe_params.index)
        se_text = ("SE sigma^2 (X'V^-1 X)^-1 given the variances (lme4's convention), the full Hessian being "
                   "singular (a variance at its boundary, 0)")
    slope_text = " and random slope of the exposure (correlated)" if random_slope else ""
    note = (f"REML linear mixed model (statsmodels MixedLM), {len(frame)} rows within {n_groups} groups "
            f"('{group}'): random intercept{slope_text} per group; exposure centred at its mean {mean:.2f}; "
            f"UNWEIGHTED (MixedLM takes no weights); {se_text}; optimizer {optimizer}")
    if not result.converged:
        note += "; did not converge with any optimizer (the fit with the highest REML log-likelihood is kept)"
    records = exposure_records(spec, result.fe_params, std_errors, converged=bool(result.converged), note=note,
                               alpha=alpha, n_groups=float(n_groups), components=components, **common)

    z = float(stats.norm.ppf(1 - alpha / 2))
    fe = result.fe_params
    level = float(np.asarray(result.model.exog).mean(0) @ fe.to_numpy())  # fitted value at the sample means
    counts = frame[group].value_counts()
    rows = []
    parts = [("intercept", 0, level)] + ([("slope", 1, float(fe[spec.exposure]))] if random_slope else [])
    for name, blup in result.random_effects.items():
        cond = np.asarray(result.random_effects_cov[name], dtype=float)
        for component, k, fixed in parts:
            dev, sd = float(np.asarray(blup)[k]), float(math.sqrt(max(cond[k, k], 0.0)))
            rows.append({"group": str(name), "n": int(counts[name]), "component": component, "fixed": fixed,
                         "deviation": dev, "deviation_sd": sd, "ci_low": dev - z * sd, "ci_high": dev + z * sd,
                         "value": fixed + dev, "var_group": var_int, "var_slope": var_slope,
                         "corr_group_slope": corr, "var_residual": residual, "converged": bool(result.converged)})
    return records, group_effects_frame(rows)
