"""Who is left out (issue 22, item 6, NHANES): the weighted prevalence of isolation, of each isolation item and of
no emotional support, with design-based CIs, by population group; the effect modification tests beside.

Indicators (from ``params.yaml nhanes.reach.index``, default the isolation index): the index's top group
("isolated", e.g. 2+ of 4 points) and each of its items scored 1 (not partnered, at most one close friend, no one
to count on for emotional support - "lack of emotional support" -, no one for financial help), exactly the
rules of ``nhanes.indices`` (SSQ and DMDMARTL codebook rules in measures.py). Each prevalence is a survey-weighted
proportion among the SSQ respondents of the group with the indicator observed (interview weight, pooled over the
eligibility domains: ages 60+ 1999-2008, 40-59 2003-2008), its SE by Taylor linearisation with the group a domain
of the full design, and a logit interval on the design df (R ``svyciprop(method = "logit")``;
:func:`analysis.estimators.survey.design_mean`). Beside each grouping: the design-based Wald test of
exposure x modifier from the sensitivity stage (reports/metrics/nhanes_subgroups.csv), where one was tested.
Descriptive: a prevalence gap is who lacks connection, not why.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.core import config, io
from analysis.core.settings import number_text
from analysis.estimators.survey import design_mean
from analysis.report import interval_figures, tables
from analysis.studies.nhanes.settings import NhanesSettings, ReachGrouping, load

STRATUM, PSU = "stratum", "psu"
OPS = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
       "ge": np.greater_equal}
PREVALENCE_COLUMNS = ["indicator", "indicator_label", "grouping", "grouping_label", "group", "estimate", "std_error",
                      "ci_low", "ci_high", "df", "n"]


def indicators(table: pd.DataFrame, nh: NhanesSettings) -> dict[str, tuple[str, pd.Series]]:
    """Indicator -> (label, 0/1 series, NaN where unknown): the index's top group, then each item's rule."""
    spec = nh.indices[nh.reach.index]
    top = spec.groups[-1]
    group_column = spec.group_column
    out = {"isolated": (top.label,
                        (table[group_column] == table[group_column].cat.categories[-1]).astype(float)
                        .where(table[group_column].notna()))}
    for item in spec.items:
        values = pd.to_numeric(table[item.variable], errors="coerce").astype(float)
        if item.op == "in":
            hit = values.isin(item.value)
        else:
            hit = pd.Series(OPS[item.op](values.to_numpy(), float(item.value)), index=table.index)
        out[item.variable] = (item.label[:1].upper() + item.label[1:], hit.astype(float).where(values.notna()))
    return out


def group_labels(values: pd.Series, grouping: ReachGrouping) -> pd.Series:
    """The group of each row: a category level, or the interval [cut_k, cut_k+1) ("60 to < 70", last "80+")."""
    if grouping.cuts is None:
        return values.astype("string")
    cuts = list(grouping.cuts)
    names = [f"{number_text(a)} to < {number_text(b)}" for a, b in zip(cuts, cuts[1:])] + [f"{number_text(cuts[-1])}+"]
    index = np.searchsorted(cuts, values.to_numpy(dtype=float, na_value=np.nan), side="right") - 1
    ok = values.notna().to_numpy() & (index >= 0)
    return pd.Series([names[i] if keep else pd.NA for i, keep in zip(index, ok)], index=values.index,
                     dtype="string")


def prevalence_table(table: pd.DataFrame, nh: NhanesSettings) -> pd.DataFrame:
    """Every indicator x grouping x group (and "All"): the prevalence row (:data:`PREVALENCE_COLUMNS`)."""
    reach, models = nh.reach, nh.models
    weights = table[reach.weight].fillna(0.0)
    rows = []
    for name, (label, values) in indicators(table, nh).items():
        def add(grouping: str, grouping_label: str, group: str, domain, name=name, label=label, values=values):
            m = design_mean(values, weights, table[STRATUM], table[PSU], domain=domain, lonely_psu=models.lonely_psu,
                            alpha=models.alpha)
            rows.append({"indicator": name, "indicator_label": label, "grouping": grouping,
                         "grouping_label": grouping_label, "group": group, "estimate": m.estimate,
                         "std_error": m.std_error, "ci_low": m.ci_low, "ci_high": m.ci_high, "df": m.df, "n": m.n})

        add("all", "All", "All", None)
        for grouping in reach.groupings:
            labels = group_labels(table[grouping.column], grouping)
            levels = (list(table[grouping.column].cat.categories) if isinstance(table[grouping.column].dtype,
                      pd.CategoricalDtype) else list(dict.fromkeys(labels.dropna().sort_values(key=_cut_order))))
            for level in levels:
                add(grouping.name, grouping.label, str(level), (labels == str(level)).fillna(False).to_numpy())
    return pd.DataFrame(rows, columns=PREVALENCE_COLUMNS)


def _cut_order(labels: pd.Series) -> pd.Series:
    return labels.str.extract(r"^([0-9.]+)")[0].astype(float)


def interaction_table(subgroups: pd.DataFrame, nh: NhanesSettings) -> pd.DataFrame:
    """The exposure x modifier Wald tests of each grouping's ``modifier`` (one row per grouping and outcome)."""
    reach = nh.reach
    tests = subgroups[(subgroups["record"] == "interaction") & (subgroups["exposure"] == reach.interaction_exposure)
                      & subgroups["outcome"].isin(reach.interaction_outcomes)]
    rows = []
    for grouping in reach.groupings:
        for outcome in reach.interaction_outcomes:
            hit = tests[(tests["modifier"] == grouping.modifier) & (tests["outcome"] == outcome)]
            row = {"grouping": grouping.name, "grouping_label": grouping.label, "outcome": outcome,
                   "modifier": grouping.modifier or "", "F": math.nan, "df_num": math.nan, "df_den": math.nan,
                   "p_value": math.nan}
            if len(hit):
                r = hit.iloc[0]
                row |= {"outcome": r["outcome"], "F": r["F"], "df_num": r["df_num"], "df_den": r["df_den"],
                        "p_value": r["p_value"]}
            rows.append(row)
    return pd.DataFrame(rows)


def reach_numbers(prevalence: pd.DataFrame, interactions: pd.DataFrame) -> dict:
    """The numbers the paper needs, from the result files: overall prevalence of each indicator, the largest and
    smallest group prevalence of "isolated" per grouping (the gap, in percentage points), and the interaction
    p-values beside."""
    out: dict = {"overall": {}, "gaps": {}, "interactions": []}
    for r in prevalence[prevalence["grouping"] == "all"].itertuples():
        out["overall"][r.indicator] = {"estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high, "n": r.n}
    isolated = prevalence[(prevalence["indicator"] == "isolated") & (prevalence["grouping"] != "all")]
    for grouping, part in isolated.groupby("grouping", sort=False):
        hi, lo = part.loc[part["estimate"].idxmax()], part.loc[part["estimate"].idxmin()]
        out["gaps"][grouping] = {"highest": hi["group"], "highest_estimate": hi["estimate"], "lowest": lo["group"],
                                 "lowest_estimate": lo["estimate"],
                                 "gap_points": 100 * (hi["estimate"] - lo["estimate"])}
    out["interactions"] = interactions.to_dict("records")
    return out


def _figure_rows(prevalence: pd.DataFrame) -> pd.DataFrame:
    shown = prevalence[prevalence["grouping"] != "all"]
    order = list(dict.fromkeys(shown["indicator"]))
    return pd.DataFrame({"panel": shown["grouping_label"], "label": shown["group"],
                         "estimate": 100 * shown["estimate"], "low": 100 * shown["ci_low"],
                         "high": 100 * shown["ci_high"], "series": shown["indicator"].map(order.index)})


def _shown(prevalence: pd.DataFrame) -> pd.DataFrame:
    cells = [tables.format_interval(100 * e, 100 * lo, 100 * hi, 1)
             for e, lo, hi in prevalence[["estimate", "ci_low", "ci_high"]].itertuples(index=False)]
    wide = prevalence.assign(cell=cells).pivot_table(index=["grouping_label", "group"], columns="indicator_label",
                                                     values="cell", aggfunc="first", sort=False)
    wide = wide.reset_index().rename(columns={"grouping_label": "Characteristic", "group": "Group"})
    wide.attrs["caption"] = ("Who is left out: weighted prevalence, % (95% CI), of isolation, its items and no "
                             "emotional support, NHANES 1999-2008 (design-based; logit CIs)")
    return wide


def stage() -> str:
    """DVC stage ``reach_nhanes``: the prevalence records, the interaction tests beside, the table and figure."""
    params = load()
    nh = params.nhanes
    table = io.read_parquet(config.PROCESSED / "nhanes.parquet")
    subgroups = pd.read_csv(config.REPORTS / "metrics" / "nhanes_subgroups.csv")
    prevalence = prevalence_table(table, nh)
    interactions = interaction_table(subgroups, nh)
    tables_dir = config.REPORTS / "tables" / "nhanes_reach"
    figure = config.REPORTS / "figures" / "nhanes_reach" / "prevalence_gaps"
    labels = list(dict.fromkeys(prevalence["indicator_label"]))
    shown_tests = interactions.rename(columns={"grouping_label": "Characteristic", "outcome": "Outcome",
                                               "p_value": "p (interaction)"}).drop(columns=["grouping"])
    shown_tests.attrs["caption"] = ("Effect modification of the isolation-mortality association by the same "
                                    "characteristics (design-based Wald tests of isolation x modifier)")
    with io.staged_outputs():
        io.write_outputs({config.REPORTS / "metrics" / "nhanes_reach.csv": prevalence,
                          config.REPORTS / "metrics" / "nhanes_reach_interactions.csv": interactions})
        tables.write_table(_shown(prevalence), tables_dir / "prevalence")
        tables.write_table(shown_tests, tables_dir / "interactions")
        interval_figures.write_interval_panels(
            _figure_rows(prevalence), figure, tuple(params.reports.figure_formats),
            axis_label="Weighted prevalence (%)",
            title="Who is left out: isolation and its items by group (NHANES 1999-2008, design-based 95% CI)",
            reference=None, series_labels=labels, columns=2)
    return f"NHANES reach: {len(prevalence)} prevalences"


def paper_numbers(reports=config.REPORTS) -> dict:
    """:func:`reach_numbers` of the stage's result files (``reports/metrics/nhanes_reach.csv`` and
    ``nhanes_reach_interactions.csv``): what the paper's Results paragraph and supplement quote."""
    metrics = reports / "metrics"
    return reach_numbers(pd.read_csv(metrics / "nhanes_reach.csv"),
                         pd.read_csv(metrics / "nhanes_reach_interactions.csv"))
