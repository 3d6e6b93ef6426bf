"""Multilevel models: participants within PSUs within survey strata, random intercepts, unweighted.

The records carry ``design = "multilevel"``. These fits ignore the survey weights (mixed models with
sampling weights need weights at every level, which public NHANES does not provide); they answer "is the
association the same once we let strata and PSUs have their own baseline level?", not the
population-average question the design-based fits answer.

* **Linear outcome** (PHQ-9 score): statsmodels ``MixedLM``, REML, a random intercept per stratum
  (``groups``) and a variance component for PSU within stratum (``vc_formula={"psu": "0 + C(psu)"}``).
  Fixed-effect SEs are statsmodels' ``bse_fe``: the inverse of the *full* Hessian (fixed effects and
  variance parameters). lme4 uses ``sigma^2 (X'V^-1 X)^-1``, which is a little smaller (about 6% in our
  benchmark, ../shared/TOOLING.md). When a variance component sits at zero, statsmodels' default gradient
  optimizers (bfgs, lbfgs, cg) stop away from the optimum, so :func:`fit_mixedlm` fits with Nelder-Mead and
  Powell and keeps the better converged fit (the note names the optimizer).
* **Binary outcome**: statsmodels ``BinomialBayesMixedGLM`` fit by **variational Bayes** (``fit_vb``,
  mean-field), random intercepts for stratum and for stratum x PSU (``cluster``), statsmodels' default
  priors (fixed effects N(0, 2^2) on standardised covariates, ``scale_fe=True``; log-SD of each random
  intercept N(0, 1)). Fitting uses a deterministic start and L-BFGS-B, so two runs give the same numbers.
  ``estimate`` = posterior mean. ``std_error``: the mean-field posterior SD treats the coefficients as
  independent a posteriori and understates their uncertainty whenever covariates are correlated (for the
  two dummies of a three-level exposure by about 25% in our simulation), so by default it is replaced by
  the Laplace (penalised-IRLS) SD at the posterior mean, conditional on the variance components: the
  fixed-effect block of ``([X Z]' W [X Z] + prior precision)^-1``, the convention of lme4's ``glmer``. Pass
  ``se="vb"`` for the raw mean-field SD; the note reports both. CI and p use the normal approximation.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from analysis.estimators.records import (
    ModelSpec,
    complete_cases,
    exposure_coefficients,
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
    stratum: str = "stratum",
    psu: str = "psu",
    weight: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Linear mixed model (REML) with random intercepts for stratum and PSU within stratum; records.

    ``weight`` is not used in the fit; given, it restricts the sample to rows with a positive weight so the
    analytic sample matches the design-based fit.
    """
    frame = complete_cases(data, [outcome, *spec.variables(), weight, stratum, psu], weight=weight)
    levels = exposure_levels(frame[spec.exposure]) if spec.exposure_type == "categorical" else None
    formula = f"{outcome} ~ {spec.rhs(levels[0] if levels else None)}"
    common = dict(levels=levels, model="linear", design="multilevel", n=len(frame), events=np.nan)
    try:
        result, optimizer = fit_mixedlm(frame, formula, stratum, {"psu": f"0 + C({psu})"})
    except (np.linalg.LinAlgError, ValueError) as err:
        return failed_records(spec, note=f"MixedLM failed: {str(err).splitlines()[0]}", **common)
    components = (f"variances: stratum {float(result.cov_re.iloc[0, 0]):.3g}, PSU within stratum "
                  f"{float(result.vcomp[0]):.3g}, residual {float(result.scale):.3g}")
    note = (f"REML linear mixed model (statsmodels MixedLM), random intercepts for stratum "
            f"({frame[stratum].nunique()}) and PSU within stratum; unweighted; SE from the inverse of the full "
            f"Hessian (statsmodels bse_fe, not lme4's fixed-effect block); {components}; optimizer {optimizer}")
    return exposure_records(spec, result.fe_params, result.bse_fe, converged=bool(result.converged),
                            note=note, alpha=alpha, **common)


def fit_vb_logistic(frame: pd.DataFrame, formula: str, vc_formulas: dict[str, str]):
    """Random-intercept logistic model by mean-field variational Bayes; returns (model, result).

    Deterministic: posterior means start at 0 and log posterior SDs at -0.5 (statsmodels' start without its
    random jitter); covariates are standardised during the fit (``scale_fe=True``; without it the
    mean-field SDs of unstandardised covariates were 40% too small in our checks) and L-BFGS-B reaches the
    same ELBO as BFGS about four times faster.
    """
    model = BinomialBayesMixedGLM.from_formula(formula, vc_formulas, frame)
    k = model.k_fep + model.k_vcp + model.k_vc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = model.fit_vb(sd=np.full(k, np.exp(-0.5)), scale_fe=True, fit_method="L-BFGS-B")
    return model, result


def laplace_fixed_effect_cov(model: BinomialBayesMixedGLM, result) -> np.ndarray:
    """Laplace (penalised-IRLS) covariance of the fixed effects at the posterior means.

    ``([Xs Z]' W [Xs Z] + diag(1/fe_p^2, 1/sigma_k^2))^-1``, fixed-effect block, with ``Xs`` the
    standardised fixed-effect design the fit used, ``W = mu (1 - mu)`` at the posterior means, and
    ``sigma_k = exp(posterior mean log-SD)`` of each random intercept's component; transformed back to the
    original covariate scale. Uncertainty in the variance components is ignored (as in lme4's ``vcov``).
    Must be given a result of :func:`fit_vb_logistic` (``scale_fe=True``).
    """
    X = np.asarray(model.exog, dtype=float)
    Z = model.exog_vc.toarray() if hasattr(model.exog_vc, "toarray") else np.asarray(model.exog_vc)
    p = model.k_fep
    mean, sd = X.mean(0), X.std(0)
    scaled = sd > 1e-8
    Xs = X.copy()
    Xs[:, scaled] = (X[:, scaled] - mean[scaled]) / sd[scaled]
    # statsmodels back-transforms the slopes of a scale_fe fit but leaves the intercept on the centred
    # scale, so the linear predictor is rebuilt on the standardised design.
    fe_scaled = np.asarray(result.fe_mean, dtype=float).copy()
    fe_scaled[scaled] *= sd[scaled]
    vc = np.asarray(result.vc_mean)
    sigma = np.exp(np.asarray(result.vcp_mean))[model.ident]
    mu = 1 / (1 + np.exp(-(Xs @ fe_scaled + Z @ vc)))
    design = np.hstack([Xs, Z])
    precision = design.T @ (design * (mu * (1 - mu))[:, None])
    precision[np.diag_indices(p)] += 1 / model.fe_p**2
    precision[np.arange(p, p + Z.shape[1]), np.arange(p, p + Z.shape[1])] += 1 / sigma**2
    cov_scaled = np.linalg.inv(precision)[:p, :p]
    # back to the original scale: beta_j = beta_s_j / sd_j; intercept absorbs the centring.
    A = np.eye(p)
    A[scaled, scaled] = 1 / sd[scaled]
    intercept = np.flatnonzero(~scaled)
    if intercept.size:
        A[intercept[0], scaled] = -mean[scaled] / sd[scaled]
    return A @ cov_scaled @ A.T


def fit_mixed_logistic(
    data: pd.DataFrame,
    spec: ModelSpec,
    *,
    outcome: str,
    stratum: str = "stratum",
    cluster: str = "cluster",
    weight: str | None = None,
    alpha: float = 0.05,
    se: str = "laplace",
) -> pd.DataFrame:
    """Random-intercept logistic model (stratum, stratum x PSU) by variational Bayes; records (measure OR).

    ``se="laplace"`` (default) or ``"vb"``: see the module docstring. ``weight`` only restricts the sample.
    """
    if se not in ("laplace", "vb"):
        raise ValueError(f"se '{se}' unknown; use 'laplace' or 'vb'")
    frame = complete_cases(data, [outcome, *spec.variables(), weight, stratum, cluster], weight=weight)
    levels = exposure_levels(frame[spec.exposure]) if spec.exposure_type == "categorical" else None
    formula = f"{outcome} ~ {spec.rhs(levels[0] if levels else None)}"
    common = dict(levels=levels, model="logistic", design="multilevel", n=len(frame),
                  events=float(frame[outcome].sum()))
    try:
        model, result = fit_vb_logistic(frame, formula, {"stratum": f"0 + C({stratum})",
                                                         "cluster": f"0 + C({cluster})"})
        names = list(model.exog_names)
        vb_sd = pd.Series(np.asarray(result.fe_sd), index=names)
        laplace_sd = pd.Series(np.sqrt(np.diag(laplace_fixed_effect_cov(model, result))), index=names)
    except (np.linalg.LinAlgError, ValueError) as err:
        return failed_records(spec, note=f"BinomialBayesMixedGLM failed: {str(err).splitlines()[0]}", **common)
    params = pd.Series(np.asarray(result.fe_mean), index=names)
    chosen = laplace_sd if se == "laplace" else vb_sd
    sds = dict(zip(model.vcp_names, np.exp(np.asarray(result.vcp_mean))))
    exposure_names = [coef for coef, _, _ in exposure_coefficients(spec, levels) if coef in vb_sd.index]
    sd_text = ", ".join(f"{vb_sd[n]:.3g} vs {laplace_sd[n]:.3g}" for n in exposure_names)
    note = ("variational Bayes (statsmodels BinomialBayesMixedGLM, mean-field fit_vb), random intercepts for "
            f"stratum and stratum x PSU (posterior SDs {sds.get('stratum', np.nan):.3g}, "
            f"{sds.get('cluster', np.nan):.3g}); unweighted; estimate = posterior mean; std_error = "
            + ("Laplace SD conditional on the variance components (lme4 glmer convention)"
               if se == "laplace" else "mean-field posterior SD")
            + f"; exposure SD mean-field vs Laplace: {sd_text}; normal-approximation CI and p")
    return exposure_records(spec, params, chosen, converged=bool(result.optim_retvals.success), note=note,
                            alpha=alpha, **common)


def fit_multilevel(
    data: pd.DataFrame,
    spec: ModelSpec,
    *,
    outcome: str,
    family: str,
    weight: str | None = None,
    stratum: str = "stratum",
    psu: str = "psu",
    cluster: str = "cluster",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Dispatch on family: "gaussian" -> :func:`fit_mixed_linear`, "binomial" -> :func:`fit_mixed_logistic`."""
    if family == "gaussian":
        return fit_mixed_linear(data, spec, outcome=outcome, stratum=stratum, psu=psu, weight=weight, alpha=alpha)
    if family == "binomial":
        return fit_mixed_logistic(data, spec, outcome=outcome, stratum=stratum, cluster=cluster, weight=weight,
                                  alpha=alpha)
    raise ValueError(f"family '{family}' unknown for outcome '{spec.outcome}'; use 'binomial' or 'gaussian'")
