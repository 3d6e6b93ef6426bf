"""Country-level panel models: national social support and CVD mortality / depression, country-years.

These are **ecological** associations. Each row of the panel is a country-year: the share of a country's
Gallup sample who have someone to count on (WHR) and the GBD estimate of the country's age-standardised CVD
death rate or depression prevalence. A coefficient says how a *country's* outcome moves with its *share*
of supported people; it says nothing about whether supported *individuals* fare better (the ecological
fallacy), and every record's ``note`` begins by saying so.

**The country panel is descriptive** (:data:`DESCRIPTIVE_NOTE`, in every note). GBD's estimates are model
outputs smoothed over time: depression prevalence varies about ten times less within countries than between
them (:func:`variation_summary`, written to the metrics), so a within-country coefficient mostly describes
the smoothing, not how a country's depression followed its social support. The estimates are reported, and
the between-country coefficients enter the cross-design comparison; the within-country ones do not.

Estimators (``spec["estimators"]``), side by side because they answer different questions about the same
data; each is a fitter of :mod:`analysis.estimators.panel` with a named covariance (:data:`SPECIFICATIONS`):

==========================  ===================  =======================================================
``spec["estimators"]``      record ``model``,    what the exposure coefficient compares
                            ``vcov``
==========================  ===================  =======================================================
pooled_ols                  pooled_ols,          every country-year with every other (between + within
                            cluster              countries), year dummies; SE clustered by country
random_effects              random_effects,      the same, GLS-weighted towards within-country contrasts
                            cluster              (Swamy-Arora, ``small_sample=True``)
within_between              mundlak, cluster     within-country coefficient (equals two-way FE) and, as a
                                                 second record, the between-country coefficient of the
                                                 country mean
two_way_fe_clustered        fixed_effects,       a country's years with its own other years, net of the
                            cluster              year effects shared by all countries
two_way_fe_driscoll_kraay   fixed_effects,       the same coefficient; Driscoll-Kraay SE (``cov_type=
                            driscoll_kraay       "kernel"``): robust to correlation between countries
                                                 within a year and to serial correlation up to the
                                                 bandwidth
==========================  ===================  =======================================================

The spec's estimator names stay the names of the tables and of ``countries.json``: :func:`specification_keys`
maps each record back to its name.

**Standard errors.** Clustered by country: linearmodels' uncorrected cluster covariance times ``G/(G-1)``
(``debiased=False``, absorbed effects not counted), the convention of :mod:`analysis.estimators.panel`.
Driscoll-Kraay: linearmodels' kernel covariance on the two-way demeaned data, Bartlett kernel by default,
bandwidth ``floor(4 (T/100)^(2/9))`` (2 for 15 years; Newey-West's rule, as Hoechle's xtscc) unless the spec
gives one, with no small-sample factor: the plain ``(X'X)^-1 S (X'X)^-1`` with ``S = sum_j k(j) (Gamma_j +
Gamma_j')``, ``Gamma_j`` the lag-j autocovariance of the year sums of the scores. With 15 years Driscoll-Kraay
SEs rest on few time points and can be too small; the clustered SEs beside them are the check.

**Sample.** One analytic sample per outcome x exposure: country-years with the outcome, the exposure and
every variable of every covariate set present (``common_sample: false`` makes it one per covariate set), so
adjusted and unadjusted estimates differ only by the adjustment. Countries observed in one year carry no
within-country contrast: the FE fits drop them (counted in ``note``). ``n`` is the number of country-years a
fit used; ``n_groups`` the number of countries (clusters; years for Driscoll-Kraay). Countries are weighted
equally (record ``design`` ``"unweighted"``).

**Scale.** ``exposures.<name>.scale`` (e.g. 0.1) reports the coefficient per that many units of the exposure
(estimate, SE and CI multiplied by it): for social support, a share, 0.1 = 10 percentage points.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from analysis.core import config, io
from analysis.core.metrics import clean_number, ecological_metrics
from analysis.estimators.panel import FITS, KERNELS, PanelLayout, PanelOptions, prepare_panel
from analysis.estimators.records import ModelSpec, check_columns, formula_variables, records_frame
from analysis.estimators.runner import run_jobs
from analysis.studies.countries.keys import (  # noqa: F401  (the names the report reads: part of this API)
    BETWEEN_TERM_LABEL,
    DESCRIPTIVE_NOTE,
    ECOLOGICAL_NOTE,
    SPECIFICATION_OF,
    UNIT_WORDS,
    VARIATION_COLUMNS,
    specification_keys,
    variation_summary,
)
from analysis.studies.countries.settings import CountryEstimator, CountryModels, Kernel, load

#: Estimator name of the spec (``countries.models.estimators``) -> (the panel fitter, its ``cov_type``).
SPECIFICATIONS: dict[str, tuple[str, str]] = {
    "pooled_ols": ("pooled_ols", "clustered"),
    "random_effects": ("random_effects", "clustered"),
    "within_between": ("mundlak", "clustered"),
    "two_way_fe_clustered": ("fixed_effects", "clustered"),
    "two_way_fe_driscoll_kraay": ("fixed_effects", "kernel"),
}
assert set(CountryEstimator.__args__) == set(SPECIFICATIONS), "the schema's estimators and SPECIFICATIONS differ"
assert set(Kernel.__args__) == set(KERNELS), "the schema's kernels and the library's KERNELS differ"
#: Estimator name of the spec -> the comparison its exposure coefficient makes.
ESTIMATORS: dict[str, str] = {
    "pooled_ols": "pooled OLS: between + within countries",
    "random_effects": "random effects: between + within countries, GLS-weighted",
    "within_between": "within-between (Mundlak) random-effects model",
    "two_way_fe_clustered": "two-way fixed effects (country and year): within-country",
    "two_way_fe_driscoll_kraay": "two-way fixed effects (country and year): within-country",
}
def study_notes(records: pd.DataFrame, exposure: str, scale: float, sensitivity: str) -> pd.DataFrame:
    """The records with the study's words around each fitter's note: ecological, descriptive, the scale of the
    exposure and (for a sensitivity exposure) what it changes.

    ``records`` is a fitter's validated records frame and only its text column ``note`` changes, so the frame
    is not validated again here: :func:`run_country_models` validates all records once."""
    scale_text = f"estimate per {scale:g} units of {exposure}" if scale != 1 else f"estimate per unit of {exposure}"
    notes = ["; ".join(part for part in (ECOLOGICAL_NOTE, DESCRIPTIVE_NOTE, note, scale_text, sensitivity) if part)
             for note in records["note"]]
    return records.assign(note=notes)


# ---------------------------------------------------------------------------------------------
# The stage


def check_panel(panel: pd.DataFrame, spec: CountryModels) -> None:
    """The columns the spec names, and one row per country and year, checked before anything is fit (the
    schema, studies/countries/settings.py, checked the spec itself)."""
    check_columns(panel, [spec.entity], f"params.yaml {spec.key('entity')}")
    check_columns(panel, [spec.time], f"params.yaml {spec.key('time')}")
    for name, o in spec.outcomes.items():
        check_columns(panel, [o.column or name], f"params.yaml {spec.key('outcomes', name)}")
    for name in spec.exposures:
        check_columns(panel, [name], f"params.yaml {spec.key('exposures', name)}")
    for name, rhs in spec.covariate_sets.items():
        check_columns(panel, formula_variables(rhs), f"params.yaml {spec.key('covariate_sets', name)}")
    repeated = panel.duplicated([spec.entity, spec.time], keep=False)
    if repeated.any():
        first = panel.loc[repeated].iloc[0]
        raise ValueError(f"the country panel has {int(repeated.sum())} rows sharing a ({spec.entity}, {spec.time}) "
                         f"pair, e.g. {spec.entity}={first[spec.entity]!r}, {spec.time}={first[spec.time]!r}: one row "
                         "per country and year")


def run_country_models(panel: pd.DataFrame, spec: CountryModels, *, progress: bool = False) -> pd.DataFrame:
    """Fit every outcome x exposure x covariate set x estimator of ``spec``; return records.

    ``spec`` is params.yaml ``countries.models`` (studies/countries/settings.py: the entity and time columns, the
    outcomes, the exposures with their ``scale`` (0.1 reports per 0.1), ``term_label`` and ``sensitivity``, the
    covariate sets, the estimators, the Driscoll-Kraay kernel and bandwidth (null: the rule of thumb), ``alpha``
    and ``common_sample``).

    Returns :data:`~analysis.estimators.records.RECORD_COLUMNS` records, one per outcome x exposure x covariate
    set x estimator (two for ``within_between``: within and between), ``covariate_set`` the set's name,
    ``model`` and ``vcov`` the fitter and its covariance (:data:`SPECIFICATIONS`). A spec naming a missing
    column, or a panel with two rows for one country-year, raises a ValueError before anything is fit; a fit
    that fails numerically gives NaN records with ``converged`` False and the error in ``note``.
    """
    check_panel(panel, spec)
    sets = spec.covariate_sets
    layout = PanelLayout(entity=spec.entity, time=spec.time, **UNIT_WORDS)
    union = sorted({v for rhs in sets.values() for v in formula_variables(rhs)})
    dk = spec.driscoll_kraay
    jobs: list[tuple[str, Callable[[], pd.DataFrame]]] = []
    for exposure, e in spec.exposures.items():
        scale = float(e.scale)
        term_label = e.term_label or f"per {scale:g}"
        for outcome, o in spec.outcomes.items():
            column = o.column or outcome
            data = panel.dropna(subset=[column, exposure, *union]) if spec.common_sample else panel
            for set_name, rhs in sets.items():
                model_spec = ModelSpec(outcome=outcome, exposure=exposure, covariates=rhs, covariate_set=set_name,
                                       study=spec.study, outcome_label=o.label, exposure_label=e.label)
                p = prepare_panel(data, model_spec, layout, outcome=column)
                for estimator in spec.estimators:
                    fitter, cov_type = SPECIFICATIONS[estimator]
                    options = PanelOptions(alpha=spec.alpha, cov_type=cov_type, kernel=dk.kernel,
                                           bandwidth=dk.bandwidth, scale=scale, term_label=term_label)
                    jobs.append((f"{estimator} {outcome} ~ {exposure} | {set_name}",
                                 lambda fitter=fitter, p=p, options=options, scale=scale, note=e.sensitivity:
                                 study_notes(FITS[fitter](p, options), p.spec.exposure, scale, note)))
    out = run_jobs(jobs, desc="country models", progress=progress)  # on one BLAS thread, as every stage (cli)
    return records_frame(pd.concat(out, ignore_index=True)) if out else records_frame()


def stage() -> str:
    """DVC stage ``models_countries``: the country panel models and the metrics."""
    models = load().countries.models
    panel = io.read_parquet(config.PROCESSED / "countries_panel.parquet")
    records = run_country_models(panel, models, progress=True)
    sample = {"countries": int(panel["iso3"].nunique()), "country_years": int(len(panel))}
    metrics = ecological_metrics(records, sample, specification_keys(records))
    entity = models.entity
    columns = [o.column or name for name, o in models.outcomes.items()] + list(models.exposures)
    variation = variation_summary(panel, columns, entity)
    metrics["variation"] = {row.variable: {k: clean_number(getattr(row, k)) for k in VARIATION_COLUMNS[1:]}
                            for row in variation.itertuples()}
    io.write_outputs({config.REPORTS / "metrics" / "countries_models.csv": records,
                      config.REPORTS / "metrics" / "countries.json": metrics})
    return f"country models: {len(records)} records"
