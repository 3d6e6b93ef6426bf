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
import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.transforms as mtransforms
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import FixedLocator, NullLocator

from analysis.core import io
from analysis.estimators.incidence import (
    kish_scaled,
    weighted_cumulative_incidence,
    weighted_kaplan_meier,
)
from analysis.report import figure_check
from analysis.report.tables import covariate_set_header, format_interval

if TYPE_CHECKING:
    import networkx as nx

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
    # two panels share the text width (type prints at its size); more panels widen the figure
    fig = new_figure(max(PRINT_WIDTH_IN, 3.3 * n_panels), 5.0)
    grid = fig.add_gridspec(2, n_panels, height_ratios=[4.0, 1.0], hspace=0.55, wspace=0.38,
                            left=0.2 if n_panels == 1 else 0.14, right=0.98, top=0.84, bottom=0.09)
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
        ax.set_title(titles.get(ev, humanize(ev)), loc="left", pad=26)
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
        ax.text(0, 1.015, textwrap.fill(method, 38), transform=ax.transAxes, fontsize=7.5, color="#444444",
                ha="left", va="bottom", linespacing=1.0)
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
                rax.text(t, i, f"{n:,}", ha="center", va="center", fontsize=7.5, color=colour)
        rax.yaxis.set_major_locator(FixedLocator(range(len(risk))))
        if p == 0:  # group names once, at the left; the colours carry them across panels
            rax.set_yticklabels(list(risk.index), fontsize=7.5)
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
    fig.text(0.01, 0.005, textwrap.fill(note, 100 if n_panels > 1 else 75), fontsize=7.5, color="#444444",
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


#: The paper's text width (A4 less 2 cm margins, inches): forest plots are drawn at this width, so their type
#: prints at the size set here.
PRINT_WIDTH_IN = 6.6
#: The tallest figure the paper prints at that width with its caption on the same page (A4 less 2.2 cm margins,
#: less the caption's room, analysis.paper.manuscript.CAPTION_ROOM_IN, scaled to PRINT_WIDTH_IN): a taller one
#: would be shrunk to the page's height, its type too. A test checks it against the manuscript's page set-up.
PRINT_MAX_HEIGHT_IN = 8.3
ROW_TEXT_PT = 8.0  # rows of a forest plot; 8 pt prints as 8 pt


def _text_width_in(fig: Figure, text: str, **style) -> float:
    """The width (inches) ``text`` takes in ``fig`` with ``style`` (fontsize, fontweight, ...), measured."""
    probe = fig.text(0, 0, text, **style)
    width = probe.get_window_extent(fig.canvas.get_renderer()).width / fig.dpi
    probe.remove()
    return width


def _fit(fig: Figure, text: str, width_in: float, measure=None, **style) -> str:
    """``text`` wrapped at word boundaries so that it is at most ``width_in`` wide (each line measured, by
    ``measure(text, **style)``: :func:`_text_width_in` in ``fig`` by default)."""
    measure = measure or functools.partial(_text_width_in, fig)
    if measure(text, **style) <= width_in:
        return text
    for chars in range(max(len(text) - 1, 1), 5, -1):
        wrapped = textwrap.fill(text, chars, break_long_words=False)
        if all(measure(line, **style) <= width_in for line in wrapped.split("\n")):
            return wrapped
    return textwrap.fill(text, 6, break_long_words=False)


def _cell(value) -> tuple[str, str | None]:
    return (value, None) if isinstance(value, str) else (str(value[0]), value[1])


def forest_layout(fig: Figure, panels: Sequence[tuple[str | None, list[dict]]], *, left_headers: Sequence[str],
                  right_headers: Sequence[str], axis_label: str, title: str | None,
                  min_axis_in: float = 1.8) -> Figure:
    """Lay out a forest plot from measured text: the left columns (labels), the ratio axis, the right columns
    (estimates, counts), each as wide as its widest text, so no label reaches the axis and no number reaches a
    bar; the widest left column wraps to make room for an axis of ``min_axis_in``. Rows are as tall as their
    wrapped text, so wrapped labels never run into the next row.

    ``panels``: (title, lines); a line is ``{"kind": "header", "text", "note", "style"}`` (bold across the left
    columns, its note in the first right column) or ``{"kind": "row", "left": [...], "right": [...],
    "mark": (ratio, low, high) or None, "series": k}`` where a cell is a text or (text, colour)."""
    width = fig.get_figwidth()
    gap, pad, line_in = 0.12, 0.04, ROW_TEXT_PT * 1.22 / 72
    row_style = {"fontsize": ROW_TEXT_PT}
    head_style = {"fontsize": ROW_TEXT_PT, "fontweight": "bold"}
    rows = [ln for _, lines in panels for ln in lines if ln["kind"] == "row"]
    headers = [ln for _, lines in panels for ln in lines if ln["kind"] == "header"]
    n_left, n_right = len(left_headers), len(right_headers)
    widths: dict = {}  # a text's width is measured once per style: rows repeat labels and wrapping re-measures

    def measure(text: str, **style) -> float:
        key = (text, tuple(sorted(style.items())))
        if key not in widths:
            widths[key] = _text_width_in(fig, text, **style)
        return widths[key]

    def widest(texts, style) -> float:
        return max((measure(line, **style) for t in texts for line in str(t).split("\n") if line), default=0.0)

    right_w = [max(widest([_cell(r["right"][j])[0] for r in rows], row_style),
                   widest([right_headers[j]], head_style)) for j in range(n_right)]
    if headers and n_right:
        right_w[0] = max(right_w[0], widest([h.get("note", "") for h in headers], {**row_style, "style": "italic"}))
    left_w = [max(widest([_cell(r["left"][j])[0] for r in rows], row_style),
                  widest([left_headers[j]], head_style)) for j in range(n_left)]
    budget = width - 2 * pad - min_axis_in - gap * (n_left + n_right) - sum(right_w)
    if sum(left_w) > budget:  # wrap the widest left column until the axis has its room
        j = int(np.argmax(left_w))
        left_w[j] = max(budget - (sum(left_w) - left_w[j]), 0.8)
        for r in rows:
            text, colour = _cell(r["left"][j])
            r["left"][j] = (_fit(fig, text, left_w[j], measure, **row_style), colour)
    left_total = sum(left_w) + gap * n_left
    for h in headers:
        h["text"] = _fit(fig, h["text"], left_total - gap, measure, **head_style)
    axis_x0 = pad + left_total
    axis_w = width - axis_x0 - pad - sum(right_w) - gap * n_right
    x_left = [pad + sum(left_w[:j]) + gap * j for j in range(n_left)]
    x_right = [axis_x0 + axis_w + gap * (j + 1) + sum(right_w[:j]) for j in range(n_right)]

    def lines_of(line) -> int:
        cells = [line["text"]] if line["kind"] == "header" else [*line["left"], *line["right"]]
        return max(_cell(c)[0].count("\n") + 1 for c in cells)

    title_h = 0.35 if title else 0.05
    panel_title_h, head_h, axis_h, gap_h = 0.25, line_in + 0.12, 0.5, 0.2
    heights = [(panel_title_h if name else 0) + head_h + sum(lines_of(ln) * line_in + 0.045 for ln in lines) + 0.1
               + axis_h for name, lines in panels]
    height = title_h + sum(heights) + gap_h * (len(panels) - 1)
    fig.set_size_inches(width, height)
    top = height - title_h
    values = [v for r in rows if r.get("mark") for v in r["mark"] if np.isfinite(v) and v > 0]
    lo_lim, hi_lim = min(values + [1.0]) / 1.12, max(values + [1.0]) * 1.12
    for (name, lines), panel_h in zip(panels, heights):
        if name:
            fig.text(pad / width, (top - 0.02) / height, name, fontweight="bold", va="top", fontsize=9)
        rows_h = panel_h - axis_h - (panel_title_h if name else 0) - head_h
        bottom = top - panel_h + axis_h
        ax = fig.add_axes((axis_x0 / width, bottom / height, axis_w / width, rows_h / height))
        fig_x = mtransforms.blended_transform_factory(fig.transFigure, ax.transData)
        y = rows_h - 0.05
        for line in lines:
            h = lines_of(line) * line_in + 0.045
            mid = y - h / 2
            if line["kind"] == "header":
                ax.text(x_left[0] / width, mid, line["text"], transform=fig_x, va="center",
                        **{**head_style, **line.get("style", {})})
                if line.get("note") and n_right:
                    ax.text(x_right[0] / width, mid, line["note"], transform=fig_x, va="center", style="italic",
                            **row_style)
            else:
                for j, c in enumerate(line["left"]):
                    text, colour = _cell(c)
                    ax.text(x_left[j] / width, mid, text, transform=fig_x, va="center", color=colour or "#222222",
                            **row_style)
                for j, c in enumerate(line["right"]):
                    text, colour = _cell(c)
                    ax.text(x_right[j] / width, mid, text, transform=fig_x, va="center", color=colour or "#222222",
                            **row_style)
                if line.get("mark"):
                    ratio, low, high = line["mark"]
                    k = line.get("series", 0)
                    ax.axhline(mid, color="#eeeeee", linewidth=0.6, zorder=0)
                    ax.errorbar([ratio], [mid], xerr=np.array([[ratio - low], [high - ratio]]),
                                fmt=MARKERS[k % len(MARKERS)], color=PALETTE[k % len(PALETTE)], markersize=4,
                                capsize=2.5, elinewidth=1.2, markeredgewidth=1)
            y -= h
        for xs, headers_ in ((x_left, left_headers), (x_right, right_headers)):
            for x, text in zip(xs, headers_):
                if text:
                    ax.text(x / width, rows_h + 0.04, text, transform=fig_x, va="bottom", color="#444444",
                            **head_style)
        ax.set_ylim(0, rows_h)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xscale("log")
        ax.set_xlim(lo_lim, hi_lim)
        ticks = spaced_ticks(lo_lim, hi_lim, max_ticks=max(int(axis_w / 0.42), 3))
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.tick_params(labelsize=ROW_TEXT_PT)
        ax.axvline(1.0, color="#555555", linestyle="--", linewidth=0.9, zorder=0)
        ax.set_xlabel(f"{axis_label} (95% CI), log scale", fontsize=ROW_TEXT_PT)
        top -= panel_h + gap_h
    if title:
        fig.text(pad / width, 1 - 0.06 / height,
                 _fit(fig, title, width - 2 * pad, measure, fontsize=9.5, fontweight="bold"),
                 fontsize=9.5, fontweight="bold", va="top")
    return fig


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
    panels = []
    for measure in measures:
        if not (recs["measure"] == measure).any():
            continue
        lines = []
        for row in _forest_rows(recs[recs["measure"] == measure]):
            if row["kind"] == "outcome":
                lines.append({"kind": "header", "text": row["text"].replace(">=", "\u2265")})
            elif row["kind"] == "exposure":
                lines.append({"kind": "header", "text": row["text"], "style": {"fontweight": "normal",
                                                                              "style": "italic"}})
            else:
                rec, k = row["record"], row["set_index"]
                ratio, lo, hi = (float(rec["ratio"]), float(rec["ratio_ci_low"]), float(rec["ratio_ci_high"]))
                converged = rec.get("converged", True)
                mark = "" if pd.isna(converged) or bool(converged) else " \u2021"
                lines.append({"kind": "row", "left": [row["text"], (set_names[k], PALETTE[k % len(PALETTE)])],
                              "right": [format_interval(ratio, lo, hi) + mark], "mark": (ratio, lo, hi),
                              "series": k})
        panels.append((None, lines, measure))
    fig = new_figure(PRINT_WIDTH_IN, 8)
    forest_layout(fig, [(name, lines) for name, lines, _ in panels], left_headers=["Outcome and exposure", "Model"],
                  right_headers=[f"{'/'.join(m for *_, m in panels)} (95% CI)"],
                  axis_label=" or ".join(MEASURE_AXIS.get(m, m).lower() for *_, m in panels).capitalize(),
                  title=title or f"Social isolation and outcomes ({design} models)")
    for ax, (*_, measure) in zip(fig.axes, panels):  # each panel says its own measure
        ax.set_xlabel(f"{MEASURE_AXIS.get(measure, measure)} (95% CI), log scale", fontsize=ROW_TEXT_PT)
        for text in ax.texts:
            if text.get_text().endswith("(95% CI)") and text.get_fontweight() == "bold":
                text.set_text(f"{measure} (95% CI)")
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


#: The PNG text chunk that holds a saved figure's print-size measurement (:func:`figure_check.measure`, as JSON).
LEGIBILITY_KEY = "Legibility"
#: Resolution of the saved PNG (that of analysis.core.io.save_figure).
PNG_DPI = 200


def write_figure(fig: Figure, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                 print_width_in: float | None = PRINT_WIDTH_IN) -> list[Path]:
    """Save ``fig`` as ``<dest_stem>.png`` and ``.svg`` (params ``reports.figure_formats``), atomically, once it
    reads at print size: measured (:func:`figure_check.measure`) as it would print ``print_width_in`` wide, it
    must have no type under 7 pt and no label on another label or on a mark, else :class:`FigureError` names the
    figure and the offending text and nothing is written. The measurement goes into the PNG (text chunk
    ``Legibility``), where the paper stage reads it to check the width each figure is actually printed at.

    ``print_width_in=None`` marks a figure that only the notebooks and the reviewer index show (on screen): it is
    measured at the text width and recorded, not refused; the paper stage refuses it if a PDF ever prints it
    with a fault."""
    report = figure_check.measure(fig, print_width_in or PRINT_WIDTH_IN)
    if report["problems"] and print_width_in is not None:
        raise FigureError(f"{Path(dest_stem).name}: does not read at print size ({print_width_in:g} in wide): "
                          + "; ".join(report["problems"][:8])
                          + ("" if len(report["problems"]) <= 8 else f"; and {len(report['problems']) - 8} more"))
    meta = {"Software": None, LEGIBILITY_KEY: json.dumps(report, sort_keys=True, ensure_ascii=True)}
    written = []
    for fmt in formats:  # the PNG with its measurement; the others as analysis.core.io.save_figure writes them
        written += [io.write_atomic(Path(dest_stem).with_suffix(".png"), lambda path: fig.savefig(
            path, format="png", dpi=PNG_DPI, bbox_inches="tight", metadata=meta))] if fmt == "png" \
            else io.save_figure(fig, dest_stem, (fmt,))
    return written


def write_in_parts(draw, frame: pd.DataFrame, by: str, dest_stem: str | Path,
                   formats: Sequence[str] = ("png", "svg"), max_height_in: float = PRINT_MAX_HEIGHT_IN) -> list[Path]:
    """``draw(frame)`` saved as ``<dest_stem>``; when it is taller than a printed page holds (``max_height_in``
    at the text width), that whole figure is for the screen (notebooks, reviewer index) and the PDF prints it in
    parts, ``<dest_stem>_part1``, ``_part2`` ..., each ``draw`` of consecutive values of ``frame[by]`` (its
    panels, in order) and each short enough to print at its drawn size (the paper's ``figure()`` finds them)."""
    whole = draw(frame)
    if figure_check.saved_height_in(whole) <= max_height_in:
        return write_figure(whole, dest_stem, formats)
    written = write_figure(whole, dest_stem, formats, print_width_in=None)
    # each part grows while it fits; the last trial that fitted is the part's figure, written as drawn (drawing
    # a figure again for writing doubled the cost: layout and measurement are most of a forest plot's time)
    parts: list[tuple[list, Figure | None]] = []
    current: list = []
    current_fig: Figure | None = None  # the drawing of ``current`` (None: not drawn yet)
    for key in dict.fromkeys(frame[by]):
        trial, trial_fig = [*current, key], None
        if current:
            trial_fig = draw(frame[frame[by].isin(trial)])
            if figure_check.saved_height_in(trial_fig) > max_height_in:
                parts.append((current, current_fig))
                trial, trial_fig = [key], None
        current, current_fig = trial, trial_fig
    parts.append((current, current_fig))
    for k, (keys, fig) in enumerate(parts, 1):
        fig = draw(frame[frame[by].isin(keys)]) if fig is None else fig
        written += write_figure(fig, f"{dest_stem}_part{k}", formats)
    return written


def write_km_curves(table: pd.DataFrame, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                    **kwargs) -> list[Path]:
    """``km_curves(table, **kwargs)`` saved as ``<dest_stem>.png/.svg``."""
    return write_figure(km_curves(table, **kwargs), dest_stem, formats)


def write_forest_plot(records: pd.DataFrame, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                      **kwargs) -> list[Path]:
    """``forest_plot(records, **kwargs)`` saved as ``<dest_stem>.png/.svg``, in parts by outcome when it is
    taller than a printed page (:func:`write_in_parts`)."""
    return write_in_parts(lambda part: forest_plot(part, **kwargs), records, "outcome", dest_stem, formats)


def write_flow_diagram(flow: pd.DataFrame, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                       print_width_in: float | None = PRINT_WIDTH_IN, **kwargs) -> list[Path]:
    """``flow_diagram(flow, **kwargs)`` saved as ``<dest_stem>.png/.svg`` (``print_width_in``: :func:`write_figure`)."""
    return write_figure(flow_diagram(flow, **kwargs), dest_stem, formats, print_width_in)


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
    has_detail = "detail" in rows.columns and rows["detail"].notna().any()
    panels = []
    for panel, part in rows.groupby("panel", sort=False):
        lines: list[dict] = []
        for group, members in part.groupby("group", sort=False):
            note = members["group_note"].iloc[0] if "group_note" in members else ""
            lines.append({"kind": "header", "text": str(group), "note": "" if pd.isna(note) else str(note)})
            for _, rec in members.iterrows():
                k = int(rec["series"]) if "series" in rec and not pd.isna(rec["series"]) else 0
                ratio, lo, hi = (float(rec["ratio"]), float(rec["ratio_ci_low"]), float(rec["ratio_ci_high"]))
                drawable = all(np.isfinite(v) and v > 0 for v in (ratio, lo, hi))
                converged = rec.get("converged", True)
                mark = "" if pd.isna(converged) or bool(converged) else " \u2021"
                right = [(format_interval(ratio, lo, hi) if drawable else "\u2013") + mark]
                if has_detail:
                    right.append(("" if pd.isna(rec.get("detail")) else str(rec["detail"]), "#444444"))
                lines.append({"kind": "row", "left": ["  " + str(rec["label"])], "right": right,
                              "mark": (ratio, lo, hi) if drawable else None, "series": k})
        panels.append((str(panel), lines))
    fig = new_figure(PRINT_WIDTH_IN, 8)
    return forest_layout(fig, panels, left_headers=[label_header],
                         right_headers=[estimate_header] + ([detail_header] if has_detail else []),
                         axis_label=axis_label, title=title)


def write_grouped_forest_plot(rows: pd.DataFrame, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                              **kwargs) -> list[Path]:
    """``grouped_forest_plot(rows, **kwargs)`` saved as ``<dest_stem>.png/.svg``, in parts by panel when it is
    taller than a printed page (:func:`write_in_parts`)."""
    return write_in_parts(lambda part: grouped_forest_plot(part, **kwargs), rows, "panel", dest_stem, formats)


# ---------------------------------------------------------------------------------------------
# Causal diagrams


def _dag_roles(graph: nx.DiGraph, exposure: str, outcome: str) -> tuple[list[str], list[str]]:
    """The diagram's other nodes by role: (causes and confounders: not descendants of the exposure; mediators and
    other descendants of the exposure), each in causal order then by name."""
    import networkx as nx  # here: only the causal diagrams need it (importing it cost every figure stage 0.1 s)

    order = {node: i for i, layer in enumerate(nx.topological_generations(graph)) for node in layer}
    after = nx.descendants(graph, exposure)
    rest = sorted((n for n in graph if n not in (exposure, outcome)), key=lambda n: (order[n], n))
    return [n for n in rest if n not in after], [n for n in rest if n in after]


def _leave_box(start: tuple[float, float], end: tuple[float, float], box: tuple[float, float, float, float],
          margin: float = 0.03) -> tuple[float, float]:
    """Where the segment from ``start`` (inside ``box`` = x0, y0, x1, y1) towards ``end`` leaves the box (plus
    ``margin``): an arrow then starts or ends at the frame of its node's label, never under the text."""
    (x, y), (ex, ey) = start, end
    dx, dy = ex - x, ey - y
    x0, y0, x1, y1 = box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin
    ts = [t for t in ((x1 - x) / dx if dx > 0 else (x0 - x) / dx if dx < 0 else math.inf,
                      (y1 - y) / dy if dy > 0 else (y0 - y) / dy if dy < 0 else math.inf)]
    t = min(ts)
    return x + t * dx, y + t * dy


@styled
def dag_figure(edges: Sequence[Sequence[str]], *, exposure: str, outcome: str, latents: Sequence[str] = (),
               latent_edges: Sequence[Sequence[str]] = (), labels: Mapping[str, str] | None = None,
               title: str | None = None) -> Figure:
    """A causal diagram laid out by role, at the paper's text width so its labels print at 8 pt: causes and
    confounders of the exposure on a row above, the exposure (left) and outcome (right) in the middle, mediators
    and other consequences of the exposure on a row below between them. Arrows run between the frames of the
    labels (clipped at each frame), so none passes under a label; an arrow between two nodes of one row bows
    away from the diagram. Exposure and outcome are filled, unmeasured nodes and their arrows dashed."""
    import networkx as nx  # as in _dag_roles

    labels = dict(labels or {})
    all_edges = [tuple(e) for e in edges] + [tuple(e) for e in latent_edges]
    graph = nx.DiGraph(all_edges)
    if not nx.is_directed_acyclic_graph(graph):
        raise FigureError(f"dag_figure: the diagram has a cycle: {nx.find_cycle(graph)}")
    for node in (exposure, outcome):
        if node not in graph:
            raise FigureError(f"dag_figure: the {'exposure' if node == exposure else 'outcome'} {node!r} is in no edge")
    causes, consequences = _dag_roles(graph, exposure, outcome)
    width = PRINT_WIDTH_IN
    row_gap = 1.05
    top_rows = [causes[i::2] for i in range(2)] if len(causes) > 5 else [causes]
    title_h = 0.35 if title else 0.1
    # y of each row (inches from the bottom): consequences, exposure/outcome, causes (one or two staggered rows)
    y_bottom = 0.95 if consequences else 0.4  # room below for the arcs between consequences
    y_mid = y_bottom + (row_gap if consequences else 0.0)
    y_tops = [y_mid + row_gap * (1.3 + 0.55 * i) for i in range(len(top_rows))][::-1]
    height = (y_tops[0] if causes else y_mid) + 0.55 + title_h
    fig = new_figure(width, height)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()

    def spread(nodes, x0, x1):
        if len(nodes) == 1:
            return [(x0 + x1) / 2]
        return [x0 + (x1 - x0) * i / (len(nodes) - 1) for i in range(len(nodes))]

    positions = {exposure: (0.75, y_mid), outcome: (width - 0.75, y_mid)}
    for k, row in enumerate(top_rows):
        offset = 0.35 * k
        positions.update({n: (x, y_tops[k]) for n, x in zip(row, spread(row, 0.75 + offset, width - 0.75 - offset))})
    positions.update({n: (x, y_bottom) for n, x in zip(consequences, spread(consequences, 2.0, width - 2.0))})
    latent = set(latents)
    texts = {}
    for node, (x, y) in positions.items():
        key = node in (exposure, outcome)
        face = PALETTE[0] if node == exposure else (PALETTE[1] if node == outcome else "white")
        texts[node] = ax.text(x, y, _wrap(labels.get(node, humanize(node)), 16), ha="center", va="center",
                              fontsize=8, color="white" if key else "#222222", fontweight="bold" if key else "normal",
                              bbox=dict(boxstyle="round,pad=0.3", facecolor=face, edgecolor="#555555",
                                        linestyle="--" if node in latent else "-", linewidth=0.8), zorder=3)
    fig.canvas.draw()
    to_data = ax.transData.inverted()
    boxes = {}
    for node, text in texts.items():
        extent = text.get_bbox_patch().get_window_extent()
        (x0, y0), (x1, y1) = to_data.transform([(extent.x0, extent.y0), (extent.x1, extent.y1)])
        boxes[node] = (x0, y0, x1, y1)
    row_of = {n: ("top", k) for k, row in enumerate(top_rows) for n in row}
    row_of.update({n: ("bottom", 0) for n in consequences})
    latent_pairs = {tuple(e) for e in latent_edges}
    for parent, child in graph.edges:
        dashed = parent in latent or (parent, child) in latent_pairs
        style = {"color": "#999999" if dashed else "#555555", "linestyle": "--" if dashed else "-"}
        same_row = parent in row_of and row_of.get(parent) == row_of.get(child)
        if same_row:  # bow outward: above the top row, below the bottom row
            up = row_of[parent][0] == "top"
            (_, py0, _, py1), (_, cy0, _, cy1) = boxes[parent], boxes[child]
            start = (positions[parent][0], (py1 if up else py0) + (0.03 if up else -0.03))
            end = (positions[child][0], (cy1 if up else cy0) + (0.03 if up else -0.03))
            rightward = end[0] > start[0]
            rad = (-0.35 if rightward else 0.35) * (1 if up else -1)
            connection = f"arc3,rad={rad}"
        else:
            start = _leave_box(positions[parent], positions[child], boxes[parent])
            end = _leave_box(positions[child], positions[parent], boxes[child])
            connection = "arc3,rad=0"
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, lw=0.7, shrinkA=0, shrinkB=0,
                                     connectionstyle=connection, zorder=2, **style))
    if title:
        fig.text(0.08 / width, 1 - 0.06 / height, title, fontsize=9.5, fontweight="bold", va="top")
    return fig


def write_dag_figure(edges: Sequence[Sequence[str]], dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                     **kwargs) -> list[Path]:
    """``dag_figure(edges, **kwargs)`` saved as ``<dest_stem>.png/.svg``."""
    return write_figure(dag_figure(edges, **kwargs), dest_stem, formats)
