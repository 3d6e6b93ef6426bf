"""Figures of estimates on a linear scale: dot-and-interval panels (differences, prevalences) and cumulative
incidence curves by group. Like :mod:`analysis.report.figures` (whose style, palette and writer they use), each
function takes data and returns a Figure; the ``write_*`` functions save it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.report.figures import (
    LINESTYLES,
    MARKERS,
    PALETTE,
    PRINT_WIDTH_IN,
    FigureError,
    new_figure,
    require_columns,
    styled,
    write_figure,
    write_in_parts,
)

INTERVAL_COLUMNS = ["panel", "label", "estimate", "low", "high"]
CURVE_COLUMNS = ["group", "time", "estimate", "low", "high"]


@styled
def interval_panels(rows: pd.DataFrame, *, axis_label: str, title: str | None = None, reference: float | None = 0.0,
                    series_labels: Sequence[str] | None = None, columns: int = 1) -> Figure:
    """Estimates with CIs as dots and bars on a linear axis, one panel per ``panel``, rows ``label`` top down;
    an optional ``series`` column (integer) draws several estimates per label side by side in colour and
    marker (``series_labels`` names them in a legend); ``reference`` draws a vertical line (None: none)."""
    require_columns(rows, INTERVAL_COLUMNS, "interval_panels")
    if rows.empty:
        raise FigureError("interval_panels: no rows to draw")
    panels = list(dict.fromkeys(rows["panel"]))
    n_cols = max(1, min(columns, len(panels)))
    n_rows = int(np.ceil(len(panels) / n_cols))
    heights = [max(len(dict.fromkeys(rows.loc[rows["panel"] == p, "label"])) for p in panels[i::n_rows])
               for i in range(n_rows)]
    series = rows["series"].astype(int) if "series" in rows else pd.Series(0, index=rows.index)
    n_series = int(series.max()) + 1
    step = min(0.22, 0.8 / n_series)  # the estimates of one label stay within its row
    rows_in = sum(0.16 * h * max(n_series, 2) + 0.75 for h in heights)
    legend_cols = min(n_series, 2)  # two columns of series names fit the text width
    legend_in = 0.2 * int(np.ceil(n_series / legend_cols)) + 0.15 if series_labels else 0.0
    height = rows_in + 0.75 + legend_in + 0.35
    # drawn at the text width: each column of panels keeps room for its row labels (8.5 pt, ~0.065 in a character)
    label_in = 0.065 * max(len(str(label)) for label in rows["label"]) + 0.2
    panel_in = (PRINT_WIDTH_IN - 0.15 - n_cols * label_in) / n_cols
    fig = new_figure(PRINT_WIDTH_IN, height)
    grid = fig.add_gridspec(n_rows, n_cols, height_ratios=[h + 1.5 for h in heights], hspace=0.8,
                            wspace=label_in / panel_in, top=1 - 0.75 / height, bottom=(legend_in + 0.55) / height,
                            left=label_in / PRINT_WIDTH_IN, right=1 - 0.15 / PRINT_WIDTH_IN)
    for k, panel in enumerate(panels):
        ax = fig.add_subplot(grid[k % n_rows, k // n_rows])
        part = rows[rows["panel"] == panel]
        labels = list(dict.fromkeys(part["label"]))
        for s in sorted(series[part.index].unique()):
            sub = part[series[part.index] == s]
            y = np.array([len(labels) - 1 - labels.index(label) for label in sub["label"]], dtype=float)
            y -= (s - (n_series - 1) / 2) * step
            est, low, high = (sub[c].to_numpy(dtype=float) for c in ("estimate", "low", "high"))
            ax.errorbar(est, y, xerr=np.vstack([est - low, high - est]), fmt=MARKERS[s % len(MARKERS)],
                        color=PALETTE[s % len(PALETTE)], markersize=4, capsize=2, elinewidth=1.2,
                        label=series_labels[s] if series_labels and k == 0 else None)
        ax.set_yticks(range(len(labels)), labels[::-1], fontsize=8.5)
        ax.set_ylim(-0.7, len(labels) - 0.3)
        ax.set_title(str(panel), loc="left", fontsize=9.5)
        ax.set_xlabel(axis_label, fontsize=8.5)
        if reference is not None:
            ax.axvline(reference, color="#888888", linewidth=0.8, linestyle="--")
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    if series_labels:
        fig.legend(loc="lower left", ncol=legend_cols, frameon=False, fontsize=8.5,
                   bbox_to_anchor=(0.01, 0.01))
    if title:
        fig.suptitle(textwrap.fill(title, 72), x=0.01, y=1 - 0.08 / height, ha="left", va="top", fontweight="bold",
                     fontsize=10)
    return fig


@styled
def cumulative_incidence_curves(curves: pd.DataFrame, *, title: str | None = None, group_label: str = "",
                                time_label: str = "Months since interview", scale: float = 100.0,
                                value_label: str = "Cumulative incidence (%)") -> Figure:
    """Step curves of cumulative incidence (``curves``: group, time, estimate, low, high), one per group, with
    shaded pointwise CIs; values multiplied by ``scale`` (100: percent)."""
    require_columns(curves, CURVE_COLUMNS, "cumulative_incidence_curves")
    if curves.empty:
        raise FigureError("cumulative_incidence_curves: no curve to draw")
    fig = new_figure(PRINT_WIDTH_IN, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    for k, (group, curve) in enumerate(curves.groupby("group", sort=False)):
        colour = PALETTE[k % len(PALETTE)]
        ax.step(curve["time"], curve["estimate"] * scale, where="post", color=colour,
                linestyle=LINESTYLES[k % len(LINESTYLES)], label=str(group))
        ax.fill_between(curve["time"], curve["low"] * scale, curve["high"] * scale, step="post", color=colour,
                        alpha=0.15, linewidth=0)
    ax.set_xlabel(time_label)
    ax.set_ylabel(value_label)
    ax.set_ylim(bottom=0)
    ax.legend(title=group_label or None, frameon=False, loc="upper left")
    if title:
        ax.set_title(title, loc="left")
    return fig


def write_interval_panels(rows: pd.DataFrame, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                          **kwargs) -> list[Path]:
    """``interval_panels(rows, **kwargs)`` saved as ``<dest_stem>.png/.svg``, in parts by panel when it is taller
    than a printed page (:func:`analysis.report.figures.write_in_parts`)."""
    return write_in_parts(lambda part: interval_panels(part, **kwargs), rows, "panel", dest_stem, formats)


def write_cumulative_incidence(curves: pd.DataFrame, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                               **kwargs) -> list[Path]:
    """``cumulative_incidence_curves(curves, **kwargs)`` saved as ``<dest_stem>.png/.svg``."""
    return write_figure(cumulative_incidence_curves(curves, **kwargs), dest_stem, formats)
