"""The within-between (hybrid Mundlak) random-effects model: within- and between-unit coefficients in one fit.

Each time-varying regressor is split into its deviation from the unit's mean (within) and the unit's mean
(between); the within coefficient equals two-way FE (also in unbalanced panels: unit means of the time
dummies are added then), and the model keeps the invariant covariates and the between-unit association.
Records: the exposure term (within) and ``<term>:between`` (the association of the unit mean: within +
contextual). SEs as ``cov_type`` says (:mod:`.common`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from linearmodels import RandomEffects

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
)
from analysis.estimators.panel.sample import FIT_ERRORS, PanelSample, standard_errors, with_constant


def mundlak_design(p: PanelSample) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Within-between design: (exog, within columns, between columns), within columns named as in ``tv``.

    The unit means of the time dummies are added when they vary between units (unbalanced panels), each only
    if it adds to the rank: without them the within coefficient would not equal the two-way FE coefficient in
    an unbalanced panel (Wooldridge 2019, J Econometrics 211:137).
    """
    means = p.tv.groupby(level=0).transform("mean")
    within = p.tv - means
    between = means.add_prefix("between: ")
    exog = with_constant(within, between, p.invariant, p.waves)
    wave_means = p.waves.groupby(level=0).transform("mean").add_prefix("between: ")
    rank = np.linalg.matrix_rank(exog.to_numpy())
    for column in wave_means.columns:
        candidate = pd.concat([exog, wave_means[[column]]], axis=1)
        new_rank = np.linalg.matrix_rank(candidate.to_numpy())
        if new_rank > rank:
            exog, rank = candidate, new_rank
    return exog, list(within.columns), list(between.columns)


def fit_mundlak_model(p: PanelSample, options: PanelOptions | None = None):
    """The fitted within-between model: (linearmodels result, covariance (:class:`.common.Covariance`), within
    columns, between columns)."""
    options = options or PanelOptions()
    exog, within, between = mundlak_design(p)
    result = RandomEffects(p.y, exog).fit(small_sample=True, **fit_options(p, p.index, options))
    return result, covariance(result, p, p.index, options), within, between


def estimate_mundlak(p: PanelSample, options: PanelOptions) -> pd.DataFrame:
    """Within-between model; records (model ``mundlak``): the within term(s) and the between term(s), with
    the unit and idiosyncratic variances (``var_group``, ``var_residual``)."""
    used = p.index
    try:
        result, cov, _, _ = fit_mundlak_model(p, options)
    except FIT_ERRORS as err:
        return failed_panel_records(p, "mundlak", err, used=used, options=options, vcov=vcov_of(options),
                                    between=True)
    layout = p.layout
    parts = result.variance_decomposition
    invariant = invariant_text(p).replace(" and", ",")
    note = ("within-between (hybrid Mundlak) random-effects model (linearmodels RandomEffects, small_sample=True; "
            f"{outcome_text(p)}): time-varying regressors split into {layout.unit}-mean-centred (within) and "
            f"{layout.unit} means (between), plus {layout.period} dummies (and their {layout.unit} means when "
            f"unbalanced){invariant}; exposure term = within-{layout.unit} coefficient (equals two-way FE), "
            f"'{layout.between_label}' term = association of the {layout.unit} mean (within + contextual); "
            f"{sample_text(p, len(used), used)} (single-{layout.period} {layout.units} inform the between term "
            f"only); {cov.text}")
    return panel_records(p, "mundlak", exposure_rows(p, result.params, standard_errors(cov.cov), options,
                                                     between=True),
                         n=len(used), used=used, converged=True, note=note, options=options, vcov=cov.vcov,
                         n_groups=cov.n_groups,
                         components={"var_group": float(parts["Effects"]), "var_residual": float(parts["Residual"])})
