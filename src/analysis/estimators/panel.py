"""Within-person panel estimators for the GSS panel study, returned as tidy records.

The question: when the *same person's* social contact changes between waves, does their health change with
it? Cross-sectional comparisons mix that within-person association with differences *between* people
(a sociable temperament, say, that also makes people report better health). Each estimator here answers a
different mix of the two, and they are fit side by side so the reader can see how much the answer depends on it:

==================  ======================================================================================
``model``           what the exposure coefficient compares
==================  ======================================================================================
pooled_ols          everyone with everyone, across and within persons (linearmodels ``PooledOLS``)
random_effects      the same, GLS-weighted towards within-person contrasts (``RandomEffects``)
fixed_effects       person-waves with the same person's other waves (two-way ``PanelOLS``)
first_difference    a person's change between adjacent waves (``FirstDifferenceOLS``)
mundlak             within and between persons, separately, in one random-effects model (also a
                    ``"between-person"`` row)
conditional_logit   within persons, odds ratio, for binary outcomes (statsmodels ``ConditionalLogit``)
multilevel          between + within, waves in persons, random intercept and slope for wave (``MixedLM``)
==================  ======================================================================================

Input: a long table, one row per person and wave, with the entity (``person_id``) and time (``wave``)
columns named in :class:`PanelLayout`. Every estimator has **time effects**: wave dummies (first wave the
reference; absorbed as time effects in the FE model, differenced in the FD model). Time-invariant covariates
(``PanelLayout.invariant``: sex, race) enter the pooled, random-effects, Mundlak and multilevel models; the
within-person estimators absorb them with the person effect. Binary outcomes get the *linear probability*
version of every linear estimator (estimate = difference in probability per unit of exposure) and, in
addition, the conditional logit (odds ratio).

**Sample.** One analytic sample per outcome x exposure: complete cases on outcome, exposure, time-varying
and invariant covariates, entity, time, cluster (and a positive weight, when a weight column is given: by
itself it only restricts the sample and the fits stay unweighted). Within that sample persons observed once contribute
nothing to a within-person comparison: the FE and FD fits drop them, the conditional logit drops everyone whose
outcome never changes. ``n`` is always the number of **person-waves** the fit used; the number of persons is
in ``note`` (``events`` keeps its records meaning: person-waves with the outcome, binary outcomes only).

**Weights.** With ``PanelLayout.weighted`` the estimators of :data:`WEIGHTED_ESTIMATORS` (pooled OLS,
two-way FE, first differences) are fit by weighted least squares with the layout's weight column
(linearmodels ``weights=``; a survey or panel-attrition weight, constant or not within a person), record
``design`` ``"weighted"``. Weighted FE demeans with weighted person and wave means (linearmodels' weighted
within transformation, as R ``plm(..., weights=)``); first differences weight the difference of waves
t-1 and t by ``1/(1/w_(t-1) + 1/w_t)`` (linearmodels' convention: the inverse of the variance of a difference
of two rows whose variances are ``1/w``; proportional to ``w`` when the weight is constant within a person). The SEs stay cluster-robust by person, the same
sandwich on the weighted scores: they treat the weights as fixed, so they ignore the variance the
weighting itself adds. The random-effects, Mundlak, conditional-logit and multilevel fits have no
weighted version here (statsmodels' ConditionalLogit and MixedLM take no weights, and a weighted RE
variance decomposition has no settled definition): a weighted spec that lists them is an error.

**Standard errors.** Linear estimators (pooled, RE, FE, FD, Mundlak): cluster-robust by person (or by
``PanelLayout.cluster``), ``V = G/(G-1) (X'X)^-1 (sum_g s_g s_g') (X'X)^-1`` on the estimator's transformed
data, i.e. linearmodels' uncorrected cluster covariance (``debiased=False``, effects not counted) times
``G/(G-1)`` - the convention of :mod:`analysis.estimators.glm`. linearmodels' default (``debiased=True``)
multiplies by ``n/(n-k)`` instead and, for the two-way FE model, counts the absorbed effects in ``k`` (about
+9% in ../shared/TOOLING.md's benchmark). The conditional logit and the multilevel model report model-based SEs (each note
says so). Wald intervals on the normal scale, as every record.

**Hausman test** (:func:`panel_tests`), per outcome x exposure, on the time-varying coefficients (exposure and
time-varying covariates; not the wave dummies): the classical ``(b_FE - b_RE)' (V_FE - V_RE)^+ (b_FE - b_RE)``
with ``df`` the rank of ``V_FE - V_RE``, from the *non-robust* covariances of both fits, both using one
idiosyncratic variance (the FE residual variance, Stata's ``hausman, sigmaless``). With one variance,
``V_FE - V_RE`` is positive semi-definite (RE is GLS for the error structure it estimated, FE a linear unbiased
competitor), so the statistic is never negative; with each model's own variance it can be. The classical test
assumes homoskedastic, serially uncorrelated idiosyncratic errors; the cluster-robust alternative is the
**Mundlak Wald test** that the between- and within-person coefficients of the same regressors are equal in the
within-between model: jointly over every time-varying regressor (exposure and covariates), and for the exposure
alone (1 df). Only the second says whether the exposure's between- and within-person associations differ.

Record conventions specific to panel fits (see also :mod:`analysis.estimators.records`):

* ``model`` is the estimator name (the keys of :data:`ESTIMATORS`); ``covariate_set`` the comparison it
  makes (the values of :data:`ESTIMATORS`), so a regression table puts the estimators side by side.
* ``design`` is ``"unweighted"`` (:data:`DESIGN`): records.py knows only "design-based", "multilevel" and
  "unweighted", and these fits ignore the survey weights.
* ``measure`` is ``"Mean difference"`` for the linear and linear probability estimators (records.py's name for
  a linear coefficient) and ``"OR"`` for the conditional logit, with ``ratio`` columns filled.
* ``term`` as in records.py for the exposure; the Mundlak between-person coefficient has ``term``
  ``"<term>:between"`` and ``term_label`` ``"between-person"`` (categorical: ``"between-person, <level> vs
  <reference>"``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import pandas as pd
from linearmodels import FirstDifferenceOLS, PanelOLS, PooledOLS, RandomEffects
from linearmodels.panel.utility import AbsorbingEffectError
from scipy import stats
from statsmodels.discrete.conditional_models import ConditionalLogit
from statsmodels.regression.mixed_linear_model import MixedLM
from statsmodels.tools.sm_exceptions import ConvergenceWarning, ModelWarning

from analysis.estimators.formula import covariate_matrix
from analysis.estimators.mixed import select_reml_fit
from analysis.estimators.records import (
    EXPOSURE_TYPES,
    ModelSpec,
    check_columns,
    complete_cases,
    exposure_coefficients,
    exposure_levels,
    formula_variables,
    record_row,
    records_frame,
)
from analysis.estimators.runner import run_jobs
from analysis.estimators.vcov import with_small_sample_factor

#: Estimator name (record ``model``) -> the comparison its exposure coefficient makes (record ``covariate_set``).
ESTIMATORS: dict[str, str] = {
    "pooled_ols": "between + within (pooled OLS)",
    "random_effects": "between + within (random effects)",
    "fixed_effects": "within-person (two-way FE)",
    "first_difference": "within-person (first differences)",
    "mundlak": "within-between (Mundlak)",
    "conditional_logit": "within-person (conditional logit)",
    "multilevel": "between + within (multilevel growth)",
}

#: Record ``design`` of an unweighted panel fit, and of a weighted one (see the module docstring).
DESIGN = "unweighted"
WEIGHTED_DESIGN = "weighted"
#: The estimators that have a weighted version (``PanelLayout.weighted``).
WEIGHTED_ESTIMATORS = ("pooled_ols", "fixed_effects", "first_difference")
#: ``term_label`` of the between-person coefficient of the Mundlak model.
BETWEEN_TERM_LABEL = "between-person"
#: Columns of the specification-test table returned by :func:`panel_tests` and :func:`run_panel_models`.
PANEL_TEST_COLUMNS: list[str] = ["outcome", "exposure", "test", "statistic", "df", "p_value", "note"]
HAUSMAN_TEST = "Hausman FE vs RE (classical)"
MUNDLAK_TEST = "Mundlak between = within (cluster-robust Wald)"
MUNDLAK_EXPOSURE_TEST = "Mundlak between = within, exposure only (cluster-robust Wald)"
#: Short keys of the tests (metrics files, manuscript): the joint Mundlak test is over every time-varying
#: regressor, so what it says about the exposure is the 1-df exposure-only test.
TEST_KEYS = {HAUSMAN_TEST: "hausman", MUNDLAK_TEST: "mundlak", MUNDLAK_EXPOSURE_TEST: "mundlak_exposure"}

#: Derivative-free optimizers tried, in order, for the multilevel model when L-BFGS polished by BFGS does not
#: converge (a variance on the boundary); the first that converges is kept.
#: Optimizer stages of the growth model (:func:`analysis.estimators.mixed.select_reml_fit`): L-BFGS polished
#: by BFGS, then Powell, then Nelder-Mead, each stage tried only if the previous one did not converge.
GROWTH_STAGES = (((("lbfgs",), ("bfgs",)),), (("powell",),), (("nm",),))

FIT_ERRORS = (ValueError, np.linalg.LinAlgError, AbsorbingEffectError)


@dataclass(frozen=True)
class PanelLayout:
    """How the long panel table is organised: who (``entity``), when (``time``), and what enters where.

    ``time`` must be numeric (wave number or year): it defines the wave dummies, the order of first
    differences and the slope of the multilevel model. ``cluster`` defaults to the entity (SEs clustered by
    person). ``invariant`` is a formula right-hand side of time-invariant covariates (``"female + C(race)"``)
    for the estimators that do not absorb them. ``weight``, if given, restricts the sample to rows with a
    positive weight; with ``weighted`` the fits of :data:`WEIGHTED_ESTIMATORS` also use it as the WLS weight.
    """

    entity: str
    time: str
    cluster: str | None = None
    invariant: str = ""
    weight: str | None = None
    weighted: bool = False

    def __post_init__(self) -> None:
        if self.weighted and not self.weight:
            raise ValueError("a weighted panel layout needs a weight column (panel_models.weight)")

    @property
    def cluster_column(self) -> str:
        return self.cluster or self.entity


@dataclass
class PanelSample:
    """One outcome x exposure analytic sample, indexed (entity, time), and its regressor blocks.

    Built by :func:`prepare_panel`; every estimator reads the blocks it needs, so all estimators of one
    outcome x exposure start from the same person-waves.
    """

    spec: ModelSpec
    layout: PanelLayout
    binary: bool
    y: pd.Series
    tv: pd.DataFrame  # time-varying regressors: the exposure column(s) first, then the covariates
    invariant: pd.DataFrame
    waves: pd.DataFrame  # wave dummies, first wave the reference
    time: pd.Series  # numeric time of each row
    clusters: pd.Series
    coefficients: list[tuple[str, str, str]]  # (column of tv, record term, term_label) of the exposure
    weights: pd.Series | None = None  # the WLS weight of each row, when the layout is weighted

    @property
    def index(self) -> pd.MultiIndex:
        return self.y.index

    @property
    def entities(self) -> pd.Index:
        return self.index.get_level_values(0)


# ---------------------------------------------------------------------------------------------
# Preparing one analytic sample


def prepare_panel(
    panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None, binary: bool = False,
) -> PanelSample:
    """The analytic sample of one outcome x exposure and its regressor blocks (used by every fit function).

    ``outcome`` is the outcome column (default ``spec.outcome``); ``spec.covariates`` are the time-varying
    covariates. Raises ValueError naming a missing column, a non-numeric time column, a person with two rows
    in one wave, or a binary outcome with values other than 0/1.
    """
    outcome = outcome or spec.outcome
    check_columns(panel, [layout.entity, layout.time], "the panel layout (entity, time)")
    check_columns(panel, [layout.cluster_column], "the panel layout (cluster)")
    if layout.weight:
        check_columns(panel, [layout.weight], "the panel layout (weight)")
    check_columns(panel, [outcome], f"outcome '{spec.outcome}'")
    check_columns(panel, [spec.exposure], "the exposures")
    check_columns(panel, spec.covariate_variables(), f"the time-varying covariates '{spec.covariates}'")
    invariant_vars = formula_variables(layout.invariant)
    check_columns(panel, invariant_vars, f"the invariant covariates '{layout.invariant}'")

    columns = [layout.entity, layout.time, outcome, *spec.variables(), *invariant_vars, layout.cluster_column,
               layout.weight]
    frame = complete_cases(panel, columns, weight=layout.weight)
    if frame.empty:
        raise ValueError(f"no complete rows for outcome '{outcome}' and exposure '{spec.exposure}' in columns "
                         f"{sorted(set(c for c in columns if c))}")
    if not pd.api.types.is_numeric_dtype(frame[layout.time]):
        raise ValueError(f"time column '{layout.time}' has dtype {frame[layout.time].dtype}; it must be numeric "
                         "(wave number or year)")
    times = frame[layout.time].astype(float)
    if np.allclose(times, np.round(times)):
        frame[layout.time] = np.round(times).astype("int64")
    duplicated = frame.duplicated([layout.entity, layout.time], keep=False)
    if duplicated.any():
        first = frame.loc[duplicated].iloc[0]
        raise ValueError(f"{int(duplicated.sum())} rows share an ({layout.entity}, {layout.time}) pair, e.g. "
                         f"{layout.entity}={first[layout.entity]!r}, {layout.time}={first[layout.time]!r}: the panel "
                         "needs one row per person and wave")
    frame = frame.sort_values([layout.entity, layout.time], kind="stable")
    frame.index = pd.MultiIndex.from_arrays([frame[layout.entity].astype(str), frame[layout.time]],
                                            names=[layout.entity, layout.time])

    y = frame[outcome].astype(float).rename(outcome)
    if binary and not set(np.unique(y)) <= {0.0, 1.0}:
        raise ValueError(f"outcome '{outcome}' is declared binary but has values "
                         f"{sorted(set(np.unique(y)) - {0.0, 1.0})[:5]}; code it 0/1")

    levels = exposure_levels(frame[spec.exposure]) if spec.exposure_type == "categorical" else None
    coefficients = []
    exposure = pd.DataFrame(index=frame.index)
    compared = levels[1:] if levels else [None]  # the non-reference levels, or the continuous exposure
    for level, (_, term, term_label) in zip(compared, exposure_coefficients(spec, levels)):
        if level is None:
            exposure[term] = frame[spec.exposure].astype(float)
        else:
            exposure[term] = (frame[spec.exposure].astype(str) == level).astype(float)
        coefficients.append((term, term, term_label))
    covariates = covariate_matrix(frame, spec.covariates)
    covariates = covariates.loc[:, [c for c in covariates.columns if c not in exposure.columns]]
    invariant = covariate_matrix(frame, layout.invariant)

    time = frame[layout.time]
    waves = sorted(time.unique())
    dummies = pd.DataFrame({f"{layout.time}[{w}]": (time == w).astype(float) for w in waves[1:]},
                           index=frame.index)
    return PanelSample(spec=spec, layout=layout, binary=binary, y=y, tv=pd.concat([exposure, covariates], axis=1),
                  invariant=invariant, waves=dummies, time=time.astype(float), clusters=frame[layout.cluster_column],
                  coefficients=coefficients,
                  weights=frame[layout.weight].astype(float).rename("weight") if layout.weighted else None)


# ---------------------------------------------------------------------------------------------
# Shared pieces: records, clustering, samples


def _records(p: PanelSample, estimator: str, rows: list[tuple[str, str, float, float]], *, n: int, used: pd.Index,
             converged: bool, note: str, alpha: float, odds_ratio: bool = False) -> pd.DataFrame:
    """Records for one fit: ``rows`` are (term, term_label, estimate, std_error); ``used`` the person-waves."""
    label = ESTIMATORS[estimator] + (f"; {p.spec.covariate_set}" if p.spec.covariate_set else "")
    spec = replace(p.spec, covariate_set=label)
    events = float(p.y.loc[used].sum()) if p.binary else math.nan
    out = []
    for term, term_label, estimate, std_error in rows:
        row = record_row(spec, term, term_label, estimate, std_error, model="logistic" if odds_ratio else "linear",
                         design=WEIGHTED_DESIGN if p.weights is not None else DESIGN, n=n, events=events,
                         converged=converged, note=note, alpha=alpha)
        row["model"] = estimator
        out.append(row)
    return records_frame(out)


def _exposure_rows(p: PanelSample, params: pd.Series, std_errors: pd.Series) -> list[tuple[str, str, float, float]]:
    return [(term, label, float(params[column]), float(std_errors[column])) for column, term, label in p.coefficients]


def _failed(p: PanelSample, estimator: str, err: BaseException, *, used: pd.Index, alpha: float,
            odds_ratio: bool = False) -> pd.DataFrame:
    rows = [(term, label, math.nan, math.nan) for _, term, label in p.coefficients]
    if estimator == "mundlak":
        rows += [(f"{term}:between", _between_label(label), math.nan, math.nan) for _, term, label in p.coefficients]
    message = str(err).splitlines()[0] if str(err) else type(err).__name__
    return _records(p, estimator, rows, n=len(used), used=used, converged=False, alpha=alpha, odds_ratio=odds_ratio,
                    note=f"{estimator} fit failed ({type(err).__name__}): {message}")


def _between_label(label: str) -> str:
    return BETWEEN_TERM_LABEL if label == "per point" else f"{BETWEEN_TERM_LABEL}, {label}"


def _cluster_options(p: PanelSample, index: pd.Index) -> dict[str, Any]:
    """linearmodels' cluster options: entity clusters, or the layout's cluster column."""
    if p.layout.cluster_column == p.layout.entity:
        return {"cluster_entity": True}
    codes = pd.Series(pd.factorize(p.clusters.loc[index])[0], index=index, name="cluster")
    return {"clusters": codes.to_frame()}


def _weight_options(p: PanelSample, index: pd.Index, estimator: str) -> dict[str, Any]:
    """linearmodels' ``weights=`` for the rows of ``index`` when the sample is weighted (else nothing)."""
    if p.weights is None:
        return {}
    if estimator not in WEIGHTED_ESTIMATORS:
        raise ValueError(f"{estimator} has no weighted version; weighted panel fits: {list(WEIGHTED_ESTIMATORS)}")
    return {"weights": p.weights.loc[index]}


def _weight_text(p: PanelSample) -> str:
    if p.weights is None:
        return ""
    return (f"; WEIGHTED by '{p.layout.weight}' (WLS; SEs treat the weights as fixed, weight range "
            f"{p.weights.min():.3g}-{p.weights.max():.3g})")


def standard_errors(cov: pd.DataFrame) -> pd.Series:
    return pd.Series(np.sqrt(np.diag(cov)), index=cov.index)


def with_constant(*blocks: pd.DataFrame) -> pd.DataFrame:
    index = blocks[0].index
    return pd.concat([pd.DataFrame({"const": 1.0}, index=index), *blocks], axis=1)


def multi_wave_rows(p: PanelSample) -> pd.Index:
    """Person-waves of persons observed in at least two waves (the only ones a within-person fit can use)."""
    sizes = p.y.groupby(level=0).transform("size")
    return p.index[(sizes >= 2).to_numpy()]


def _persons(index: pd.Index) -> int:
    return int(index.get_level_values(0).nunique())


def _sample_text(p: PanelSample, n: int, used: pd.Index, *, dropped: str = "") -> str:
    total = _persons(p.index)
    text = f"n = {n} person-waves of {_persons(used)} persons"
    if dropped:
        text += f" ({dropped})"
    elif _persons(used) < total:
        text = f"n = {n} person-waves of {_persons(used)} of {total} persons"
    return text


def _cluster_text(p: PanelSample, g: int) -> str:
    unit = "person" if p.layout.cluster_column == p.layout.entity else f"'{p.layout.cluster_column}'"
    return f"SE cluster-robust by {unit} ({g} clusters, uncorrected sandwich x G/(G-1))"


def _outcome_text(p: PanelSample) -> str:
    return ("linear probability model (estimate = difference in probability per unit of exposure)"
            if p.binary else "linear model")


# ---------------------------------------------------------------------------------------------
# The estimators (each takes a prepared sample and returns records)


def _pooled_ols(p: PanelSample, alpha: float) -> pd.DataFrame:
    used = p.index
    try:
        exog = with_constant(p.tv, p.invariant, p.waves)
        result = PooledOLS(p.y, exog, **_weight_options(p, used, "pooled_ols")).fit(
            cov_type="clustered", debiased=False, **_cluster_options(p, used))
        cov, g = with_small_sample_factor(result.cov, p.clusters)
    except FIT_ERRORS as err:
        return _failed(p, "pooled_ols", err, used=used, alpha=alpha)
    note = (f"pooled OLS ({_outcome_text(p)}), wave dummies and invariant covariates; ignores that person-waves "
            f"of one person are related except in the SE; {_sample_text(p, len(used), used)}; {_cluster_text(p, g)}"
            f"{_weight_text(p)}")
    return _records(p, "pooled_ols", _exposure_rows(p, result.params, standard_errors(cov)), n=len(used), used=used,
                    converged=True, note=note, alpha=alpha)


def _random_effects(p: PanelSample, alpha: float) -> pd.DataFrame:
    used = p.index
    try:
        exog = with_constant(p.tv, p.invariant, p.waves)
        result = RandomEffects(p.y, exog).fit(small_sample=True, cov_type="clustered", debiased=False,
                                              **_cluster_options(p, used))
        cov, g = with_small_sample_factor(result.cov, p.clusters)
    except FIT_ERRORS as err:
        return _failed(p, "random_effects", err, used=used, alpha=alpha)
    parts = result.variance_decomposition
    theta = result.theta.to_numpy().ravel()
    note = ("random-intercept GLS (linearmodels RandomEffects, Swamy-Arora variances with small_sample=True; "
            f"{_outcome_text(p)}), wave dummies and invariant covariates; assumes the person effect is unrelated "
            f"to the regressors; variances: person {parts['Effects']:.3g}, idiosyncratic {parts['Residual']:.3g}; "
            f"theta median {np.median(theta):.3f}; {_sample_text(p, len(used), used)}; {_cluster_text(p, g)}")
    return _records(p, "random_effects", _exposure_rows(p, result.params, standard_errors(cov)), n=len(used), used=used,
                    converged=True, note=note, alpha=alpha)


def _fixed_effects(p: PanelSample, alpha: float) -> pd.DataFrame:
    used = multi_wave_rows(p)
    singles = _persons(p.index) - _persons(used)
    try:
        if used.empty:
            raise ValueError("no person has two or more waves")
        result = PanelOLS(p.y.loc[used], p.tv.loc[used], entity_effects=True, time_effects=True,
                          **_weight_options(p, used, "fixed_effects")).fit(
            cov_type="clustered", debiased=False, auto_df=False, count_effects=False, **_cluster_options(p, used))
        cov, g = with_small_sample_factor(result.cov, p.clusters.loc[used])
    except FIT_ERRORS as err:
        return _failed(p, "fixed_effects", err, used=used, alpha=alpha)
    sample = _sample_text(p, len(used), used,
                          dropped=f"{singles} single-wave persons dropped: they carry no within-person contrast")
    note = (f"two-way fixed effects (linearmodels PanelOLS, person and wave effects; {_outcome_text(p)}): "
            f"within-person association, time-invariant confounders absorbed; {sample}; "
            f"{_cluster_text(p, g)}, absorbed effects not counted in the df{_weight_text(p)}")
    return _records(p, "fixed_effects", _exposure_rows(p, result.params, standard_errors(cov)), n=len(used), used=used,
                    converged=True, note=note, alpha=alpha)


def _differenced_rows(p: PanelSample, index: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """(has a difference with the previous wave, enters any difference) for the rows of ``index``.

    As linearmodels: an observation is differenced with the same person's observation in the preceding
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


def _first_difference(p: PanelSample, alpha: float) -> pd.DataFrame:
    candidates = multi_wave_rows(p)
    has_prev, enters = _differenced_rows(p, candidates)
    used = candidates[enters]
    differenced = candidates[has_prev]
    try:
        if differenced.empty:
            raise ValueError("no person has two adjacent waves")
        # fit on every multi-wave person: linearmodels itself leaves out rows that enter no difference
        exog = pd.concat([p.tv, p.waves], axis=1).loc[candidates]
        result = FirstDifferenceOLS(p.y.loc[candidates], exog,
                                    **_weight_options(p, candidates, "first_difference")).fit(
            cov_type="clustered", debiased=False, **_cluster_options(p, candidates))
        cov, g = with_small_sample_factor(result.cov, p.clusters.loc[differenced])
    except FIT_ERRORS as err:
        return _failed(p, "first_difference", err, used=used, alpha=alpha)
    dropped = _persons(p.index) - _persons(used)
    sample = _sample_text(p, len(used), used, dropped=f"{dropped} persons without two adjacent waves dropped")
    note = (f"first differences between adjacent waves (linearmodels FirstDifferenceOLS; {_outcome_text(p)}), "
            "differenced wave dummies (they carry the intercept of the differenced equation), never across a "
            f"gap; n counts the person-waves entering a difference: {sample}, i.e. {int(result.nobs)} differences; "
            f"{_cluster_text(p, g)}{_weight_text(p)}")
    return _records(p, "first_difference", _exposure_rows(p, result.params, standard_errors(cov)), n=len(used), used=used,
                    converged=True, note=note, alpha=alpha)


def _mundlak_design(p: PanelSample) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Within-between design: (exog, within columns, between columns), within columns named as in ``tv``.

    Each time-varying regressor is split into its deviation from the person's mean (within) and the person's
    mean (between). The person means of the wave dummies are added when they vary between persons
    (unbalanced panels), each only if it adds to the rank: without them the within coefficient would not equal
    the two-way FE coefficient in an unbalanced panel (Wooldridge 2019, J Econometrics 211:137).
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


def fit_mundlak_model(p: PanelSample):
    exog, within, between = _mundlak_design(p)
    result = RandomEffects(p.y, exog).fit(small_sample=True, cov_type="clustered", debiased=False,
                                          **_cluster_options(p, p.index))
    cov, g = with_small_sample_factor(result.cov, p.clusters)
    return result, cov, g, within, between


def _mundlak(p: PanelSample, alpha: float) -> pd.DataFrame:
    used = p.index
    try:
        result, cov, g, _, _ = fit_mundlak_model(p)
    except FIT_ERRORS as err:
        return _failed(p, "mundlak", err, used=used, alpha=alpha)
    se = standard_errors(cov)
    rows = _exposure_rows(p, result.params, se)
    rows += [(f"{term}:between", _between_label(label), float(result.params[f"between: {column}"]),
              float(se[f"between: {column}"])) for column, term, label in p.coefficients]
    note = ("within-between (hybrid Mundlak) random-effects model (linearmodels RandomEffects, small_sample=True; "
            f"{_outcome_text(p)}): time-varying regressors split into person-mean-centred (within) and person "
            "means (between), plus wave dummies, invariant covariates; exposure term = within-person coefficient "
            f"(equals two-way FE), '{BETWEEN_TERM_LABEL}' term = association of the person mean (within + "
            f"contextual); {_sample_text(p, len(used), used)} (single-wave persons inform the between term only); "
            f"{_cluster_text(p, g)}")
    return _records(p, "mundlak", rows, n=len(used), used=used, converged=True, note=note, alpha=alpha)


def _changers(p: PanelSample) -> pd.Index:
    """Person-waves of persons whose binary outcome changes (the only ones in the conditional likelihood)."""
    by_person = p.y.groupby(level=0)
    spread = by_person.transform("max") - by_person.transform("min")
    return p.index[(spread > 0).to_numpy()]


def _conditional_logit(p: PanelSample, alpha: float) -> pd.DataFrame:
    used = _changers(p)
    try:
        if not p.binary:
            raise ValueError(f"outcome '{p.y.name}' is not binary: the conditional logit needs a 0/1 outcome")
        if used.empty:
            raise ValueError("no person's outcome changes between waves")
        waves = p.waves.loc[used]
        exog = pd.concat([p.tv.loc[used], waves.loc[:, waves.std() > 0]], axis=1)  # waves no changer was seen in
        groups = pd.factorize(used.get_level_values(0))[0]
        model = ConditionalLogit(p.y.loc[used].to_numpy(), exog, groups=groups)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ModelWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            # Newton-Raphson (statsmodels' numerical Hessian): BFGS stops at a gradient of about 1e-4 here.
            result = model.fit(method="newton", maxiter=100, disp=False)
        params = pd.Series(np.asarray(result.params), index=exog.columns)
        bse = pd.Series(np.asarray(result.bse), index=exog.columns)
        score = np.abs(model.score(params.to_numpy())).max()
        converged = bool(np.isfinite(params).all() and np.isfinite(bse).all() and score < 1e-6)
    except FIT_ERRORS as err:
        return _failed(p, "conditional_logit", err, used=used, alpha=alpha, odds_ratio=True)
    dropped = _persons(p.index) - _persons(used)
    sample = _sample_text(p, len(used), used, dropped=f"{dropped} persons whose outcome never changes (or seen "
                          "once) contribute nothing to the conditional likelihood")
    note = ("conditional (fixed-effects) logit (statsmodels ConditionalLogit, groups = person, wave dummies; "
            f"Newton-Raphson): within-person log odds ratio; {sample}; "
            "SE model-based (inverse numerical Hessian), not cluster-robust"
            + ("" if converged else f"; max |score| {score:.2g} at the estimate: did not converge"))
    return _records(p, "conditional_logit", _exposure_rows(p, params, bse), n=len(used), used=used,
                    converged=converged, note=note, alpha=alpha, odds_ratio=True)


def fit_growth_mixedlm(y: np.ndarray, exog: pd.DataFrame, groups: np.ndarray, exog_re: np.ndarray):
    """REML MixedLM; returns (result, optimizer label): the first fit that converges, else the best one.

    First L-BFGS, then BFGS started at its solution: BFGS checks the gradient, so a premature L-BFGS stop
    (../shared/TOOLING.md) is either polished or reported. This is 3-4 times faster than statsmodels' default
    bfgs/lbfgs/cg sequence on a random-slope model at the same REML log-likelihood. When a variance sits on
    the boundary (a random slope with no variance, say) the gradient optimizers do not converge; then
    Powell, then Nelder-Mead (:data:`GROWTH_STAGES`, selected by :func:`analysis.estimators.mixed.select_reml_fit`).
    If nothing converges, the fit with the highest log-likelihood is returned (``converged`` False).
    """
    model = MixedLM(y, exog, groups=groups, exog_re=exog_re)
    return select_reml_fit(lambda: model, GROWTH_STAGES)


def _multilevel(p: PanelSample, alpha: float) -> pd.DataFrame:
    used = p.index
    waves_per_person = p.y.groupby(level=0).size()
    slope = waves_per_person.max() >= 3
    try:
        exog = with_constant(p.tv, p.invariant, p.waves)
        t = (p.time - p.time.min()).to_numpy()
        exog_re = np.column_stack([np.ones(len(t)), t]) if slope else np.ones((len(t), 1))
        groups = pd.factorize(p.entities)[0]
        result, optimizer = fit_growth_mixedlm(p.y.to_numpy(), exog, groups, exog_re)
        params = pd.Series(np.asarray(result.fe_params), index=exog.columns)
        bse = pd.Series(np.asarray(result.bse_fe), index=exog.columns)
    except FIT_ERRORS as err:
        return _failed(p, "multilevel", err, used=used, alpha=alpha)
    cov_re = np.asarray(result.cov_re)
    if slope:
        random = (f"random intercept and random slope for {p.layout.time} (per unit from the first wave) per person, "
                  f"correlated; variances: intercept {cov_re[0, 0]:.3g}, slope {cov_re[1, 1]:.3g}, "
                  f"covariance {cov_re[0, 1]:.3g}, residual {float(result.scale):.3g}")
    else:
        random = ("random intercept per person only (no person has 3+ waves, so a random slope is not identified "
                  f"beside the residual); variances: intercept {cov_re[0, 0]:.3g}, "
                  f"residual {float(result.scale):.3g}")
    note = (f"REML linear mixed model, waves within persons (statsmodels MixedLM; {_outcome_text(p)}): {random}; "
            "fixed effects exposure, time-varying and invariant covariates, wave dummies; "
            f"{_sample_text(p, len(used), used)}; SE model-based (bse_fe, inverse of the full Hessian), "
            f"not cluster-robust; optimizer {optimizer}")
    return _records(p, "multilevel", _exposure_rows(p, params, bse), n=len(used), used=used,
                    converged=bool(result.converged), note=note, alpha=alpha)


_FITS: dict[str, Callable[[PanelSample, float], pd.DataFrame]] = {
    "pooled_ols": _pooled_ols,
    "random_effects": _random_effects,
    "fixed_effects": _fixed_effects,
    "first_difference": _first_difference,
    "mundlak": _mundlak,
    "conditional_logit": _conditional_logit,
    "multilevel": _multilevel,
}


# ---------------------------------------------------------------------------------------------
# Specification tests


def _hausman(p: PanelSample) -> dict:
    """Classical Hausman test FE vs RE on the time-varying coefficients (see the module docstring)."""
    names = list(p.tv.columns)
    row = {"outcome": p.spec.outcome, "exposure": p.spec.exposure, "test": HAUSMAN_TEST}
    used = multi_wave_rows(p)
    try:
        fe = PanelOLS(p.y.loc[used], p.tv.loc[used], entity_effects=True, time_effects=True).fit(
            cov_type="unadjusted")
        re = RandomEffects(p.y, with_constant(p.tv, p.invariant, p.waves)).fit(small_sample=True,
                                                                               cov_type="unadjusted")
    except FIT_ERRORS as err:
        return {**row, "statistic": math.nan, "df": math.nan, "p_value": math.nan,
                "note": f"fit failed ({type(err).__name__}): {str(err).splitlines()[0] if str(err) else ''}"}
    sigma2 = float(fe.s2)  # idiosyncratic variance from the two-way FE residuals, df n - persons - waves + 1 - k
    v_fe = fe.cov.loc[names, names].to_numpy()
    v_re = re.cov.loc[names, names].to_numpy() * sigma2 / float(re.s2)
    d = (fe.params[names] - re.params[names]).to_numpy()
    eigenvalues, vectors = np.linalg.eigh(v_fe - v_re)
    tol = 1e-8 * max(np.abs(eigenvalues).max(), np.finfo(float).tiny)
    positive = eigenvalues > tol
    statistic = float(((vectors[:, positive].T @ d) ** 2 / eigenvalues[positive]).sum())
    df = int(positive.sum())
    p_value = float(stats.chi2.sf(statistic, df)) if df > 0 else math.nan
    note = (f"classical Hausman on {len(names)} time-varying coefficients ({', '.join(names)}; wave dummies "
            "excluded): (b_FE - b_RE)'(V_FE - V_RE)^+(b_FE - b_RE), df = rank; NON-ROBUST covariances of "
            f"both fits with one idiosyncratic variance ({sigma2:.3g}, from the two-way FE residuals; Stata "
            "'sigmaless'), valid only for homoskedastic, serially uncorrelated errors - see the cluster-robust "
            f"Mundlak test; FE on {len(used)} person-waves (single-wave persons dropped), RE on {len(p.index)}")
    if (eigenvalues < -tol).any():
        note += f"; V_FE - V_RE has {int((eigenvalues < -tol).sum())} negative eigenvalue(s), left out"
    return {**row, "statistic": statistic, "df": float(df), "p_value": p_value, "note": note}


def _mundlak_wald(p: PanelSample, exposure_only: bool = False) -> dict:
    """Cluster-robust Wald test that between- and within-person coefficients are equal: jointly for every
    time-varying regressor, or (``exposure_only``) for the exposure alone, a 1-df test whose square root is
    the z of the between - within difference."""
    row = {"outcome": p.spec.outcome, "exposure": p.spec.exposure,
           "test": MUNDLAK_EXPOSURE_TEST if exposure_only else MUNDLAK_TEST}
    try:
        result, cov, g, within, between = fit_mundlak_model(p)
    except FIT_ERRORS as err:
        return {**row, "statistic": math.nan, "df": math.nan, "p_value": math.nan,
                "note": f"fit failed ({type(err).__name__}): {str(err).splitlines()[0] if str(err) else ''}"}
    pairs = list(zip(within, between))
    if exposure_only:
        pairs = [(w, b) for w, b in pairs if w == p.spec.exposure]
        if len(pairs) != 1:
            raise KeyError(f"exposure '{p.spec.exposure}' is not among the within-person terms {within}")
    columns = list(cov.index)
    contrast = np.zeros((len(pairs), len(columns)))
    for i, (w, b) in enumerate(pairs):
        contrast[i, columns.index(b)] = 1.0
        contrast[i, columns.index(w)] = -1.0
    difference = contrast @ result.params[columns].to_numpy()
    v = contrast @ cov.to_numpy() @ contrast.T
    statistic = float(difference @ np.linalg.solve(v, difference))
    df = len(pairs)
    if exposure_only:
        (w, b), = pairs
        note = (f"Wald test of between - within = 0 for the exposure {w} alone (between {result.params[b]:.4g}, "
                f"within {result.params[w]:.4g}, difference {difference[0]:.4g}, SE {math.sqrt(v[0, 0]):.4g}, "
                f"z {difference[0] / math.sqrt(v[0, 0]):.2f}) in the within-between random-effects model; "
                f"{_cluster_text(p, g)}")
    else:
        note = (f"joint Wald test of between - within = 0 for all {df} time-varying regressors "
                f"({', '.join(within)}) in the within-between random-effects model, not a test of the exposure "
                f"alone (see the exposure-only test); {_cluster_text(p, g)}; the robust alternative to the "
                "classical Hausman test (rejection: the person-level confounding that FE removes matters)")
    return {**row, "statistic": statistic, "df": float(df), "p_value": float(stats.chi2.sf(statistic, df)),
            "note": note}


def panel_tests_frame(rows: list[dict] | pd.DataFrame | None = None) -> pd.DataFrame:
    """Build (or check) a specification-test table with exactly :data:`PANEL_TEST_COLUMNS`."""
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows or []))
    if frame.empty and len(frame.columns) == 0:
        frame = pd.DataFrame(columns=PANEL_TEST_COLUMNS)
    missing = [c for c in PANEL_TEST_COLUMNS if c not in frame.columns]
    extra = [c for c in frame.columns if c not in PANEL_TEST_COLUMNS]
    if missing or extra:
        raise ValueError(f"panel test table: missing columns {missing}, unexpected columns {extra}")
    frame = frame.loc[:, PANEL_TEST_COLUMNS]
    frame[["statistic", "df", "p_value"]] = frame[["statistic", "df", "p_value"]].astype("float64")
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Public fit functions: one per estimator


def _fit(estimator: str, panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, outcome: str | None,
         binary: bool, alpha: float) -> pd.DataFrame:
    return _FITS[estimator](prepare_panel(panel, spec, layout, outcome=outcome, binary=binary), alpha)


def fit_pooled_ols(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                   binary: bool = False, alpha: float = 0.05) -> pd.DataFrame:
    """Pooled OLS with wave dummies and invariant covariates, SE clustered by person; records.

    Compares person-waves across and within persons alike: biased by any stable person trait that drives both
    exposure and outcome. The reference point the within-person estimators are read against.
    """
    return _fit("pooled_ols", panel, spec, layout, outcome, binary, alpha)


def fit_random_effects(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                       binary: bool = False, alpha: float = 0.05) -> pd.DataFrame:
    """Random-intercept GLS (Swamy-Arora, ``small_sample=True``), same regressors as pooled OLS; records.

    Efficient if the person effect is unrelated to the regressors, biased like pooled OLS if not (the
    Hausman test asks which). ``small_sample=True`` reproduces plm's Swamy-Arora estimator on unbalanced
    panels (../shared/TOOLING.md).
    """
    return _fit("random_effects", panel, spec, layout, outcome, binary, alpha)


def fit_fixed_effects(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                      binary: bool = False, alpha: float = 0.05) -> pd.DataFrame:
    """Two-way fixed effects (person and wave effects), SE clustered by person; records.

    The within-person association: each person is compared with themselves, so every stable trait is held
    fixed, measured or not. Single-wave persons are dropped (nothing to compare); for a binary outcome this is
    the linear probability FE model.
    """
    return _fit("fixed_effects", panel, spec, layout, outcome, binary, alpha)


def fit_first_difference(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                         binary: bool = False, alpha: float = 0.05) -> pd.DataFrame:
    """First differences between adjacent waves with differenced wave dummies, SE clustered by person; records.

    Change in outcome on change in exposure. With two waves identical to two-way FE; with more, it weights
    short-run changes and is robust to a random-walk error where FE is not.
    """
    return _fit("first_difference", panel, spec, layout, outcome, binary, alpha)


def fit_mundlak(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                binary: bool = False, alpha: float = 0.05) -> pd.DataFrame:
    """Within-between (hybrid Mundlak) random-effects model; records: the within term and the between term.

    The within coefficient equals two-way FE (also in unbalanced panels: person means of the wave dummies are
    included then), and the model keeps the invariant covariates and the between-person association, so the
    reader sees both. SE clustered by person.
    """
    return _fit("mundlak", panel, spec, layout, outcome, binary, alpha)


def fit_conditional_logit(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *,
                          outcome: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Conditional (fixed-effects) logit with wave dummies for a 0/1 outcome; records (measure OR).

    The within-person odds ratio: conditioning on each person's number of outcome events removes the person
    effect from the likelihood, so persons whose outcome never changes drop out (``n`` counts the person-waves
    of those who remain). Model-based SEs (statsmodels offers no cluster-robust option here; the
    conditional likelihood already treats persons as independent units).
    """
    return _fit("conditional_logit", panel, spec, layout, outcome, True, alpha)


def fit_panel_multilevel(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                         binary: bool = False, alpha: float = 0.05) -> pd.DataFrame:
    """Growth-curve mixed model: waves within persons, random intercept and random slope for time; records.

    Fixed part: exposure, time-varying and invariant covariates, wave dummies. Random part: intercept and slope
    for ``time - first wave`` per person, correlated (intercept only when no one has 3+ waves: with two
    observations per person a random slope is not identified beside the residual variance). REML, model-based
    SEs (the random effects model the within-person correlation).

    Binary outcomes are fit as the *linear probability* version, by choice: its coefficient is on the same
    scale (difference in probability) as the pooled, RE, FE, FD and Mundlak fits beside it, it keeps the
    correlated random slope (statsmodels' ``BinomialBayesMixedGLM`` has only independent variance components
    and is a variational approximation) and the odds-ratio view is given by the conditional logit.
    """
    return _fit("multilevel", panel, spec, layout, outcome, binary, alpha)


def panel_tests(panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None,
                binary: bool = False, hausman: bool = True, mundlak: bool = True) -> pd.DataFrame:
    """The classical Hausman test (FE vs RE) and the cluster-robust Mundlak Wald tests (joint over every
    time-varying regressor, and the exposure alone); :data:`PANEL_TEST_COLUMNS`."""
    p = prepare_panel(panel, spec, layout, outcome=outcome, binary=binary)
    rows = ([_hausman(p)] if hausman else []) + ([_mundlak_wald(p), _mundlak_wald(p, exposure_only=True)]
                                                 if mundlak else [])
    return panel_tests_frame(rows)


# ---------------------------------------------------------------------------------------------
# The stage: every outcome x exposure x estimator of a spec


def _require(mapping: dict[str, Any], key: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ValueError(f"panel_models spec needs the key '{key}' (params.yaml <study>.panel_models.{key})")
    return mapping[key]


def run_panel_models(
    panel: pd.DataFrame, spec: dict[str, Any], *, study: str = "", progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit every outcome x exposure x estimator of a ``panel_models`` spec; return ``(records, tests)``.

    ``spec`` is e.g. ``params["gss"]["panel_models"]``. Keys read: ``entity``, ``time``, ``outcomes`` (name ->
    ``{label, binary}``; the name is the column, or give ``column``), ``exposures`` (name -> ``{label, type}``,
    type "continuous" (default) or "categorical"), and optionally ``cluster`` (default: ``entity``),
    ``covariates`` (time-varying, formula right-hand side), ``invariant`` (time-invariant, formula right-hand
    side), ``estimators`` (default: all of :data:`ESTIMATORS`), ``weight`` (restricts the sample to positive
    weights), ``weighted`` (also fit with that weight: :data:`WEIGHTED_ESTIMATORS` only), ``sample_label``
    (appended to every record's ``covariate_set``, to tell several samples of one study apart) and
    ``alpha`` (default 0.05).

    ``records`` has :data:`~analysis.estimators.records.RECORD_COLUMNS`, one row per outcome x exposure x estimator
    x exposure term (plus the Mundlak between-person term); ``conditional_logit`` is fit for binary outcomes
    only. ``tests`` has :data:`PANEL_TEST_COLUMNS`: per outcome x exposure, the classical Hausman test when both
    ``fixed_effects`` and ``random_effects`` are listed, the Mundlak Wald tests (joint, and the exposure alone)
    when ``mundlak`` is. A column
    named in the spec but absent from ``panel``, or an unknown estimator, raises a ValueError before anything
    is fit; a fit that fails numerically gives NaN rows with ``converged`` False and the error in ``note``.
    """
    layout = PanelLayout(entity=_require(spec, "entity"), time=_require(spec, "time"), cluster=spec.get("cluster"),
                         invariant=spec.get("invariant") or "", weight=spec.get("weight"),
                         weighted=bool(spec.get("weighted", False)))
    sample_label = str(spec.get("sample_label") or "")
    outcomes = _require(spec, "outcomes")
    exposures = _require(spec, "exposures")
    covariates = spec.get("covariates") or ""
    estimators = list(spec.get("estimators") or ESTIMATORS)
    alpha = float(spec.get("alpha", 0.05))
    unknown = [e for e in estimators if e not in ESTIMATORS]
    if unknown:
        raise ValueError(f"panel_models.estimators: {unknown} unknown; use any of {list(ESTIMATORS)}")
    if not outcomes or not exposures:
        raise ValueError("panel_models needs at least one outcome and one exposure")
    if layout.weighted:
        unweightable = [e for e in estimators if e not in WEIGHTED_ESTIMATORS]
        if unweightable:
            raise ValueError(f"panel_models.estimators: {unweightable} have no weighted version; a weighted spec "
                             f"(weighted: true) can list {list(WEIGHTED_ESTIMATORS)}")

    check_columns(panel, [layout.entity], "panel_models.entity")
    check_columns(panel, [layout.time], "panel_models.time")
    check_columns(panel, [layout.cluster_column], "panel_models.cluster")
    if layout.weight:
        check_columns(panel, [layout.weight], "panel_models.weight")
    check_columns(panel, formula_variables(covariates), "panel_models.covariates")
    check_columns(panel, formula_variables(layout.invariant), "panel_models.invariant")
    for name, o in outcomes.items():
        check_columns(panel, [(o or {}).get("column", name)], f"panel_models.outcomes.{name}")
    for name, e in exposures.items():
        check_columns(panel, [name], f"panel_models.exposures.{name}")
        kind = (e or {}).get("type", "continuous")
        if kind not in EXPOSURE_TYPES:
            raise ValueError(f"panel_models.exposures.{name}.type is '{kind}'; use one of {list(EXPOSURE_TYPES)}")

    jobs: list[tuple[str, Callable[[], pd.DataFrame], bool]] = []
    for exposure, e in exposures.items():
        e = e or {}
        for name, o in outcomes.items():
            o = o or {}
            binary = bool(o.get("binary", False))
            model_spec = ModelSpec(outcome=name, exposure=exposure, covariates=covariates,
                                   exposure_type=e.get("type", "continuous"), study=study,
                                   outcome_label=o.get("label", name), exposure_label=e.get("label", exposure),
                                   covariate_set=sample_label)
            # prepared before anything is fit, so a data problem (duplicate person-waves, a non-0/1 binary
            # outcome) stops the stage at once
            p = prepare_panel(panel, model_spec, layout, outcome=o.get("column", name), binary=binary)
            for estimator in estimators:
                if estimator == "conditional_logit" and not binary:
                    continue
                jobs.append((f"{estimator} {name} ~ {exposure}",
                             lambda estimator=estimator, p=p: _FITS[estimator](p, alpha), True))
            if "fixed_effects" in estimators and "random_effects" in estimators:
                jobs.append((f"Hausman {name} ~ {exposure}", lambda p=p: _hausman(p), False))
            if "mundlak" in estimators:
                jobs.append((f"Mundlak test {name} ~ {exposure}", lambda p=p: _mundlak_wald(p), False))
                jobs.append((f"Mundlak test {name} ~ {exposure} alone",
                             lambda p=p: _mundlak_wald(p, exposure_only=True), False))

    records, tests = [], []
    n_jobs = int(spec.get("n_jobs", 1))  # worker processes; every fit is deterministic, results in job order
    results = run_jobs([(label, run) for label, run, _ in jobs], desc=f"{study or 'panel'} panel models",
                       n_jobs=n_jobs, progress=progress)
    for (_, _, is_record), result in zip(jobs, results):
        (records if is_record else tests).append(result)
    return (records_frame(pd.concat(records, ignore_index=True)) if records else records_frame(),
            panel_tests_frame(tests))


# ---------------------------------------------------------------------------------------------
# Lagged exposure; reliability of a repeated measure and the attenuation it implies


def with_lag(panel: pd.DataFrame, entity: str, time: str, column: str, name: str, step: float = 1) -> pd.DataFrame:
    """``panel`` with ``name`` = the person's value of ``column`` at time ``t - step`` (NaN when the person
    has no row, or no value, there: never carried across a gap). Raises ValueError on duplicate person-times."""
    check_columns(panel, [entity, time, column], "the lagged exposure")
    if panel.duplicated([entity, time]).any():
        raise ValueError(f"two rows share an ({entity}, {time}) pair: a lag needs one row per person and time")
    earlier = panel[[entity, time, column]].copy()
    earlier[time] = earlier[time] + step
    earlier = earlier.rename(columns={column: name})
    out = panel.drop(columns=[name], errors="ignore").merge(earlier, on=[entity, time], how="left")
    return out.set_axis(panel.index)


#: Columns of :func:`attenuation_table`.
ATTENUATION_COLUMNS = ["reliability", "within_share", "diff_variance_ratio", "lambda_pooled",
                       "lambda_fixed_effects", "lambda_first_difference", "note"]


def within_person_variance(panel: pd.DataFrame, entity: str, time: str, column: str) -> dict[str, Any]:
    """How much of a repeated measure varies within persons, on the persons measured at every time:

    * ``adjacent_correlations``: Pearson correlation of the measure between each pair of adjacent times;
    * ``between_variance``, ``within_variance``: one-way ANOVA components, ``sigma_w^2 = MSW`` and
      ``sigma_b^2 = (MSB - MSW) / T``; ``within_share = sigma_w^2 / (sigma_b^2 + sigma_w^2)`` (1 - ICC(1));
    * ``total_variance`` (their sum) and ``diff_variance``: the variance of the change between adjacent
      times (all adjacent pairs pooled), the variation a first-difference fit uses.
    """
    check_columns(panel, [entity, time, column], "the within-person variance")
    wide = panel.pivot_table(index=entity, columns=time, values=column, aggfunc="first").dropna()
    times = list(wide.columns)
    if len(times) < 2 or len(wide) < 3:
        raise ValueError(f"'{column}': fewer than 3 persons measured at every one of 2+ times")
    k, n = len(times), len(wide)
    values = wide.to_numpy(dtype=float)
    person_means = values.mean(axis=1)
    msw = float(((values - person_means[:, None]) ** 2).sum() / (n * (k - 1)))
    msb = float(k * ((person_means - values.mean()) ** 2).sum() / (n - 1))
    between = max((msb - msw) / k, 0.0)
    diffs = np.diff(values, axis=1).ravel()
    return {"persons": n, "times": times,
            "adjacent_correlations": [float(np.corrcoef(values[:, i], values[:, i + 1])[0, 1]) for i in range(k - 1)],
            "between_variance": between, "within_variance": msw, "total_variance": between + msw,
            "within_share": msw / (between + msw), "diff_variance": float(diffs.var(ddof=1))}


def attenuation_table(components: dict[str, Any], reliabilities) -> pd.DataFrame:
    """Regression-dilution factors implied by classical measurement error, one row per assumed reliability.

    Model: observed x = true x + u, u independent of everything and across waves, with ``reliability``
    rho = var(true x) / var(observed x) (an assumption: the data alone cannot separate true change from
    error). Then, for a regression on x alone, the slope is multiplied by (Fuller 1987; Griliches and
    Hausman 1986, J Econometrics 31:93):

    * pooled: ``lambda = rho``;
    * fixed effects (within): ``lambda = 1 - (1 - rho) / s_w``, ``s_w`` the within-person share of the
      observed variance (``components["within_share"]``), because the error is all within-person variance
      while the stable part of true x is removed;
    * first differences: ``lambda = 1 - 2 (1 - rho) V / var(dx)``, V the total observed variance.

    A factor at or below 0 means that, under that rho, the within-person variation could be error alone.
    Covariates make the attenuation worse still (they absorb true variation, not error). The factors show
    the sensitivity of the estimates to measurement error; they are not an exact correction.
    """
    s_w = float(components["within_share"])
    ratio = float(components["diff_variance"]) / float(components["total_variance"])
    rows = []
    for rho in reliabilities:
        rho = float(rho)
        if not 0 < rho <= 1:
            raise ValueError(f"an assumed reliability must be in (0, 1], got {rho}")
        error = 1 - rho
        rows.append({"reliability": rho, "within_share": s_w, "diff_variance_ratio": ratio,
                     "lambda_pooled": rho, "lambda_fixed_effects": 1 - error / s_w,
                     "lambda_first_difference": 1 - 2 * error / ratio,
                     "note": "classical error independent across waves; regression on the measure alone"})
    return pd.DataFrame(rows, columns=ATTENUATION_COLUMNS)
