"""Social infrastructure of counties: libraries, associations, broadband, child care and community context against
isolation, lack of support and health. **ECOLOGICAL and descriptive**: every row is a county, every estimate
compares counties, and nothing here says that a library, a club or a broadband line makes a person less isolated
or healthier (no causal claim; every record's note, table footnote and figure caption says so).

Measures (County Health Rankings & Roadmaps, CHR&R, 2025 release; per-measure files of CHR&R's repository
``county_health_measure_calculations/measure_datasets``; definitions from each measure's page of the CHR&R
documentation, https://www.countyhealthrankings.org/health-data/):

=====  =====================  ==========================================================================  ==========
code   column                 definition (CHR&R documentation)                                            unit
=====  =====================  ==========================================================================  ==========
v181   library_visits         Library access: library visits per person living in the library service     visits per
                              area per year (IMLS Public Libraries Survey, FY2022; CHR&R's county value    person
                              summarises the libraries serving the county)
v140   social_associations    Social associations: membership associations per 10,000 population         per 10,000
                              (County Business Patterns); already in the county table
v166   broadband_pct          Broadband access: households with a broadband internet subscription of any  % of
                              type / all households (ACS 5-year)                                           households
v172   child_care_centers     Child care centers per 1,000 population under 5 years (HIFLD)              per 1,000
v153   homeownership_pct      Homeownership: owner-occupied housing units / occupied units (ACS 5-year)    % of units
v082   single_parent_pct      Children in single-parent households: children in households headed by a    % of
                              single parent / all children in households (ACS 5-year)                      children
v058   rural_pct              Rural: population living in rural areas (Census 2020); in the county table   % of people
v141   segregation_index      Residential segregation, Black/white: index of dissimilarity of Black and    index
                              white residents across census tracts, 0 (even) to 100 (ACS 5-year)           0-100
=====  =====================  ==========================================================================  ==========

Proportions (v166, v153, v082) are multiplied by 100; rates and the index are kept as published. Isolation and
lack of support are PLACES 2024 age-adjusted prevalences (BRFSS 2022 social determinants module; 40 states).

What is fitted (params.yaml ``places.infrastructure``), each a REML linear mixed model of counties within states
with a random state intercept (:func:`analysis.estimators.random_intercept.fit_random_intercept`; unweighted, every
county counts once; model-based SEs, lme4's convention), adjusted for the named covariate set of
``county_models`` minus the exposure itself, exposures per 1 SD across counties:

* **paths**: every exposure against isolation and lack of support (the first path) and against every health outcome;
* **mediation**: the indirect association exposure -> isolation -> outcome, ``a b`` by the product of coefficients,
  with a cluster-bootstrap interval by state (:func:`analysis.estimators.mediation.bootstrap_mediation`; seed and
  number of samples in params). The record carries the bootstrap SE with a normal interval; the mediation table
  also gives the percentile interval;
* **effect modification by rurality**: the exposure's slope within each rurality group (Census Bureau levels:
  mostly urban, mostly rural, completely rural), and a continuous interaction exposure x rural share;
* **group prevalences** of isolation and lack of support by rurality and segregation group, population-weighted
  (adults), with intervals for model-based county estimates (:func:`group_prevalence`).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis.core import config, io
from analysis.core.contract import CleaningError
from analysis.estimators.formula import without_terms
from analysis.estimators.mediation import bootstrap_mediation
from analysis.estimators.random_intercept import GroupCrossProducts, fit_random_intercept
from analysis.estimators.records import ModelSpec, formula_variables, record_row, records_frame
from analysis.report import tables
from analysis.report.figures import PALETTE, PRINT_WIDTH_IN, new_figure, styled, write_figure
from analysis.studies.places import source as src
from analysis.studies.places.schema import CHR_DOCUMENTATION, ECOLOGICAL, MODEL_BASED, ChrMeasure
from analysis.studies.places.settings import Grouping, Infrastructure, PlacesSettings, load

#: CHR&R measure files of the infrastructure stage (raw dir ``data/raw/places_infrastructure``).
INFRASTRUCTURE_MEASURES: tuple[ChrMeasure, ...] = (
    ChrMeasure("v181", "r2025", "library_visits", 1.0, "Library visits per person",
               "library visits per person living in the library service area per year, IMLS Public Libraries "
               "Survey FY2022"),
    ChrMeasure("v166", "r2025", "broadband_pct", 100.0, "Households with broadband (%)",
               "households with a broadband internet subscription of any type, ACS 5-year"),
    ChrMeasure("v172", "R2025", "child_care_centers", 1.0, "Child care centers per 1,000 children under 5",
               "child care centers per 1,000 population under 5 years, HIFLD"),
    ChrMeasure("v153", "r2025", "homeownership_pct", 100.0, "Owner-occupied homes (%)",
               "owner-occupied housing units among occupied housing units, ACS 5-year"),
    ChrMeasure("v082", "r2025", "single_parent_pct", 100.0, "Children in single-parent households (%)",
               "children living in a household headed by a single parent, ACS 5-year"),
    ChrMeasure("v141", "r2025", "segregation_index", 1.0, "Black/white residential segregation (0-100)",
               "index of dissimilarity of Black and white residents across census tracts (0 = even, 100 = complete "
               "separation), ACS 5-year"),
)
#: PLACES measure -> county table column, for the published intervals (prevalence CIs).
INTERVAL_MEASURES = {"ISOLATION": "isolation_pct", "EMOTIONSPT": "emotional_support_lacking_pct"}
Z95 = float(stats.norm.ppf(0.975))
RAW_DIR = "places_infrastructure"

ECOLOGICAL_NOTE = ("Ecological and descriptive: each observation is a county, so the estimates compare counties, "
                   "not people, and make no causal claim (a county's libraries or associations are not shown to "
                   "change anyone's isolation or health).")
PREVALENCE_METHOD = (
    "Population-weighted mean of the counties' PLACES age-adjusted prevalences (weight: adults 18+). PLACES values "
    "are model-based small-area estimates, so the uncertainty of a group mean is the model's, not sampling error "
    "between counties: each county's SE is taken from its published 95% interval (width / 3.92), and the interval "
    "shown assumes the county errors are perfectly correlated (SE = weighted mean of the county SEs), the "
    "conservative bound, since all counties come from one fitted model; the interval under independent errors "
    "(SE = sqrt(sum w^2 SE^2) / sum w) is the lower bound, given beside it.")

MEDIATION_COLUMNS = [
    "exposure", "exposure_label", "mediator", "mediator_label", "outcome", "outcome_label", "sd", "a", "a_se", "b",
    "b_se", "direct", "direct_se", "total", "total_se", "indirect", "indirect_boot_se", "indirect_ci_low",
    "indirect_ci_high", "proportion_mediated", "n", "n_states", "n_boot", "n_failed", "seed", "converged",
]
PREVALENCE_COLUMNS = [
    "grouping", "group", "order", "measure", "measure_label", "n_counties", "adults", "prevalence",
    "se_correlated", "ci_low", "ci_high", "se_independent", "ci_low_independent", "ci_high_independent",
]


# ---------------------------------------------------------------------------------------------
# The table


def group_labels(grouping: Grouping) -> list[str]:
    """The groups' labels, their bounds filled in from ``cuts`` (``"Mostly urban (< 50% rural)"``)."""
    bounds = [None, *grouping.cuts, None]
    return [label.format(low=bounds[i], high=bounds[i + 1]) for i, label in enumerate(grouping.labels)]


def assign_groups(values: pd.Series, grouping: Grouping) -> pd.Series:
    """Each county's group label: ``x < cuts[0]`` first, ..., ``x >= cuts[-1]`` last; missing -> the missing
    label (or NaN when there is none). An ordered categorical (missing label last)."""
    labels = group_labels(grouping)
    codes = np.searchsorted(np.asarray(grouping.cuts, dtype=float), values.to_numpy(dtype=float), side="right")
    out = pd.Series(np.asarray(labels, dtype=object)[np.minimum(codes, len(labels) - 1)], index=values.index)
    out[values.isna()] = grouping.missing_label if grouping.missing_label else np.nan
    categories = labels + ([grouping.missing_label] if grouping.missing_label else [])
    return pd.Series(pd.Categorical(out, categories=categories, ordered=True), index=values.index)


def build_infrastructure_table(county: pd.DataFrame, raw_dir: str | Path, places_file: str | Path,
                               options: Infrastructure, *, value: str = "AdjPrev") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The county table plus the infrastructure measures, the PLACES intervals of isolation and lack of support
    and the rurality and segregation groups; and a join log (one row per file: county rows, matched, absent).

    Every join is one-to-one on ``fips`` (checked) and keeps every county of ``county``.
    """
    table = county.copy()
    n = len(table)
    log = []
    for m in INFRASTRUCTURE_MEASURES:
        path = src.chr_measure_path(raw_dir, m.code, m.release)
        frame = src.read_chr_measure(path, m.code)
        right = pd.DataFrame({"fips": frame["fips"], m.column: frame[f"{m.code}_rawvalue"] * m.scale})
        try:
            table = table.merge(right, on="fips", how="left", validate="one_to_one")
        except pd.errors.MergeError as err:
            raise CleaningError(f"{path}: joining {m.code} on fips is not one-to-one ({err})") from err
        counts = frame.attrs[src.ROW_COUNTS]
        log.append({"file": path.name, "column": m.column, "county_rows": counts["county_rows"],
                    "matched": int(frame["fips"].isin(set(county["fips"])).sum()),
                    "matched_with_value": int(table[m.column].notna().sum()),
                    "source": f"CHR&R {m.code}_{m.release}: {m.definition} ({m.citation})"})
    intervals = src.read_places_intervals(places_file, INTERVAL_MEASURES, value=value)
    for measure, column in INTERVAL_MEASURES.items():
        part = intervals[["fips", f"{measure}_ci_low", f"{measure}_ci_high"]].rename(
            columns={f"{measure}_ci_low": f"{column}_ci_low", f"{measure}_ci_high": f"{column}_ci_high"})
        table = table.merge(part, on="fips", how="left", validate="one_to_one")
        table[f"{column}_se"] = (table[f"{column}_ci_high"] - table[f"{column}_ci_low"]) / (2 * Z95)
    if len(table) != n:
        raise CleaningError(f"the infrastructure joins changed the number of counties from {n} to {len(table)}")
    for name, grouping in (("rurality_group", options.rurality), ("segregation_group", options.segregation)):
        table[name] = assign_groups(table[grouping.column], grouping)
    return table, pd.DataFrame(log)


# ---------------------------------------------------------------------------------------------
# Models


def _covariates(places: PlacesSettings, exposure: str, outcome: str) -> list[str]:
    block = places.infrastructure
    rhs = places.county_models.covariate_sets[block.covariate_set]
    kept, _ = without_terms(rhs, {exposure, outcome})
    return formula_variables(kept)


def exposure_sds(table: pd.DataFrame, exposures: list[str]) -> dict[str, float]:
    """SD of each exposure across the counties that have it (the unit of every estimate: per 1 SD)."""
    return {e: float(table[e].std(ddof=1)) for e in exposures}


def _note(extra: str) -> str:
    return f"{extra}; {MODEL_BASED}; {ECOLOGICAL}; descriptive, no causal claim"


def fit_path(data: pd.DataFrame, spec: ModelSpec, *, covariates: list[str], group: str, sd: float,
             alpha: float = 0.05, extra: tuple[str, str, str] | None = None) -> dict:
    """One random-intercept fit of ``spec.outcome`` on the exposure (per 1 SD, ``sd``) and ``covariates``; the
    record of the exposure (or, with ``extra = (column, term, term_label)``, of that extra column)."""
    work = data.assign(_x=data[spec.exposure] / sd)
    regressors = ["_x", *covariates, *([extra[0]] if extra else [])]
    work = work.dropna(subset=[spec.outcome, *regressors, group])
    cross = GroupCrossProducts(work, [spec.outcome, *regressors], group)
    fit = fit_random_intercept(cross, spec.outcome, regressors)
    column, term, label = extra if extra else ("_x", spec.exposure, f"per 1 SD ({sd:.3g})")
    estimate, se = fit.coefficient(column)
    note = _note(f"counties within states, random state intercept (REML, unweighted); exposure per 1 SD across "
                 f"counties ({sd:.4g}); adjusted for {', '.join(covariates) or 'nothing'}")
    return record_row(spec, term, label, estimate, se, model="multilevel_linear", design="multilevel",
                      vcov="model_based", n=fit.n_obs, events=math.nan, converged=fit.converged, note=note,
                      alpha=alpha, n_groups=fit.n_groups,
                      components={"var_group": fit.var_group, "var_residual": fit.var_residual})


def _labels(places: PlacesSettings) -> dict[str, str]:
    block = places.infrastructure
    return {**{k: v.label for k, v in places.county_models.outcomes.items()},
            **{k: v.label for k, v in block.mediators.items()}}


def run_infrastructure_models(table: pd.DataFrame, places: PlacesSettings) -> pd.DataFrame:
    """Every exposure against every mediator and outcome (sample ``main``), the slope within each rurality group
    (sample ``rurality=<group>``) and the exposure x rural interaction (term ``<exposure>:<rural column>``)."""
    block = places.infrastructure
    labels = _labels(places)
    sds = exposure_sds(table, list(block.exposures))
    targets = [*block.mediators, *block.outcomes]
    rural = block.rurality.column
    rows = []
    for exposure, e in block.exposures.items():
        for target in targets:
            spec = ModelSpec(outcome=target, exposure=exposure, covariate_set=block.covariate_set,
                             study=places.study, outcome_label=labels[target], exposure_label=e.label)
            covariates = _covariates(places, exposure, target)
            rows.append(fit_path(table, spec, covariates=covariates, group=block.group, sd=sds[exposure],
                                 alpha=block.alpha))
            if exposure not in block.modifier_exposures or target not in block.mediators:
                continue
            for level, part in table.groupby("rurality_group", observed=True, sort=True):
                stratum = [c for c in covariates if c != rural]
                rows.append(fit_path(part, replace(spec, sample=f"rurality={_slug(level)}"), covariates=stratum,
                                     group=block.group, sd=sds[exposure], alpha=block.alpha))
            centred = (table[rural] - table[rural].mean()) / block.modifier_step
            work = table.assign(_modifier=table[exposure] / sds[exposure] * centred)
            rows.append(fit_path(work, spec, covariates=covariates, group=block.group, sd=sds[exposure],
                                 alpha=block.alpha,
                                 extra=("_modifier", f"{exposure}:{rural}",
                                        f"difference in the per-SD slope per {block.modifier_step:g} points more "
                                        "rural")))
    return records_frame(rows)


def run_mediation(table: pd.DataFrame, places: PlacesSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The indirect associations exposure -> mediator -> outcome: (records, the mediation table)."""
    block = places.infrastructure
    med = block.mediation
    labels = _labels(places)
    sds = exposure_sds(table, list(block.exposures))
    rows, records = [], []
    for exposure in med.exposures:
        for mediator in med.mediators:
            for outcome in med.outcomes:
                covariates = [c for c in _covariates(places, exposure, outcome) if c != mediator]
                work = table.assign(**{f"{exposure}_sd": table[exposure] / sds[exposure]})
                result = bootstrap_mediation(work, exposure=f"{exposure}_sd", mediator=mediator, outcome=outcome,
                                             covariates=covariates, group=block.group, n_boot=med.n_boot,
                                             seed=med.seed, alpha=block.alpha)
                label = block.exposures[exposure].label
                rows.append({
                    "exposure": exposure, "exposure_label": label, "mediator": mediator,
                    "mediator_label": labels[mediator], "outcome": outcome, "outcome_label": labels[outcome],
                    "sd": sds[exposure], "a": result.a, "a_se": result.a_se, "b": result.b, "b_se": result.b_se,
                    "direct": result.direct, "direct_se": result.direct_se, "total": result.total,
                    "total_se": result.total_se, "indirect": result.indirect, "indirect_boot_se": result.boot_se,
                    "indirect_ci_low": result.ci_low, "indirect_ci_high": result.ci_high,
                    "proportion_mediated": result.proportion_mediated, "n": result.n_obs,
                    "n_states": result.n_groups, "n_boot": result.n_boot, "n_failed": result.n_failed,
                    "seed": med.seed, "converged": result.converged})
                spec = ModelSpec(outcome=outcome, exposure=exposure, covariate_set=block.covariate_set,
                                 study=places.study, outcome_label=labels[outcome], exposure_label=label,
                                 sample="mediation")
                note = _note(f"product of coefficients a x b through {mediator}, random state intercepts; SE = SD of "
                             f"{result.n_boot} cluster-bootstrap samples of states (seed {med.seed}), normal "
                             "interval; the percentile interval is in places_infrastructure_mediation.csv; an "
                             "indirect association, not a mediated effect")
                records.append(record_row(spec, f"{exposure}:indirect_via_{mediator}",
                                          f"indirect via {labels[mediator]}, per 1 SD", result.indirect,
                                          result.boot_se, model="multilevel_linear", design="multilevel",
                                          vcov="model_based", n=result.n_obs, events=math.nan,
                                          converged=result.converged, note=note, alpha=block.alpha,
                                          n_groups=result.n_groups))
                records.append(record_row(spec, f"{exposure}:direct", "direct (mediator held), per 1 SD",
                                          result.direct, result.direct_se, model="multilevel_linear",
                                          design="multilevel", vcov="model_based", n=result.n_obs, events=math.nan,
                                          converged=result.converged, note=_note(
                                              f"outcome on exposure and {mediator}, random state intercept"),
                                          alpha=block.alpha, n_groups=result.n_groups))
    return records_frame(records), pd.DataFrame(rows, columns=MEDIATION_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Prevalence by group


def weighted_prevalence(values: pd.Series, se: pd.Series, weight: pd.Series, alpha: float = 0.05) -> dict:
    """Weighted mean of model-based county prevalences and its two intervals (see :data:`PREVALENCE_METHOD`):
    ``se_correlated = sum(w se) / sum(w)`` (perfectly correlated county errors, the conservative bound) and
    ``se_independent = sqrt(sum(w^2 se^2)) / sum(w)``. Rows missing any input are left out."""
    ok = values.notna() & se.notna() & weight.notna() & (weight > 0)
    v, s, w = values[ok].to_numpy(float), se[ok].to_numpy(float), weight[ok].to_numpy(float)
    if not len(v):
        return {"n_counties": 0, "adults": 0.0, "prevalence": math.nan, "se_correlated": math.nan,
                "ci_low": math.nan, "ci_high": math.nan, "se_independent": math.nan,
                "ci_low_independent": math.nan, "ci_high_independent": math.nan}
    z = float(stats.norm.ppf(1 - alpha / 2))
    total = w.sum()
    p = float((w * v).sum() / total)
    se_c = float((w * s).sum() / total)
    se_i = float(np.sqrt((w * w * s * s).sum()) / total)
    return {"n_counties": int(len(v)), "adults": float(total), "prevalence": p, "se_correlated": se_c,
            "ci_low": p - z * se_c, "ci_high": p + z * se_c, "se_independent": se_i,
            "ci_low_independent": p - z * se_i, "ci_high_independent": p + z * se_i}


def group_prevalence(table: pd.DataFrame, places: PlacesSettings) -> pd.DataFrame:
    """Isolation and lack of support by rurality and by segregation group (and over all counties)."""
    block = places.infrastructure
    weight = table[block.prevalence_weight]
    rows = []
    for measure, m in block.mediators.items():
        se = table[f"{measure}_se"]
        rows.append({"grouping": "all", "group": "All counties with estimates", "order": 0, "measure": measure,
                     "measure_label": m.label, **weighted_prevalence(table[measure], se, weight, block.alpha)})
        for grouping in ("rurality_group", "segregation_group"):
            groups = table[grouping]
            for order, level in enumerate(groups.cat.categories, start=1):
                inside = groups == level
                rows.append({"grouping": grouping.removesuffix("_group"), "group": level, "order": order,
                             "measure": measure, "measure_label": m.label,
                             **weighted_prevalence(table.loc[inside, measure], se[inside], weight[inside],
                                                   block.alpha)})
    return pd.DataFrame(rows, columns=PREVALENCE_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Tables and figure


def _slug(text: str) -> str:
    return "_".join("".join(ch if ch.isalnum() else " " for ch in str(text).lower()).split())


def _cell(row: pd.Series, decimals: int = 2) -> str:
    if pd.isna(row["estimate"]):
        return "not estimable"
    return tables.format_interval(row["estimate"], row["ci_low"], row["ci_high"], decimals)


def associations_table(records: pd.DataFrame, places: PlacesSettings) -> pd.DataFrame:
    """Rows exposures, columns isolation, lack of support and the outcomes: "estimate (95% CI)" per 1 SD."""
    block = places.infrastructure
    main = records[(records["sample"] == "main") & (records["term"] == records["exposure"])]
    labels = _labels(places)
    rows = []
    for exposure, e in block.exposures.items():
        part = main[main["exposure"] == exposure]
        row = {"Exposure (per 1 SD)": e.label}
        for target in [*block.mediators, *block.outcomes]:
            match = part[part["outcome"] == target]
            decimals = 0 if target == "premature_death_ypll" else 2
            row[labels[target]] = _cell(match.iloc[0], decimals) if not match.empty else ""
        row["Counties (isolation model)"] = tables.format_count(
            part.loc[part["outcome"] == next(iter(block.mediators)), "n"].max())
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["caption"] = "County social infrastructure and community context: associations per 1 SD"
    out.attrs["footnote"] = (
        "Difference in the county prevalence (percentage points; YPLL per 100,000 for premature death) per 1 SD "
        "more of the exposure across counties, 95% CI. Counties within states, random state intercept (REML, "
        f"unweighted), adjusted for the '{block.covariate_set}' set "
        f"({places.county_models.covariate_sets[block.covariate_set]}) minus the exposure. " + ECOLOGICAL_NOTE
        + " Isolation and lack of support: PLACES model-based estimates, 40 states (BRFSS 2022 module).")
    return out


def modification_table(records: pd.DataFrame, places: PlacesSettings) -> pd.DataFrame:
    """Slopes per 1 SD within each rurality group, and the continuous interaction, for isolation and support."""
    block = places.infrastructure
    labels = _labels(places)
    groups = group_labels(block.rurality)
    rows = []
    for exposure in block.modifier_exposures:
        for mediator in block.mediators:
            part = records[(records["exposure"] == exposure) & (records["outcome"] == mediator)]
            row = {"Exposure (per 1 SD)": block.exposures[exposure].label, "Outcome": labels[mediator]}
            for level in groups:
                match = part[part["sample"] == f"rurality={_slug(level)}"]
                row[level] = (f"{_cell(match.iloc[0])}, n = {tables.format_count(match.iloc[0]['n'])}"
                              if not match.empty else "")
            inter = part[part["term"] == f"{exposure}:{block.rurality.column}"]
            if not inter.empty:
                r = inter.iloc[0]
                row[f"Interaction per {block.modifier_step:g} points rural"] = f"{_cell(r, 3)}; p = {r['p_value']:.2g}"
            rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["caption"] = "Effect modification by rurality: slopes within Census rurality levels"
    out.attrs["footnote"] = (
        "Slope per 1 SD (SD across all counties) within each rurality group, 95% CI, random state intercept, "
        "adjusted as in the main models (rural share left out within groups); interaction: the difference in the "
        f"slope per {block.modifier_step:g} percentage points more rural, from one model over all counties. "
        + ECOLOGICAL_NOTE)
    return out


def mediation_table(mediation: pd.DataFrame, places: PlacesSettings) -> pd.DataFrame:
    """The indirect associations with their percentile cluster-bootstrap intervals."""
    block = places.infrastructure
    rows = []
    for r in mediation.itertuples():
        decimals = 1 if r.outcome == "premature_death_ypll" else 3
        rows.append({
            "Exposure (per 1 SD)": r.exposure_label, "Through": r.mediator_label, "Outcome": r.outcome_label,
            "a (exposure -> mediator)": f"{r.a:.3f}", "b (mediator -> outcome)": f"{r.b:.3f}",
            "Indirect a x b (95% bootstrap CI)": tables.format_interval(r.indirect, r.indirect_ci_low,
                                                                        r.indirect_ci_high, decimals),
            "Direct": f"{r.direct:.{decimals}f}", "Total": f"{r.total:.{decimals}f}",
            "Counties / states": f"{tables.format_count(r.n)} / {r.n_states}"})
    out = pd.DataFrame(rows)
    med = block.mediation
    out.attrs["caption"] = "Indirect associations: infrastructure -> isolation -> outcome (counties)"
    out.attrs["footnote"] = (
        "Product of coefficients from two random-state-intercept models on the same counties (mediator on exposure; "
        "outcome on exposure and mediator), adjusted as in the main models. 95% percentile interval of "
        f"{med.n_boot} cluster-bootstrap samples of states (seed {med.seed}). A decomposition of county "
        "associations under strong no-confounding assumptions, not a mediated effect. " + ECOLOGICAL_NOTE)
    return out


def prevalence_table(prevalence: pd.DataFrame) -> pd.DataFrame:
    """Group prevalences: rows groups, columns isolation and lack of support with their intervals."""
    rows = []
    for (grouping, group), part in prevalence.groupby(["grouping", "group"], sort=False):
        row = {"Grouping": {"all": "All", "rurality": "Rurality", "segregation": "Segregation"}.get(grouping,
                                                                                                      grouping),
               "Group": group, "Counties": tables.format_count(part["n_counties"].max())}
        for r in part.itertuples():
            row[f"{r.measure_label}"] = tables.format_interval(r.prevalence, r.ci_low, r.ci_high, 1)
            row[f"{r.measure_label}, independent-error CI"] = tables.format_interval(
                r.prevalence, r.ci_low_independent, r.ci_high_independent, 1)
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["caption"] = "Prevalence of isolation and lack of support by county rurality and segregation"
    out.attrs["footnote"] = PREVALENCE_METHOD + " " + ECOLOGICAL_NOTE
    return out


@styled
def associations_figure(records: pd.DataFrame, places: PlacesSettings):
    """Forest plot: every exposure against isolation and lack of support, per 1 SD (multilevel, main sample)."""
    block = places.infrastructure
    main = records[(records["sample"] == "main") & (records["term"] == records["exposure"])]
    exposures = list(block.exposures)
    height = 0.42 * len(exposures) + 1.8
    fig = new_figure(PRINT_WIDTH_IN, height)  # the text width: type prints at its size
    ax = fig.add_axes((0.38, 0.75 / height, 0.58, 1 - 1.3 / height))
    offsets = np.linspace(-0.15, 0.15, len(block.mediators))
    for k, (mediator, m) in enumerate(block.mediators.items()):
        part = main[main["outcome"] == mediator].set_index("exposure").reindex(exposures)
        y = np.arange(len(exposures))[::-1] + offsets[k]
        ax.errorbar(part["estimate"], y, xerr=[part["estimate"] - part["ci_low"], part["ci_high"] - part["estimate"]],
                    fmt="os"[k % 2], color=PALETTE[k], ms=4, capsize=2, lw=1, label=m.label)
    ax.axvline(0, color="#777777", lw=0.8)
    ax.set_yticks(np.arange(len(exposures))[::-1], [textwrap.fill(block.exposures[e].label, 34) for e in exposures],
                  fontsize=8, linespacing=1.0)
    ax.set_xlabel("Difference in county prevalence (percentage points) per 1 SD")
    ax.legend(loc="lower center", bbox_to_anchor=(0.35, 1.0), ncol=2, frameon=False)
    fig.text(0.01, 0.02, textwrap.fill("Ecological: counties within states (random state intercept), adjusted for "
                                       "composition; associations between counties, no causal claim.", 100),
             fontsize=7.5)
    return fig


# ---------------------------------------------------------------------------------------------
# The numbers the paper needs


def infrastructure_numbers(reports: str | Path = config.REPORTS) -> dict:
    """The numbers of the paper's paragraph, read from this stage's result files (never typed by hand).

    Keys: ``counties``, ``states`` (isolation models), ``associations`` (exposure -> mediator -> estimate, CI, p),
    ``mediation`` (list of rows of the mediation table), ``prevalence`` (grouping -> group -> measure ->
    prevalence, ci), ``modification`` (exposure -> mediator -> interaction estimate, p), ``n_boot``, ``seed``.
    """
    metrics = Path(reports) / "metrics"
    records = pd.read_csv(metrics / "places_infrastructure_models.csv")
    mediation = pd.read_csv(metrics / "places_infrastructure_mediation.csv")
    prevalence = pd.read_csv(metrics / "places_infrastructure_prevalence.csv")
    main = records[(records["sample"] == "main") & (records["term"] == records["exposure"])]
    mediators = list(dict.fromkeys(prevalence["measure"]))
    iso = main[main["outcome"] == mediators[0]]
    out = {"counties": int(iso["n"].max()), "states": int(iso["n_groups"].max()), "associations": {},
           "modification": {}, "prevalence": {}, "mediation": mediation.to_dict("records"),
           "n_boot": int(mediation["n_boot"].iloc[0]) if len(mediation) else 0,
           "seed": int(mediation["seed"].iloc[0]) if len(mediation) else None}
    for r in main.itertuples():
        out["associations"].setdefault(r.exposure, {})[r.outcome] = {
            "estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value, "n": r.n}
    inter = records[records["term"].str.contains(":", regex=False) & (records["sample"] == "main")
                    & ~records["term"].str.contains("indirect|direct", regex=True)]
    for r in inter.itertuples():
        out["modification"].setdefault(r.exposure, {})[r.outcome] = {"estimate": r.estimate, "p_value": r.p_value}
    for r in prevalence.itertuples():
        out["prevalence"].setdefault(r.grouping, {}).setdefault(r.group, {})[r.measure] = {
            "prevalence": r.prevalence, "ci_low": r.ci_low, "ci_high": r.ci_high, "n_counties": r.n_counties}
    return out


# ---------------------------------------------------------------------------------------------
# The stage


def run(county: pd.DataFrame, raw_dir: Path, places_file: Path, places: PlacesSettings):
    """Table, join log, records, mediation table and prevalence table (no writing)."""
    block = places.infrastructure
    if block is None:
        raise ValueError("params.yaml places.infrastructure is missing: the infrastructure stage has nothing to do")
    table, join_log = build_infrastructure_table(county, raw_dir, places_file, block)
    records = run_infrastructure_models(table, places)
    mediation_records, mediation = run_mediation(table, places)
    records = records_frame(pd.concat([records, mediation_records], ignore_index=True))
    return table, join_log, records, mediation, group_prevalence(table, places)


def stage() -> str:
    """DVC stage ``infrastructure_places``: table, records, mediation, prevalences, tables and the figure."""
    params = load()
    places = params.places
    county = io.read_parquet(config.PROCESSED / "places_county.parquet")
    places_file = src.places_path(config.RAW / "places")
    table, join_log, records, mediation, prevalence = run(county, config.RAW / RAW_DIR, places_file, places)
    metrics = config.REPORTS / "metrics"
    tables_dir = config.REPORTS / "tables" / "places_infrastructure"
    figures_dir = config.REPORTS / "figures" / "places_infrastructure"
    formats = tuple(params.reports.figure_formats)
    with io.staged_outputs():
        io.write_outputs({config.PROCESSED / "places_infrastructure.parquet": table,
                          tables_dir / "join_log.csv": join_log,
                          metrics / "places_infrastructure_models.csv": records,
                          metrics / "places_infrastructure_mediation.csv": mediation,
                          metrics / "places_infrastructure_prevalence.csv": prevalence})
        tables.write_table(associations_table(records, places), tables_dir / "associations")
        tables.write_table(modification_table(records, places), tables_dir / "rurality_modification")
        tables.write_table(mediation_table(mediation, places), tables_dir / "mediation")
        tables.write_table(prevalence_table(prevalence), tables_dir / "prevalence_by_group")
        write_figure(associations_figure(records, places), figures_dir / "associations", formats)
    return (f"county infrastructure: {len(records)} records, {len(mediation)} indirect associations "
            f"({places.infrastructure.mediation.n_boot} bootstrap samples each), {len(prevalence)} group prevalences; "
            f"{CHR_DOCUMENTATION.split(' (')[0]}")
