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

import math
from typing import Any, Callable

import pandas as pd

from analysis.core import config, io
from analysis.core.metrics import clean_number, ecological_metrics
from analysis.estimators.panel import FITS, KERNELS, PanelLayout, PanelOptions, prepare_panel
from analysis.estimators.records import ModelSpec, check_columns, formula_variables, records_frame
from analysis.estimators.runner import run_jobs
from analysis.studies.countries.settings import load

#: Estimator name of the spec (``countries.models.estimators``) -> (the panel fitter, its ``cov_type``).
SPECIFICATIONS: dict[str, tuple[str, str]] = {
    "pooled_ols": ("pooled_ols", "clustered"),
    "random_effects": ("random_effects", "clustered"),
    "within_between": ("mundlak", "clustered"),
    "two_way_fe_clustered": ("fixed_effects", "clustered"),
    "two_way_fe_driscoll_kraay": ("fixed_effects", "kernel"),
}
#: Estimator name of the spec -> the comparison its exposure coefficient makes.
ESTIMATORS: dict[str, str] = {
    "pooled_ols": "pooled OLS: between + within countries",
    "random_effects": "random effects: between + within countries, GLS-weighted",
    "within_between": "within-between (Mundlak) random-effects model",
    "two_way_fe_clustered": "two-way fixed effects (country and year): within-country",
    "two_way_fe_driscoll_kraay": "two-way fixed effects (country and year): within-country",
}
#: The record's (``model``, ``vcov``) -> the spec's estimator name: the names tables and metrics show.
SPECIFICATION_OF: dict[tuple[str, str], str] = {
    ("pooled_ols", "cluster"): "pooled_ols", ("random_effects", "cluster"): "random_effects",
    ("mundlak", "cluster"): "within_between", ("fixed_effects", "cluster"): "two_way_fe_clustered",
    ("fixed_effects", "driscoll_kraay"): "two_way_fe_driscoll_kraay",
}
#: How the panel fitters name a country and a year in their notes.
UNIT_WORDS = {"unit": "country", "units": "countries", "period": "year"}
#: The first words of every record's note.
ECOLOGICAL_NOTE = ("ECOLOGICAL association at the country level (country-year means and GBD estimates, "
                   "countries weighted equally): not evidence about individuals")
#: Every record's note says that the country panel is descriptive (issue 15 item 10), and why.
DESCRIPTIVE_NOTE = ("DESCRIPTIVE: the GBD 2019 series are modelled estimates, smoothed over time, so they barely move "
                    "within a country (depression: SD of within-country deviations about 0.1 percentage points "
                    "against 0.9 between countries; reports/metrics/countries.json 'variation'); the within-country "
                    "estimates describe the smoother as much as the countries and are kept out of the triangulation")
BETWEEN_TERM_LABEL = PanelLayout(entity="iso3", time="year", **UNIT_WORDS).between_label
#: Columns of :func:`variation_summary`.
VARIATION_COLUMNS = ["variable", "countries", "country_years", "mean", "sd_overall", "sd_between", "sd_within",
                     "within_share_of_variance"]


def specification_keys(records: pd.DataFrame) -> pd.Series:
    """The spec's estimator name of every record (``model`` and ``vcov`` -> e.g. "two_way_fe_driscoll_kraay"):
    the column headers of the tables and the keys of ``countries.json``."""
    return pd.Series([SPECIFICATION_OF.get((m, v), m) for m, v in zip(records["model"], records["vcov"])],
                     index=records.index, dtype=object)


def variation_summary(panel: pd.DataFrame, columns: list[str], entity: str = "iso3") -> pd.DataFrame:
    """Per variable (its non-missing country-years): countries, country-years, mean, and the overall,
    between-country and within-country SD, as Stata's ``xtsum``: ``sd_between`` is the SD of the country
    means, ``sd_within`` the SD of each country-year's deviation from its country's mean (both ddof 1);
    ``within_share_of_variance`` = within sum of squares / total sum of squares. This is what the fixed-effects
    estimators have to work with: GBD's smoothed depression series have almost none (issue 15 item 10)."""
    check_columns(panel, [entity, *columns], "the variation summary")
    rows = []
    for column in columns:
        data = panel[[entity, column]].dropna()
        within = data[column] - data.groupby(entity)[column].transform("mean")
        total_ss = float(((data[column] - data[column].mean()) ** 2).sum())
        rows.append({
            "variable": column, "countries": int(data[entity].nunique()), "country_years": int(len(data)),
            "mean": float(data[column].mean()), "sd_overall": float(data[column].std(ddof=1)),
            "sd_between": float(data.groupby(entity)[column].mean().std(ddof=1)),
            "sd_within": float(within.std(ddof=1)),
            "within_share_of_variance": float((within ** 2).sum() / total_ss) if total_ss > 0 else math.nan,
        })
    return pd.DataFrame(rows, columns=VARIATION_COLUMNS)


def study_notes(records: pd.DataFrame, exposure: str, scale: float, sensitivity: str) -> pd.DataFrame:
    """The records with the study's words around each fitter's note: ecological, descriptive, the scale of the
    exposure and (for a sensitivity exposure) what it changes."""
    scale_text = f"estimate per {scale:g} units of {exposure}" if scale != 1 else f"estimate per unit of {exposure}"
    notes = ["; ".join(part for part in (ECOLOGICAL_NOTE, DESCRIPTIVE_NOTE, note, scale_text, sensitivity) if part)
             for note in records["note"]]
    return records_frame(records.assign(note=notes))


# ---------------------------------------------------------------------------------------------
# The stage


def _require(mapping: Any, key: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ValueError(f"country models spec needs the key '{key}' (params.yaml countries.models.{key})")
    return mapping[key]


def _check_spec(panel: pd.DataFrame, spec: dict[str, Any]) -> dict[str, Any]:
    """Every key read, checked before anything is fit; returns the normalised pieces."""
    entity, time = _require(spec, "entity"), _require(spec, "time")
    outcomes, exposures = _require(spec, "outcomes"), _require(spec, "exposures")
    if not outcomes or not exposures:
        raise ValueError("country models spec needs at least one outcome and one exposure "
                         "(countries.models.outcomes, countries.models.exposures)")
    sets = spec.get("covariate_sets") or {"unadjusted": ""}
    if not isinstance(sets, dict):
        raise ValueError("countries.models.covariate_sets must map a name to a formula right-hand side, "
                         f"e.g. {{gdp: 'log_gdp_per_capita'}}; got {sets!r}")
    estimators = list(spec.get("estimators") or ESTIMATORS)
    unknown = [e for e in estimators if e not in ESTIMATORS]
    if unknown:
        raise ValueError(f"countries.models.estimators: {unknown} unknown; use any of {list(ESTIMATORS)}")
    dk = spec.get("driscoll_kraay") or {}
    kernel = str(dk.get("kernel", "bartlett")).lower()
    if kernel not in KERNELS:
        raise ValueError(f"countries.models.driscoll_kraay.kernel is {kernel!r}; use one of {list(KERNELS)}")
    bandwidth = dk.get("bandwidth")
    if bandwidth is not None and (not isinstance(bandwidth, (int, float)) or bandwidth < 0):
        raise ValueError(f"countries.models.driscoll_kraay.bandwidth is {bandwidth!r}; give a number >= 0, or "
                         "null for the rule of thumb floor(4 (T/100)^(2/9))")

    check_columns(panel, [entity], "countries.models.entity")
    check_columns(panel, [time], "countries.models.time")
    for name, o in outcomes.items():
        check_columns(panel, [(o or {}).get("column", name)], f"countries.models.outcomes.{name}")
    for name, e in exposures.items():
        check_columns(panel, [name], f"countries.models.exposures.{name}")
        scale = (e or {}).get("scale", 1)
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0:
            raise ValueError(f"countries.models.exposures.{name}.scale is {scale!r}; give a number > 0 "
                             "(e.g. 0.1: the coefficient per 0.1 of the exposure)")
    for name, rhs in sets.items():
        check_columns(panel, formula_variables(rhs or ""), f"countries.models.covariate_sets.{name}")
    repeated = panel.duplicated([entity, time], keep=False)
    if repeated.any():
        first = panel.loc[repeated].iloc[0]
        raise ValueError(f"the country panel has {int(repeated.sum())} rows sharing a ({entity}, {time}) pair, "
                         f"e.g. {entity}={first[entity]!r}, {time}={first[time]!r}: one row per country and year")
    return {"entity": entity, "time": time, "outcomes": outcomes, "exposures": exposures, "sets": sets,
            "estimators": estimators, "kernel": kernel, "bandwidth": bandwidth,
            "alpha": float(spec.get("alpha", 0.05)), "common": bool(spec.get("common_sample", True))}


def run_country_models(panel: pd.DataFrame, spec: dict[str, Any], *, progress: bool = False) -> pd.DataFrame:
    """Fit every outcome x exposure x covariate set x estimator of ``spec``; return records.

    ``spec`` is ``params["countries"]["models"]``. Keys: ``entity`` and ``time`` (columns), ``outcomes``
    (name -> ``{label}``; the name is the column, or give ``column``), ``exposures`` (name -> ``{label,
    scale, term_label, sensitivity}``: ``scale`` 0.1 reports per 0.1; ``term_label`` default "per <scale>";
    ``sensitivity`` a sentence added to the note), ``covariate_sets`` (name -> formula right-hand side; ""
    for none), ``estimators`` (default all of :data:`ESTIMATORS`), ``driscoll_kraay`` (``kernel``,
    ``bandwidth``: null = rule of thumb), ``alpha``, ``common_sample`` (default true), ``study``.

    Returns :data:`~analysis.estimators.records.RECORD_COLUMNS` records, one per outcome x exposure x covariate
    set x estimator (two for ``within_between``: within and between), ``covariate_set`` the set's name,
    ``model`` and ``vcov`` the fitter and its covariance (:data:`SPECIFICATIONS`). A spec naming a missing
    column or an unknown estimator, or a panel with two rows for one country-year, raises a ValueError before
    anything is fit; a fit that fails numerically gives NaN records with ``converged`` False and the error in
    ``note``.
    """
    s = _check_spec(panel, spec)
    study = str(spec.get("study", "countries"))
    layout = PanelLayout(entity=s["entity"], time=s["time"], **UNIT_WORDS)
    union = sorted({v for rhs in s["sets"].values() for v in formula_variables(rhs or "")})
    jobs: list[tuple[str, Callable[[], pd.DataFrame]]] = []
    for exposure, e in s["exposures"].items():
        e = e or {}
        scale = float(e.get("scale", 1))
        term_label = e.get("term_label") or f"per {scale:g}"
        for outcome, o in s["outcomes"].items():
            o = o or {}
            column = o.get("column", outcome)
            data = panel.dropna(subset=[column, exposure, *union]) if s["common"] else panel
            for set_name, rhs in s["sets"].items():
                model_spec = ModelSpec(outcome=outcome, exposure=exposure, covariates=rhs or "",
                                       covariate_set=set_name, study=study, outcome_label=o.get("label", outcome),
                                       exposure_label=e.get("label", exposure))
                p = prepare_panel(data, model_spec, layout, outcome=column)
                for estimator in s["estimators"]:
                    fitter, cov_type = SPECIFICATIONS[estimator]
                    options = PanelOptions(alpha=s["alpha"], cov_type=cov_type, kernel=s["kernel"],
                                           bandwidth=s["bandwidth"], scale=scale, term_label=term_label)
                    jobs.append((f"{estimator} {outcome} ~ {exposure} | {set_name}",
                                 lambda fitter=fitter, p=p, options=options, scale=scale, e=e: study_notes(
                                     FITS[fitter](p, options), p.spec.exposure, scale, e.get("sensitivity", ""))))
    out = run_jobs(jobs, desc="country models", progress=progress)
    return records_frame(pd.concat(out, ignore_index=True)) if out else records_frame()


def stage() -> str:
    """DVC stage ``models_countries``: the country panel models and the metrics."""
    models = load().countries.models
    panel = io.read_parquet(config.PROCESSED / "countries_panel.parquet")
    records = run_country_models(panel, models.model_dump(exclude_none=True), progress=True)
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
