"""Reports of the county study: scatter plots, the state caterpillar plot, model and descriptive tables.

Builders are pure functions returning DataFrames or Figures from the county table, the county panel,
the join log and the model outputs (``reports/metrics/places_models.csv``, ``places_state_effects.csv``);
they never fit a model. The county flow diagram (STROBE 13a) is drawn from the join log.
:func:`write_places_reports` saves them under ``reports/tables/places`` and ``reports/figures/places`` through
the atomic writers, all-or-none.

Every figure and table says that the associations are ecological (counties, not people).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from analysis.core import config, io
from analysis.report import tables
from analysis.report.figures import (
    PALETTE,
    PRINT_WIDTH_IN,
    FigureError,
    count_text,
    flow_diagram,
    flow_table,
    new_figure,
    require_columns,
    styled,
)
from analysis.report.writers import draw_and_write, start_writers
from analysis.studies.places.schema import COUNTY_VARIABLES, PANEL_VARIABLES
from analysis.studies.places.settings import COUNTY_DESIGNS, PANEL_DESIGN, PlacesSettings, load, report_designs

#: Column headers of the designs, in reading order.
DESIGN_HEADERS: dict[str, str] = {
    "weighted": "State fixed effects, population-weighted (primary)",
    "unweighted": "State fixed effects, unweighted",
    "multilevel": "State random effects (multilevel, unweighted)",
    PANEL_DESIGN: "County and year fixed effects, 2010-2011 (descriptive)",
}
ECOLOGICAL_FOOTNOTE = ("Ecological associations: each observation is a county, so the estimates describe counties, "
                       "not individuals.")
MODEL_FOOTNOTE = ("PLACES values are small-area model predictions (CDC's multilevel regression and post-stratification "
                  "of BRFSS responses to the county's Census population), not tabulations of each county's own "
                  "respondents.")
PANEL_FOOTNOTE = ("Descriptive, not evidence of an effect: "
                  "each CHR&R release pools several overlapping BRFSS years, so "
                  "a county's change between the 2010 and 2011 releases is mostly a shift of the window, and the "
                  "exposure and the BRFSS outcomes come from the same respondents.")
_LABELS = {v.name: v.label for v in (*COUNTY_VARIABLES, *PANEL_VARIABLES)}
GREY = "#9aa3ab"
COUNTIES = ("county", "counties")


def _decimals(values: Sequence[float]) -> int:
    """Decimals that show an effect's size: 0 from 100 up, 1 from 10, 2 from 1, else 3."""
    finite = [abs(v) for v in values if v is not None and not pd.isna(v)]
    biggest = max(finite) if finite else 0.0
    return 0 if biggest >= 100 else 1 if biggest >= 10 else 2 if biggest >= 1 else 3


def _cell(rec: pd.Series, decimals: int) -> str:
    if pd.isna(rec["estimate"]):
        return "not estimable"
    text = tables.format_interval(rec["estimate"], rec["ci_low"], rec["ci_high"], decimals)
    return text if bool(rec.get("converged", True)) else text + tables.NONCONVERGED_MARK


# ---------------------------------------------------------------------------------------------
# Tables


def effects_table(records: pd.DataFrame, design: str, covariate_sets: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One design's records: rows outcome x exposure, one column per covariate set (in the records' order),
    each cell "estimate (95% CI)" per 1 percentage point of the exposure, and the counties (N) used."""
    require_columns(records, ["model", "design", "outcome", "outcome_label", "exposure_label", "covariate_set",
                              "estimate", "ci_low", "ci_high", "n"], "effects_table")
    designs = report_designs(records)
    recs = records[designs == design]
    if recs.empty:
        raise tables.TableError(f"effects_table: no records with design {design!r} "
                                f"(found: {', '.join(map(str, designs.unique()))})")
    sets = list(dict.fromkeys(recs["covariate_set"]))
    rows = []
    for (_, _), part in recs.groupby(["outcome", "exposure"], sort=False):
        first = part.iloc[0]
        decimals = _decimals(list(part["estimate"]) + list(part["ci_low"]) + list(part["ci_high"]))
        row = {"Outcome": first["outcome_label"], "Exposure": first["exposure_label"]}
        for s in sets:
            match = part[part["covariate_set"] == s]
            row[s] = _cell(match.iloc[0], decimals) if not match.empty else ""
        row["N"] = " / ".join(tables.format_count(v) for v in dict.fromkeys(part["n"]))
        rows.append(row)
    out = pd.DataFrame(rows)
    unit = "county" if design != PANEL_DESIGN else "county-year"
    notes = [f"Difference in the outcome per 1 percentage point more adults with the exposure; 95% confidence "
             f"intervals in parentheses. N: {unit} observations of each model (listed per covariate set when they "
             f"differ). {ECOLOGICAL_FOOTNOTE}"]
    if design != PANEL_DESIGN:
        notes.append(MODEL_FOOTNOTE)
    if covariate_sets:
        notes.append("Adjustment: " + "; ".join(f"{s}: {covariate_sets[s] or 'none'}" for s in sets
                                                if s in covariate_sets) + ".")
    if design == "multilevel":
        notes.append("Counties within states, random state intercept and slope (REML, as lme4's lmer); unweighted "
                     "(the mixed model takes no weights); model-based SEs.")
    elif design in ("unweighted", "weighted"):
        notes.append("Within-state associations (state fixed effects); SEs clustered by state (G/(G-1)); DC, a "
                     "single county, drops out."
                     + (" Counties weighted by population: the primary design." if design == "weighted" else
                        " Sensitivity analysis to the population-weighted primary design."))
    else:
        notes.append("How county values moved between the CHR&R 2010 and 2011 releases, net of the common change; "
                     "SEs clustered by county (G/(G-1)). " + PANEL_FOOTNOTE)
    if any(str(c).endswith(tables.NONCONVERGED_MARK) for c in out.to_numpy().ravel()):
        notes.append(f"{tables.NONCONVERGED_MARK} The model did not converge; interpret with caution.")
    out.attrs["caption"] = f"County associations: {DESIGN_HEADERS.get(design, design)}"
    out.attrs["footnote"] = " ".join(notes)
    return out


def designs_table(records: pd.DataFrame, covariate_set: str) -> pd.DataFrame:
    """The county designs side by side for one covariate set: rows outcome x exposure, columns designs."""
    records = records.assign(design=report_designs(records))  # the county panel as "fixed-effects"
    recs = records[(records["covariate_set"] == covariate_set) & (records["design"].isin(COUNTY_DESIGNS))]
    if recs.empty:
        raise tables.TableError(f"designs_table: no county records with covariate set {covariate_set!r}")
    designs = [d for d in COUNTY_DESIGNS if d in set(recs["design"])]
    rows = []
    for (_, _), part in recs.groupby(["outcome", "exposure"], sort=False):
        first = part.iloc[0]
        decimals = _decimals(list(part["estimate"]) + list(part["ci_low"]) + list(part["ci_high"]))
        row = {"Outcome": first["outcome_label"], "Exposure": first["exposure_label"]}
        for d in designs:
            match = part[part["design"] == d]
            row[DESIGN_HEADERS[d]] = _cell(match.iloc[0], decimals) if not match.empty else ""
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["caption"] = f"County associations by design (covariate set: {covariate_set})"
    out.attrs["footnote"] = ("Difference in the outcome per 1 percentage point more adults with the exposure (95% CI). "
                             "Random effects: counties compared within and across states, state levels shrunk "
                             "towards the mean; fixed effects: counties compared only within their state. The "
                             "population-weighted fixed-effects model is primary; the unweighted fits are "
                             "sensitivity analyses. " + ECOLOGICAL_FOOTNOTE + " " + MODEL_FOOTNOTE)
    return out


def variance_components(state_effects: pd.DataFrame) -> pd.DataFrame:
    """One row per multilevel fit: states, counties, SDs of the state intercept and slope, their correlation,
    the residual SD and the share of variance between states at the average exposure (ICC)."""
    require_columns(state_effects, ["outcome_label", "exposure_label", "covariate_set", "state", "n_counties",
                             "state_intercept_var", "state_slope_var", "intercept_slope_corr", "residual_var"],
             "variance_components")
    rows = []
    for (_, _, cset), part in state_effects.groupby(["outcome", "exposure", "covariate_set"], sort=False):
        first = part.iloc[0]
        states = part.drop_duplicates("state")
        var_int, res = float(first["state_intercept_var"]), float(first["residual_var"])
        rows.append({
            "Outcome": first["outcome_label"], "Exposure": first["exposure_label"], "Covariate set": cset,
            "States": len(states), "Counties": int(states["n_counties"].sum()),
            "SD state intercept": math.sqrt(max(var_int, 0.0)),
            "SD state slope": math.sqrt(max(float(first["state_slope_var"]), 0.0))
            if not pd.isna(first["state_slope_var"]) else np.nan,
            "Correlation intercept-slope": first["intercept_slope_corr"],
            "SD residual (county)": math.sqrt(max(res, 0.0)),
            "ICC (at mean exposure)": var_int / (var_int + res) if var_int + res > 0 else np.nan,
        })
    out = pd.DataFrame(rows)
    for column in out.select_dtypes("float").columns:
        out[column] = out[column].round(3)
    out.attrs["caption"] = "Variance components of the multilevel models (counties within states)"
    out.attrs["footnote"] = ("REML estimates; SD of the state slope is per 1 percentage point of the exposure; ICC = "
                             "state intercept variance / (state intercept + residual variance), at the average "
                             "exposure and given the covariates. " + ECOLOGICAL_FOOTNOTE)
    return out


def county_summary(table: pd.DataFrame, columns: Sequence[str], weight: str | None = "population") -> pd.DataFrame:
    """Counties with a value, mean, SD, 10th/50th/90th percentiles, min, max and (if ``weight``) the
    population-weighted mean of each column."""
    require_columns(table, list(columns) + ([weight] if weight else []), "county_summary")
    rows = []
    for column in columns:
        values = table[column].astype("float64")
        present = values.notna()
        row = {"Variable": _LABELS.get(column, column), "Column": column, "Counties": int(present.sum()),
               "Mean": values.mean(), "SD": values.std(), "P10": values.quantile(0.1),
               "Median": values.median(), "P90": values.quantile(0.9), "Min": values.min(), "Max": values.max()}
        if weight:
            w = table.loc[present, weight].astype("float64")
            row["Population-weighted mean"] = float(np.average(values[present], weights=w)) if w.sum() > 0 else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    for column in out.select_dtypes("float").columns:
        out[column] = out[column].round(2)
    out.attrs["caption"] = "US counties: the measures of the county table"
    out.attrs["footnote"] = ("Unweighted county statistics (each county counts once) and the population-weighted mean "
                             "(PLACES 2024 population). PLACES prevalences are age-adjusted percentages of adults; the "
                             "social-connection measures exist for the 40 states (incl. DC) that fielded the BRFSS "
                             "2022 social determinants module. " + MODEL_FOOTNOTE)
    return out


def panel_summary(panel: pd.DataFrame, columns: Sequence[str], time: str = "year") -> pd.DataFrame:
    """Per year: counties with a value, mean and SD of each column; and the SD of the county change."""
    require_columns(panel, ["fips", time, *columns], "panel_summary")
    rows = []
    wide = panel.pivot(index="fips", columns=time, values=list(columns))
    years = sorted(panel[time].unique())
    for column in columns:
        row = {"Variable": _LABELS.get(column, column), "Column": column}
        for year in years:
            values = panel.loc[panel[time] == year, column].astype("float64")
            row[f"Counties {year}"] = int(values.notna().sum())
            row[f"Mean {year}"] = values.mean()
            row[f"SD {year}"] = values.std()
        if len(years) >= 2:
            change = (wide[(column, years[-1])] - wide[(column, years[0])]).astype("float64")
            row["SD of change"] = change.std()
        rows.append(row)
    out = pd.DataFrame(rows)
    for column in out.select_dtypes("float").columns:
        out[column] = out[column].round(3)
    out.attrs["caption"] = "CHR&R county panel, release years 2010 and 2011 (descriptive)"
    out.attrs["footnote"] = ("Unweighted county statistics. Each release pools several earlier data years and the two "
                             "windows overlap, so the county changes are small relative to the differences between "
                             "counties. " + PANEL_FOOTNOTE)
    return out


def join_log_display(join_log: pd.DataFrame) -> pd.DataFrame:
    shown = join_log.copy()
    shown.attrs["caption"] = "Joining the county sources on the FIPS code: rows read, excluded, matched and unmatched"
    shown.attrs["footnote"] = ("The PLACES 2024 counties are the spine (no county dropped); each CHR&R file is joined "
                               "one-to-one. National and state rows of the CHR&R files are excluded; unmatched FIPS "
                               "codes are listed.")
    return shown


def join_flow(join_log: pd.DataFrame, table: pd.DataFrame, exposures: Mapping[str, str],
              state: str = "state") -> pd.DataFrame:
    """County flow (STROBE 13a), a flow table: the PLACES counties (the spine, first row of the join log), each
    join of CHR&R files on the FIPS code with the counties matched and those unmatched (consecutive files with
    the same result share one step), then the counties with every social measure of ``exposures`` (column ->
    label) in ``table``: the sample of the county models, each of which then drops the counties missing its
    outcome or a covariate (its n is in the model tables).

    The join log is the cleaning stage's (one row for PLACES, one per CHR&R file, one for the final table, which
    has no file); a file's unmatched counties are those only in the file plus the PLACES counties it lacks
    (which stay in the table with the value missing).
    """
    require_columns(join_log, ["source", "file", "column", "county_rows", "county_rows_with_value", "matched",
                        "matched_with_value", "only_in_source", "only_in_places", "only_in_source_fips", "note"],
             "join_flow")
    require_columns(table, [state, *exposures], "join_flow")
    spine = join_log.iloc[0]
    steps = [{"label": str(spine["source"]), "n": spine["county_rows"]}]
    joins = join_log.iloc[1:]
    joins = joins[joins["file"].notna() & (joins["file"].astype(str).str.strip() != "")]
    result = ["matched", "only_in_source", "only_in_places", "note"]
    run = (joins[result].fillna("").astype(str) != joins[result].fillna("").astype(str).shift()).any(axis=1).cumsum()
    for _, files in joins.groupby(run, sort=False):
        first = files.iloc[0]
        with_value = files["matched_with_value"]
        fips = str(first["only_in_source_fips"]) if not pd.isna(first["only_in_source_fips"]) else ""
        reason = str(first["note"]) if not pd.isna(first["note"]) and str(first["note"]).strip() else (
            f"{count_text(first['only_in_source'], COUNTIES)} only in the file; "
            f"{count_text(first['only_in_places'], COUNTIES)}"
            " of PLACES not in it (kept, value missing)")
        if fips and len(fips.split()) <= 10:
            reason += f" (FIPS {fips})"
        steps.append({
            "label": (f"CHR&R file joined on the county FIPS code: {first['column']}" if len(files) == 1 else
                      f"{len(files)} CHR&R files joined on the county FIPS code, each with the same result"),
            "n": first["matched"], "excluded": int(first["only_in_source"]) + int(first["only_in_places"]),
            "detail": (f"with a value: {int(with_value.min()):,}" if with_value.nunique() == 1 else
                       f"with a value: {int(with_value.min()):,} to {int(with_value.max()):,} per file"),
            "excluded_label": "Unmatched", "reason": reason})
    measured = table[list(exposures)].notna().all(axis=1)
    states_with = set(table.loc[measured, state])
    without = ~measured & ~table[state].isin(states_with)
    other = int((~measured).sum() - without.sum())
    steps.append({
        "label": "With every social measure modelled: " + "; ".join(exposures.values()),
        "n": int(measured.sum()), "excluded": int(spine["county_rows"]) - int(measured.sum()),
        "detail": f"in {len(states_with)} of {table[state].nunique()} states (DC counted as a state)",
        "reason": (f"No modelled estimate: all {count_text(without.sum(), COUNTIES)} of the "
                   f"{count_text(table.loc[without, state].nunique(), ('state', 'states'))} without the BRFSS 2022 "
                   "social-needs module" + (f"; {count_text(other, COUNTIES)} in the other states" if other else ""))})
    return flow_table(steps)


# ---------------------------------------------------------------------------------------------
# Figures


def _grid_figure(width: float, axis_height: float, nrows: int, *, top: float, bottom: float, gap: float) -> Figure:
    """A figure of ``nrows`` rows of axes ``axis_height`` inches tall, with ``top``/``bottom`` margins and ``gap``
    between rows in inches (room for titles and axis labels whatever the number of rows)."""
    height = top + bottom + nrows * axis_height + (nrows - 1) * gap
    fig = new_figure(width, height)
    fig.subplots_adjust(left=0.07, right=0.98, top=1 - top / height, bottom=bottom / height,
                        hspace=gap / axis_height, wspace=0.3)
    return fig


def default_highlight_states(table: pd.DataFrame, exposure: str, k: int = 4, group: str = "state") -> list[str]:
    """The ``k`` states with the most counties that have the exposure (ties: alphabetical)."""
    counts = table.loc[table[exposure].notna(), group].value_counts()
    return sorted(counts.index, key=lambda s: (-counts[s], s))[:k]


def _fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


@styled
def scatter_figure(
    table: pd.DataFrame,
    exposure: str,
    outcomes: Mapping[str, str],
    *,
    exposure_label: str | None = None,
    highlight_states: Sequence[str] | None = None,
    group: str = "state",
    ncols: int = 3,
) -> Figure:
    """One panel per outcome: every county (grey), the state means (hollow circles), the pooled least-squares
    line (black) and, for a few highlighted states, their counties and within-state line in colour.

    Unadjusted and unweighted: the picture behind the models, not a model result. ``r`` is the Pearson
    correlation across counties.
    """
    require_columns(table, [exposure, group, *outcomes], "scatter_figure")
    data = table[table[exposure].notna()]
    if data.empty:
        raise FigureError(f"scatter_figure: no county has {exposure}")
    highlight = list(highlight_states) if highlight_states is not None else default_highlight_states(table, exposure)
    names = list(outcomes)
    ncols = min(ncols, len(names))
    nrows = math.ceil(len(names) / ncols)
    # drawn at the text width (type prints at its size): three 1.8 in panels a row
    fig = _grid_figure(PRINT_WIDTH_IN, 1.9, nrows, top=0.9, bottom=1.35, gap=1.05)
    fig.subplots_adjust(left=0.06, wspace=0.38)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    xlabel = exposure_label or _LABELS.get(exposure, exposure)
    for ax, outcome in zip(axes, names):
        part = data[[exposure, outcome, group]].dropna()
        x, y = part[exposure].to_numpy(float), part[outcome].to_numpy(float)
        ax.scatter(x, y, s=5, color=GREY, alpha=0.35, linewidths=0, rasterized=True, zorder=1)
        for i, state in enumerate(highlight):
            sub = part[part[group] == state]
            if len(sub) < 3:
                continue
            colour = PALETTE[i % len(PALETTE)]
            sx, sy = sub[exposure].to_numpy(float), sub[outcome].to_numpy(float)
            ax.scatter(sx, sy, s=7, color=colour, alpha=0.45, linewidths=0, rasterized=True, zorder=2)
            slope, intercept = _fit_line(sx, sy)
            grid = np.linspace(sx.min(), sx.max(), 20)
            ax.plot(grid, intercept + slope * grid, color=colour, linewidth=1.6, zorder=4)
        means = part.groupby(group)[[exposure, outcome]].mean()
        ax.scatter(means[exposure], means[outcome], s=22, facecolor="white", edgecolor="#222222", linewidths=0.8,
                   zorder=3)
        if len(x) >= 3:
            slope, intercept = _fit_line(x, y)
            grid = np.linspace(x.min(), x.max(), 20)
            ax.plot(grid, intercept + slope * grid, color="#111111", linewidth=1.6, linestyle="--", zorder=5)
            r = float(np.corrcoef(x, y)[0, 1])
            ax.text(0.03, 0.97, f"r = {r:.2f}\n{len(x):,} counties", transform=ax.transAxes, va="top", ha="left",
                    fontsize=8, bbox=dict(boxstyle="round,pad=0.25", facecolor="white", edgecolor="none", alpha=0.8))
        ax.set_title(textwrap.fill(outcomes[outcome], 26), fontsize=8.5)
        ax.set_xlabel(textwrap.fill(xlabel, 28), fontsize=8)
        ax.tick_params(labelsize=7.5)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        if np.nanmax(np.abs(y)) >= 1000:
            ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.grid(color="#eeeeee", linewidth=0.6, zorder=0)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    handles = [Line2D([], [], marker="o", linestyle="", color=GREY, alpha=0.6, markersize=4, label="County"),
               Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="#222222",
                      markersize=5, label="State mean"),
               Line2D([], [], color="#111111", linestyle="--", linewidth=1.6, label="Least squares, all counties")]
    handles += [Line2D([], [], color=PALETTE[i % len(PALETTE)], marker="o", markersize=4, linewidth=1.6,
                       label=f"{state}: counties and within-state line") for i, state in enumerate(highlight)]
    fig.legend(handles=handles, loc="lower center", ncol=min(2, len(handles)), frameon=False, fontsize=8)
    fig.suptitle(textwrap.fill(f"{xlabel} and health across US counties (ecological, unadjusted; PLACES values "
                               "are small-area model predictions)", 72), x=0.01,
                 y=1 - 0.08 / fig.get_figheight(), ha="left", va="top", fontweight="bold", fontsize=10)
    return fig


@styled
def caterpillar_figure(
    state_effects: pd.DataFrame,
    exposure: str,
    covariate_set: str,
    *,
    component: str = "intercept",
    outcomes: Sequence[str] | None = None,
    ncols: int = 3,
) -> Figure:
    """State random effects of the multilevel fits of one exposure and covariate set: one panel per outcome,
    states sorted by their BLUP, 95% intervals (BLUP +/- 1.96 conditional SD); coloured where the interval
    excludes zero. ``component``: "intercept" (the state's level at the average exposure, relative to the
    average state) or "slope" (the state's deviation from the average slope)."""
    require_columns(state_effects, ["outcome", "outcome_label", "exposure", "exposure_label", "covariate_set", "state",
                             "component", "deviation", "ci_low", "ci_high"], "caterpillar_figure")
    data = state_effects[(state_effects["exposure"] == exposure) & (state_effects["covariate_set"] == covariate_set)
                         & (state_effects["component"] == component)]
    if outcomes is not None:
        data = data[data["outcome"].isin(list(outcomes))]
    if data.empty:
        raise FigureError(f"caterpillar_figure: no {component} effects for exposure {exposure!r}, covariate set "
                          f"{covariate_set!r}")
    present = list(dict.fromkeys(data["outcome"]))
    names = present if outcomes is None else [o for o in outcomes if o in present]
    ncols = min(ncols, len(names))
    nrows = math.ceil(len(names) / ncols)
    n_states = data.groupby("outcome")["state"].nunique().max()
    # the text width; state labels at 7 pt alternate left and right, so each side has one every other row
    fig = _grid_figure(PRINT_WIDTH_IN, 0.064 * n_states + 0.3, nrows, top=1.0, bottom=0.6, gap=1.05)
    fig.subplots_adjust(left=0.05, right=0.94, wspace=0.44)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, outcome in zip(axes, names):
        part = data[data["outcome"] == outcome].sort_values("deviation", kind="stable").reset_index(drop=True)
        y = np.arange(len(part))
        clear = (part["ci_low"] > 0) | (part["ci_high"] < 0)
        colours = np.where(clear, PALETTE[0], GREY)
        ax.hlines(y, part["ci_low"], part["ci_high"], colors=colours, linewidth=1.2)
        ax.scatter(part["deviation"], y, s=12, c=colours, zorder=3)
        ax.axvline(0.0, color="#555555", linestyle="--", linewidth=0.9, zorder=0)
        ax.set_yticks(y[::2], part["state"][::2], fontsize=7.2)
        ax.set_ylim(-0.8, len(part) - 0.2)
        right = ax.twinx()
        right.set_ylim(ax.get_ylim())
        right.set_yticks(y[1::2], part["state"][1::2], fontsize=7.2)
        right.spines["right"].set_visible(False)
        right.tick_params(axis="y", length=2, pad=1)
        ax.tick_params(axis="y", length=2, pad=1)
        ax.tick_params(axis="x", labelsize=7.5)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.set_title(textwrap.fill(part["outcome_label"].iloc[0], 24), fontsize=8.5)
        ax.set_xlabel("Difference from\nthe average state" if component == "intercept"
                      else "Slope difference\n(per 1 point)", fontsize=8)
        ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
        if np.nanmax(np.abs(part[["ci_low", "ci_high"]].to_numpy(float))) >= 1000:
            ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    for ax in axes[len(names):]:
        ax.set_visible(False)
    label = _LABELS.get(exposure, data["exposure_label"].iloc[0])
    what = ("State random intercepts: each state's level at the average exposure" if component == "intercept"
            else "State random slopes: each state's deviation from the average slope")
    fig.suptitle(textwrap.fill(f"{what}. {label}; covariate set '{covariate_set}' (BLUP and 95% interval; blue: "
                               "excludes 0; PLACES values are small-area model predictions)", 80),
                 x=0.01, y=1 - 0.1 / fig.get_figheight(), ha="left", va="top", fontweight="bold", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# The stage


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(text).lower()).strip("_")


def write_places_reports(processed: Path, reports: Path, places: PlacesSettings,
                         formats: tuple[str, ...] = ("png", "svg"), *, n_jobs: int = 1) -> list[Path]:
    """Write the county tables and figures under ``reports/tables/places`` and ``reports/figures/places``.

    Reads ``<processed>/places_county.parquet``, ``places_panel.parquet``, ``places_join_log.csv`` and
    ``<reports>/metrics/places_models.csv``, ``places_state_effects.csv``. Options in params.yaml
    ``places.report``: ``highlight_states`` (list of state abbreviations for the scatter plots;
    default the 4 states with most counties), ``covariate_set`` (the set of the design comparison and the
    caterpillar plots; default the last of ``county_models.covariate_sets``), ``caterpillar_outcomes``.
    ``n_jobs`` worker processes draw the figures while this process writes the tables
    (:func:`analysis.report.writers.start_writers`; the same bytes for any ``n_jobs``).
    """
    processed, reports = Path(processed), Path(reports)
    table = io.read_parquet(processed / "places_county.parquet")
    panel = io.read_parquet(processed / "places_panel.parquet")
    join_log = pd.read_csv(processed / "places_join_log.csv", dtype={"only_in_source_fips": str,
                                                                      "only_in_places_fips": str})
    records = pd.read_csv(reports / "metrics" / "places_models.csv")
    effects = pd.read_csv(reports / "metrics" / "places_state_effects.csv")
    exposures = {k: v.label for k, v in places.county_models.exposures.items()}
    tables_dir, figures_dir = reports / "tables" / "places", reports / "figures" / "places"
    flow = join_flow(join_log, table, {k: v.split(" (per ")[0] for k, v in exposures.items()})

    written: list[Path] = []
    with io.staged_outputs():
        drawn = start_writers(places_figures(table, effects, flow, places, figures_dir, formats), n_jobs)
        try:
            written += write_places_tables(records, effects, table, panel, join_log, flow, places, tables_dir)
        finally:
            written += drawn()  # the figures join the outputs (and are removed with them on an error)
    return written


def write_places_tables(records: pd.DataFrame, effects: pd.DataFrame, table: pd.DataFrame, panel: pd.DataFrame,
                        join_log: pd.DataFrame, flow: pd.DataFrame, places: PlacesSettings, tables_dir: Path
                        ) -> list[Path]:
    """The county tables under ``tables_dir`` (models by design, designs compared, variance components, summaries,
    join log, flow)."""
    county, panel_block, chosen = places.county_models, places.panel_models, places.report_set
    sets = {str(k): " ".join(v.split()) for k, v in county.covariate_sets.items()}
    exposures = {k: v.label for k, v in county.exposures.items()}
    summary_columns = [*exposures, *county.outcomes] + [c for c in ("social_associations",) if c in table]
    panel_columns = [c for c in ([*panel_block.exposures, *panel_block.outcomes] if panel_block else [])
                     if c in panel.columns]
    written: list[Path] = []
    for design in [*COUNTY_DESIGNS, PANEL_DESIGN]:
        if (report_designs(records) == design).any():
            written += tables.write_table(effects_table(records, design, sets if design != PANEL_DESIGN else
                                                        {str(k): v for k, v in
                                                         (panel_block.covariate_sets if panel_block
                                                          else {}).items()}),
                                          tables_dir / f"models_{_slug(design)}")
    written += tables.write_table(designs_table(records, chosen), tables_dir / "designs_compared")
    if not effects.empty:
        written += tables.write_table(variance_components(effects), tables_dir / "variance_components")
    written += tables.write_table(county_summary(table, summary_columns), tables_dir / "county_summary")
    if panel_columns:
        written += tables.write_table(panel_summary(panel, panel_columns), tables_dir / "panel_summary")
    written += tables.write_table(join_log_display(join_log), tables_dir / "join_log")
    written.append(io.write_csv(tables_dir / "flow.csv", flow))
    return written


def places_figures(table: pd.DataFrame, effects: pd.DataFrame, flow: pd.DataFrame, places: PlacesSettings,
                   figures_dir: Path, formats: tuple[str, ...]) -> list[tuple[str, Callable[[], list[Path]]]]:
    """The writers of the county figures (flow, scatter plots, caterpillar plots), the longest first."""
    options, chosen = places.report, places.report_set
    outcomes = {k: v.label for k, v in places.county_models.outcomes.items()}
    cat_outcomes = options.caterpillar_outcomes
    caterpillars, scatters = [], []
    for exposure in places.county_models.exposures:
        scatters.append((f"scatter_{exposure}", partial(
            draw_and_write, scatter_figure, table, exposure, outcomes, highlight_states=options.highlight_states,
            dest_stem=figures_dir / f"scatter_{exposure}", formats=formats)))
        if not effects.empty and ((effects["exposure"] == exposure) & (effects["covariate_set"] == chosen)).any():
            caterpillars.append((f"state_intercepts_{exposure}", partial(
                draw_and_write, caterpillar_figure, effects, exposure, chosen, outcomes=cat_outcomes,
                dest_stem=figures_dir / f"state_intercepts_{exposure}", formats=formats)))
            if (effects["component"] == "slope").any():
                caterpillars.append((f"state_slopes_{exposure}", partial(
                    draw_and_write, caterpillar_figure, effects, exposure, chosen, component="slope",
                    outcomes=cat_outcomes, dest_stem=figures_dir / f"state_slopes_{exposure}", formats=formats)))
    flow_figure = ("flow", partial(  # on screen only
        draw_and_write, flow_diagram, flow, "US counties: PLACES 2024 joined to County Health Rankings", unit=COUNTIES,
        dest_stem=figures_dir / "flow", formats=formats, print_width_in=None))
    return [*caterpillars, *scatters, flow_figure]


def stage() -> str:
    """DVC stage ``report_places``: the county tables and figures."""
    params = load()
    written = write_places_reports(config.PROCESSED, config.REPORTS, params.places,
                                   tuple(params.reports.figure_formats), n_jobs=params.compute.n_jobs)
    return f"county reports: {len(written)} files"
