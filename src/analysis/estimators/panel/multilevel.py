"""Growth-curve mixed model: times within units, random intercept and random slope for time (REML).

Fixed part: exposure, time-varying and invariant covariates, time dummies. Random part: intercept and slope
for ``time - first time`` per unit, correlated (intercept only when no unit has 3+ times: with two observations
per unit a random slope is not identified beside the residual variance). Model-based SEs (the random effects
model the within-unit correlation). Record: model ``multilevel_linear``, design ``multilevel``, the variances
in ``var_group`` (intercept), ``var_slope``, ``cov_group_slope`` and ``var_residual``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimators.lmm import LMMResult, fit_lmm
from analysis.estimators.mixed import convergence_text
from analysis.estimators.panel.common import (
    PanelOptions,
    exposure_rows,
    failed_panel_records,
    outcome_text,
    panel_records,
    sample_text,
)
from analysis.estimators.panel.sample import FIT_ERRORS, PanelSample, persons, with_constant

MODEL = "multilevel_linear"
DESIGN = "multilevel"


def fit_growth_lmm(y: np.ndarray, exog: pd.DataFrame, groups: np.ndarray, exog_re: np.ndarray) -> LMMResult:
    """REML fit (lme4 ``lmer(y ~ 0 + exog + (0 + exog_re | groups), REML = TRUE)``) by the project's vectorised
    fitter :func:`analysis.estimators.lmm.fit_lmm` (analytic REML gradient, L-BFGS-B then Newton refinement; the
    same estimates as lme4 to about 1e-6, tests/reference/lmm/). It replaced statsmodels ``MixedLM`` (L-BFGS then
    BFGS, Powell, Nelder-Mead), which loops over persons in Python at every evaluation (most of the GSS model
    stage) and stopped a little short of lme4's optimum. A fit that does not converge keeps ``converged`` False.
    """
    return fit_lmm(y, exog, exog_re, groups)


def estimate_growth_multilevel(p: PanelSample, options: PanelOptions) -> pd.DataFrame:
    """The growth-curve mixed model of a prepared sample; records (see the module docstring).

    Binary outcomes are fit as the *linear probability* version, by choice: its coefficient is on the same
    scale (difference in probability) as the pooled, RE, FE, FD and Mundlak fits beside it, it keeps the
    correlated random slope (statsmodels' ``BinomialBayesMixedGLM`` has only independent variance components
    and is a variational approximation) and the odds-ratio view is given by the conditional logit.
    """
    used = p.index
    layout = p.layout
    waves_per_person = p.y.groupby(level=0).size()
    slope = waves_per_person.max() >= 3
    try:
        exog = with_constant(p.tv, p.invariant, p.waves)
        t = (p.time - p.time.min()).to_numpy()
        exog_re = np.column_stack([np.ones(len(t)), t]) if slope else np.ones((len(t), 1))
        groups = pd.factorize(p.entities)[0]
        result = fit_growth_lmm(p.y.to_numpy(float), exog, groups, exog_re)
        params, bse = result.params, result.bse
    except FIT_ERRORS as err:
        return failed_panel_records(p, MODEL, err, used=used, options=options, vcov="model_based", design=DESIGN)
    cov_re = np.asarray(result.cov_re)
    components = {"var_group": float(cov_re[0, 0]), "var_residual": float(result.scale)}
    if slope:
        components |= {"var_slope": float(cov_re[1, 1]), "cov_group_slope": float(cov_re[0, 1])}
        random = (f"random intercept and random slope for {layout.time} (per unit from the first {layout.period}) "
                  f"per {layout.unit}, correlated")
    else:
        random = (f"random intercept per {layout.unit} only (no {layout.unit} has 3+ {layout.period}s, so a random "
                  "slope is not identified beside the residual)")
    note = (f"REML linear mixed model, {layout.period}s within {layout.units} (lmer; "
            f"{outcome_text(p)}): {random}; fixed effects exposure, time-varying and invariant covariates, "
            f"{layout.period} dummies; {sample_text(p, len(used), used)}; SE model-based, sigma^2 (X'V^-1 X)^-1 "
            f"(lme4's vcov), not cluster-robust" + convergence_text(result))
    return panel_records(p, MODEL, exposure_rows(p, params, bse, options), n=len(used), used=used,
                         converged=result.converged, note=note, options=options, design=DESIGN,
                         vcov="model_based", n_groups=float(persons(used)), components=components)
