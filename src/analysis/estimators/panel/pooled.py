"""Pooled OLS and random effects: estimators that compare units with each other as well as with themselves.

Both have time dummies and the invariant covariates; SEs as ``cov_type`` says (:mod:`.common`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from linearmodels import PooledOLS, RandomEffects

from analysis.estimators.panel.common import (
    PanelOptions,
    covariance,
    exposure_rows,
    failed_panel_records,
    fit_options,
    invariant_text,
    outcome_text,
    panel_records,
    sample_text,
    vcov_of,
    weight_options,
    weight_text,
)
from analysis.estimators.panel.sample import FIT_ERRORS, PanelSample, standard_errors, with_constant


def estimate_pooled_ols(p: PanelSample, options: PanelOptions) -> pd.DataFrame:
    """Pooled OLS (WLS when the sample is weighted) on every unit-time; records (model ``pooled_ols``)."""
    used = p.index
    try:
        exog = with_constant(p.tv, p.invariant, p.waves)
        result = PooledOLS(p.y, exog, **weight_options(p, used, "pooled_ols")).fit(**fit_options(p, used, options))
        cov = covariance(result, p, used, options)
    except FIT_ERRORS as err:
        return failed_panel_records(p, "pooled_ols", err, used=used, options=options, vcov=vcov_of(options))
    layout = p.layout
    note = (f"pooled OLS ({outcome_text(p)}), {layout.period} dummies{invariant_text(p)}; ignores that "
            f"{layout.unit}-{layout.period}s of one {layout.unit} are related except in the SE; "
            f"{sample_text(p, len(used), used)}; {cov.text}{weight_text(p)}")
    return panel_records(p, "pooled_ols", exposure_rows(p, result.params, standard_errors(cov.cov), options),
                         n=len(used), used=used, converged=True, note=note, options=options, vcov=cov.vcov,
                         n_groups=cov.n_groups)


def estimate_random_effects(p: PanelSample, options: PanelOptions) -> pd.DataFrame:
    """Random-intercept GLS (Swamy-Arora, ``small_sample=True``); records (model ``random_effects``) with the
    unit and idiosyncratic variances (``var_group``, ``var_residual``)."""
    used = p.index
    try:
        exog = with_constant(p.tv, p.invariant, p.waves)
        result = RandomEffects(p.y, exog).fit(small_sample=True, **fit_options(p, used, options))
        cov = covariance(result, p, used, options)
    except FIT_ERRORS as err:
        return failed_panel_records(p, "random_effects", err, used=used, options=options, vcov=vcov_of(options))
    parts = result.variance_decomposition
    theta = result.theta.to_numpy().ravel()
    note = ("random-intercept GLS (linearmodels RandomEffects, Swamy-Arora variances with small_sample=True; "
            f"{outcome_text(p)}), {p.layout.period} dummies{invariant_text(p)}; assumes the {p.layout.unit} "
            f"effect is unrelated to the regressors; GLS weight theta median {np.median(theta):.3f}; "
            f"{sample_text(p, len(used), used)}; {cov.text}")
    return panel_records(p, "random_effects", exposure_rows(p, result.params, standard_errors(cov.cov), options),
                         n=len(used), used=used, converged=True, note=note, options=options, vcov=cov.vcov,
                         n_groups=cov.n_groups,
                         components={"var_group": float(parts["Effects"]), "var_residual": float(parts["Residual"])})
