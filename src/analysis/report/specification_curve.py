"""The specification curve figure: sorted estimates with intervals, the choice panel and the sample sizes.

As ``specr::plot_specs`` (Masur & Scharkow) and Simonsohn, Simmons & Nelson (2020, Fig. 2): the top panel
shows every specification's ratio (log scale) with its interval, sorted by the estimate, coloured by
direction and significance; the panel beneath marks, for each specification, the option of every choice it
uses; the bottom panel its sample size. Built from the specification table, never from a fitted model.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from analysis.report.figures import PRINT_WIDTH_IN, humanize, new_figure

#: Colours: significant above 1, significant below 1, not significant.
COLOURS = {"above": "#b2182b", "below": "#2166ac", "ns": "#9e9e9e"}


#: Option labels wrap at this many characters (about 2.2 in at 7 pt), so the choice panel keeps most of the width.
LABEL_CHARS = 44
LABEL_PT = 7.0
LINE_IN = 0.125  # one line of a 7 pt option label, with its leading


def curve_figure(choices: pd.DataFrame, choice_columns: Sequence[str], *,
                 labels: Mapping[str, Mapping[str, str]] | None = None, measure: str = "HR",
                 width_in: float = PRINT_WIDTH_IN):
    """The figure of a specification table with columns ``choice_columns`` (the option of each choice),
    ``ratio``, ``ratio_ci_low``, ``ratio_ci_high``, ``p_value`` and ``n``. ``labels`` maps a choice's option
    keys to the words shown (default: the keys). Drawn ``width_in`` wide (the paper's text width) with 7 pt
    type or more; a long option label wraps, and its row is as tall as its lines."""
    labels = labels or {}
    frame = choices.dropna(subset=["ratio"]).sort_values("ratio", kind="stable").reset_index(drop=True)
    x = np.arange(len(frame))
    options = [(c, o) for c in choice_columns for o in dict.fromkeys(choices[c])]
    texts = [textwrap.fill(f"{humanize(c)}: {labels.get(c, {}).get(o, o)}", LABEL_CHARS, break_long_words=False)
             for c, o in options]
    lines = np.array([t.count("\n") + 1 for t in texts])
    rows = lines * LINE_IN + 0.03  # each row's height (in)
    centres = np.cumsum(rows) - rows / 2
    panel_in = float(rows.sum())
    heights = [2.2, panel_in + 0.1, 0.7]
    fig = new_figure(width_in, sum(heights) + 1.0)
    grid = fig.add_gridspec(3, 1, height_ratios=heights, hspace=0.06)
    top, panel, sizes = (fig.add_subplot(grid[i]) for i in range(3))
    significant = frame["p_value"] < 0.05
    colour = np.where(~significant, COLOURS["ns"], np.where(frame["ratio"] > 1, COLOURS["above"], COLOURS["below"]))
    top.vlines(x, frame["ratio_ci_low"], frame["ratio_ci_high"], colors=colour, linewidth=0.3, alpha=0.5)
    top.scatter(x, frame["ratio"], c=colour, s=2, zorder=3)
    top.axhline(1.0, color="black", linewidth=0.6)
    top.axhline(float(np.exp(np.median(np.log(frame["ratio"])))), color="black", linewidth=0.6, linestyle="--")
    top.set_yscale("log")
    ticks = [t for t in (0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0) if frame["ratio_ci_low"].min() <= t * 1.2
             and t / 1.2 <= frame["ratio_ci_high"].max()]
    top.set_yticks(ticks, labels=[f"{t:g}" for t in ticks])
    top.yaxis.set_minor_formatter(NullFormatter())
    top.set_ylabel(f"{measure} (95% CI), log scale", fontsize=8)
    top.set_xlim(-1, len(frame))
    top.set_xticks([])
    top.set_title(f"{len(frame):,} specifications, sorted by the estimate (dashed: the median)", fontsize=8.5)
    for k, (choice, option) in enumerate(options):
        uses = np.flatnonzero(frame[choice].to_numpy() == option)
        panel.scatter(uses, np.full(len(uses), centres[k]), marker="|", s=10, linewidths=0.4, c=colour[uses])
    panel.set_yticks(centres, labels=texts, fontsize=LABEL_PT, linespacing=1.0)
    panel.set_ylim(panel_in, 0)
    panel.set_xlim(-1, len(frame))
    panel.set_xticks([])
    sizes.bar(x, frame["n"], width=1.0, color="#616161")
    sizes.yaxis.set_major_locator(MaxNLocator(2))
    sizes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    sizes.set_xlim(-1, len(frame))
    sizes.set_ylabel("n", fontsize=8)
    sizes.set_xlabel("Specification (rank of the estimate)", fontsize=8)
    for ax in (top, sizes):
        ax.tick_params(labelsize=7.5)
    fig.subplots_adjust(left=0.40, right=0.98, top=1 - 0.35 / fig.get_figheight(), bottom=0.5 / fig.get_figheight())
    return fig
