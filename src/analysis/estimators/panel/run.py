"""The panel stage of a spec: every outcome x exposure x estimator of a ``panel_models`` block, and the tests."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from analysis.estimators.panel.common import PanelOptions
from analysis.estimators.panel.conditional_logit import estimate_conditional_logit
from analysis.estimators.panel.fixed_effects import estimate_first_difference, estimate_fixed_effects
from analysis.estimators.panel.multilevel import estimate_growth_multilevel
from analysis.estimators.panel.mundlak import estimate_mundlak
from analysis.estimators.panel.pooled import estimate_pooled_ols, estimate_random_effects
from analysis.estimators.panel.sample import PanelLayout, PanelSample, prepare_panel
from analysis.estimators.panel.specification_tests import hausman, mundlak_wald, panel_tests_frame
from analysis.estimators.panel_spec import Estimator, PanelSpec
from analysis.estimators.records import (
    MAIN_SAMPLE,
    ModelSpec,
    check_columns,
    formula_variables,
    records_frame,
)
from analysis.estimators.runner import run_jobs

#: The estimators a ``panel_models`` spec may list (its ``estimators``) -> what the exposure coefficient
#: compares. The record's ``model`` is the same name, except ``multilevel`` (:data:`RECORD_MODELS`).
ESTIMATORS: dict[str, str] = {
    "pooled_ols": "between + within (pooled OLS)",
    "random_effects": "between + within (random effects)",
    "fixed_effects": "within-unit (two-way FE)",
    "first_difference": "within-unit (first differences)",
    "mundlak": "within-between (Mundlak)",
    "conditional_logit": "within-unit (conditional logit)",
    "multilevel": "between + within (multilevel growth)",
}
assert set(Estimator.__args__) == set(ESTIMATORS), "the schema's estimators and ESTIMATORS differ"
#: A spec's estimator name -> the record's ``model`` (analysis.estimators.records.MODELS).
RECORD_MODELS: dict[str, str] = {name: name for name in ESTIMATORS} | {"multilevel": "multilevel_linear"}
#: The fit of each estimator name, on a prepared sample.
FITS: dict[str, Callable[[PanelSample, PanelOptions], pd.DataFrame]] = {
    "pooled_ols": estimate_pooled_ols,
    "random_effects": estimate_random_effects,
    "fixed_effects": estimate_fixed_effects,
    "first_difference": estimate_first_difference,
    "mundlak": estimate_mundlak,
    "conditional_logit": estimate_conditional_logit,
    "multilevel": estimate_growth_multilevel,
}


def run_panel_models(
    panel: pd.DataFrame, spec: PanelSpec, *, study: str = "", progress: bool = True, n_jobs: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit every outcome x exposure x estimator of a panel spec; return ``(records, tests)``.

    ``spec`` (:class:`~analysis.estimators.panel_spec.PanelSpec`, e.g. params.yaml ``gss.panel_models``): the
    entity and time columns, the outcomes (name -> label, binary, column), the exposures (name -> label, type),
    the time-varying ``covariates`` and time-invariant ``invariant`` formulas and their ``covariate_set`` name,
    the ``estimators``, an optional ``weight`` (and ``weighted``), the records' ``sample`` and ``alpha``.
    ``n_jobs`` worker processes share the fits (every fit is deterministic; results come back in job order).

    ``records`` has :data:`~analysis.estimators.records.RECORD_COLUMNS`, one row per outcome x exposure x estimator
    x exposure term (plus the Mundlak between-unit term); ``conditional_logit`` is fit for binary outcomes
    only. ``tests`` has :data:`~analysis.estimators.panel.specification_tests.PANEL_TEST_COLUMNS`: per outcome x
    exposure, the classical Hausman test when both ``fixed_effects`` and ``random_effects`` are listed, the
    Mundlak Wald tests (joint, and the exposure alone) when ``mundlak`` is. A column named in the spec but absent
    from ``panel``, or an unknown estimator, raises a ValueError before anything is fit; a fit that fails
    numerically gives NaN rows with ``converged`` False and the error in ``note``.
    """
    layout = PanelLayout(entity=spec.entity, time=spec.time, cluster=spec.cluster, invariant=spec.invariant,
                         weight=spec.weight, weighted=spec.weighted)
    sample, covariate_set, covariates = spec.sample or MAIN_SAMPLE, spec.covariate_set, spec.covariates
    outcomes, exposures, estimators = spec.outcomes, spec.exposures, list(spec.estimators)
    options = PanelOptions(alpha=spec.alpha, validate=False)  # the records are validated once, at the end

    check_columns(panel, [layout.entity], "panel_models.entity")
    check_columns(panel, [layout.time], "panel_models.time")
    check_columns(panel, [layout.cluster_column], "panel_models.cluster")
    if layout.weight:
        check_columns(panel, [layout.weight], "panel_models.weight")
    check_columns(panel, formula_variables(covariates), "panel_models.covariates")
    check_columns(panel, formula_variables(layout.invariant), "panel_models.invariant")
    for name, o in outcomes.items():
        check_columns(panel, [o.column or name], f"panel_models.outcomes.{name}")
    for name in exposures:
        check_columns(panel, [name], f"panel_models.exposures.{name}")

    jobs: list[tuple[str, Callable[[], pd.DataFrame], bool]] = []
    for exposure, e in exposures.items():
        for name, o in outcomes.items():
            binary = o.binary
            model_spec = ModelSpec(outcome=name, exposure=exposure, covariates=covariates, exposure_type=e.type,
                                   study=study, outcome_label=o.label, exposure_label=e.label,
                                   covariate_set=covariate_set, sample=sample)
            # prepared before anything is fit, so a data problem (duplicate unit-times, a non-0/1 binary
            # outcome) stops the stage at once
            p = prepare_panel(panel, model_spec, layout, outcome=o.column or name, binary=binary)
            for estimator in estimators:
                if estimator == "conditional_logit" and not binary:
                    continue
                jobs.append((f"{estimator} {name} ~ {exposure}",
                             lambda estimator=estimator, p=p: FITS[estimator](p, options), True))
            if "fixed_effects" in estimators and "random_effects" in estimators:
                jobs.append((f"Hausman {name} ~ {exposure}", lambda p=p: hausman(p), False))
            if "mundlak" in estimators:
                jobs.append((f"Mundlak test {name} ~ {exposure}", lambda p=p: mundlak_wald(p), False))
                jobs.append((f"Mundlak test {name} ~ {exposure} alone",
                             lambda p=p: mundlak_wald(p, exposure_only=True), False))

    records, tests = [], []
    results = run_jobs([(label, run) for label, run, _ in jobs], desc=f"{study or 'panel'} panel models",
                       n_jobs=n_jobs, progress=progress)
    for (_, _, is_record), result in zip(jobs, results):
        (records if is_record else tests).append(result)
    return (records_frame(pd.concat(records, ignore_index=True)) if records else records_frame(),
            panel_tests_frame(tests))
