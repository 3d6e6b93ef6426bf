"""The panel layout and one outcome x exposure analytic sample, prepared once for every estimator.

**Sample.** One analytic sample per outcome x exposure: complete cases on outcome, exposure (and the joint
exposures), time-varying and invariant covariates, entity, time, cluster (and a positive weight, when a
weight column is given: by itself it only restricts the sample and the fits stay unweighted). Within that
sample units observed once contribute nothing to a within-unit comparison: the FE and FD fits drop them, the
conditional logit drops every unit whose outcome never changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from linearmodels.panel.utility import AbsorbingEffectError

from analysis.estimators.formula import covariate_matrix
from analysis.estimators.panel_spec import between_label
from analysis.estimators.records import (
    ModelSpec,
    check_columns,
    complete_cases,
    exposure_coefficients,
    exposure_levels,
    formula_variables,
)

#: The errors a fit may raise on awkward data; the fit then gives NaN records with ``converged`` False.
FIT_ERRORS = (ValueError, np.linalg.LinAlgError, AbsorbingEffectError)


@dataclass(frozen=True)
class PanelLayout:
    """How the long panel table is organised: who (``entity``), when (``time``), and what enters where.

    ``time`` must be numeric (wave number or year): it defines the time dummies, the order of first
    differences and the slope of the multilevel model. ``cluster`` defaults to the entity (SEs clustered by
    unit). ``invariant`` is a formula right-hand side of time-invariant covariates (``"female + C(race)"``)
    for the estimators that do not absorb them. ``weight``, if given, restricts the sample to rows with a
    positive weight; with ``weighted`` the fits that have a weighted version also use it as the WLS weight.
    ``unit``, ``units`` and ``period`` name a unit and a time point in the notes ("person"/"persons"/"wave";
    the between-unit term is labelled ``between-<unit>``).
    """

    entity: str
    time: str
    cluster: str | None = None
    invariant: str = ""
    weight: str | None = None
    weighted: bool = False
    unit: str = "person"
    units: str = "persons"
    period: str = "wave"

    def __post_init__(self) -> None:
        if self.weighted and not self.weight:
            raise ValueError("a weighted panel layout needs a weight column (panel_models.weight)")

    @property
    def cluster_column(self) -> str:
        return self.cluster or self.entity

    @property
    def between_label(self) -> str:
        """``term_label`` of the between-unit coefficient of a within-between model."""
        return between_label(self.unit)


class Coefficient(NamedTuple):
    """One recorded coefficient: its column in the regressors, the record's ``term`` and ``term_label``, and
    the exposure it belongs to (the spec's exposure, or one of the joint exposures)."""

    column: str
    term: str
    term_label: str
    exposure: str
    exposure_label: str


@dataclass
class PanelSample:
    """One outcome x exposure analytic sample, indexed (entity, time), and its regressor blocks.

    Built by :func:`prepare_panel`; every estimator reads the blocks it needs, so all estimators of one
    outcome x exposure start from the same unit-times.
    """

    spec: ModelSpec
    layout: PanelLayout
    binary: bool
    y: pd.Series
    tv: pd.DataFrame  # time-varying regressors: the exposure column(s) first, then the covariates
    invariant: pd.DataFrame
    waves: pd.DataFrame  # time dummies, first time the reference
    time: pd.Series  # numeric time of each row
    clusters: pd.Series
    coefficients: list[Coefficient]  # the recorded coefficients: the exposure's, then the joint exposures'
    weights: pd.Series | None = None  # the WLS weight of each row, when the layout is weighted

    @property
    def index(self) -> pd.MultiIndex:
        return self.y.index

    @property
    def entities(self) -> pd.Index:
        return self.index.get_level_values(0)


def prepare_panel(
    panel: pd.DataFrame, spec: ModelSpec, layout: PanelLayout, *, outcome: str | None = None, binary: bool = False,
    joint: Mapping[str, str] | None = None,
) -> PanelSample:
    """The analytic sample of one outcome x exposure and its regressor blocks (used by every fit function).

    ``outcome`` is the outcome column (default ``spec.outcome``); ``spec.covariates`` are the time-varying
    covariates. ``joint`` (column -> label) names further continuous exposures entered after the exposure and
    recorded as their own exposure (each coefficient is net of the others). Raises ValueError naming a missing
    column, a non-numeric time column, a unit with two rows at one time, or a binary outcome with values
    other than 0/1.
    """
    outcome = outcome or spec.outcome
    joint = dict(joint or {})
    check_columns(panel, [layout.entity, layout.time], "the panel layout (entity, time)")
    check_columns(panel, [layout.cluster_column], "the panel layout (cluster)")
    if layout.weight:
        check_columns(panel, [layout.weight], "the panel layout (weight)")
    check_columns(panel, [outcome], f"outcome '{spec.outcome}'")
    check_columns(panel, [spec.exposure, *joint], "the exposures")
    check_columns(panel, spec.covariate_variables(), f"the time-varying covariates '{spec.covariates}'")
    invariant_vars = formula_variables(layout.invariant)
    check_columns(panel, invariant_vars, f"the invariant covariates '{layout.invariant}'")

    columns = [layout.entity, layout.time, outcome, *spec.variables(), *joint, *invariant_vars,
               layout.cluster_column, layout.weight]
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
                         f"needs one row per {layout.unit} and {layout.period}")
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
        coefficients.append(Coefficient(term, term, term_label, spec.exposure, spec.exposure_label))
    for column, label in joint.items():
        exposure[column] = frame[column].astype(float)
        coefficients.append(Coefficient(column, column, "per point", column, label))
    covariates = covariate_matrix(frame, spec.covariates)
    covariates = covariates.loc[:, [c for c in covariates.columns if c not in exposure.columns]]
    invariant = covariate_matrix(frame, layout.invariant)

    time = frame[layout.time]
    waves = sorted(time.unique())
    dummies = pd.DataFrame({f"{layout.time}[{w}]": (time == w).astype(float) for w in waves[1:]},
                           index=frame.index)
    return PanelSample(spec=spec, layout=layout, binary=binary, y=y, tv=pd.concat([exposure, covariates], axis=1),
                       invariant=invariant, waves=dummies, time=time.astype(float),
                       clusters=frame[layout.cluster_column], coefficients=coefficients,
                       weights=frame[layout.weight].astype(float).rename("weight") if layout.weighted else None)


def multi_wave_rows(p: PanelSample) -> pd.Index:
    """Unit-times of units observed at two or more times (the only ones a within-unit fit can use)."""
    sizes = p.y.groupby(level=0).transform("size")
    return p.index[(sizes >= 2).to_numpy()]


def standard_errors(cov: pd.DataFrame) -> pd.Series:
    return pd.Series(np.sqrt(np.diag(cov)), index=cov.index)


def with_constant(*blocks: pd.DataFrame) -> pd.DataFrame:
    index = blocks[0].index
    return pd.concat([pd.DataFrame({"const": 1.0}, index=index), *blocks], axis=1)


def persons(index: pd.Index) -> int:
    """The number of units (entities) among the rows of ``index``."""
    return int(index.get_level_values(0).nunique())
