"""Within-unit estimators: two-way fixed effects and first differences.

Each unit is compared with itself, so every stable trait is held fixed, measured or not; units observed once
carry no within-unit contrast and are dropped (counted in the note). SEs as ``cov_type`` says (:mod:`.common`).

**Weights** (``PanelLayout.weighted``): weighted FE demeans with weighted unit and time means (linearmodels'
weighted within transformation, as R ``plm(..., weights=)``); first differences weight the difference of
times t-1 and t by ``1/(1/w_(t-1) + 1/w_t)`` (linearmodels' convention: the inverse of the variance of a
difference of two rows whose variances are ``1/w``; proportional to ``w`` when the weight is constant within a
unit). The SEs are the same sandwich on the weighted scores: they treat the weights as fixed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from linearmodels import FirstDifferenceOLS, PanelOLS

from analysis.estimators.panel.common import (
    PanelOptions,
    covariance,
    exposure_rows,
    failed_panel_records,
    fit_options,
    outcome_text,
    panel_records,
    sample_text,
    vcov_of,
    weight_options,
    weight_text,
)
from analysis.estimators.panel.sample import FIT_ERRORS, PanelSample, multi_wave_rows, persons, standard_errors


def estimate_fixed_effects(p: PanelSample, options: PanelOptions) -> pd.DataFrame:
    """Two-way (unit and time) fixed effects, linearmodels PanelOLS; records (model ``fixed_effects``)."""
    used = multi_wave_rows(p)
    singles = persons(p.index) - persons(used)
    layout = p.layout
    try:
        if used.empty:
            raise ValueError(f"no {layout.unit} has two or more {layout.period}s")
        model = PanelOLS(p.y.loc[used], p.tv.loc[used], entity_effects=True, time_effects=True,
                         **weight_options(p, used, "fixed_effects"))
        result = model.fit(**fit_options(p, used, options, absorbing=True))
        cov = covariance(result, p, used, options, absorbed=True)
    except FIT_ERRORS as err:
        return failed_panel_records(p, "fixed_effects", err, used=used, options=options, vcov=vcov_of(options))
    sample = sample_text(p, len(used), used, dropped=f"{singles} single-{layout.period} {layout.units} dropped: "
                                                     f"they carry no within-{layout.unit} contrast")
    note = (f"two-way fixed effects (linearmodels PanelOLS, {layout.unit} and {layout.period} effects; "
            f"{outcome_text(p)}): within-{layout.unit} association, time-invariant confounders absorbed; {sample}; "
            f"{cov.text}{weight_text(p)}")
    return panel_records(p, "fixed_effects", exposure_rows(p, result.params, standard_errors(cov.cov), options),
                         n=len(used), used=used, converged=True, note=note, options=options, vcov=cov.vcov,
                         n_groups=cov.n_groups)


def differenced_rows(p: PanelSample, index: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """(has a difference with the previous time, enters any difference) for the rows of ``index``.

    As linearmodels: an observation is differenced with the same unit's observation in the preceding
    distinct time label of the panel, never across a gap.
    """
    entities = index.get_level_values(0)
    times = index.get_level_values(1)
    labels = np.sort(times.unique())
    previous = dict(zip(labels[1:], labels[:-1]))
    following = dict(zip(labels[:-1], labels[1:]))
    present = set(zip(entities, times))
    has_prev = np.array([(e, previous.get(t)) in present for e, t in zip(entities, times)])
    has_next = np.array([(e, following.get(t)) in present for e, t in zip(entities, times)])
    return has_prev, has_prev | has_next


def estimate_first_difference(p: PanelSample, options: PanelOptions) -> pd.DataFrame:
    """First differences between adjacent times with differenced time dummies, linearmodels
    FirstDifferenceOLS; records (model ``first_difference``; ``n`` counts the unit-times entering a difference)."""
    candidates = multi_wave_rows(p)
    has_prev, enters = differenced_rows(p, candidates)
    used = candidates[enters]
    differenced = candidates[has_prev]
    layout = p.layout
    try:
        if differenced.empty:
            raise ValueError(f"no {layout.unit} has two adjacent {layout.period}s")
        # fit on every multi-time unit: linearmodels itself leaves out rows that enter no difference
        exog = pd.concat([p.tv, p.waves], axis=1).loc[candidates]
        result = FirstDifferenceOLS(p.y.loc[candidates], exog,
                                    **weight_options(p, candidates, "first_difference")).fit(
            **fit_options(p, candidates, options))
        cov = covariance(result, p, differenced, options)
    except FIT_ERRORS as err:
        return failed_panel_records(p, "first_difference", err, used=used, options=options, vcov=vcov_of(options))
    dropped = persons(p.index) - persons(used)
    sample = sample_text(p, len(used), used,
                         dropped=f"{dropped} {layout.units} without two adjacent {layout.period}s dropped")
    note = (f"first differences between adjacent {layout.period}s (linearmodels FirstDifferenceOLS; "
            f"{outcome_text(p)}), differenced {layout.period} dummies (they carry the intercept of the differenced "
            f"equation), never across a gap; n counts the {layout.unit}-{layout.period}s entering a difference: "
            f"{sample}, i.e. {int(result.nobs)} differences; {cov.text}{weight_text(p)}")
    return panel_records(p, "first_difference", exposure_rows(p, result.params, standard_errors(cov.cov), options),
                         n=len(used), used=used, converged=True, note=note, options=options, vcov=cov.vcov,
                         n_groups=cov.n_groups)
