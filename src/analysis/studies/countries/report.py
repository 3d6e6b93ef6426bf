"""Reports of the country-level study: trajectories, country means, estimators side by side, the name map.

Builders are pure functions returning DataFrames or Figures from the country-year panel
(``data/processed/countries_panel.parquet``), the name map report (``countries_name_map.csv``) and the model
records (``reports/metrics/countries_models.csv``), and the flow of countries and country-years from the name map
to the analysed panel (STROBE 13a); :func:`write_country_reports` saves them through the
atomic writers, all-or-none. Every caption and footnote says what the models are: ecological associations
between country-level quantities.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from scipy import stats

from analysis.core import config, io
from analysis.estimators.records import formula_variables
from analysis.report import tables
from analysis.report.figures import (
    MARKERS,
    PALETTE,
    PRINT_WIDTH_IN,
    FigureError,
    count_text,
    flow_diagram,
    flow_table,
    new_figure,
    require_columns,
    styled,
    write_figure,
)
from analysis.studies.countries.clean import STATUS_JOINED
from analysis.studies.countries.keys import BETWEEN_TERM_LABEL, specification_keys, variation_summary
from analysis.studies.countries.schema import COUNTRY_PANEL_VARIABLES
from analysis.studies.countries.settings import CountriesSettings, CountryModels, CountryReport, load

#: Column headers of the estimators (the spec's names, :func:`analysis.studies.countries.keys.specification_keys`),
#: from the comparison that mixes countries to the within-country ones.
ESTIMATOR_HEADERS: dict[str, str] = {
    "pooled_ols": "Pooled OLS",
    "random_effects": "Random effects",
    "within_between": "Within-between (Mundlak)",
    "two_way_fe_clustered": "Two-way FE, clustered SE",
    "two_way_fe_driscoll_kraay": "Two-way FE, Driscoll-Kraay SE",
}
#: Countries drawn in colour when params.yaml names none (countries.report.highlight): six large countries
#: from six regions, spanning the range of CVD mortality.
ECOLOGICAL_FOOTNOTE = ("Ecological associations: country-year means of Gallup samples (WHR) against IHME GBD "
                       "2019 model estimates, countries weighted equally; they describe countries, not people.")
GREY = "#bbbbbb"
VARIABLE_LABELS = {v.name: v.label for v in COUNTRY_PANEL_VARIABLES}


def effect_decimals(std_errors: pd.Series) -> int:
    """Decimals that show about two significant digits of the typical (median) standard error: one rule per
    outcome, so every cell of an outcome has the same number of decimals."""
    se = std_errors[std_errors > 0].median() if (std_errors > 0).any() else math.nan
    if not np.isfinite(se):
        return 2
    return int(min(5, max(0, 1 - math.floor(math.log10(se)))))

#: The countries drawn in colour when params.yaml names none (the schema's default).
DEFAULT_HIGHLIGHT: tuple[str, ...] = tuple(CountryReport().highlight)


def estimator_table(records: pd.DataFrame, covariate_set_labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Outcome x exposure x covariate set x term rows, one column per estimator: estimate (95% CI).

    The within-between model's between-country coefficient is its own row (empty for the other
    estimators); ``Country-years`` is the common sample of the pooled/RE/Mundlak fits, ``Country-years (FE)``
    the FE fits' (countries seen once dropped).
    """
    needed = ("outcome_label", "exposure_label", "covariate_set", "term_label", "model", "vcov", "estimate", "ci_low",
              "ci_high", "std_error", "n")
    absent = [c for c in needed if c not in records.columns]
    if absent:
        raise tables.TableError(f"estimator_table: the country records have no column {absent[0]!r}")
    labels = dict(covariate_set_labels or {})
    records = records.assign(estimator=specification_keys(records))
    models = [m for m in ESTIMATOR_HEADERS if m in set(records["estimator"])]
    rows = []
    keys = ["outcome_label", "exposure_label", "covariate_set", "term_label"]
    decimals_of = {o: effect_decimals(part["std_error"]) for o, part in records.groupby("outcome_label", sort=False)}
    for (outcome, exposure, covariate_set, term), part in records.groupby(keys, sort=False):
        by_model = {r["estimator"]: r for _, r in part.iterrows()}
        decimals = decimals_of[outcome]
        row = {"Outcome": outcome, "Exposure": exposure, "Adjusted for": labels.get(covariate_set, covariate_set),
               "Term": term}
        for m in models:
            rec = by_model.get(m)
            row[ESTIMATOR_HEADERS[m]] = ("" if rec is None else "not estimable" if pd.isna(rec["estimate"])
                                         else tables.format_interval(rec["estimate"], rec["ci_low"], rec["ci_high"],
                                                                     decimals))
        other = [r for m, r in by_model.items() if not m.startswith("two_way_fe")]
        fe = [r for m, r in by_model.items() if m.startswith("two_way_fe")]
        row["Country-years"] = tables.format_count(other[0]["n"]) if other else ""
        row["Country-years (FE)"] = tables.format_count(fe[0]["n"]) if fe else ""
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["caption"] = ("National social support and CVD mortality / depression: country-level estimators "
                              "side by side (descriptive)")
    frame.attrs["footnote"] = (
        f"{ECOLOGICAL_FOOTNOTE} Cells: change in the outcome per stated step of the exposure (95% CI). All "
        "models include year effects. Pooled OLS and random effects mix between- and within-country "
        "differences; the within-between (Mundlak) model separates the within-country coefficient (equal to "
        f"two-way FE) from the '{BETWEEN_TERM_LABEL}' coefficient of the country mean; two-way FE compare each "
        "country with itself. SEs clustered by country (G/(G-1)), or Driscoll-Kraay (Bartlett kernel, "
        "robust to cross-country correlation within a year; with 15 years it rests on few periods). Lagged "
        "exposure: social support the previous calendar year. A Driscoll-Kraay interval much narrower than the "
        "clustered one signals within-country persistence beyond its bandwidth (the GBD series are smooth): "
        "then the country-clustered interval is the safer one. DESCRIPTIVE: GBD's series are smoothed model "
        "estimates that barely vary within a country (see the panel summary table), so the within-country estimates "
        "describe the smoothing as much as the countries; they are not evidence of an effect.")
    return frame


def panel_summary(panel: pd.DataFrame, columns: Mapping[str, str], entity: str = "iso3") -> pd.DataFrame:
    """Per variable: countries, country-years, mean, and the overall, between-country and within-country SD
    (SD of country means; SD of deviations from them), with the within share of the variance: what the
    fixed-effects estimators have to work with."""
    require_columns(panel, [entity, *columns], "panel_summary")
    frame = variation_summary(panel, list(columns), entity)
    frame.insert(1, "label", [columns[c] for c in frame["variable"]])
    frame.attrs["caption"] = "Country-year panel: between- and within-country variation"
    frame.attrs["footnote"] = ("sd_between: SD of the country means; sd_within: SD of the deviations of each "
                               "country-year from its country's mean; within_share_of_variance: sum of squared "
                               "within deviations / total sum of squares. Fixed-effects estimates rest on the "
                               "within variation only: the GBD series are smoothed model estimates, so the country "
                               "panel is descriptive and its within-country estimates are not evidence of an "
                               "effect.")
    return frame


def name_map_table(name_map: pd.DataFrame, exceptions_only: bool = False) -> pd.DataFrame:
    """The cleaning stage's name map for readers (``exceptions_only``: the names not fully joined, and those
    spelled differently by WHR and OWID)."""
    require_columns(name_map, ["whr_name", "iso3", "owid_entity", "status", "whr_years", "panel_rows", "note"],
             "name_map_table")
    shown = name_map.copy()
    if exceptions_only:
        differs = shown["owid_entity"].notna() & (shown["owid_entity"] != shown["whr_name"])
        shown = shown[(shown["status"] != STATUS_JOINED) | differs].reset_index(drop=True)
    for column in ("first_year", "last_year"):  # years, not counts: no thousands separator
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else str(int(v)))
    counts = shown["status"].value_counts()
    shown.attrs["caption"] = ("WHR country names and their ISO codes: the explicit name map" +
                              (" (names needing a word)" if exceptions_only else ""))
    shown.attrs["footnote"] = (
        "Every WHR 2024 country name is mapped by hand (clean_countries.COUNTRY_ISO3). whr_years: country-years "
        "in the study window; panel_rows: rows in the panel (0 for a name without an ISO code); rows_with_*: "
        "rows with the GBD outcome joined. Statuses: " + ", ".join(f"{s} {n}" for s, n in counts.items()) + ".")
    return shown


def _countries(k: int) -> str:
    return f"{k} {'country' if k == 1 else 'countries'}"


def _names(names: Sequence[str], most: int = 4) -> str:
    names = list(names)
    return ", ".join(names) if len(names) <= most else ", ".join(names[:most]) + f" and {len(names) - most} more"


def country_flow(name_map: pd.DataFrame, panel: pd.DataFrame, spec: CountryModels, entity: str = "iso3"
                 ) -> pd.DataFrame:
    """Flow of countries and country-years (STROBE 13a), a flow table counting country-years: the WHR country-years
    in the study window (every WHR name), those whose name has an ISO code (the panel), those with every GBD
    outcome joined, and those analysed: with the first exposure and every covariate of every covariate set too
    (``spec`` = params.yaml ``countries.models``; the models' common sample). Each step names its countries;
    the last also gives the sample of each further exposure (the lagged sensitivity analysis).
    """
    require_columns(name_map, ["whr_name", "iso3", "status", "whr_years", "panel_rows"], "country_flow")
    outcomes = [o.column or name for name, o in spec.outcomes.items()]
    exposures = list(spec.exposures)
    covariates = sorted({v for rhs in spec.covariate_sets.values() for v in formula_variables(rhs)})
    require_columns(panel, [entity, *outcomes, *exposures, *covariates], "country_flow")
    in_window = name_map[name_map["whr_years"] > 0]
    coded = in_window["iso3"].notna()
    joined = panel[outcomes].notna().all(axis=1)

    def sample(exposure: str) -> pd.Series:
        return joined & panel[[exposure, *covariates]].notna().all(axis=1)

    analysed = sample(exposures[0])
    no_outcome = sorted(set(panel[entity]) - set(panel.loc[joined, entity]))
    partly = int((~joined & ~panel[entity].isin(no_outcome)).sum())
    by_code = dict(zip(name_map["iso3"], name_map["whr_name"]))
    missing = {c: int((joined & panel[c].isna()).sum()) for c in [exposures[0], *covariates]}

    def label(column: str) -> str:
        named = spec.exposures[column].label if column in spec.exposures else VARIABLE_LABELS.get(column, column)
        named = named.split(" (")[0]
        return named[:1].lower() + named[1:] if named[1:2].islower() else named  # "log GDP", not "Log GDP"

    steps = [
        {"label": "World Happiness Report 2024: country-years in the study window",
         "n": in_window["whr_years"].sum(), "detail": _countries(len(in_window))},
        {"label": "Country name mapped to an ISO 3166-1 code", "n": in_window.loc[coded, "panel_rows"].sum(),
         "detail": _countries(int(coded.sum())),
         "reason": "No ISO code: " + (_names(in_window.loc[~coded, "whr_name"]) or "none")},
        {"label": "Every GBD 2019 outcome joined (via OWID)", "n": int(joined.sum()),
         "detail": _countries(panel.loc[joined, entity].nunique()),
         "reason": "\n".join(filter(None, [
             f"No GBD series: {_names([by_code.get(c, c) for c in no_outcome])}" if no_outcome else "",
             f"{count_text(partly, ('more country-year', 'more country-years'))} without an outcome"
             if partly else ""]))},
        {"label": "Analysed: " + " and ".join(label(c) for c in [exposures[0], *covariates]) + " also present",
         "n": int(analysed.sum()),
         "detail": "\n".join([_countries(panel.loc[analysed, entity].nunique()),
                              *(f"sensitivity analysis with {label(e)}: {int(sample(e).sum()):,}"
                                for e in exposures[1:])]),
         "reason": "; ".join(f"Missing {label(c)}: {k:,}" for c, k in missing.items() if k)},
    ]
    return flow_table(steps)


def _fit_line(x: np.ndarray, y: np.ndarray, grid: np.ndarray, alpha: float = 0.05):
    """OLS line of y on x over ``grid`` with its pointwise (1 - alpha) CI; slope, r."""
    result = stats.linregress(x, y)
    fitted = result.intercept + result.slope * grid
    n = len(x)
    resid = y - (result.intercept + result.slope * x)
    s = math.sqrt((resid ** 2).sum() / (n - 2))
    se = s * np.sqrt(1 / n + (grid - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum())
    t = stats.t.ppf(1 - alpha / 2, n - 2)
    return fitted, fitted - t * se, fitted + t * se, result


def _highlighted(panel: pd.DataFrame, highlight: Sequence[str], entity: str) -> list[str]:
    present = set(panel[entity])
    return [c for c in highlight if c in present]


@styled
def trajectories_figure(panel: pd.DataFrame, outcomes: Mapping[str, str], exposure: str = "social_support",
                        exposure_label: str = "Social support (share with someone to count on)",
                        highlight: Sequence[str] = DEFAULT_HIGHLIGHT, entity: str = "iso3", time: str = "year",
                        name: str = "country") -> Figure:
    """Connected scatter, one panel per outcome: each country's path through (social support, outcome) over
    the years, every country in grey, ``highlight`` in colour from an open marker (first year) to a filled
    one (last year). Shows at once how far apart countries are (between) and how little each moves (within)."""
    require_columns(panel, [entity, time, name, exposure, *outcomes], "trajectories_figure")
    chosen = _highlighted(panel, highlight, entity)
    fig = new_figure(max(PRINT_WIDTH_IN, 3.3 * len(outcomes)), 4.9)  # two outcomes: the text width
    axes = fig.subplots(1, len(outcomes), squeeze=False)[0]
    for ax, (outcome, label) in zip(axes, outcomes.items(), strict=True):
        data = panel[[entity, time, name, exposure, outcome]].dropna().sort_values([entity, time])
        if data.empty:
            raise FigureError(f"trajectories_figure: no country-year has both {exposure} and {outcome}")
        for _, path in data.groupby(entity, sort=False):
            ax.plot(path[exposure], path[outcome], color=GREY, linewidth=0.6, alpha=0.7, zorder=1)
        for i, code in enumerate(chosen):
            path = data[data[entity] == code]
            if path.empty:
                continue
            colour = PALETTE[i % len(PALETTE)]
            ax.plot(path[exposure], path[outcome], color=colour, linewidth=1.6, zorder=3)
            ax.plot(path[exposure].iloc[0], path[outcome].iloc[0], MARKERS[i % len(MARKERS)], color=colour,
                    mfc="white", markersize=5, zorder=4)
            ax.plot(path[exposure].iloc[-1], path[outcome].iloc[-1], MARKERS[i % len(MARKERS)], color=colour,
                    markersize=5, zorder=4,
                    label=f"{path[name].iloc[0]} ({int(path[time].iloc[0])}-{int(path[time].iloc[-1])})")
        ax.set_xlabel(textwrap.fill(exposure_label, 32), fontsize=8.5)
        ax.set_ylabel(textwrap.fill(label, 36), fontsize=8.5)
        ax.tick_params(labelsize=8)
        ax.grid(color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, frameon=False, loc="upper center", bbox_to_anchor=(0.5, 0.225),
                   ncol=min(2, len(handles)), fontsize=8)
    years = panel[time]
    fig.suptitle(f"Country paths through social support and health, {int(years.min())}-{int(years.max())}",
                 x=0.01, ha="left", fontweight="bold", fontsize=10)
    note = ("Each grey line is one country's path over the years; coloured: selected countries, open marker = "
            "first year, filled = last. Social support: WHR 2024 (Gallup World Poll); outcomes: IHME GBD 2019 via "
            "Our World in Data, age-standardised. Country-level (ecological) data.")
    fig.text(0.01, 0.005, textwrap.fill(note, 105), fontsize=7.5, color="#444444", ha="left", va="bottom")
    fig.subplots_adjust(left=0.11, right=0.98, top=0.91, bottom=0.36, wspace=0.38)
    return fig


@styled
def country_means_figure(panel: pd.DataFrame, outcomes: Mapping[str, str], exposure: str = "social_support",
                         exposure_label: str = "Social support (share with someone to count on)",
                         highlight: Sequence[str] = DEFAULT_HIGHLIGHT, entity: str = "iso3",
                         name: str = "country", scale: float = 0.1) -> Figure:
    """One panel per outcome: each country's mean outcome against its mean social support over its years,
    with the unadjusted least-squares line and its 95% CI; the between-country association in one picture."""
    require_columns(panel, [entity, name, exposure, *outcomes], "country_means_figure")
    chosen = _highlighted(panel, highlight, entity)
    fig = new_figure(4.6 * len(outcomes) + 0.4, 4.4)
    axes = fig.subplots(1, len(outcomes), squeeze=False)[0]
    for ax, (outcome, label) in zip(axes, outcomes.items(), strict=True):
        data = panel[[entity, name, exposure, outcome]].dropna()
        means = data.groupby(entity).agg(x=(exposure, "mean"), y=(outcome, "mean"), name=(name, "first"))
        if len(means) < 3:
            raise FigureError(f"country_means_figure: {len(means)} countries with {exposure} and {outcome}; "
                              "a fit line needs 3 or more")
        x, y = means["x"].to_numpy(), means["y"].to_numpy()
        grid = np.linspace(x.min(), x.max(), 100)
        fitted, low, high, fit = _fit_line(x, y, grid)
        ax.scatter(x, y, s=12, color=PALETTE[0], alpha=0.45, linewidths=0, zorder=2)
        ax.fill_between(grid, low, high, color=PALETTE[1], alpha=0.25, linewidth=0, zorder=1)
        ax.plot(grid, fitted, color=PALETTE[3], linewidth=1.6, zorder=3)
        for code in chosen:
            if code in means.index:
                row = means.loc[code]
                ax.scatter([row["x"]], [row["y"]], s=22, color=PALETTE[0], zorder=4)
                ax.annotate(row["name"], (row["x"], row["y"]), xytext=(4, 3), textcoords="offset points",
                            fontsize=7.5, color="#333333")
        summary = f"{len(means)} countries\nslope {fit.slope * scale:+.3g} per {scale:g}\nr = {fit.rvalue:.2f}"
        ax.text(0.98, 0.97, summary, transform=ax.transAxes, ha="right", va="top", fontsize=8, color="#333333")
        ax.set_xlabel(f"{exposure_label}, country mean")
        ax.set_ylabel(textwrap.fill(f"{label}, country mean", 36))
        ax.grid(color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
    fig.suptitle("Between countries: mean social support and mean outcome (unadjusted least-squares line, 95% CI)",
                 x=0.01, ha="left", fontweight="bold")
    note = ("One point per country (mean over its years in the panel). Country-level (ecological) association, "
            "not adjusted for income or anything else: see the models for adjusted and within-country estimates.")
    fig.text(0.01, 0.005, textwrap.fill(note, 150), fontsize=7.5, color="#444444", ha="left", va="bottom")
    fig.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.2, wspace=0.3)
    return fig


@styled
def coefficient_figure(records: pd.DataFrame, covariate_set: str | None = None,
                       covariate_set_label: str | None = None) -> Figure:
    """One panel per outcome: every estimator's coefficient (95% CI) for each exposure (filled markers: the
    first exposure, e.g. social support in the same year; open: the others, e.g. the lagged one), the
    between-country term in grey; one covariate set (default: the last in the records, the most adjusted)."""
    require_columns(records, ["outcome", "outcome_label", "exposure", "exposure_label", "term_label", "covariate_set",
                       "model", "vcov", "estimate", "ci_low", "ci_high"], "coefficient_figure")
    records = records.assign(estimator=specification_keys(records))  # the spec's names, as the headers
    sets = list(dict.fromkeys(records["covariate_set"]))
    chosen = covariate_set or (sets[-1] if sets else None)
    recs = records[(records["covariate_set"] == chosen) & records["estimate"].notna()]
    if recs.empty:
        raise FigureError(f"coefficient_figure: no estimated records for covariate set {chosen!r}")
    outcomes = list(dict.fromkeys(recs["outcome"]))
    exposures = list(dict.fromkeys(recs["exposure"]))
    order = [m for m in ESTIMATOR_HEADERS if m in set(recs["estimator"])]
    rows_per_panel = len(recs) / len(outcomes)
    # two outcomes: the text width (type prints at its size), row labels wrapped
    fig = new_figure(max(PRINT_WIDTH_IN, 2.3 * len(outcomes) + 2.0),
                     0.36 * rows_per_panel + 0.4 * len(exposures) + 2.6)
    axes = fig.subplots(1, len(outcomes), sharey=True, squeeze=False)[0]
    for ax, outcome in zip(axes, outcomes, strict=True):
        part = recs[recs["outcome"] == outcome]
        ticks, labels, y = [], [], 0.0
        for e, exposure in enumerate(exposures):
            for i, model in enumerate(order):
                for _, rec in part[(part["exposure"] == exposure) & (part["estimator"] == model)].iterrows():
                    between = str(rec["term_label"]).startswith(BETWEEN_TERM_LABEL)
                    colour = "#777777" if between else PALETTE[i % len(PALETTE)]
                    err = np.array([[rec["estimate"] - rec["ci_low"]], [rec["ci_high"] - rec["estimate"]]])
                    ax.errorbar([rec["estimate"]], [y], xerr=err, fmt=MARKERS[i % len(MARKERS)], color=colour,
                                markersize=4.5, capsize=2.5, elinewidth=1.3,
                                mfc="white" if (e > 0 or between) else colour)
                    text = ESTIMATOR_HEADERS[model] + (" (between)" if between else "")
                    labels.append(f"{rec['exposure_label']}: {text}" if len(exposures) > 1 else text)
                    ticks.append(y)
                    y += 1
            y += 0.6  # a gap between exposures
        ax.axvline(0.0, color="#555555", linestyle="--", linewidth=0.9, zorder=0)
        ax.set_yticks(ticks, [textwrap.fill(label, 34) for label in labels], fontsize=7.5, linespacing=1.0)
        ax.set_ylim(y - 0.6 - 0.5, -0.5)
        ax.set_title(textwrap.fill(part["outcome_label"].iloc[0], 30), loc="left", fontsize=8.5)
        ax.set_xlabel(textwrap.fill(f"Change {part['term_label'].iloc[0]} (95% CI)", 30), fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    fig.suptitle(textwrap.fill("Social support and health across countries: estimators side by side, descriptive "
                               f"(adjusted for: {covariate_set_label or chosen})", 72), x=0.01, ha="left",
                 fontweight="bold", fontsize=10)
    fig.text(0.01, 0.005, textwrap.fill(ECOLOGICAL_FOOTNOTE + " Grey: the between-country coefficient of the "
                                        "within-between model.", 105), fontsize=7.5, color="#444444", ha="left",
             va="bottom")
    height = fig.get_figheight()
    fig.subplots_adjust(left=2.0 / fig.get_figwidth(), right=0.97, top=1 - 1.2 / height, bottom=1.25 / height,
                        wspace=0.12)
    return fig


def write_country_reports(processed: Path, reports: Path, countries: CountriesSettings,
                          formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write the country tables and figures under ``reports/tables/countries`` and ``reports/figures/countries``.

    Reads ``processed/countries_panel.parquet``, ``processed/countries_name_map.csv`` and
    ``reports/metrics/countries_models.csv``; ``countries.models`` (outcomes, exposures, covariate sets) and
    ``countries.report`` (``highlight``: ISO codes drawn in colour; ``covariate_set``: the set of the coefficient
    figure); figures in ``formats`` (params.yaml ``reports.figure_formats``).
    """
    processed, reports = Path(processed), Path(reports)
    panel = io.read_parquet(processed / "countries_panel.parquet")
    name_map = pd.read_csv(processed / "countries_name_map.csv", keep_default_na=False, na_values=[""])
    records = pd.read_csv(reports / "metrics" / "countries_models.csv")
    spec, report = countries.models, countries.report
    highlight = tuple(report.highlight)
    outcomes = {k: v.label for k, v in spec.outcomes.items()}
    exposure = next(iter(spec.exposures))
    exposure_spec = spec.exposures[exposure]
    exposure_label = exposure_spec.label
    set_labels = dict(report.covariate_set_labels)
    main_set = countries.report_set
    summary_columns = {exposure: exposure_label, **outcomes}
    for rhs in spec.covariate_sets.values():
        for column in formula_variables(rhs):
            summary_columns.setdefault(column, VARIABLE_LABELS.get(column, column))
    tables_dir, figures_dir = reports / "tables" / "countries", reports / "figures" / "countries"
    flow = country_flow(name_map, panel, spec)

    written: list[Path] = []
    with io.staged_outputs():
        written += tables.write_table(estimator_table(records, set_labels), tables_dir / "estimators")
        written += tables.write_table(panel_summary(panel, summary_columns), tables_dir / "panel_summary")
        written += tables.write_table(name_map_table(name_map), tables_dir / "name_map")
        written += tables.write_table(name_map_table(name_map, exceptions_only=True),
                                      tables_dir / "name_map_exceptions")
        written += write_figure(trajectories_figure(panel, outcomes, exposure, exposure_label, highlight),
                                figures_dir / "trajectories", formats)
        written += write_figure(country_means_figure(panel, outcomes, exposure, exposure_label, highlight,
                                                     scale=float(exposure_spec.scale)),
                                figures_dir / "country_means", formats, print_width_in=None)  # on screen only
        written += write_figure(coefficient_figure(records, main_set, set_labels.get(main_set)),
                                figures_dir / "coefficients", formats)
        written.append(io.write_csv(tables_dir / "flow.csv", flow))
        written += write_figure(flow_diagram(flow, "Countries: World Happiness Report joined to GBD 2019",
                                             unit=("country-year", "country-years")), figures_dir / "flow", formats,
                                print_width_in=None)  # on screen only
    return written


def stage() -> str:
    """DVC stage ``report_countries``: the country tables and figures."""
    params = load()
    written = write_country_reports(config.PROCESSED, config.REPORTS, params.countries,
                                    tuple(params.reports.figure_formats))
    return f"country reports: {len(written)} files"
