"""Alternative definitions of the NHANES isolation exposure (stage ``exposures_nhanes``): which part of the index
carries the association, and whether it is a slope or a step.

The headline models score one isolation index (params.yaml ``nhanes.indices.isolation_index``). A reviewer asks what
is inside it: this stage fits the headline model (design-based, the primary estimate's covariate set of
``models.covariate_sets`` or ``exposure_definitions.covariate_set``, every outcome of ``models.survival`` and
``models.regression``) with the exposure defined in each way that ``params.yaml exposure_definitions.analyses``
lists:

* ``items_of: <index>``: the index's items as 0/1 deficits (1 where the item's rule scores a point), all
  entered **jointly**, so each item's estimate is adjusted for the others (the original 5-item index: is it
  mostly marital status?);
* ``joint: [<column>, ...]``: scores entered jointly (the structural and the functional score);
* ``exposure: <column>`` with ``type``: one exposure, as in the headline models (the index by level; the
  original 5-item index as a sensitivity analysis).

Every fit is survey-weighted with Taylor-linearised variance, PSUs in strata, the analytic sample a domain of
the full design (:mod:`analysis.estimators.survey`). Records carry :data:`EXPOSURE_COLUMNS`: the record columns
plus ``analysis`` and ``analysis_label``; a joint term's ``exposure`` is its own column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from analysis.core import config, io
from analysis.core.index import IndexSpec, index_points
from analysis.core.settings import Workers
from analysis.estimators.records import RECORD_COLUMNS, ModelSpec, check_columns, records_frame
from analysis.estimators.runner import run_jobs
from analysis.estimators.survey import (
    cox_design_fit,
    design_records,
    fit_cox_design,
    fit_glm_design,
    glm_design_fit,
)
from analysis.studies.nhanes.schema import model_weight
from analysis.studies.nhanes.settings import Models, NhanesSettings, load

EXPOSURE_COLUMNS: list[str] = ["analysis", "analysis_label", *RECORD_COLUMNS]
STRATUM, PSU = "stratum", "psu"
MODEL_NAMES = {"cox": "cox", "binomial": "logistic", "gaussian": "linear"}


@dataclass(frozen=True)
class _Job:
    label: str
    run: Callable[[], pd.DataFrame]


def item_columns(table: pd.DataFrame, index_spec: IndexSpec) -> tuple[pd.DataFrame, dict[str, str]]:
    """The items of an index as 0/1 deficit columns ``item_<variable>`` (1 where the item scores a point,
    missing where it is unanswered; :func:`analysis.core.index.index_points`), and their labels."""
    points = index_points(table, index_spec)
    names = [f"item_{item.variable}" for item in index_spec.items]
    labels = {name: item.text for name, item in zip(names, index_spec.items)}
    return pd.DataFrame(points.to_numpy(), index=table.index, columns=names), labels


def _outcomes(models: Models) -> list[tuple[str, str, str, dict]]:
    """(key, label, kind, keywords): survival outcomes as Cox ("cox"), regression ones by family."""
    out = [(k, s.label, "cox", {"duration": s.duration, "event": s.event}) for k, s in models.survival.items()]
    out += [(k, s.label, s.family, {"outcome": s.outcome}) for k, s in models.regression.items()]
    return out


def _weight(models: Models, columns) -> str:
    """The model's weight as the headline models take it (schema.model_weight: MEC weight with a MEC measure)."""
    return model_weight(list(columns), models.weight, models.exam_weight)


def _joint_fit(design: pd.DataFrame, columns: list[str], labels: dict[str, str], rhs: str, kind: str, kw: dict,
               spec: ModelSpec, settings: Models, term_label: str) -> pd.DataFrame:
    """One design-based fit with ``columns`` entered jointly before the covariates; a record per column."""
    full = " + ".join([*columns, rhs] if rhs.strip() else columns)
    common = dict(weight=_weight(settings, [*kw.values(), *spec.covariate_variables()]), stratum=STRATUM, psu=PSU,
                  lonely_psu=settings.lonely_psu)
    if kind == "cox":
        fit = cox_design_fit(design, full, duration=kw["duration"], event=kw["event"], **common)
    else:
        fit = glm_design_fit(design, full, outcome=kw["outcome"], family=kind, **common)
    note = ("design-based (Taylor linearisation, PSUs in strata, t on the design df); entered jointly: "
            f"{', '.join(columns)}; each estimate adjusted for the others and the covariates")
    records = design_records(spec, fit, levels=None, model=MODEL_NAMES[kind], note=note, alpha=settings.alpha,
                             coefficients=[(c, c, term_label) for c in columns])
    records["exposure"] = columns
    records["exposure_label"] = [labels.get(c, c) for c in columns]
    return records


def _single_fit(design: pd.DataFrame, spec: ModelSpec, kind: str, kw: dict, settings: Models) -> pd.DataFrame:
    common = dict(weight=_weight(settings, [*kw.values(), *spec.variables()]), stratum=STRATUM, psu=PSU,
                  lonely_psu=settings.lonely_psu, alpha=settings.alpha)
    if kind == "cox":
        return fit_cox_design(design, spec, duration=kw["duration"], event=kw["event"], **common)
    return fit_glm_design(design, spec, outcome=kw["outcome"], family=kind, **common)


def exposure_jobs(table: pd.DataFrame, nh: NhanesSettings) -> list[_Job]:
    """Every analysis of ``nhanes.exposure_definitions.analyses`` x every outcome, as jobs returning records."""
    models = settings = nh.models
    block = nh.exposure_definitions
    set_name = nh.covariate_set(block.covariate_set)
    rhs = models.covariate_sets[set_name]
    weight, exam_weight = models.weight, models.exam_weight
    check_columns(table, [weight, exam_weight], f"params.yaml {models.key('weight')} / {models.key('exam_weight')}")
    design = table.assign(**{w: table[w].fillna(0.0) for w in dict.fromkeys([weight, exam_weight])})
    study = nh.study
    jobs: list[_Job] = []
    for name, analysis in block.analyses.items():
        where = block.key("analyses", name)
        label = analysis.label
        if analysis.items_of is not None:
            items, labels = item_columns(table, nh.indices[analysis.items_of])
            data, columns, term_label = pd.concat([design, items], axis=1), list(items.columns), "yes vs no"
        elif analysis.joint is not None:
            columns = list(analysis.joint)
            check_columns(table, columns, f"params.yaml {where}.joint")
            labels = {c: nh.indices[c].label_or(c) if c in nh.indices else c for c in columns}
            data, term_label = design, "per point"
        else:
            exposure = analysis.exposure
            check_columns(table, [exposure], f"params.yaml {where}.exposure")
            columns, data, labels = None, design, {}
        for outcome, outcome_label, kind, kw in _outcomes(models):
            check_columns(table, list(kw.values()), f"params.yaml {models.key()} outcome {outcome}")
            if columns is not None:
                spec = ModelSpec(outcome=outcome, exposure=columns[0], covariates=rhs, covariate_set=set_name,
                                 study=study, outcome_label=outcome_label, exposure_label=label)
                run = (lambda data=data, columns=columns, labels=labels, kind=kind, kw=kw, spec=spec, tl=term_label:
                       _joint_fit(data, columns, labels, rhs, kind, kw, spec, settings, tl))
            else:
                spec = ModelSpec(outcome=outcome, exposure=exposure, covariates=rhs,
                                 exposure_type=analysis.type, covariate_set=set_name,
                                 study=study, outcome_label=outcome_label,
                                 exposure_label=analysis.exposure_label or label)
                run = (lambda spec=spec, kind=kind, kw=kw: _single_fit(design, spec, kind, kw, settings))
            jobs.append(_Job(f"{name}: {outcome}", lambda run=run, name=name, label=label:
                             run().assign(analysis=name, analysis_label=label)))
    return jobs


def exposures_frame(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The stage's records: :data:`EXPOSURE_COLUMNS`, record columns checked by ``records_frame``."""
    if not frames:
        return pd.DataFrame(columns=EXPOSURE_COLUMNS)
    rows = pd.concat(frames, ignore_index=True)
    return pd.concat([rows[["analysis", "analysis_label"]], records_frame(rows[RECORD_COLUMNS])], axis=1)


def run_exposure_definitions(table: pd.DataFrame, nh: NhanesSettings, *, progress: bool = True,
                             n_jobs: Workers = 1) -> pd.DataFrame:
    """Fit every analysis x outcome (module docstring); records in params order. ``n_jobs`` worker processes
    (the stage passes ``compute.n_jobs``; results in job order, identical for any value up to rounding)."""
    jobs = exposure_jobs(table, nh)
    return exposures_frame(run_jobs([(j.label, j.run) for j in jobs], desc="NHANES exposure definitions",
                                    n_jobs=n_jobs, progress=progress))


def stage() -> str:
    """DVC stage ``exposures_nhanes``: the headline models with each alternative exposure definition."""
    params = load()
    table = io.read_parquet(config.PROCESSED / "nhanes.parquet")
    records = run_exposure_definitions(table, params.nhanes, n_jobs=params.compute.n_jobs)
    io.write_outputs({config.REPORTS / "metrics" / "nhanes_exposures.csv": records})
    return f"NHANES exposure definitions: {len(records)} records"
