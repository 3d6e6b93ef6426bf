"""Figures for the paper: survival curves, the forest plot and the flow diagrams (STROBE item 13).

Each figure function takes data (the analysis table, the tidy model records, the cohort flow)
and returns a matplotlib ``Figure``; it never fits a model and never writes a file.  The
``write_*`` functions save a figure as PNG and SVG through ``analysis.core.io.save_figure``.

Figures are built on ``matplotlib.figure.Figure`` with an Agg canvas attached, not through
``pyplot``: library code then never switches the global backend (which would silently drop
figures in a notebook) and never leaves figures open in pyplot's registry.

Style: Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), with
line styles and markers as a second cue so a grey-scale print still reads; 8-11 pt text.
"""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.transforms as mtransforms
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import FixedLocator, NullLocator

from analysis.core import io
from analysis.estimators.incidence import (
    kish_scaled,
    weighted_cumulative_incidence,
    weighted_kaplan_meier,
)
from analysis.report.tables import covariate_set_header, format_interval

# Okabe & Ito (2008), "Color Universal Design": blue, orange, bluish green, vermillion,
# reddish purple, sky blue, black.
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
LINESTYLES: tuple[str, ...] = ("-", "--", "-.", ":")
MARKERS: tuple[str, ...] = ("o", "s", "D", "^", "v")

FONT_SIZE = 9
STYLE: dict = {
    "font.family": "DejaVu Sans",
    "font.size": FONT_SIZE,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.5,
    "xtick.labelsize": FONT_SIZE,
    "ytick.labelsize": FONT_SIZE,
    "legend.fontsize": FONT_SIZE,
    "legend.title_fontsize": FONT_SIZE,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "connected-health",
}

MEASURE_AXIS = {"HR": "Hazard ratio", "OR": "Odds ratio"}


class FigureError(ValueError):
    """An input of a figure lacks a column or holds values the figure cannot draw."""


def styled(func):
    """Build the figure inside the house style (font sizes, spines) without touching global state."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float) -> Figure:
    """A Figure with its own Agg canvas (no pyplot, no global backend change)."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def humanize(name: str) -> str:
    """A column name as words, for an axis or title no label was given for: "cvd_death" -> "Cvd death"."""
    return name.replace("_", " ").capitalize()


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise FigureError naming the figure (``what``) and the first column the input lacks."""
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise FigureError(f"{what}: the input has no column {absent[0]!r} (needed: {', '.join(columns)})")


# ---------------------------------------------------------------------------------------------
# Survival curves (the estimators are in analysis.estimators.incidence)


def _fit_curve(durations, events, deaths, weights, kind: str) -> pd.DataFrame:
    """One group's curve: columns time (months), estimate, low, high (proportions).

    kind "survival": weighted Kaplan-Meier S(t).  kind "cif": weighted Aalen-Johansen cumulative
    incidence with deaths from other causes competing.  kind "1-km": 1 - Kaplan-Meier with other
    deaths censored.  Weights are scaled to the Kish effective sample size for the CIs.
    """
    w = kish_scaled(weights)
    if kind == "cif":
        causes = np.where(events == 1, 1, np.where(deaths == 1, 2, 0))
        return weighted_cumulative_incidence(durations, causes, 1, w)
    curve = weighted_kaplan_meier(durations, events == 1, w)
    if kind == "1-km":
        curve = curve.assign(estimate=1 - curve["estimate"], low=1 - curve["high"], high=1 - curve["low"])
    return curve


def survival_curves(
    table: pd.DataFrame,
    duration: str = "followup_months",
    event: str = "died",
    group: str = "isolation_category",
    weight: str | None = "weight_interview",
    death: str | None = "died",
    competing_risks: bool = True,
) -> tuple[pd.DataFrame, str]:
    """The data behind one panel of :func:`km_curves`: a tidy frame and the kind of curve.

    Returns (curves, kind): curves has columns group, time (months), estimate, low, high
    (proportions); kind is "survival" when ``event`` is all-cause death (``event == death`` or no
    ``death`` given), "cif" (Aalen-Johansen, other deaths competing) for a cause-specific death
    with ``competing_risks``, else "1-km" (1 - Kaplan-Meier, other deaths censored).
    """
    cols = [duration, event, group] + ([weight] if weight else []) + ([death] if death and death != event else [])
    require_columns(table, cols, "km_curves")
    data = table[cols].dropna()
    if data.empty:
        raise FigureError(f"km_curves: no rows with {', '.join(cols)} all present")
    if death is None or event == death:
        kind = "survival"
    else:
        kind = "cif" if competing_risks else "1-km"
    frames = []
    for level in _group_levels(table[group], data[group]):
        part = data[data[group] == level]
        if part.empty:
            continue
        d = part[duration].to_numpy(dtype="float64")
        e = part[event].to_numpy(dtype="float64")
        dd = part[death].to_numpy(dtype="float64") if death else e
        w = part[weight].to_numpy(dtype="float64") if weight else np.ones(len(part))
        curve = _fit_curve(d, e, dd, w, kind)
        if d.max() > curve["time"].max():  # the curve runs on, flat, to the last follow-up
            curve = pd.concat([curve, curve.iloc[[-1]].assign(time=d.max())], ignore_index=True)
        curve.insert(0, "group", str(level))
        frames.append(curve)
    return pd.concat(frames, ignore_index=True), kind


def _group_levels(column: pd.Series, present: pd.Series) -> list:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return list(column.cat.categories)
    return sorted(present.unique(), key=str)


def at_risk_counts(table: pd.DataFrame, duration: str, group: str, times_months: Sequence[float],
                   columns: Sequence[str] = ()) -> pd.DataFrame:
    """Unweighted numbers still under follow-up (duration >= t) by group at each time."""
    data = table[list(dict.fromkeys([duration, group, *columns]))].dropna()
    rows = {str(level): [int((data.loc[data[group] == level, duration] >= t).sum()) for t in times_months]
            for level in _group_levels(table[group], data[group]) if (data[group] == level).any()}
    return pd.DataFrame(rows, index=list(times_months)).T


def _clip(curve: pd.DataFrame, horizon: float) -> pd.DataFrame:
    """The curve up to ``horizon``, with a last step at the horizon when it runs beyond it."""
    inside = curve[curve["time"] <= horizon]
    if curve["time"].max() > horizon and inside["time"].max() < horizon:
        inside = pd.concat([inside, inside.iloc[[-1]].assign(time=float(horizon))], ignore_index=True)
    return inside


@styled
def km_curves(
    table: pd.DataFrame,
    duration: str = "followup_months",
    event: str | Sequence[str] = ("died", "cvd_death"),
    group: str = "isolation_category",
    weight: str | None = "weight_interview",
    horizon_months: float = 240,
    *,
    death: str | None = "died",
    competing_risks: bool = True,
    time_unit: str = "years",
    titles: Mapping[str, str] | None = None,
    group_label: str | None = None,
    at_risk_every_months: float = 60,
) -> Figure:
    """Survey-weighted survival by group, one panel per outcome, with numbers at risk below.

    - ``event == death`` (all-cause death): weighted Kaplan-Meier survival, %.
    - another event (CVD death): weighted Aalen-Johansen cumulative incidence, %, with deaths from
      other causes as a competing event (``competing_risks=False``: 1 - Kaplan-Meier, other deaths
      censored; the axis says which).
    Shaded bands are pointwise 95% confidence intervals (Greenwood / Collett delta method, log-log
    scale) with weights scaled to each group's Kish effective sample size: they allow for unequal
    weights but not for clustering, so they are somewhat too narrow.  Numbers at risk are unweighted
    participants still followed at each time.  The curve data: :func:`survival_curves`.
    """
    events = [event] if isinstance(event, str) else list(event)
    if time_unit not in ("years", "months"):
        raise FigureError(f"km_curves: time_unit is {time_unit!r}; use 'years' or 'months'")
    scale = 12.0 if time_unit == "years" else 1.0
    titles = dict(titles or {})
    group_label = group_label or humanize(group)
    ticks = np.arange(0, horizon_months + 1e-9, at_risk_every_months)

    n_panels = len(events)
    fig = new_figure(4.4 * n_panels + 0.5, 5.0)
    grid = fig.add_gridspec(2, n_panels, height_ratios=[4.0, 1.0], hspace=0.5, wspace=0.3,
                            left=0.2 if n_panels == 1 else 0.11, right=0.98, top=0.85, bottom=0.08)
    risk_cols = [weight] if weight else []
    for p, ev in enumerate(events):
        curves, kind = survival_curves(table, duration, ev, group, weight, death, competing_risks)
        ax = fig.add_subplot(grid[0, p])
        groups = list(dict.fromkeys(curves["group"]))
        for i, g in enumerate(groups):
            c = _clip(curves[curves["group"] == g], horizon_months)
            t = c["time"].to_numpy() / scale
            colour = PALETTE[i % len(PALETTE)]
            ax.step(t, 100 * c["estimate"], where="post", color=colour,
                    linestyle=LINESTYLES[i % len(LINESTYLES)], linewidth=1.6, label=g)
            ax.fill_between(t, 100 * c["low"], 100 * c["high"], step="post", color=colour,
                            alpha=0.18, linewidth=0)
        ax.set_xlim(0, horizon_months / scale)
        ax.xaxis.set_major_locator(FixedLocator(ticks / scale))
        ax.set_xlabel(f"{'Years' if scale == 12 else 'Months'} since interview")
        ax.set_title(titles.get(ev, humanize(ev)), loc="left", pad=16)
        if kind == "survival":
            ax.set_ylim(0, 100)
            ax.set_ylabel("Survival (%)")
            method = "Weighted Kaplan-Meier"
            legend_loc = "lower left"
        else:
            top = 100 * curves.loc[curves["time"] <= horizon_months, "high"].max()
            ax.set_ylim(0, max(1.0, float(np.ceil(top * 1.1))))
            ax.set_ylabel(f"Cumulative incidence of {titles.get(ev, humanize(ev)).lower()} (%)")
            method = ("Weighted Aalen-Johansen; other deaths as competing events" if kind == "cif"
                      else "1 - Kaplan-Meier, other deaths censored")
            legend_loc = "upper left"
        ax.text(0, 1.015, method, transform=ax.transAxes, fontsize=8, color="#444444", ha="left", va="bottom")
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.tick_params(labelsize=FONT_SIZE)
        if p == 0:
            ax.legend(title=group_label, loc=legend_loc, frameon=False)

        # numbers at risk (unweighted), aligned with the x ticks
        needed = [ev] + ([death] if death and death != ev and kind != "survival" else []) + risk_cols
        risk = at_risk_counts(table, duration, group, ticks, needed)
        rax = fig.add_subplot(grid[1, p], sharex=ax)
        rax.set_ylim(len(risk) - 0.5, -0.5)
        for i, (g, counts) in enumerate(risk.iterrows()):
            colour = PALETTE[groups.index(g) % len(PALETTE)] if g in groups else "#000000"
            for t, n in zip(ticks / scale, counts):
                rax.text(t, i, f"{n:,}", ha="center", va="center", fontsize=8, color=colour)
        rax.yaxis.set_major_locator(FixedLocator(range(len(risk))))
        if p == 0:  # group names once, at the left; the colours carry them across panels
            rax.set_yticklabels(list(risk.index), fontsize=8)
            for i, label in enumerate(rax.get_yticklabels()):
                g = risk.index[i]
                label.set_color(PALETTE[groups.index(g) % len(PALETTE)] if g in groups else "#000000")
        else:
            rax.set_yticklabels([])
        rax.tick_params(axis="x", bottom=False, labelbottom=False)
        rax.tick_params(axis="y", left=False, pad=14)
        rax.xaxis.set_minor_locator(NullLocator())
        for side in ("top", "right", "bottom", "left"):
            rax.spines[side].set_visible(False)
        rax.set_title("Number at risk (unweighted)", loc="left", fontsize=8.5, fontweight="normal")

    fig.suptitle(f"Survival by {group_label.lower()}, survey-weighted", x=0.01, ha="left", fontweight="bold")
    note = ("Shaded bands: pointwise 95% CI (weights scaled to the Kish effective sample size; "
            "clustering and strata not accounted for).")
    fig.text(0.01, 0.005, textwrap.fill(note, 140 if n_panels > 1 else 75), fontsize=7.5, color="#444444",
             ha="left", va="bottom")
    return fig


# ---------------------------------------------------------------------------------------------
# Forest plot

_NICE_TICKS = (0.1, 0.2, 0.25, 0.33, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 8, 10, 20)


def _forest_rows(recs: pd.DataFrame) -> list[dict]:
    """Rows top to bottom: an outcome header, an exposure subheader (when it has several terms),
    then one row per term x covariate set."""
    rows: list[dict] = []
    sets = list(dict.fromkeys(recs["covariate_set"]))
    for _, by_outcome in recs.groupby("outcome", sort=False):
        rows.append({"kind": "outcome", "text": by_outcome["outcome_label"].iloc[0]})
        for _, by_exposure in by_outcome.groupby("exposure", sort=False):
            terms = list(dict.fromkeys(by_exposure["term"]))
            several = len(terms) > 1
            if several:
                rows.append({"kind": "exposure", "text": by_exposure["exposure_label"].iloc[0]})
            for term in terms:
                part = by_exposure[by_exposure["term"] == term]
                first = part.iloc[0]
                label = (first["term_label"] if not pd.isna(first["term_label"]) else term) if several \
                    else first["exposure_label"]
                part = part.assign(_order=part["covariate_set"].map({s: i for i, s in enumerate(sets)}))
                for j, (_, rec) in enumerate(part.sort_values("_order").iterrows()):
                    rows.append({"kind": "estimate", "text": label if j == 0 else "",
                                 "indent": several, "record": rec, "set_index": int(rec["_order"])})
    return rows


def _panel_axes(fig: Figure, top: float, n_rows: int, height: float, span: tuple[float, float], row_h: float,
                header_h: float):
    """The axes of one panel of a stacked forest plot: ``n_rows`` rows of ``row_h`` inches below a header of
    ``header_h`` under ``top`` (inches from the bottom), ``span`` = (left, width) in figure fractions; returns
    ``(ax, fig_x, bottom, rows_h)``, ``fig_x`` placing text at figure x and data y."""
    rows_h = row_h * (n_rows + 0.4)
    bottom = top - header_h - rows_h
    ax = fig.add_axes((span[0], bottom / height, span[1], rows_h / height))
    return ax, mtransforms.blended_transform_factory(fig.transFigure, ax.transData), bottom, rows_h


def _ratio_axis(ax, kinds: Sequence[str], values: list[float], axis_label: str, ticks) -> None:
    """The ratio axis of one forest-plot panel: rows top to bottom of ``kinds`` (a light guide line at each
    "estimate" row), a log x axis spanning ``values`` and 1 with ``ticks(lo, hi)`` labelled, the null line."""
    n = len(kinds)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xscale("log")
    lo_lim = min(values + [1.0]) / 1.15
    hi_lim = max(values + [1.0]) * 1.15
    ax.set_xlim(lo_lim, hi_lim)
    chosen = ticks(lo_lim, hi_lim)
    ax.xaxis.set_major_locator(FixedLocator(chosen))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{t:g}" for t in chosen])
    ax.axvline(1.0, color="#555555", linestyle="--", linewidth=0.9, zorder=0)
    ax.set_xlabel(f"{axis_label} (95% CI), log scale")
    for y in range(n):  # light guide lines help the eye from label to estimate
        if kinds[n - 1 - y] == "estimate":
            ax.axhline(y, color="#eeeeee", linewidth=0.6, zorder=0)


@styled
def forest_plot(
    records: pd.DataFrame,
    design: str = "design-based",
    measures: Sequence[str] = ("HR", "OR"),
    exposures: Sequence[str] | None = None,
    covariate_set_labels: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Ratios with 95% CIs: one row per outcome x term x covariate set, one panel per measure.

    Labels on the left (outcome, exposure/term, model), the point estimate and CI as a marker and
    bar on a log axis with a dashed line at 1, and the numbers on the right.  Colours and markers
    distinguish the nested covariate sets.  Each record is drawn with its own ``errorbar`` call.
    """
    require_columns(records, ["design", "measure", "outcome", "outcome_label", "exposure", "exposure_label", "term",
                       "term_label", "ratio", "ratio_ci_low", "ratio_ci_high", "covariate_set"], "forest_plot")
    recs = records[(records["design"] == design) & records["measure"].isin(list(measures))]
    if exposures is not None:
        recs = recs[recs["exposure"].isin(list(exposures))]
    if recs.empty:
        raise FigureError(f"forest_plot: no records with design {design!r} and measure in {list(measures)} "
                          f"(designs: {sorted(records['design'].unique())}, "
                          f"measures: {sorted(records['measure'].unique())})")
    sets = list(dict.fromkeys(recs["covariate_set"]))
    set_names = [covariate_set_header(i + 1, s, covariate_set_labels) for i, s in enumerate(sets)]
    panels = [(m, _forest_rows(recs[recs["measure"] == m])) for m in measures if (recs["measure"] == m).any()]

    # vertical layout in inches: title, then per panel a column header, the rows, the x axis
    row_h, title_h, header_h, axis_h, gap_h = 0.21, 0.45, 0.25, 0.55, 0.25
    panel_h = [header_h + row_h * (len(rows) + 0.4) + axis_h for _, rows in panels]
    height = title_h + sum(panel_h) + gap_h * (len(panels) - 1) + 0.1
    fig = new_figure(8.2, height)
    x_label, x_set, x_est = 0.01, 0.31, 0.80
    top = height - title_h
    for _p, (measure, rows) in enumerate(panels):
        ax, fig_x, bottom, rows_h = _panel_axes(fig, top, len(rows), height, (0.50, 0.28), row_h, header_h)
        top = bottom - axis_h - gap_h
        n = len(rows)
        values = []
        for i, row in enumerate(rows):
            y = n - 1 - i
            if row["kind"] == "outcome":
                ax.text(x_label, y, row["text"].replace(">=", "\u2265"), transform=fig_x, fontweight="bold",
                        va="center", fontsize=9.5)
                continue
            if row["kind"] == "exposure":
                ax.text(x_label + 0.012, y, row["text"], transform=fig_x, style="italic", va="center")
                continue
            rec = row["record"]
            k = row["set_index"]
            colour = PALETTE[k % len(PALETTE)]
            ratio, lo, hi = (float(rec["ratio"]), float(rec["ratio_ci_low"]), float(rec["ratio_ci_high"]))
            err = np.array([[ratio - lo], [hi - ratio]])
            ax.errorbar([ratio], [y], xerr=err, fmt=MARKERS[k % len(MARKERS)], color=colour, markersize=4.5,
                        capsize=2.5, elinewidth=1.3, markeredgewidth=1)
            values += [v for v in (ratio, lo, hi) if np.isfinite(v) and v > 0]
            if row["text"]:
                ax.text(x_label + (0.024 if row["indent"] else 0.012), y, row["text"], transform=fig_x, va="center")
            ax.text(x_set, y, set_names[k], transform=fig_x, va="center", color=colour, fontsize=8.5)
            converged = rec.get("converged", True)
            mark = "" if pd.isna(converged) or bool(converged) else " \u2021"
            ax.text(x_est, y, format_interval(ratio, lo, hi) + mark, transform=fig_x, va="center", fontsize=8.5)
        # column headers
        for x, text in ((x_label, "Outcome and exposure"), (x_set, "Model"), (x_est, f"{measure} (95% CI)")):
            ax.text(x, n - 0.1, text, transform=fig_x, fontweight="bold", va="bottom", fontsize=8.5, color="#444444")
        _ratio_axis(ax, [row["kind"] for row in rows], values, f"{MEASURE_AXIS.get(measure, measure)}",
                    lambda lo, hi: [t for t in _NICE_TICKS if lo <= t <= hi])
        ax.tick_params(labelsize=FONT_SIZE)
    fig.suptitle(title or f"Social isolation and outcomes ({design} models)", x=0.01, ha="left",
                 y=1 - 0.1 / height, va="top", fontweight="bold")
    return fig


# ---------------------------------------------------------------------------------------------
# Flow diagrams (STROBE item 13: participants, or counties, or countries, at each stage)

#: Columns of a flow table: one row per step, ``n`` units remaining (or matched) after the step,
#: ``excluded`` units dropped (or left unmatched) at it, and why. Optional: ``detail`` (lines printed under
#: the count, e.g. the count of each panel) and ``excluded_label`` (the exclusion box's heading, default
#: "Excluded", e.g. "Lost" or "Unmatched").
FLOW_COLUMNS = ("step", "label", "n", "excluded", "reason")


def flow_table(steps: Sequence[Mapping]) -> pd.DataFrame:
    """A flow table (:data:`FLOW_COLUMNS`) from its steps in order.

    Each step is a mapping with ``label``, ``n`` and, after the first, ``reason``; ``excluded`` defaults to
    the previous step's n minus this one's (give it when units are not simply dropped, e.g. unmatched rows
    of a joined file); ``detail`` and ``excluded_label`` are optional. Steps are numbered 0, 1, ...
    """
    rows = []
    for i, step in enumerate(steps):
        n = int(step["n"])
        excluded = step.get("excluded", 0 if i == 0 else rows[-1]["n"] - n)
        if excluded < 0:
            raise FigureError(f"flow step {i} ({step['label']!r}): {n:,} remaining is more than the "
                              f"{rows[-1]['n']:,} of the step before; give 'excluded' explicitly")
        rows.append({"step": i, "label": step["label"], "n": n, "excluded": int(excluded),
                     "reason": step.get("reason", ""), "detail": step.get("detail", ""),
                     "excluded_label": step.get("excluded_label", "Excluded")})
    return pd.DataFrame(rows, columns=[*FLOW_COLUMNS, "detail", "excluded_label"])


def count_text(value, unit: tuple[str, str] | None) -> str:
    """"n = 1,234" without a unit; "1,234 persons" (or "1 person") with one; a text (a suppressed count,
    "<11") is printed as it is: "n <11", "<11 persons"."""
    if isinstance(value, str):
        return f"n {value}" if unit is None else f"{value} {unit[1]}"
    value = int(value)
    if unit is None:
        return f"n = {value:,}"
    return f"{value:,} {unit[0] if value == 1 else unit[1]}"


def _wrap(text, width: int) -> str:
    """Wrap every line of ``text`` (lines are kept: a label may list one count per line)."""
    return "\n".join(textwrap.fill(line, width) if line.strip() else "" for line in str(text).split("\n")).strip()


@styled
def flow_diagram(flow: pd.DataFrame, title: str | None = "Selection of participants",
                 unit: tuple[str, str] | None = None, highlight_last: bool = True) -> Figure:
    """STROBE-style flow diagram: the units remaining down the middle, those excluded at each step to the right.

    ``flow`` has the columns :data:`FLOW_COLUMNS`: step, label, n (remaining after the step), excluded
    (dropped at the step; 0 for step 0) and reason, and optionally ``detail`` and ``excluded_label``. A
    label, detail or reason may hold several lines (``"\\n"``), each wrapped to the box. ``unit``
    (singular, plural), e.g. ``("person", "persons")``, prints counts as "1,234 persons"; without it,
    "n = 1,234". Counts are printed with thousands separators. ``highlight_last`` emphasises the last box
    (the analysed units); leave it off when the last step is not the analysis sample.
    """
    require_columns(flow, list(FLOW_COLUMNS), "flow_diagram")
    steps = flow.sort_values("step").reset_index(drop=True)
    unit_in = 0.5  # inches per data unit
    width_units = 15.0
    line = 0.36  # data units per 9-pt text line
    main_x, main_w = 0.2, 7.0
    excl_x, excl_w = 8.2, 6.6

    def box_height(lines: int) -> float:
        return lines * line + 0.45

    main_text, excl_text = [], []
    for i, row in steps.iterrows():
        detail = row.get("detail", "")
        detail = "" if pd.isna(detail) else _wrap(detail, 46)
        main_text.append(f"{_wrap(row['label'], 44)}\n{count_text(row['n'], unit)}" + (f"\n{detail}" if detail else ""))
        if i > 0:
            reason = _wrap(row["reason"], 42) if not pd.isna(row["reason"]) else ""
            heading = row.get("excluded_label", "Excluded")
            heading = "Excluded" if pd.isna(heading) or not str(heading).strip() else str(heading)
            excl_text.append(f"{heading}: {count_text(row['excluded'], unit)}" + (f"\n{reason}" if reason else ""))
    # lay out top-down
    y = 0.0
    layout = []
    for i in range(len(steps)):
        h = box_height(main_text[i].count("\n") + 1)
        layout.append(("main", i, y, h))
        y -= h
        if i + 1 < len(steps):
            he = box_height(excl_text[i].count("\n") + 1)
            gap = max(he + 0.5, 1.2)
            layout.append(("gap", i, y, gap))
            y -= gap
    total = -y
    fig = new_figure(width_units * unit_in, total * unit_in + (0.5 if title else 0.15))
    ax = fig.add_axes((0, 0, 1, total * unit_in / fig.get_figheight()))
    ax.set_xlim(0, width_units)
    ax.set_ylim(-total - 0.05, 0.05)
    ax.axis("off")

    last = len(steps) - 1 if highlight_last else -1
    for kind, i, top, h in layout:
        if kind == "main":
            ax.add_patch(FancyBboxPatch((main_x, top - h), main_w, h, boxstyle="round,pad=0,rounding_size=0.15",
                                        facecolor="#e8f1f8" if i == last else "white", edgecolor="#0072B2",
                                        linewidth=1.6 if i == last else 1.0))
            ax.text(main_x + main_w / 2, top - h / 2, main_text[i], ha="center", va="center", fontsize=FONT_SIZE,
                    linespacing=1.3, fontweight="bold" if i == last else "normal")
        else:
            mid = top - h / 2
            he = box_height(excl_text[i].count("\n") + 1)
            ax.add_patch(FancyBboxPatch((excl_x, mid - he / 2), excl_w, he,
                                        boxstyle="round,pad=0,rounding_size=0.15", facecolor="#fbf3e6",
                                        edgecolor="#E69F00", linewidth=1.0))
            ax.text(excl_x + 0.25, mid, excl_text[i], ha="left", va="center", fontsize=8.5, linespacing=1.3)
            cx = main_x + main_w / 2
            for start, end in (((cx, top), (cx, top - h)), ((cx, mid), (excl_x, mid))):
                ax.annotate("", xy=end, xytext=start,
                            arrowprops={"arrowstyle": "-|>", "color": "#333333", "linewidth": 1.0, "shrinkA": 0,
                                        "shrinkB": 0})
    if title:
        fig.suptitle(title, x=0.02, ha="left", y=1 - 0.08 / fig.get_figheight(), va="top", fontweight="bold")
    return fig


# ---------------------------------------------------------------------------------------------
# Writers


def write_figure(fig: Figure, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Save ``fig`` as ``<dest_stem>.png`` and ``.svg`` (params ``reports.figure_formats``), atomically."""
    return io.save_figure(fig, dest_stem, tuple(formats))


def write_km_curves(table: pd.DataFrame, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                    **kwargs) -> list[Path]:
    """``km_curves(table, **kwargs)`` saved as ``<dest_stem>.png/.svg``."""
    return write_figure(km_curves(table, **kwargs), dest_stem, formats)


def write_forest_plot(records: pd.DataFrame, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                      **kwargs) -> list[Path]:
    """``forest_plot(records, **kwargs)`` saved as ``<dest_stem>.png/.svg``."""
    return write_figure(forest_plot(records, **kwargs), dest_stem, formats)


def write_flow_diagram(flow: pd.DataFrame, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                       **kwargs) -> list[Path]:
    """``flow_diagram(flow, **kwargs)`` saved as ``<dest_stem>.png/.svg``."""
    return write_figure(flow_diagram(flow, **kwargs), dest_stem, formats)


# ---------------------------------------------------------------------------------------------
# Grouped forest plot (subgroups, sensitivity analyses)

GROUPED_FOREST_COLUMNS = ("panel", "group", "label", "ratio", "ratio_ci_low", "ratio_ci_high")


def spaced_ticks(low: float, high: float, max_ticks: int = 8) -> list[float]:
    """Ticks of a log axis from ``low`` to ``high``: the nice ratios in range, 1 always kept, thinned so that
    neighbours are at least 1/``max_ticks`` of the axis apart (their labels then do not overlap)."""
    span = math.log(high) - math.log(low)
    candidates = [t for t in _NICE_TICKS if low <= t <= high]
    kept = [1.0] if low <= 1.0 <= high else []
    for t in sorted(candidates, key=lambda t: abs(math.log(t))):  # outward from 1
        if all(abs(math.log(t) - math.log(k)) >= span / max_ticks for k in kept):
            kept.append(t)
    return sorted(kept)


@styled
def grouped_forest_plot(rows: pd.DataFrame, *, axis_label: str = "Hazard ratio", title: str | None = None,
                        label_header: str = "", estimate_header: str = "Ratio (95% CI)",
                        detail_header: str = "") -> Figure:
    """Ratios with CIs in stacked panels, each a list of groups of rows, on a log axis with a line at 1.

    ``rows`` (:data:`GROUPED_FOREST_COLUMNS`, drawn in their order): ``panel`` (one panel per value, its
    title), ``group`` (a bold header row), ``label`` (the row's text), the ratio and its CI limits. Optional
    columns: ``group_note`` (printed after the group header, e.g. an interaction p-value), ``detail``
    (printed right of the estimate, e.g. n and events), ``series`` (an integer choosing colour and marker,
    e.g. one per analysis), ``converged`` (False marks the estimate with a double dagger). A row without a
    finite ratio is listed with a dash and not drawn.
    """
    require_columns(rows, GROUPED_FOREST_COLUMNS, "grouped_forest_plot")
    if rows.empty:
        raise FigureError("grouped_forest_plot: no rows to draw")
    panels = []
    for panel, part in rows.groupby("panel", sort=False):
        lines: list[dict] = []
        for group, members in part.groupby("group", sort=False):
            note = members["group_note"].iloc[0] if "group_note" in members else ""
            lines.append({"kind": "group", "text": str(group), "note": "" if pd.isna(note) else str(note)})
            lines += [{"kind": "estimate", "record": rec} for _, rec in members.iterrows()]
        panels.append((panel, lines))

    row_h, title_h, header_h, axis_h, gap_h = 0.21, 0.45, 0.45, 0.55, 0.25
    panel_h = [header_h + row_h * (len(lines) + 0.4) + axis_h for _, lines in panels]
    height = title_h + sum(panel_h) + gap_h * (len(panels) - 1) + 0.1
    fig = new_figure(8.6, height)
    x_label, x_est, x_detail = 0.01, 0.70, 0.86
    top = height - title_h
    for panel, lines in panels:
        ax, fig_x, bottom, rows_h = _panel_axes(fig, top, len(lines), height, (0.38, 0.30), row_h, header_h)
        fig.text(x_label, (bottom + rows_h + header_h - 0.05) / height, str(panel), fontweight="bold", va="top",
                 fontsize=10)
        top = bottom - axis_h - gap_h
        n = len(lines)
        values = []
        for i, line in enumerate(lines):
            y = n - 1 - i
            if line["kind"] == "group":
                ax.text(x_label, y, line["text"], transform=fig_x, fontweight="bold", va="center", fontsize=9)
                if line["note"]:
                    ax.text(x_est, y, line["note"], transform=fig_x, va="center", fontsize=8.5, style="italic")
                continue
            rec = line["record"]
            k = int(rec["series"]) if "series" in rec and not pd.isna(rec["series"]) else 0
            colour = PALETTE[k % len(PALETTE)]
            ratio, lo, hi = (float(rec["ratio"]), float(rec["ratio_ci_low"]), float(rec["ratio_ci_high"]))
            ax.text(x_label + 0.015, y, _wrap(rec["label"], 48), transform=fig_x, va="center", fontsize=8.5)
            drawable = all(np.isfinite(v) and v > 0 for v in (ratio, lo, hi))
            if drawable:
                ax.errorbar([ratio], [y], xerr=np.array([[ratio - lo], [hi - ratio]]), fmt=MARKERS[k % len(MARKERS)],
                            color=colour, markersize=4.5, capsize=2.5, elinewidth=1.3, markeredgewidth=1)
                values += [ratio, lo, hi]
            converged = rec.get("converged", True)
            mark = "" if pd.isna(converged) or bool(converged) else " \u2021"
            ax.text(x_est, y, (format_interval(ratio, lo, hi) if drawable else "\u2013") + mark, transform=fig_x,
                    va="center", fontsize=8.5)
            if "detail" in rec and not pd.isna(rec["detail"]):
                ax.text(x_detail, y, str(rec["detail"]), transform=fig_x, va="center", fontsize=8, color="#444444")
        for x, text in ((x_label, label_header), (x_est, estimate_header), (x_detail, detail_header)):
            if text:
                ax.text(x, n - 0.1, text, transform=fig_x, fontweight="bold", va="bottom", fontsize=8.5,
                        color="#444444")
        _ratio_axis(ax, [line["kind"] for line in lines], values, axis_label, spaced_ticks)
    if title:
        fig.suptitle(title, x=0.01, ha="left", y=1 - 0.1 / height, va="top", fontweight="bold")
    return fig


def write_grouped_forest_plot(rows: pd.DataFrame, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                              **kwargs) -> list[Path]:
    """``grouped_forest_plot(rows, **kwargs)`` saved as ``<dest_stem>.png/.svg``."""
    return write_figure(grouped_forest_plot(rows, **kwargs), dest_stem, formats)


# ---------------------------------------------------------------------------------------------
# Causal diagrams


@styled
def dag_figure(edges: Sequence[Sequence[str]], *, exposure: str, outcome: str, latents: Sequence[str] = (),
               latent_edges: Sequence[Sequence[str]] = (), labels: Mapping[str, str] | None = None,
               title: str | None = None) -> Figure:
    """A causal diagram drawn left to right by causal order (networkx topological generations): exposure and
    outcome highlighted, unmeasured nodes dashed, edges from them dashed."""
    labels = dict(labels or {})
    all_edges = [tuple(e) for e in edges] + [tuple(e) for e in latent_edges]
    graph = nx.DiGraph(all_edges)
    if not nx.is_directed_acyclic_graph(graph):
        raise FigureError(f"dag_figure: the diagram has a cycle: {nx.find_cycle(graph)}")
    layers = [sorted(nodes) for nodes in nx.topological_generations(graph)]
    positions = {node: (float(x), (len(nodes) - 1) / 2 - i)
                 for x, nodes in enumerate(layers) for i, node in enumerate(nodes)}
    tallest = max(len(nodes) for nodes in layers)
    fig = new_figure(1.0 + 1.55 * len(layers), 1.3 + 0.85 * tallest)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.88 if title else 0.96))
    ax.set_axis_off()
    latent = set(latents)
    latent_pairs = {tuple(e) for e in latent_edges}
    for parent, child in graph.edges:
        dashed = parent in latent or (parent, child) in latent_pairs
        ax.annotate("", xy=positions[child], xytext=positions[parent],
                    arrowprops=dict(arrowstyle="-|>", color="#888888" if dashed else "#555555", lw=0.8,
                                    linestyle="--" if dashed else "-", shrinkA=14, shrinkB=14,
                                    connectionstyle="arc3,rad=0.12"))
    for node, (x, y) in positions.items():
        key = node == exposure or node == outcome
        face = PALETTE[0] if node == exposure else (PALETTE[1] if node == outcome else "white")
        ax.text(x, y, _wrap(labels.get(node, humanize(node)), 16), ha="center", va="center", fontsize=8,
                color="white" if key else "#222222", fontweight="bold" if key else "normal",
                bbox=dict(boxstyle="round,pad=0.35", facecolor=face, edgecolor="#555555",
                          linestyle="--" if node in latent else "-", linewidth=0.8))
    xs, ys = zip(*positions.values())
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    if title:
        fig.suptitle(title, x=0.01, ha="left", y=0.98, va="top", fontweight="bold")
    return fig


def write_dag_figure(edges: Sequence[Sequence[str]], dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                     **kwargs) -> list[Path]:
    """``dag_figure(edges, **kwargs)`` saved as ``<dest_stem>.png/.svg``."""
    return write_figure(dag_figure(edges, **kwargs), dest_stem, formats)
