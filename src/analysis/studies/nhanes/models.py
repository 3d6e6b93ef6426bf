"""The NHANES model stage: every exposure x covariate set x outcome x design in ``params.yaml models``.

``run_nhanes_models(table, nh)`` (``nh``: the ``nhanes:`` settings) returns two tidy tables:

* **records** (:data:`~analysis.estimators.records.RECORD_COLUMNS`): one row per outcome, exposure term,
  covariate set and design. Time-to-event outcomes (``models.survival``) are Cox models, cross-sectional ones
  (``models.regression``) logistic or linear GLMs. The **design-based** fits are survey-weighted with
  Taylor-linearised variance, PSUs nested in strata, the analytic sample a domain of the full design, t
  intervals on the design df (:mod:`~analysis.estimators.survey`, as R ``survey::svycoxph``/``svyglm``); the
  **unweighted** fits use :mod:`~analysis.estimators.survival` and :mod:`~analysis.estimators.glm`; the
  **multilevel** fits are mixed models (:mod:`~analysis.estimators.mixed`).
* **ph_tests** (:data:`~analysis.estimators.records.PH_TEST_COLUMNS`): the Schoenfeld-residual
  proportional-hazards test of every term of every Cox model (unweighted fit), flagged at
  ``models.ph_test_alpha``.

Every model's formula is ``"<outcome> ~ <exposure term> + <covariate set>"``: a categorical exposure enters as
``C(<exposure>, Treatment(reference='<first level>'))``, and the covariate set is the right-hand side string
from ``models.covariate_sets``, unchanged - so a student adapts a model by editing that one string.

**One sample per table row** (``models.common_sample``, default true): the nested covariate sets of one
exposure and outcome are fitted on one analytic sample, the complete cases on the outcome, the exposure and the
variables of *every* covariate set, with one survey weight (the MEC weight when any set holds a MEC measure).
So the change from one set to the next is adjustment only, not adjustment mixed with the selection of those
who also have the next set's covariates (the reviewer's point: 13,624 / 12,402 / 11,230 all-cause deaths
models before). With ``common_sample: false`` each model is fitted on its own complete cases with its own
weight. Either way rows missing the outcome (PHQ-9 exists only in 2005-2008), follow-up, the exposure, a
covariate, a design column, or without a positive survey weight are dropped, and the number of rows used is
recorded as ``n``. The weight is required by every design, so the designs of one model share one analytic
sample and differ only in how they estimate. The design-based fits take the sample as a domain (``subset=``)
of the full design.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.core import config, io
from analysis.core.settings import Workers
from analysis.estimators.glm import fit_glm
from analysis.estimators.mixed import fit_multilevel
from analysis.estimators.records import (
    DESIGNS,
    ModelSpec,
    check_columns,
    formula_variables,
    ph_tests_frame,
    records_frame,
)
from analysis.estimators.runner import run_jobs
from analysis.estimators.survey import fit_cox_design, fit_glm_design
from analysis.estimators.survival import cox_ph_test, fit_cox
from analysis.studies.nhanes.metrics import headline_metrics
from analysis.studies.nhanes.schema import model_weight
from analysis.studies.nhanes.settings import Models, NhanesSettings, load

#: Survey-design columns of the analysis table (schema.py): variance unit, stratum and PSU.
CLUSTER, STRATUM, PSU = "cluster", "stratum", "psu"


@dataclass(frozen=True)
class _Job:
    label: str
    kind: str  # "records" or "ph"
    run: Callable[[], pd.DataFrame]


def row_sample(table: pd.DataFrame, models: Models, exposure: str,
               outcome_columns: list[str]) -> tuple[str, np.ndarray] | None:
    """The one analytic sample of the nested models of a table row (``models.common_sample``): ``(weight,
    mask)``, the weight of every set's variables (schema.model_weight: the MEC weight when any set holds a MEC
    measure) and the rows complete on the outcome, the exposure and every set's variables with a positive
    weight. None when ``common_sample`` is false: each model then takes its own complete cases and weight."""
    if not models.common_sample:
        return None
    columns = list(dict.fromkeys([*outcome_columns, exposure,
                                  *(v for rhs in models.covariate_sets.values() for v in formula_variables(rhs))]))
    weight = model_weight(columns, models.weight, models.exam_weight)
    present = table[[*columns, weight]].notna().all(axis=1).to_numpy()
    return weight, present & (pd.to_numeric(table[weight], errors="coerce").fillna(0.0).to_numpy() > 0)


def _check_table(table: pd.DataFrame, models: Models, designs: tuple[str, ...]) -> None:
    """Every column a spec names must be in the table: the error names the column and the spec key (the
    schema checked the names against the table's contract; this checks the table that was read)."""
    check_columns(table, [models.weight], f"params.yaml {models.key('weight')}")
    check_columns(table, [models.exam_weight], f"params.yaml {models.key('exam_weight')}")
    needed = {"design-based": [CLUSTER], "multilevel": [STRATUM, PSU, CLUSTER], "unweighted": []}
    check_columns(table, [c for d in designs for c in needed[d]], f"the survey design of designs {list(designs)}")
    for name in models.exposures:
        check_columns(table, [name], f"params.yaml {models.key('exposures', name)}")
    for name, rhs in models.covariate_sets.items():
        check_columns(table, formula_variables(rhs), f"params.yaml {models.key('covariate_sets', name)}")
    for name, spec in models.survival.items():
        check_columns(table, [spec.duration, spec.event], f"params.yaml {models.key('survival', name)}")
    for name, spec in models.regression.items():
        check_columns(table, [spec.outcome], f"params.yaml {models.key('regression', name, 'outcome')}")


def nhanes_jobs(table: pd.DataFrame, nh: NhanesSettings, designs: tuple[str, ...] = DESIGNS) -> list[_Job]:
    """The fits to run, in order: exposures x covariate sets x outcomes (survival, then regression) x designs."""
    unknown = [d for d in designs if d not in DESIGNS]
    if unknown:
        raise ValueError(f"designs {unknown} unknown; use any of {list(DESIGNS)}")
    models = nh.models
    _check_table(table, models, designs)
    weight, exam_weight = models.weight, models.exam_weight
    alpha, ph_alpha, lonely_psu = models.alpha, models.ph_test_alpha, models.lonely_psu
    study = nh.study
    # The survey design holds every row; a row without a weight (none in the public files) is in the design
    # with weight 0, i.e. outside every analytic domain, and keeps its stratum and PSU.
    design_table = table.assign(**{w: table[w].fillna(0.0) for w in dict.fromkeys([weight, exam_weight])})

    outcomes = {name: [s.duration, s.event] for name, s in models.survival.items()}
    outcomes |= {name: [s.outcome] for name, s in models.regression.items()}

    jobs: list[_Job] = []
    for exposure, exposure_spec in models.exposures.items():
        # one sample (and weight) per exposure x outcome for all covariate sets, or None: each its own
        samples = {name: row_sample(table, models, exposure, columns) for name, columns in outcomes.items()}
        for set_name, rhs in models.covariate_sets.items():
            def spec_for(outcome: str, outcome_label: str, exposure=exposure, rhs=rhs, exposure_spec=exposure_spec,
                         set_name=set_name) -> ModelSpec:
                return ModelSpec(
                    outcome=outcome, exposure=exposure, covariates=rhs, exposure_type=exposure_spec.type,
                    covariate_set=set_name, study=study, outcome_label=outcome_label,
                    exposure_label=exposure_spec.label,
                )

            def sample_of(name: str, columns: list[str], spec: ModelSpec, samples=samples):
                """(weight, design-domain mask or None, the rows for the model-based fits)."""
                if samples[name] is None:
                    # the MEC weight when the model holds a MEC measure (schema.MEC_VARIABLES), else the interview one
                    return model_weight([*columns, *spec.variables()], models.weight, exam_weight), None, table
                weight, mask = samples[name]
                return weight, mask, table.loc[mask]

            for name, s in models.survival.items():
                spec = spec_for(name, s.label)
                kw = dict(duration=s.duration, event=s.event)
                weight, mask, rows = sample_of(name, [s.duration, s.event], spec)
                for design in designs:
                    if design == "design-based":
                        run = (lambda spec=spec, kw=kw, weight=weight, mask=mask: fit_cox_design(
                            design_table, spec, weight=weight, stratum=STRATUM, psu=PSU, lonely_psu=lonely_psu,
                            alpha=alpha, subset=mask, validate=False, **kw))  # checked once, gathered
                    else:  # "multilevel": a baseline hazard per PSU within stratum (CLUSTER), not per stratum
                        run = (lambda spec=spec, kw=kw, design=design, weight=weight, rows=rows: fit_cox(
                            rows, spec, design=design, weight=weight, cluster=CLUSTER, stratum=CLUSTER,
                            alpha=alpha, **kw))
                    jobs.append(_Job(f"cox {name} ~ {exposure} + {set_name} [{design}]", "records", run))
                jobs.append(_Job(f"PH test {name} ~ {exposure} + {set_name}", "ph",
                                 lambda spec=spec, kw=kw, weight=weight, rows=rows: cox_ph_test(
                                     rows, spec, ph_alpha=ph_alpha, weight=weight, **kw)))
            for name, s in models.regression.items():
                spec = spec_for(name, s.label)
                outcome, family = s.outcome, s.family
                weight, mask, rows = sample_of(name, [outcome], spec)
                for design in designs:
                    if design == "multilevel":
                        run = (lambda spec=spec, outcome=outcome, family=family, weight=weight, rows=rows:
                               fit_multilevel(rows, spec, outcome=outcome, family=family, weight=weight,
                                              cluster=CLUSTER, alpha=alpha))
                    elif design == "design-based":
                        run = (lambda spec=spec, outcome=outcome, family=family, weight=weight, mask=mask:
                               fit_glm_design(design_table, spec, outcome=outcome, family=family, weight=weight,
                                              stratum=STRATUM, psu=PSU, lonely_psu=lonely_psu, alpha=alpha,
                                              subset=mask, validate=False))
                    else:
                        run = (lambda spec=spec, outcome=outcome, family=family, design=design, weight=weight,
                               rows=rows: fit_glm(rows, spec, outcome=outcome, family=family, design=design,
                                                  weight=weight, cluster=CLUSTER, alpha=alpha))
                    jobs.append(_Job(f"{family} {name} ~ {exposure} + {set_name} [{design}]", "records", run))
    return jobs


def run_nhanes_models(
    table: pd.DataFrame,
    nh: NhanesSettings,
    *,
    designs: tuple[str, ...] = DESIGNS,
    progress: bool = True,
    n_jobs: Workers = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit every NHANES model in ``params.yaml`` ``nhanes.models``; return ``(records, ph_tests)``.

    ``table`` is the analysis table (schema.py ``NHANES_VARIABLES`` plus the index columns); ``nh`` the
    ``nhanes:`` settings. ``designs`` selects among "design-based", "multilevel" and "unweighted" (all by
    default). A column named in a spec but absent from the table raises a ValueError naming the column and
    the spec key, before anything is fit. A fit that fails numerically gives rows with NaN estimates,
    ``converged`` False and the error in ``note``. A tqdm bar shows progress over the fits.

    ``n_jobs`` (the stage passes ``compute.n_jobs``) worker processes share the fits (joblib/loky, one BLAS
    thread each); every fit is deterministic and results come back in job order, so a rerun with the same
    ``n_jobs`` gives identical records, and another ``n_jobs`` the same records up to floating-point rounding
    (BLAS threading).
    """
    jobs = nhanes_jobs(table, nh, tuple(designs))
    records, ph_tests = [], []
    results = run_jobs([(job.label, job.run) for job in jobs], desc="NHANES models", n_jobs=n_jobs,
                       progress=progress)
    for job, result in zip(jobs, results):
        (records if job.kind == "records" else ph_tests).append(result)
    return (records_frame(pd.concat(records, ignore_index=True)) if records else records_frame(),
            ph_tests_frame(pd.concat(ph_tests, ignore_index=True)) if ph_tests else ph_tests_frame())


def stage() -> str:
    """DVC stage ``models_nhanes``: every NHANES fit as tidy records, the PH tests and the headline metrics."""
    params = load()
    table = io.read_parquet(config.PROCESSED / "nhanes.parquet")
    records, ph_tests = run_nhanes_models(table, params.nhanes, n_jobs=params.compute.n_jobs)
    metrics = config.REPORTS / "metrics"
    io.write_outputs({metrics / "nhanes_models.csv": records, metrics / "nhanes_ph_tests.csv": ph_tests,
                      metrics / "nhanes.json": headline_metrics(records, table, params.nhanes)})
    return f"NHANES models: {len(records)} result records"
