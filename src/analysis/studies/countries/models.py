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

Estimators (``spec["estimators"]``, record ``model``), side by side because they answer different
questions about the same data:

==========================  ========================================================================
``model``                   what the exposure coefficient compares
==========================  ========================================================================
pooled_ols                  every country-year with every other (between + within countries), year
                            dummies; SE clustered by country
random_effects              the same, GLS-weighted towards within-country contrasts (Swamy-Arora,
                            ``small_sample=True``); SE clustered by country
within_between              Mundlak: within-country coefficient (equals two-way FE) and, as a second
                            record, the between-country coefficient of the country mean; SE clustered
two_way_fe_clustered        a country's years with its own other years, net of the year effects
                            shared by all countries; SE clustered by country
two_way_fe_driscoll_kraay   the same coefficient; Driscoll-Kraay SE (linearmodels ``cov_type="kernel"``):
                            robust to correlation between countries within a year and to serial
                            correlation up to the bandwidth
==========================  ========================================================================

**Standard errors.** Clustered by country: linearmodels' uncorrected cluster covariance times ``G/(G-1)``
(``debiased=False``, absorbed effects not counted), the convention of :mod:`analysis.estimators.panel`.
Driscoll-Kraay: linearmodels' ``DriscollKraay`` on the two-way demeaned data, Bartlett kernel by default,
bandwidth ``floor(4 (T/100)^(2/9))`` (2 for 15 years; Newey-West's rule, as Hoechle's xtscc) unless the spec
gives one, with no small-sample factor (``debiased=False``, ``auto_df=False, count_effects=False``): the
plain ``(X'X)^-1 S (X'X)^-1`` with ``S = sum_j k(j) (Gamma_j + Gamma_j')``, ``Gamma_j`` the lag-j
autocovariance of the year sums of the scores. With 15 years Driscoll-Kraay SEs rest on few time points and
can be too small; the clustered SEs beside them are the check.

**Sample.** One analytic sample per outcome x exposure: country-years with the outcome, the exposure and
every variable of every covariate set present (``common_sample: false`` makes it one per covariate set), so
adjusted and unadjusted estimates differ only by the adjustment. Countries observed in one year carry no
within-country contrast: the FE fits drop them (counted in ``note``). ``n`` is the number of country-years a
fit used; the number of countries is in ``note``. Countries are weighted equally (record ``design``
``"unweighted"``; the FE fits carry ``"fixed-effects"``).

**Scale.** ``exposures.<name>.scale`` (e.g. 0.1) reports the coefficient per that many units of the exposure
(estimate, SE and CI multiplied by it): for social support, a share, 0.1 = 10 percentage points.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import pandas as pd
from linearmodels import PanelOLS, PooledOLS, RandomEffects

from analysis.core import config, io
from analysis.core.metrics import clean_number, ecological_metrics
from analysis.estimators.panel import (
    FIT_ERRORS,
    PanelLayout,
    PanelSample,
    fit_mundlak_model,
    multi_wave_rows,
    prepare_panel,
    standard_errors,
    with_constant,
)
from analysis.estimators.records import (
    ModelSpec,
    check_columns,
    formula_variables,
    record_row,
    records_frame,
)
from analysis.estimators.runner import run_jobs
from analysis.estimators.vcov import with_small_sample_factor
from analysis.studies.countries.settings import load

#: Estimator name (record ``model``) -> the comparison its exposure coefficient makes (in every ``note``).
ESTIMATORS: dict[str, str] = {
    "pooled_ols": "pooled OLS: between + within countries",
    "random_effects": "random effects: between + within countries, GLS-weighted",
    "within_between": "within-between (Mundlak) random-effects model",
    "two_way_fe_clustered": "two-way fixed effects (country and year): within-country",
    "two_way_fe_driscoll_kraay": "two-way fixed effects (country and year): within-country",
}
#: Record ``design`` of each estimator (records.RECORD_DESIGNS).
DESIGNS: dict[str, str] = {
    "pooled_ols": "unweighted", "random_effects": "unweighted", "within_between": "unweighted",
    "two_way_fe_clustered": "fixed-effects", "two_way_fe_driscoll_kraay": "fixed-effects",
}
#: The first words of every record's note.
ECOLOGICAL_NOTE = ("ECOLOGICAL association at the country level (country-year means and GBD estimates, "
                   "countries weighted equally): not evidence about individuals")
#: Every record's note says that the country panel is descriptive (issue 15 item 10), and why.
DESCRIPTIVE_NOTE = ("DESCRIPTIVE: the GBD 2019 series are modelled estimates, smoothed over time, so they barely move "
                    "within a country (depression: SD of within-country deviations about 0.1 percentage points "
                    "against 0.9 between countries; reports/metrics/countries.json 'variation'); the within-country "
                    "estimates describe the smoother as much as the countries and are kept out of the triangulation")
BETWEEN_TERM_LABEL = "between-country"
#: Columns of :func:`variation_summary`.
VARIATION_COLUMNS = ["variable", "countries", "country_years", "mean", "sd_overall", "sd_between", "sd_within",
                     "within_share_of_variance"]
KERNELS = ("bartlett", "newey-west", "parzen", "gallant", "qs", "quadratic-spectral", "andrews")


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


def default_bandwidth(periods: int) -> int:
    """Newey-West's rule of thumb for the Bartlett kernel, linearmodels' default: floor(4 (T/100)^(2/9))."""
    return int(math.floor(4 * (periods / 100) ** (2 / 9)))


# ---------------------------------------------------------------------------------------------
# One fit


class _Fit:
    """What one estimator needs besides the prepared sample: exposure scale and labels, options, alpha."""

    def __init__(self, p: PanelSample, *, scale: float, term_label: str, sensitivity: str, kernel: str,
                 bandwidth: int | None, alpha: float):
        self.p, self.scale, self.term_label, self.sensitivity = p, scale, term_label, sensitivity
        self.kernel, self.bandwidth, self.alpha = kernel, bandwidth, alpha

    def sample_text(self, used: pd.Index, dropped: int = 0) -> str:
        years = used.get_level_values(1)
        text = (f"n = {len(used)} country-years of {used.get_level_values(0).nunique()} countries, "
                f"{int(years.min())}-{int(years.max())}")
        if dropped:
            text += f" ({dropped} countries seen in one year only dropped: no within-country contrast)"
        return text

    def records(self, estimator: str, rows: list[tuple[str, str, float, float]], used: pd.Index, note: str,
                converged: bool = True) -> pd.DataFrame:
        """Records from (term, term_label, estimate per unit, SE per unit): scaled, with the full note."""
        scale_text = (f"estimate per {self.scale:g} units of {self.p.spec.exposure}" if self.scale != 1
                      else f"estimate per unit of {self.p.spec.exposure}")
        full = "; ".join(part for part in (ECOLOGICAL_NOTE, DESCRIPTIVE_NOTE, note, scale_text, self.sensitivity)
                         if part)
        out = []
        for term, term_label, estimate, std_error in rows:
            row = record_row(self.p.spec, term, term_label, estimate * self.scale, std_error * self.scale,
                             model="linear", design=DESIGNS[estimator], n=len(used), events=math.nan,
                             converged=converged, note=full, alpha=self.alpha)
            row["model"] = estimator
            out.append(row)
        return records_frame(out)

    def exposure_rows(self, params: pd.Series, se: pd.Series) -> list[tuple[str, str, float, float]]:
        term = self.p.spec.exposure
        return [(term, self.term_label, float(params[term]), float(se[term]))]

    def failed(self, estimator: str, err: BaseException, used: pd.Index) -> pd.DataFrame:
        rows = [(self.p.spec.exposure, self.term_label, math.nan, math.nan)]
        if estimator == "within_between":
            rows.append((f"{self.p.spec.exposure}:between", f"{BETWEEN_TERM_LABEL}, {self.term_label}",
                         math.nan, math.nan))
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        return self.records(estimator, rows, used, f"{estimator} fit failed ({type(err).__name__}): {message}",
                            converged=False)


def _cluster_text(g: int) -> str:
    return f"SE clustered by country ({g} clusters, uncorrected sandwich x G/(G-1))"


def _pooled_ols(f: _Fit) -> pd.DataFrame:
    p, used = f.p, f.p.index
    try:
        result = PooledOLS(p.y, with_constant(p.tv, p.waves)).fit(cov_type="clustered", debiased=False,
                                                                   cluster_entity=True)
        cov, g = with_small_sample_factor(result.cov, p.clusters)
    except FIT_ERRORS as err:
        return f.failed("pooled_ols", err, used)
    note = (f"{ESTIMATORS['pooled_ols']} (linearmodels PooledOLS), year dummies; biased by any stable country "
            f"trait that drives both exposure and outcome; {f.sample_text(used)}; {_cluster_text(g)}")
    return f.records("pooled_ols", f.exposure_rows(result.params, standard_errors(cov)), used, note)


def _random_effects(f: _Fit) -> pd.DataFrame:
    p, used = f.p, f.p.index
    try:
        result = RandomEffects(p.y, with_constant(p.tv, p.waves)).fit(
            small_sample=True, cov_type="clustered", debiased=False, cluster_entity=True)
        cov, g = with_small_sample_factor(result.cov, p.clusters)
    except FIT_ERRORS as err:
        return f.failed("random_effects", err, used)
    parts = result.variance_decomposition
    note = (f"{ESTIMATORS['random_effects']} (linearmodels RandomEffects, Swamy-Arora, small_sample=True), year "
            f"dummies; assumes the country effect is unrelated to the regressors; variances: country "
            f"{parts['Effects']:.3g}, idiosyncratic {parts['Residual']:.3g}; {f.sample_text(used)}; {_cluster_text(g)}")
    return f.records("random_effects", f.exposure_rows(result.params, standard_errors(cov)), used, note)


def _within_between(f: _Fit) -> pd.DataFrame:
    p, used = f.p, f.p.index
    try:
        result, cov, g, _, _ = fit_mundlak_model(p)
    except FIT_ERRORS as err:
        return f.failed("within_between", err, used)
    se = standard_errors(cov)
    term = p.spec.exposure
    rows = f.exposure_rows(result.params, se)
    rows.append((f"{term}:between", f"{BETWEEN_TERM_LABEL}, {f.term_label}",
                 float(result.params[f"between: {term}"]), float(se[f"between: {term}"])))
    note = (f"{ESTIMATORS['within_between']} (linearmodels RandomEffects, small_sample=True): exposure and "
            "covariates split into country-mean-centred (within) and country means (between), year dummies "
            "(and their country means when unbalanced); the exposure term is the within-country coefficient "
            f"(equals two-way FE), the '{BETWEEN_TERM_LABEL}' term the association of the country mean; "
            f"{f.sample_text(used)} (one-year countries inform the between term only); {_cluster_text(g)}")
    return f.records("within_between", rows, used, note)


def _two_way_fe(f: _Fit, estimator: str) -> pd.DataFrame:
    p = f.p
    used = multi_wave_rows(p)
    dropped = p.entities.nunique() - used.get_level_values(0).nunique()
    try:
        if used.empty:
            raise ValueError("no country has two or more years")
        model = PanelOLS(p.y.loc[used], p.tv.loc[used], entity_effects=True, time_effects=True)
        if estimator == "two_way_fe_driscoll_kraay":
            periods = int(used.get_level_values(1).nunique())
            bandwidth = f.bandwidth if f.bandwidth is not None else default_bandwidth(periods)
            result = model.fit(cov_type="kernel", kernel=f.kernel, bandwidth=bandwidth, debiased=False,
                               auto_df=False, count_effects=False)
            cov = result.cov
            se_text = (f"Driscoll-Kraay SE (linearmodels cov_type='kernel', {f.kernel} kernel, bandwidth "
                       f"{bandwidth:g} of {periods} years; no small-sample factor): robust to correlation "
                       f"between countries within a year and serial correlation up to lag {bandwidth:g}")
        else:
            result = model.fit(cov_type="clustered", cluster_entity=True, debiased=False, auto_df=False,
                               count_effects=False)
            cov, g = with_small_sample_factor(result.cov, p.clusters.loc[used])
            se_text = f"{_cluster_text(g)}, absorbed effects not counted in the df"
    except FIT_ERRORS as err:
        return f.failed(estimator, err, used)
    note = (f"{ESTIMATORS[estimator]} (linearmodels PanelOLS, country and year effects): stable country traits "
            f"and shocks common to all countries in a year absorbed; {f.sample_text(used, dropped)}; {se_text}")
    return f.records(estimator, f.exposure_rows(result.params, standard_errors(cov)), used, note)


_FITS: dict[str, Callable[[_Fit], pd.DataFrame]] = {
    "pooled_ols": _pooled_ols,
    "random_effects": _random_effects,
    "within_between": _within_between,
    "two_way_fe_clustered": lambda f: _two_way_fe(f, "two_way_fe_clustered"),
    "two_way_fe_driscoll_kraay": lambda f: _two_way_fe(f, "two_way_fe_driscoll_kraay"),
}


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
    ``model`` the estimator. A spec naming a missing column or an unknown estimator, or a panel with two rows
    for one country-year, raises a ValueError before anything is fit; a fit that fails numerically gives
    NaN records with ``converged`` False and the error in ``note``.
    """
    s = _check_spec(panel, spec)
    study = str(spec.get("study", "countries"))
    layout = PanelLayout(entity=s["entity"], time=s["time"])
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
                fit = _Fit(p, scale=scale, term_label=term_label, sensitivity=e.get("sensitivity", ""),
                           kernel=s["kernel"], bandwidth=s["bandwidth"], alpha=s["alpha"])
                for estimator in s["estimators"]:
                    jobs.append((f"{estimator} {outcome} ~ {exposure} | {set_name}",
                                 lambda estimator=estimator, fit=fit: _FITS[estimator](fit)))
    out = run_jobs(jobs, desc="country models", progress=progress)
    return records_frame(pd.concat(out, ignore_index=True)) if out else records_frame()


def stage() -> str:
    """DVC stage ``models_countries``: the country panel models and the metrics."""
    models = load().countries.models
    panel = io.read_parquet(config.PROCESSED / "countries_panel.parquet")
    records = run_country_models(panel, models.model_dump(exclude_none=True), progress=True)
    sample = {"countries": int(panel["iso3"].nunique()), "country_years": int(len(panel))}
    metrics = ecological_metrics(records, sample)
    entity = models.entity
    columns = [o.column or name for name, o in models.outcomes.items()] + list(models.exposures)
    variation = variation_summary(panel, columns, entity)
    metrics["variation"] = {row.variable: {k: clean_number(getattr(row, k)) for k in VARIATION_COLUMNS[1:]}
                            for row in variation.itertuples()}
    io.write_outputs({config.REPORTS / "metrics" / "countries_models.csv": records,
                      config.REPORTS / "metrics" / "countries.json": metrics})
    return f"country models: {len(records)} records"
