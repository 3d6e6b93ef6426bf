"""What every panel estimator shares: its options (the covariance as a named option), its records, the words
of its notes.

**Covariance** (``cov_type``, as linearmodels names it) of the linear estimators (pooled, RE, FE, FD, Mundlak):

* ``"clustered"`` (default): cluster-robust by unit (or by ``PanelLayout.cluster``),
  ``V = G/(G-1) (X'X)^-1 (sum_g s_g s_g') (X'X)^-1`` on the estimator's transformed data, i.e. linearmodels'
  uncorrected cluster covariance (``debiased=False``, effects not counted) times ``G/(G-1)``
  (:func:`analysis.estimators.vcov.with_small_sample_factor`). Record ``vcov`` "cluster", ``n_groups`` G.
* ``"kernel"``: Driscoll-Kraay, linearmodels' kernel covariance of the time sums of the scores on the
  transformed data: ``(X'X)^-1 S (X'X)^-1`` with ``S = sum_j k(j) (Gamma_j + Gamma_j')``, ``Gamma_j`` the lag-j
  autocovariance of the per-time score sums, ``kernel`` (Bartlett by default) and ``bandwidth`` (default
  ``floor(4 (T/100)^(2/9))``, Newey-West's rule as Hoechle's xtscc), no small-sample factor
  (``debiased=False``). Robust to correlation between units within a time and to serial correlation up to
  the bandwidth; with few time points it can be too small. Record ``vcov`` "driscoll_kraay", ``n_groups`` T.

The conditional logit and the multilevel model have model-based SEs only (record ``vcov`` "model_based").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.estimators.panel.sample import Coefficient, PanelSample, persons
from analysis.estimators.panel_spec import WEIGHTED_ESTIMATORS  # the estimators with a weighted version
from analysis.estimators.records import ModelSpec, error_text, record_row, records_frame
from analysis.estimators.vcov import with_small_sample_factor

#: ``cov_type`` values of the linear panel estimators (see the module docstring).
COV_TYPES = ("clustered", "kernel")
#: Kernels of the Driscoll-Kraay covariance (linearmodels' names).
KERNELS = ("bartlett", "newey-west", "parzen", "gallant", "qs", "quadratic-spectral", "andrews")
#: Record ``vcov`` of each ``cov_type``.
VCOV_OF = {"clustered": "cluster", "kernel": "driscoll_kraay"}
#: Record ``design`` of an unweighted panel fit, and of a weighted one.
DESIGN = "unweighted"
WEIGHTED_DESIGN = "weighted"


def default_bandwidth(periods: int) -> int:
    """Newey-West's rule of thumb for the Bartlett kernel, linearmodels' default: floor(4 (T/100)^(2/9))."""
    return int(math.floor(4 * (periods / 100) ** (2 / 9)))


@dataclass(frozen=True)
class PanelOptions:
    """How one panel fit is run and recorded.

    ``cov_type`` "clustered" or "kernel" (with ``kernel`` and ``bandwidth``; ``bandwidth`` None = the rule of
    :func:`default_bandwidth`); ``alpha`` for the intervals; ``scale`` reports every coefficient per ``scale``
    units of the exposure (estimate and SE multiplied by it, e.g. 0.1 for a share); ``term_label`` replaces
    the ``term_label`` of a continuous exposure ("per point"); ``validate`` False leaves the record-contract check
    to the caller, which validates all the records it gathers once (:func:`analysis.estimators.records.records_frame`).
    """

    alpha: float = 0.05
    cov_type: str = "clustered"
    kernel: str = "bartlett"
    bandwidth: float | None = None
    scale: float = 1.0
    term_label: str | None = None
    validate: bool = True

    def __post_init__(self) -> None:
        if self.cov_type not in COV_TYPES:
            raise ValueError(f"cov_type '{self.cov_type}' unknown; use one of {list(COV_TYPES)}")
        if str(self.kernel).lower() not in KERNELS:
            raise ValueError(f"kernel '{self.kernel}' unknown; use one of {list(KERNELS)}")
        if self.bandwidth is not None and (not isinstance(self.bandwidth, (int, float)) or self.bandwidth < 0):
            raise ValueError(f"bandwidth {self.bandwidth!r}: give a number >= 0, or None for the rule of thumb")
        if not self.scale > 0:
            raise ValueError(f"scale {self.scale!r}: give a number > 0")


def options_of(alpha: float = 0.05, cov_type: str = "clustered", kernel: str = "bartlett",
               bandwidth: float | None = None, scale: float = 1.0, term_label: str | None = None) -> PanelOptions:
    """:class:`PanelOptions` from the keyword arguments of the public fit functions."""
    return PanelOptions(alpha=alpha, cov_type=cov_type, kernel=kernel, bandwidth=bandwidth, scale=scale,
                        term_label=term_label)


# ---------------------------------------------------------------------------------------------
# Covariance


@dataclass(frozen=True)
class Covariance:
    """The covariance of a fit as the records need it: the matrix, its record ``vcov``, ``n_groups``, a note."""

    cov: pd.DataFrame
    vcov: str
    n_groups: float
    text: str


def fit_options(p: PanelSample, index: pd.Index, options: PanelOptions, *, absorbing: bool = False) -> dict[str, Any]:
    """linearmodels' ``fit()`` keywords of ``options.cov_type`` for the rows of ``index``; ``absorbing`` for
    PanelOLS (absorbed effects not counted in the degrees of freedom)."""
    extra = {"auto_df": False, "count_effects": False} if absorbing else {}
    if options.cov_type == "kernel":
        return {"cov_type": "kernel", "kernel": options.kernel, "bandwidth": bandwidth_of(index, options),
                "debiased": False, **extra}
    return {"cov_type": "clustered", "debiased": False, **extra, **cluster_options(p, index)}


def bandwidth_of(index: pd.Index, options: PanelOptions) -> float:
    periods = int(index.get_level_values(1).nunique())
    return options.bandwidth if options.bandwidth is not None else default_bandwidth(periods)


def covariance(result, p: PanelSample, index: pd.Index, options: PanelOptions, *, absorbed: bool = False
               ) -> Covariance:
    """The covariance of a linearmodels fit run with :func:`fit_options`: the clustered one times ``G/(G-1)``
    (clusters of the rows of ``index``), or the kernel one as it is."""
    if options.cov_type == "kernel":
        periods = int(index.get_level_values(1).nunique())
        bandwidth = bandwidth_of(index, options)
        text = (f"Driscoll-Kraay SE (linearmodels cov_type='kernel', {options.kernel} kernel, bandwidth "
                f"{bandwidth:g} of {periods} {p.layout.period}s; no small-sample factor): robust to correlation "
                f"between {p.layout.units} within a {p.layout.period} and serial correlation up to lag {bandwidth:g}")
        return Covariance(result.cov, "driscoll_kraay", float(periods), text)
    cov, g = with_small_sample_factor(result.cov, p.clusters.loc[index])
    text = cluster_text(p, g) + (", absorbed effects not counted in the df" if absorbed else "")
    return Covariance(cov, "cluster", float(g), text)


def cluster_options(p: PanelSample, index: pd.Index) -> dict[str, Any]:
    """linearmodels' cluster options: entity clusters, or the layout's cluster column."""
    if p.layout.cluster_column == p.layout.entity:
        return {"cluster_entity": True}
    codes = pd.Series(pd.factorize(p.clusters.loc[index])[0], index=index, name="cluster")
    return {"clusters": codes.to_frame()}


def weight_options(p: PanelSample, index: pd.Index, estimator: str) -> dict[str, Any]:
    """linearmodels' ``weights=`` for the rows of ``index`` when the sample is weighted (else nothing)."""
    if p.weights is None:
        return {}
    if estimator not in WEIGHTED_ESTIMATORS:
        raise ValueError(f"{estimator} has no weighted version; weighted panel fits: {list(WEIGHTED_ESTIMATORS)}")
    return {"weights": p.weights.loc[index]}


# ---------------------------------------------------------------------------------------------
# Records


def labelled(options: PanelOptions, c: Coefficient) -> Coefficient:
    """The coefficient with its record ``term_label``: ``options.term_label`` for a continuous exposure."""
    return c._replace(term_label=options.term_label) if options.term_label and c.term_label == "per point" else c


def between_coefficient(p: PanelSample, options: PanelOptions, c: Coefficient) -> Coefficient:
    """The between-unit coefficient (``<term>:between``, column ``between: <column>``) of a Mundlak fit,
    labelled ``between-<unit>`` (``between-<unit>, <label>`` for a labelled or categorical exposure)."""
    label = labelled(options, c).term_label
    return c._replace(column=f"between: {c.column}", term=f"{c.term}:between",
                      term_label=p.layout.between_label if label == "per point"
                      else f"{p.layout.between_label}, {label}")


def exposure_rows(p: PanelSample, params: pd.Series, std_errors: pd.Series, options: PanelOptions,
                  between: bool = False) -> list[tuple[Coefficient, float, float]]:
    """(coefficient, estimate, SE) of every recorded coefficient of a fit, then (``between``) of the
    between-unit coefficients of a Mundlak fit."""
    coefficients = [labelled(options, c) for c in p.coefficients]
    if between:
        coefficients += [between_coefficient(p, options, c) for c in p.coefficients]
    return [(c, float(params[c.column]), float(std_errors[c.column])) for c in coefficients]


def panel_records(p: PanelSample, model: str, rows: list[tuple[Coefficient, float, float]], *, n: int,
                  used: pd.Index, converged: bool, note: str, options: PanelOptions, design: str | None = None,
                  vcov: str, n_groups: float = math.nan,
                  components: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Records of one fit: ``rows`` are (coefficient, estimate, SE) per unit of the exposure, reported per
    ``options.scale`` units; ``used`` the unit-times (for ``events``); ``design`` defaults to "weighted" or
    "unweighted" by the sample."""
    events = float(p.y.loc[used].sum()) if p.binary else math.nan
    design = design or (WEIGHTED_DESIGN if p.weights is not None else DESIGN)
    out = []
    for c, estimate, std_error in rows:
        spec = ModelSpec(outcome=p.spec.outcome, exposure=c.exposure, covariates=p.spec.covariates,
                         covariate_set=p.spec.covariate_set, study=p.spec.study, outcome_label=p.spec.outcome_label,
                         exposure_label=c.exposure_label, sample=p.spec.sample)
        out.append(record_row(spec, c.term, c.term_label, estimate * options.scale, std_error * options.scale,
                              model=model, design=design, vcov=vcov, n=n, events=events, converged=converged,
                              note=note, alpha=options.alpha, n_groups=n_groups, components=components))
    return records_frame(out, validate=options.validate)


def failed_panel_records(p: PanelSample, model: str, err: BaseException, *, used: pd.Index, options: PanelOptions,
                         vcov: str, between: bool = False, design: str | None = None) -> pd.DataFrame:
    """NaN records of a fit that failed (``converged`` False, the error in ``note``)."""
    coefficients = [labelled(options, c) for c in p.coefficients]
    if between:
        coefficients += [between_coefficient(p, options, c) for c in p.coefficients]
    return panel_records(p, model, [(c, math.nan, math.nan) for c in coefficients], n=len(used), used=used,
                         converged=False, options=options, vcov=vcov, design=design,
                         note=f"{model} fit failed ({type(err).__name__}): {error_text(err)}")


def vcov_of(options: PanelOptions) -> str:
    return VCOV_OF[options.cov_type]


# ---------------------------------------------------------------------------------------------
# The words of the notes


def sample_text(p: PanelSample, n: int, used: pd.Index, *, dropped: str = "") -> str:
    total = persons(p.index)
    layout = p.layout
    text = f"n = {n} {layout.unit}-{layout.period}s of {persons(used)} {layout.units}"
    if dropped:
        text += f" ({dropped})"
    elif persons(used) < total:
        text = f"n = {n} {layout.unit}-{layout.period}s of {persons(used)} of {total} {layout.units}"
    return text


def cluster_text(p: PanelSample, g: int) -> str:
    unit = p.layout.unit if p.layout.cluster_column == p.layout.entity else f"'{p.layout.cluster_column}'"
    return f"SE cluster-robust by {unit} ({g} clusters, uncorrected sandwich x G/(G-1))"


def outcome_text(p: PanelSample) -> str:
    return ("linear probability model (estimate = difference in probability per unit of exposure)"
            if p.binary else "linear model")


def invariant_text(p: PanelSample) -> str:
    """" and invariant covariates" when the layout has any."""
    return " and invariant covariates" if p.layout.invariant.strip() else ""


def weight_text(p: PanelSample) -> str:
    if p.weights is None:
        return ""
    return (f"; WEIGHTED by '{p.layout.weight}' (WLS; SEs treat the weights as fixed, weight range "
            f"{p.weights.min():.3g}-{p.weights.max():.3g})")
