"""A sample-flow figure that reconciles the analytic samples of a paper's display items.

Each step of a study's flow (``reports/tables/<study>/cohort_flow.csv``: ``step``, ``label``, ``n``, ``excluded``,
``reason``) is a box on the left, the exclusions leading to it a box on the right, and beside each box the display
items that use that sample ("Table 1", "Figure 2"), so that a reader sees why Table 1 has more people than the
models. The words come from the flow file and from the caller's ``uses``; nothing is typed here.

Drawn with matplotlib's patches in the house style (:data:`analysis.report.figures.STYLE`), text no smaller
than :data:`MIN_FONT` points at the figure's printed width, so it stays legible at print size.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from matplotlib.patches import FancyBboxPatch

from analysis.report.figures import FigureError, new_figure, require_columns, styled, write_figure

FLOW_COLUMNS = ("step", "label", "n", "excluded", "reason")
#: Smallest font in the figure (points at the printed width ``width``).
MIN_FONT = 8.0


def _box(ax, x: float, y: float, w: float, h: float, text: str, *, face: str, size: float, weight: str = "normal"):
    ax.add_patch(FancyBboxPatch((x, y - h / 2), w, h, boxstyle="round,pad=0.004,rounding_size=0.01",
                                linewidth=0.8, edgecolor="#444444", facecolor=face))
    ax.text(x + w / 2, y, text, ha="center", va="center", fontsize=size, weight=weight, linespacing=1.25)


@styled
def sample_flow(flow: pd.DataFrame, uses: Mapping[int, Sequence[str]] | None = None, *, width: float = 6.5,
                title: str | None = None):
    """The flow as a figure: ``uses`` maps a step number to the display items that use its sample."""
    require_columns(flow, FLOW_COLUMNS, "sample flow")
    if flow.empty:
        raise FigureError("sample flow: the flow table has no rows")
    uses = dict(uses or {})
    unknown = sorted(set(uses) - set(flow["step"].astype(int)))
    if unknown:
        raise FigureError(f"sample flow: display items name step(s) {unknown}, which the flow does not have "
                          f"(steps {flow['step'].astype(int).tolist()})")
    rows = flow.sort_values("step").to_dict("records")
    step_h, gap = 0.62, 0.38
    height = len(rows) * (step_h + gap) + (0.35 if title else 0.1)
    fig = new_figure(width, height)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    if title:
        ax.text(0.1, height - 0.18, title, fontsize=MIN_FONT + 2, weight="bold", va="center")
    main_x, main_w = 0.1, 2.55
    side_x, side_w = 2.95, 2.3
    use_x = side_x + side_w + 0.12
    top = height - (0.35 if title else 0.1) - step_h / 2
    for i, row in enumerate(rows):
        y = top - i * (step_h + gap)
        label = "\n".join(textwrap.wrap(str(row["label"]), 34))
        _box(ax, main_x, y, main_w, step_h, f"{label}\nn = {int(row['n']):,}", face="#eef3f8", size=MIN_FONT + 0.5)
        if i + 1 < len(rows):
            ax.annotate("", xy=(main_x + main_w / 2, y - step_h / 2 - gap + 0.02),
                        xytext=(main_x + main_w / 2, y - step_h / 2), arrowprops={"arrowstyle": "-|>", "lw": 0.9})
        if int(row["step"]) in uses:
            items = "\n".join(textwrap.wrap("Used by: " + ", ".join(uses[int(row["step"])]), 22))
            ax.text(use_x, y, items, fontsize=MIN_FONT, va="center", ha="left", color="#0b4f8a", weight="bold")
        if i > 0 and int(row["excluded"]) > 0:
            ey = y + step_h / 2 + gap / 2
            reason = "\n".join(textwrap.wrap(f"Excluded {int(row['excluded']):,}: {row['reason']}", 40))
            lines = reason.count("\n") + 1
            eh = min(gap + step_h - 0.08, 0.16 + 0.15 * lines)
            _box(ax, side_x, ey, side_w, eh, reason, face="#fbf3e6", size=MIN_FONT)
            ax.annotate("", xy=(side_x, ey), xytext=(main_x + main_w / 2, ey),
                        arrowprops={"arrowstyle": "-|>", "lw": 0.8, "color": "#666666"})
    return fig


def write_sample_flow(flow: pd.DataFrame, dest_stem: str | Path, formats: Sequence[str] = ("png", "svg"),
                      **kwargs) -> list[Path]:
    """``sample_flow(flow, **kwargs)`` saved as ``<dest_stem>.png/.svg``."""
    return write_figure(sample_flow(flow, **kwargs), dest_stem, formats)
