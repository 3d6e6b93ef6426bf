"""Triangulation: the project's estimates beside published meta-analytic anchors.

Every row is a ratio oriented as the risk of the outcome with *less* social connection, grouped by
outcome (all-cause mortality, cardiovascular disease, depression and mental health):

* this project: NHANES (most isolated group vs the reference, fullest design-based model, from
  ``reports/metrics/nhanes.json``) and the GSS panels (within-person conditional-logit odds ratio per
  log-unit *less* social contact, i.e. the inverse of the published-direction estimate, from
  ``reports/metrics/gss.json``);
* published: ``data/reference/published_anchors.csv`` (full citations, exact published numbers).

Estimates on other scales (linear probability, county and country slopes) are not ratios and are not
drawn here; the manuscript reports them in their own sections.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from analysis import io
from analysis.report.figures import PALETTE, FigureError, _styled, new_figure, write_figure
from analysis.report.tables import format_interval

ANCHOR_COLUMNS = ["anchor_id", "outcome_group", "exposure", "comparison", "measure", "estimate", "ci_low",
                  "ci_high", "studies", "citation", "doi", "note"]
GROUPS = ("All-cause mortality", "Cardiovascular disease", "Depression and mental health")
#: NHANES outcome -> triangulation group.
NHANES_GROUPS = {"all_cause_death": "All-cause mortality", "cvd_death": "Cardiovascular disease",
                 "prevalent_cvd": "Cardiovascular disease", "depression_phq9": "Depression and mental health"}
#: GSS panel outcome -> triangulation group.
GSS_GROUPS = {"unhappy": "Depression and mental health"}
MEASURE_SHORT = {"Pooled effect size": "ES"}
COLUMNS = ["outcome_group", "source", "label", "measure", "estimate", "ci_low", "ci_high", "citation"]


def read_anchors(path: Path) -> pd.DataFrame:
    """The published anchors, checked: every column present, ratios positive, CI around the estimate."""
    anchors = pd.read_csv(path)
    missing = [c for c in ANCHOR_COLUMNS if c not in anchors.columns]
    if missing:
        raise FigureError(f"{path}: column {missing[0]!r} is missing (needed: {', '.join(ANCHOR_COLUMNS)})")
    bad = anchors[~((anchors["ci_low"] > 0) & (anchors["ci_low"] <= anchors["estimate"])
                    & (anchors["estimate"] <= anchors["ci_high"]))]
    if not bad.empty:
        row = bad.iloc[0]
        raise FigureError(f"{path}: anchor {row['anchor_id']!r} has estimate {row['estimate']} outside its CI "
                          f"({row['ci_low']}, {row['ci_high']}) or a non-positive ratio")
    unknown = sorted(set(anchors["outcome_group"]) - set(GROUPS))
    if unknown:
        raise FigureError(f"{path}: outcome_group {unknown[0]!r} unknown; use one of {list(GROUPS)}")
    return anchors


def project_estimates(nhanes: dict | None, gss: dict | None, params: dict) -> pd.DataFrame:
    """The project's ratio-scale estimates, oriented as the risk with less social connection."""
    from analysis.report.paper import headline

    rows = []
    if nhanes:
        for outcome, h in headline(nhanes, params).items():
            est = h.get("top")
            if outcome not in NHANES_GROUPS or not est or est["measure"] not in ("HR", "OR"):
                continue
            label = params["models"]["regression"].get(outcome, params["models"]["survival"].get(outcome, {}))
            rows.append({"outcome_group": NHANES_GROUPS[outcome], "source": "this project",
                         "label": f"NHANES: {label.get('label', outcome)}, {h['top_label'].lower()}",
                         "measure": est["measure"], "estimate": est["estimate"], "ci_low": est["ci_low"],
                         "ci_high": est["ci_high"], "citation": "reports/metrics/nhanes.json"})
    if gss:
        spec = params["gss"]["panel_models"]
        for outcome, group in GSS_GROUPS.items():
            for exposure, by_model in gss["estimates"].get(outcome, {}).items():
                est = by_model.get("conditional_logit")
                if not est:
                    continue
                label = spec["outcomes"].get(outcome, {}).get("label", outcome)
                rows.append({"outcome_group": group, "source": "this project",
                             "label": f"GSS within-person: {label.lower()}, per log-unit less contact",
                             "measure": "OR", "estimate": 1 / est["estimate"], "ci_low": 1 / est["ci_high"],
                             "ci_high": 1 / est["ci_low"], "citation": "reports/metrics/gss.json"})
    return pd.DataFrame(rows, columns=COLUMNS)


def triangulation_table(project: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    """Project and published rows in one tidy table, by outcome group (project rows first)."""
    published = pd.DataFrame({
        "outcome_group": anchors["outcome_group"], "source": "published",
        "label": anchors["citation"].str.split(",").str[0].str.rsplit(" ", n=1).str[0] + " et al. "
        + anchors["citation"].str.extract(r"(\d{4});", expand=False) + ": " + anchors["comparison"],
        "measure": anchors["measure"], "estimate": anchors["estimate"], "ci_low": anchors["ci_low"],
        "ci_high": anchors["ci_high"], "citation": anchors["citation"] + " doi:" + anchors["doi"]})
    table = pd.concat([project, published], ignore_index=True)
    table["outcome_group"] = pd.Categorical(table["outcome_group"], categories=list(GROUPS))
    table["_source"] = (table["source"] != "this project").astype(int)
    table = table.sort_values(["outcome_group", "_source"], kind="stable").drop(columns="_source")
    table["outcome_group"] = table["outcome_group"].astype(str)
    return table.reset_index(drop=True)


@_styled
def triangulation_figure(table: pd.DataFrame) -> Figure:
    """Forest plot: project estimates (filled circles) and published anchors (open diamonds), log axis."""
    if table.empty:
        raise FigureError("triangulation_figure: no estimates to draw")
    rows: list[dict] = []
    for group, part in table.groupby("outcome_group", sort=False):
        rows.append({"kind": "header", "text": group})
        rows += [{"kind": "row", "rec": r} for _, r in part.iterrows()]
    n = len(rows)
    height = 0.25 * n + 1.3
    fig = new_figure(9.5, height)
    ax = fig.add_axes((0.56, 0.8 / height, 0.26, (height - 1.3) / height))
    values = []
    for i, row in enumerate(rows):
        y = n - 1 - i
        if row["kind"] == "header":
            ax.text(0.01, y, row["text"], transform=_fig_x(fig, ax), fontweight="bold",
                    va="center")
            continue
        rec = row["rec"]
        ours = rec["source"] == "this project"
        colour = PALETTE[0] if ours else "#555555"
        err = np.array([[rec["estimate"] - rec["ci_low"]], [rec["ci_high"] - rec["estimate"]]])
        ax.errorbar([rec["estimate"]], [y], xerr=err, fmt="o" if ours else "D", color=colour, markersize=4.5,
                    mfc=colour if ours else "white", capsize=2.5, elinewidth=1.3)
        values += [rec["ci_low"], rec["ci_high"]]
        label = rec["label"] if len(rec["label"]) <= 78 else rec["label"][:75] + "..."
        ax.text(0.02, y, label, transform=_fig_x(fig, ax), va="center", fontsize=8, color=colour)
        measure = MEASURE_SHORT.get(rec["measure"], rec["measure"])
        ax.text(0.835, y, f"{measure} {format_interval(rec['estimate'], rec['ci_low'], rec['ci_high'])}",
                transform=_fig_x(fig, ax), va="center", fontsize=8)
    ax.set_xscale("log")
    lo, hi = min(values + [1.0]) / 1.1, max(values + [1.0]) * 1.1
    ax.set_xlim(lo, hi)
    ticks = [t for t in (0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 3, 4) if lo <= t <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.axvline(1.0, color="#555555", linestyle="--", linewidth=0.9, zorder=0)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("Ratio (95% CI), less vs more social connection, log scale")
    fig.suptitle("Triangulation: this project's estimates (blue) beside published meta-analyses (grey)",
                 x=0.01, ha="left", y=1 - 0.12 / height, va="top", fontweight="bold")
    return fig


def _fig_x(fig: Figure, ax):
    from matplotlib import transforms

    return transforms.blended_transform_factory(fig.transFigure, ax.transData)


def write_triangulation(reports: Path, anchors_path: Path, params: dict) -> list[Path]:
    """Read the metrics files that exist and the anchors; write ``reports/triangulation/triangulation.csv``
    and the figure ``reports/triangulation/triangulation.<format>``."""
    reports = Path(reports)

    def load(name: str) -> dict | None:
        path = reports / "metrics" / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    table = triangulation_table(project_estimates(load("nhanes"), load("gss"), params), read_anchors(anchors_path))
    formats = tuple(params["reports"]["figure_formats"])
    out = reports / "triangulation"
    with io.staged_outputs():
        written = [io.write_csv(out / "triangulation.csv", table)]
        written += write_figure(triangulation_figure(table), out / "triangulation", formats)
    return written
