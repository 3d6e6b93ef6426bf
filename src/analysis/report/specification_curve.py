"""The specification curve figure: sorted estimates with intervals, the choice panel and the sample sizes.

As ``specr::plot_specs`` (Masur & Scharkow) and Simonsohn, Simmons & Nelson (2020, Fig. 2): the top panel
shows every specification's ratio (log scale) with its interval, sorted by the estimate, coloured by
direction and significance; the panel beneath marks, for each specification, the option of every choice it
uses; the bottom panel its sample size. Built from the specification table, never from a fitted model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter

from analysis.report.figures import humanize, new_figure

#: Colours: significant above 1, significant below 1, not significant.
COLOURS = {"above": "#b2182b", "below": "#2166ac", "ns": "#9e9e9e"}


def curve_figure(choices: pd.DataFrame, choice_columns: Sequence[str], *,
                 labels: Mapping[str, Mapping[str, str]] | None = None, measure: str = "HR"):
    """The figure of a specification table with columns ``choice_columns`` (the option of each choice),
    ``ratio``, ``ratio_ci_low``, ``ratio_ci_high``, ``p_value`` and ``n``. ``labels`` maps a choice's option
    keys to the words shown (default: the keys)."""
    labels = labels or {}
    frame = choices.dropna(subset=["ratio"]).sort_values("ratio", kind="stable").reset_index(drop=True)
    x = np.arange(len(frame))
    options = [(c, o) for c in choice_columns for o in dict.fromkeys(choices[c])]
    fig = new_figure(11, 3.2 + 0.16 * len(options))
    heights = [3.0, 0.16 * len(options) + 0.3, 0.9]
    grid = fig.add_gridspec(3, 1, height_ratios=heights, hspace=0.08)
    top, panel, sizes = (fig.add_subplot(grid[i]) for i in range(3))
    significant = frame["p_value"] < 0.05
    colour = np.where(~significant, COLOURS["ns"], np.where(frame["ratio"] > 1, COLOURS["above"], COLOURS["below"]))
    top.vlines(x, frame["ratio_ci_low"], frame["ratio_ci_high"], colors=colour, linewidth=0.4, alpha=0.5)
    top.scatter(x, frame["ratio"], c=colour, s=3, zorder=3)
    top.axhline(1.0, color="black", linewidth=0.6)
    top.axhline(float(np.exp(np.median(np.log(frame["ratio"])))), color="black", linewidth=0.6, linestyle="--")
    top.set_yscale("log")
    ticks = [t for t in (0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0) if frame["ratio_ci_low"].min() <= t * 1.2
             and t / 1.2 <= frame["ratio_ci_high"].max()]
    top.set_yticks(ticks, labels=[f"{t:g}" for t in ticks])
    top.yaxis.set_minor_formatter(NullFormatter())
    top.set_ylabel(f"{measure} (95% CI), log scale")
    top.set_xlim(-1, len(frame))
    top.set_xticks([])
    top.set_title(f"{len(frame):,} specifications, sorted by the estimate (dashed: the median)", fontsize=9)
    for k, (choice, option) in enumerate(options):
        uses = np.flatnonzero(frame[choice].to_numpy() == option)
        panel.scatter(uses, np.full(len(uses), k), marker="|", s=12, linewidths=0.5, c=colour[uses])
    panel.set_yticks(range(len(options)))
    panel.set_yticklabels([f"{humanize(c)}: {labels.get(c, {}).get(o, o)}" for c, o in options], fontsize=6)
    panel.set_ylim(len(options) - 0.5, -0.5)
    panel.set_xlim(-1, len(frame))
    panel.set_xticks([])
    sizes.bar(x, frame["n"], width=1.0, color="#616161")
    sizes.set_xlim(-1, len(frame))
    sizes.set_ylabel("n", fontsize=8)
    sizes.set_xlabel("Specification (rank of the estimate)")
    fig.subplots_adjust(left=0.33, right=0.98, top=0.95, bottom=0.06)
    return fig
