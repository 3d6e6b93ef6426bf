"""Multilevel models: participants within PSUs (primary sampling units), a random intercept per PSU, unweighted.

The records carry ``design = "multilevel"``. These fits ignore the survey weights (mixed models with
sampling weights need weights at every level, which public NHANES does not provide); they answer "is the
association the same once each PSU has its own baseline level?", not the population-average question the
design-based fits answer. Whether the weights matter is tested formally by the weight-association test
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
  The note gives the random-intercept SD.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
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
    return best_reml_fit(lambda: smf.mixedlm(formula, frame, groups=group, re_formula="1", vc_formula=vc_formula),
                         MIXEDLM_METHODS, (MIXEDLM_FALLBACK,))


def best_reml_fit(build, methods, fallback=()):
    """REML fits of ``build()`` with each optimizer sequence of ``methods``; only if none converges, with each
    of ``fallback``: :func:`select_reml_fit` with the two stages ``(methods, fallback)``."""
    return select_reml_fit(build, (tuple(methods), tuple(fallback)))


def _chain(attempt) -> tuple[tuple[str, ...], ...]:
    """An attempt as a chain of optimizer sequences: ("nm",) -> (("nm",),)."""
    return tuple(attempt) if attempt and isinstance(attempt[0], (tuple, list)) else (tuple(attempt),)


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
    """
    tried = []

    def fit(sequence: tuple[str, ...], start_params=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            try:
                options = {"start_params": start_params} if start_params is not None else {}
                return build().fit(reml=True, method=list(sequence), **options)
            except (np.linalg.LinAlgError, ValueError):
                return None

    for stage in stages:
        converged = []
        for attempt in stage:
            links = _chain(attempt)
            result = None
            for i, sequence in enumerate(links):
                result = fit(sequence, start_params=result.params_object if i else None)
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
    common = dict(levels=levels, model="linear", design="multilevel", n=len(frame), events=np.nan)
    try:
        result, optimizer = fit_mixedlm(frame, formula, cluster)
    except (np.linalg.LinAlgError, ValueError) as err:
        return failed_records(spec, note=f"MixedLM failed: {str(err).splitlines()[0]}", **common)
    components = (f"variances: PSU within stratum {float(result.cov_re.iloc[0, 0]):.3g}, residual "
                  f"{float(result.scale):.3g}")
    note = (f"REML linear mixed model (statsmodels MixedLM), random intercept for PSU within stratum "
            f"({frame[cluster].nunique()} PSUs; no stratum intercept); unweighted; SE from the inverse of the "
            f"full Hessian (statsmodels bse_fe, not lme4's fixed-effect block); {components}; optimizer {optimizer}")
    return exposure_records(spec, result.fe_params, result.bse_fe, converged=bool(result.converged),
                            note=note, alpha=alpha, **common)


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
    common = {"levels": levels, "model": "logistic", "design": "multilevel", "n": len(frame),
              "events": float(frame[outcome].sum())}
    try:
        X = design_matrix(frame, f"1 + {spec.rhs(levels[0] if levels else None)}")
        result = fit_laplace_glmm(frame[outcome].to_numpy(float), X, [frame[cluster]], names=["psu"])
    except (np.linalg.LinAlgError, ValueError) as err:
        return failed_records(spec, note=f"Laplace GLMM failed: {str(err).splitlines()[0]}", **common)
    note = (f"Laplace ML (glmer nAGQ=1), random intercept for PSU within stratum ({result.n_groups['psu']} PSUs; "
            f"no stratum intercept); random-intercept SD {result.theta['psu']:.3g}; unweighted; SE from the "
            f"Hessian of the Laplace deviance (lme4 vcov, {result.vcov_method}); Wald CI and p; log-likelihood "
            f"{result.log_likelihood:.2f}")
    return exposure_records(spec, result.params, result.bse, converged=result.converged, note=note,
                            alpha=alpha, **common)


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
