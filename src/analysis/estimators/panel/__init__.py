"""Panel estimators (units observed at several times), returned as tidy records.

The question: when the *same unit's* exposure changes between times, does its outcome change with it?
Cross-sectional comparisons mix that within-unit association with differences *between* units (a sociable
temperament, say, that also makes people report better health). Each estimator here answers a different mix of
the two, and they are fit side by side so the reader can see how much the answer depends on it:

===================  ======================================================================================
record ``model``     what the exposure coefficient compares (module)
===================  ======================================================================================
pooled_ols           everyone with everyone, across and within units (linearmodels ``PooledOLS``; :mod:`.pooled`)
random_effects       the same, GLS-weighted towards within-unit contrasts (``RandomEffects``; :mod:`.pooled`)
fixed_effects        unit-times with the same unit's other times (two-way ``PanelOLS``; :mod:`.fixed_effects`)
first_difference     a unit's change between adjacent times (``FirstDifferenceOLS``; :mod:`.fixed_effects`)
mundlak              within and between units, separately, in one random-effects model (also a
                     ``"between-<unit>"`` row; :mod:`.mundlak`)
conditional_logit    within units, odds ratio, for binary outcomes (statsmodels ``ConditionalLogit``;
                     :mod:`.conditional_logit`)
multilevel_linear    between + within, times in units, random intercept and slope for time (REML, ``lmm.fit_lmm``;
                     :mod:`.multilevel`; spec name ``multilevel``)
===================  ======================================================================================

Input: a long table, one row per unit and time, with the entity and time columns named in
:class:`PanelLayout`. Every estimator has **time effects**: time dummies (first time the reference; absorbed as
time effects in the FE model, differenced in the FD model). Time-invariant covariates (``PanelLayout.invariant``)
enter the pooled, random-effects, Mundlak and multilevel models; the within-unit estimators absorb them with the
unit effect. Binary outcomes get the *linear probability* version of every linear estimator (estimate =
difference in probability per unit of exposure) and, in addition, the conditional logit (odds ratio).
``n`` is always the number of **unit-times** a fit used (``events``: unit-times with the outcome, binary
outcomes only).

**Covariance: a named option** (``cov_type``, as linearmodels): ``"clustered"`` (by unit, or by
``PanelLayout.cluster``; linearmodels' uncorrected sandwich times ``G/(G-1)``) or ``"kernel"`` (Driscoll-Kraay,
with ``kernel`` and ``bandwidth``); see :mod:`.common`. The conditional logit and the multilevel model report
model-based SEs. Wald intervals on the normal scale, as every record (``interval`` "z").

**Weights.** With ``PanelLayout.weighted`` the estimators of :data:`WEIGHTED_ESTIMATORS` (pooled OLS, two-way FE,
first differences) are fit by weighted least squares with the layout's weight column (linearmodels
``weights=``), record ``design`` ``"weighted"``; the SEs treat the weights as fixed. The random-effects,
Mundlak, conditional-logit and multilevel fits have no weighted version here (statsmodels' ConditionalLogit and
the REML mixed model take no weights, and a weighted RE variance decomposition has no settled definition): a
weighted spec that lists them is an error.

**Records** (:mod:`analysis.estimators.records`): ``model`` the estimator, ``design`` "unweighted" or
"weighted" ("multilevel" for the mixed model), ``vcov`` "cluster", "driscoll_kraay" or "model_based",
``n_groups`` the clusters (or time periods, or units of the mixed model), the variance components of the
random-effects, Mundlak and multilevel fits in ``var_group``, ``var_slope``, ``cov_group_slope``,
``var_residual``; ``covariate_set`` and ``sample`` from the spec. ``measure`` is "Mean difference" for the
linear and linear probability estimators and "OR" for the conditional logit. ``term`` as in records.py for the
exposure; the Mundlak between-unit coefficient has ``term`` ``"<term>:between"`` and ``term_label``
``"between-<unit>"`` (a labelled or categorical exposure: ``"between-<unit>, <label>"``). Options of every
fit function: ``alpha``, ``cov_type``/``kernel``/``bandwidth``, ``scale`` (coefficients per ``scale`` units of the
exposure), ``term_label`` (the label of a continuous exposure's term) and ``joint`` (further continuous
exposures entered jointly and recorded as their own exposure).

**Specification tests** (:mod:`.specification_tests`): the classical Hausman test and the cluster-robust
Mundlak Wald tests, in a table of their own.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from analysis.estimators.panel import specification_tests
from analysis.estimators.panel.common import (
    COV_TYPES,
    DESIGN,
    KERNELS,
    WEIGHTED_DESIGN,
    WEIGHTED_ESTIMATORS,
    PanelOptions,
    default_bandwidth,
    options_of,
)
from analysis.estimators.panel.conditional_logit import estimate_conditional_logit
from analysis.estimators.panel.fixed_effects import estimate_first_difference, estimate_fixed_effects
from analysis.estimators.panel.measurement import (
    ATTENUATION_COLUMNS,
    attenuation_table,
    with_lag,
    within_person_variance,
)
from analysis.estimators.panel.multilevel import estimate_growth_multilevel, fit_growth_lmm
from analysis.estimators.panel.mundlak import estimate_mundlak, fit_mundlak_model, mundlak_design
from analysis.estimators.panel.pooled import estimate_pooled_ols, estimate_random_effects
from analysis.estimators.panel.run import ESTIMATORS, FITS, RECORD_MODELS, run_panel_models
from analysis.estimators.panel.sample import (
    FIT_ERRORS,
    PanelLayout,
    PanelSample,
    multi_wave_rows,
    prepare_panel,
    standard_errors,
    with_constant,
)
from analysis.estimators.panel.specification_tests import (
    HAUSMAN_TEST,
    MUNDLAK_EXPOSURE_TEST,
    MUNDLAK_TEST,
    PANEL_TEST_COLUMNS,
    TEST_KEYS,
    hausman,
    mundlak_wald,
    panel_tests_frame,
)
from analysis.estimators.panel_spec import PanelExposure, PanelOutcome, PanelSpec
from analysis.estimators.records import ModelSpec

#: ``term_label`` of the between-person coefficient of the Mundlak model with the default layout.
BETWEEN_TERM_LABEL = PanelLayout(entity="", time="").between_label

__all__ = [
    "ATTENUATION_COLUMNS", "BETWEEN_TERM_LABEL", "COV_TYPES", "DESIGN", "ESTIMATORS", "FITS", "FIT_ERRORS",
    "HAUSMAN_TEST", "KERNELS", "MUNDLAK_EXPOSURE_TEST", "MUNDLAK_TEST", "PANEL_TEST_COLUMNS",
    "RECORD_MODELS", "TEST_KEYS", "PanelExposure", "PanelOutcome", "PanelSpec", "WEIGHTED_DESIGN",
    "WEIGHTED_ESTIMATORS", "PanelLayout", "PanelOptions",
    "PanelSample", "attenuation_table", "default_bandwidth", "fit_conditional_logit", "fit_first_difference",
    "fit_fixed_effects", "fit_growth_lmm", "fit_mundlak", "fit_mundlak_model", "fit_panel_multilevel",
    "fit_pooled_ols", "fit_random_effects", "hausman", "multi_wave_rows", "mundlak_design", "mundlak_wald",
    "panel_tests", "panel_tests_frame", "prepare_panel", "run_panel_models", "standard_errors", "with_constant",
    "with_lag", "within_person_variance",
]


def _fit(fit, panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, outcome: str | None, binary: bool,
         joint: Mapping[str, str] | None, options: dict) -> pd.DataFrame:
    p = prepare_panel(panel, spec, layout, outcome=outcome, binary=binary, joint=joint)
    return fit(p, options_of(**options))


def fit_pooled_ols(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                   binary: bool = False, joint: Mapping[str, str] | None = None, **options) -> pd.DataFrame:
    """Pooled OLS with time dummies and invariant covariates; records.

    Compares unit-times across and within units alike: biased by any stable unit trait that drives both
    exposure and outcome. The reference point the within-unit estimators are read against. ``options``:
    ``alpha``, ``cov_type`` ("clustered" or "kernel"), ``kernel``, ``bandwidth``, ``scale``, ``term_label``
    (:class:`PanelOptions`).
    """
    return _fit(estimate_pooled_ols, panel, spec, layout, outcome, binary, joint, options)


def fit_random_effects(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                       binary: bool = False, joint: Mapping[str, str] | None = None, **options) -> pd.DataFrame:
    """Random-intercept GLS (Swamy-Arora, ``small_sample=True``), same regressors as pooled OLS; records.

    Efficient if the unit effect is unrelated to the regressors, biased like pooled OLS if not (the
    Hausman test asks which). ``small_sample=True`` reproduces plm's Swamy-Arora estimator on unbalanced
    panels (../shared/TOOLING.md). ``options`` as :func:`fit_pooled_ols`.
    """
    return _fit(estimate_random_effects, panel, spec, layout, outcome, binary, joint, options)


def fit_fixed_effects(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                      binary: bool = False, joint: Mapping[str, str] | None = None, **options) -> pd.DataFrame:
    """Two-way fixed effects (unit and time effects); records.

    The within-unit association: each unit is compared with itself, so every stable trait is held fixed,
    measured or not. Single-time units are dropped (nothing to compare); for a binary outcome this is the
    linear probability FE model. ``options`` as :func:`fit_pooled_ols` (``cov_type="kernel"``: Driscoll-Kraay).
    """
    return _fit(estimate_fixed_effects, panel, spec, layout, outcome, binary, joint, options)


def fit_first_difference(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                         binary: bool = False, joint: Mapping[str, str] | None = None, **options) -> pd.DataFrame:
    """First differences between adjacent times with differenced time dummies; records.

    Change in outcome on change in exposure. With two times identical to two-way FE; with more, it weights
    short-run changes and is robust to a random-walk error where FE is not. ``options`` as
    :func:`fit_pooled_ols`.
    """
    return _fit(estimate_first_difference, panel, spec, layout, outcome, binary, joint, options)


def fit_mundlak(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                binary: bool = False, joint: Mapping[str, str] | None = None, **options) -> pd.DataFrame:
    """Within-between (hybrid Mundlak) random-effects model; records: the within term and the between term.

    The within coefficient equals two-way FE (also in unbalanced panels: unit means of the time dummies are
    included then), and the model keeps the invariant covariates and the between-unit association, so the
    reader sees both. ``options`` as :func:`fit_pooled_ols`.
    """
    return _fit(estimate_mundlak, panel, spec, layout, outcome, binary, joint, options)


def fit_conditional_logit(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                          joint: Mapping[str, str] | None = None, **options) -> pd.DataFrame:
    """Conditional (fixed-effects) logit with time dummies for a 0/1 outcome; records (measure OR).

    The within-unit odds ratio (:mod:`.conditional_logit`). Model-based SEs: ``cov_type`` does not apply.
    """
    return _fit(estimate_conditional_logit, panel, spec, layout, outcome, True, joint, options)


def fit_panel_multilevel(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                         binary: bool = False, joint: Mapping[str, str] | None = None, **options) -> pd.DataFrame:
    """Growth-curve mixed model: times within units, random intercept and random slope for time; records
    (:mod:`.multilevel`). Model-based SEs: ``cov_type`` does not apply."""
    return _fit(estimate_growth_multilevel, panel, spec, layout, outcome, binary, joint, options)


def panel_tests(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                binary: bool = False, hausman: bool = True, mundlak: bool = True) -> pd.DataFrame:
    """The classical Hausman test (FE vs RE) and the cluster-robust Mundlak Wald tests (joint over every
    time-varying regressor, and the exposure alone); :data:`PANEL_TEST_COLUMNS`."""
    p = prepare_panel(panel, spec, layout, outcome=outcome, binary=binary)
    rows = (([specification_tests.hausman(p)] if hausman else [])
            + ([specification_tests.mundlak_wald(p), specification_tests.mundlak_wald(p, exposure_only=True)]
               if mundlak else []))
    return panel_tests_frame(rows)
