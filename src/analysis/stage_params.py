"""The keys of ``params.yaml`` each DVC stage reads: the stages' parameter dependencies, one small file each.

**Why a file per stage, not DVC ``params:``.** DVC records the value of every declared params key in ``dvc.lock``
and round-trips the whole lock (pure-Python YAML, about 0.15 ms a line) after every stage it runs; it also parses
``params.yaml`` once per stage, and walks it once per declared key, at every ``dvc status`` and ``dvc repro``.
With every stage's keys declared, the recorded values were 4,464 of the lock's 7,700 lines: about 30 s of a cold
run and a third of a no-op's 2.9 s (issue 23; benchmarks/README.md, "DVC's own overhead"). So the first stage,
``params`` (``python -m analysis params``), checks the whole file against the typed schema, then writes each
stage's keys and their values to ``data/params/<stage>.json``, and each stage depends on that file instead: the
same rule as DVC's ("a stage reruns when a value it reads changes, and only then"), with one JSON file to hash
per stage in place of the values in the lock. The ``params`` stage declares the whole of ``params.yaml`` to DVC,
so ``dvc params diff``, ``dvc exp show`` and ``dvc exp run -S`` see every key, and a bad value stops ``dvc repro``
at its first stage, before any other stage removes an output.

**What a stage declares.** The keys below are dotted paths of mapping keys (as DVC's; a list cannot be indexed):
a block read whole or nearly whole is one key. tests/test_pipeline.py traces every key each stage reads through
its typed settings in a real run (:mod:`analysis.core.settings`) and fails on a key read but not declared here,
and on a key declared but never read; tests/test_stage_deps.py checks that each key exists, that none lies below
another of the same stage, and that dvc.yaml gives each stage here its file (and no stage DVC ``params:``).

**A slice cannot go stale.** A stage that loads its settings under DVC (``$DVC_STAGE``) compares its file with
``params.yaml`` and stops with a clear message when they differ (``params.yaml`` edited, then one stage run alone
with ``dvc repro --single-item``): :func:`analysis.core.settings.check_stage_slice`.
"""

from __future__ import annotations

from pathlib import Path

from analysis.core.io import staged_outputs, write_text
from analysis.core.settings import SLICES, params_path, params_slice, read_yaml, slice_text
from analysis.params import load  # every study's schema: the params stage's deps, no other stage's

#: DVC stage name -> the params.yaml keys it reads (stages that read none, such as the reviewer index, are absent).
STAGE_PARAMS: dict[str, tuple[str, ...]] = {
    "fetch_nhanes": ("data",),
    "clean_nhanes": (
        "nhanes.cycles", "nhanes.followup_variable", "nhanes.cvd_death_causes", "nhanes.phq9_cutoff",
        "nhanes.weight_domains", "nhanes.indices", "nhanes.models.covariate_sets", "reliability.ci_level",
    ),
    "models_nhanes": ("nhanes.study", "nhanes.models", "nhanes.phq9_cutoff", "compute.n_jobs"),
    "exposures_nhanes": (
        "nhanes.study", "nhanes.exposure_definitions", "nhanes.indices", "nhanes.models", "nhanes.phq9_cutoff",
        "compute.n_jobs",
    ),
    "mi_nhanes": ("nhanes.study", "nhanes.imputation", "nhanes.models", "nhanes.phq9_cutoff", "compute.n_jobs"),
    "specifications_nhanes": (
        "nhanes.study", "nhanes.cycles", "nhanes.models", "nhanes.imputation", "nhanes.specification_curve",
        "compute.n_jobs", "compute.scheduler",
    ),
    "sensitivity_nhanes": (
        "nhanes.study", "nhanes.sensitivity", "nhanes.models", "nhanes.phq9_cutoff", "compute.n_jobs",
    ),
    "report_nhanes": (
        "nhanes.models", "nhanes.sensitivity", "nhanes.dag", "nhanes.reports", "reports.figure_formats",
        "compute.n_jobs",
    ),
    "fetch_nhanes_cognition": ("data",),
    "clean_nhanes_cognition": ("nhanes.cycles", "nhanes.cognition"),
    "cognition_nhanes": ("nhanes.study", "nhanes.cognition", "nhanes.models", "reports.figure_formats"),
    "reach_nhanes": (
        "reports.figure_formats", "nhanes.indices", "nhanes.models.lonely_psu", "nhanes.models.alpha", "nhanes.reach",
    ),
    "fetch_gss": ("data",),
    "clean_gss": ("gss.panels", "gss.evenings_per_year", "reliability"),
    "models_gss": (
        "gss.study", "gss.panel_models", "gss.panel_lagged", "gss.panel_weighted", "gss.assumed_reliability",
        "gss.models_2020", "compute.n_jobs",
    ),
    "report_gss": (
        "reports.figure_formats", "gss.panel_models", "gss.panel_lagged.exposures", "gss.panel_weighted.weight",
        "gss.contact_levels", "gss.models_2020.models",
    ),
    "reach_gss": ("gss.study", "gss.reach", "reliability", "compute.n_jobs", "reports.figure_formats"),
    "fetch_places": ("data",),
    "clean_places": ("places.clean",),
    "models_places": ("places.study", "places.county_models", "places.panel_models", "compute.n_jobs"),
    "report_places": (
        "reports.figure_formats", "places.county_models", "places.panel_models", "places.report", "compute.n_jobs",
    ),
    "fetch_places_infrastructure": ("data",),
    "infrastructure_places": (
        "places.study", "places.county_models.outcomes", "places.county_models.covariate_sets",
        "places.infrastructure", "reports.figure_formats",
    ),
    "county_maps": (
        "reports.figure_formats", "places.infrastructure.exposures", "places.infrastructure.mediators",
        "places.infrastructure.map_exposure",
    ),
    "fetch_countries": ("data",),
    "clean_countries": ("countries.years",),
    "models_countries": ("countries.models",),
    "report_countries": ("countries", "reports.figure_formats"),
    "synthetic_cohort": ("cohorts.synthetic",),
    "clean_cohorts": (
        "cohorts.variables", "cohorts.condition_codes", "cohorts.partnered_codes", "cohorts.loneliness_lonely_cutoff",
        "cohorts.isolation_index", "cohorts.studies", "cohorts.synthetic",
    ),
    # cohorts.studies: each study's carry_forward
    "models_cohorts": ("cohorts.models", "cohorts.studies", "disclosure", "compute.n_jobs"),
    "report_cohorts": ("disclosure.min_cell", "reports.figure_formats"),
    "triangulation": (
        "reports.figure_formats", "nhanes.phq9_cutoff", "nhanes.models", "gss.panel_models.outcomes",
        "places.county_models.outcomes", "places.report.covariate_set", "countries.models",
        "countries.report.covariate_set",
    ),
    "notebook_nhanes": ("nhanes.indices", "nhanes.models.covariate_sets"),
    "notebook_gss": ("gss.panel_models", "gss.reach"),
    "notebook_cohorts": ("cohorts.synthetic.truth",),
    "notebook_places": ("places.county_models",),
    "paper": (
        "disclosure.min_cell", "reports.figure_formats", "nhanes.study", "nhanes.cycles", "nhanes.cvd_death_causes",
        "nhanes.phq9_cutoff", "nhanes.indices", "nhanes.models", "nhanes.imputation", "nhanes.sensitivity",
        "nhanes.cognition.dsst_covariates", "nhanes.reach.groupings", "gss", "places.county_models",
        "places.report.covariate_set", "places.infrastructure.exposures", "places.infrastructure.mediators",
        "countries", "cohorts.isolation_index.items", "cohorts.models.depression.covariates",
        "cohorts.models.hazards.covariates", "cohorts.synthetic.persons", "cohorts.synthetic.waves",
        "cohorts.synthetic.age_range", "compute.n_jobs",
    ),
}


def write_slices(path: str | Path | None = None, dest: str | Path = SLICES) -> str:
    """``python -m analysis params``: validate the whole of params.yaml (every problem listed, nothing written),
    then write ``<dest>/<stage>.json`` for every stage of :data:`STAGE_PARAMS`, all or none."""
    path = params_path(path)
    load(path)
    data = read_yaml(path)
    with staged_outputs():
        for stage, keys in STAGE_PARAMS.items():
            write_text(Path(dest) / f"{stage}.json", slice_text(params_slice(data, keys, path)))
    return f"{path}: valid; the keys of {len(STAGE_PARAMS)} stages written to {dest}/<stage>.json"
