"""Indices defined as data: a score is a list of items (column, operator, value) in ``params.yaml``.

A student changes an index by editing its items, its missing-data rule or its groups in params.yaml
(``indices`` for NHANES, ``cohorts.isolation_index`` for the ageing cohorts); no code changes. Every study
builds its indices with these three functions, so one rule means the same thing everywhere.
"""

from __future__ import annotations

import pandas as pd

from analysis.core.config import validate_index_spec

OPERATORS = {
    "eq": lambda s, v: s == v,
    "ne": lambda s, v: s != v,
    "lt": lambda s, v: s < v,
    "le": lambda s, v: s <= v,
    "gt": lambda s, v: s > v,
    "ge": lambda s, v: s >= v,
    "in": lambda s, v: s.isin(v if isinstance(v, (list, tuple, set)) else [v]),
}


def index_points(table: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """One column per item: 1 where the item's rule holds, 0 where it does not, NaN if missing."""
    points = {}
    for i, item in enumerate(spec["items"]):
        var = item["variable"]
        if var not in table.columns:
            raise KeyError(f"index item {i} uses the column '{var}', which the analysis table lacks "
                           f"(available: {', '.join(sorted(table.columns))})")
        values = table[var]
        hit = OPERATORS[item["op"]](values, item["value"]).astype("float64")
        points[f"{var}_{item['op']}_{item['value']}"] = hit.where(values.notna())
    return pd.DataFrame(points, index=table.index)


def build_index(table: pd.DataFrame, spec: dict, name: str = "index") -> pd.Series:
    """Sum of item points by the spec's missing rule.

    ``missing: complete``: missing unless every item is answered.
    ``missing: prorate``: with at least ``min_items`` answered, the mean point times the number of
    items (so the scale stays 0..k); fewer answered -> missing.
    """
    validate_index_spec(name, spec)
    points = index_points(table, spec)
    answered = points.notna().sum(axis=1)
    k = points.shape[1]
    if spec.get("missing", "complete") == "complete":
        return points.sum(axis=1).where(answered == k)
    min_items = int(spec.get("min_items", k))
    return (points.mean(axis=1) * k).where(answered >= min_items)


def group_index(score: pd.Series, groups: list[dict]) -> pd.Series:
    """Ordered categories from score ranges; the first group is the reference.

    Group k holds scores from its ``min`` up to (not including) the next group's ``min``; the last group
    holds ``min`` to ``max`` inclusive. With whole-number scores this is the inclusive ranges written in
    params.yaml ([0, 0], [1, 1], [2, 5]); a prorated, fractional score (``missing: prorate``) falls in
    the group whose range it starts in (1.25 -> [1, 1], "Moderate"). Groups must be in increasing order;
    a score below the first ``min`` or above the last ``max`` is an error (the groups must cover the scale).
    """
    labels = [g["label"] for g in groups]
    mins = [float(g["min"]) for g in groups]
    if mins != sorted(mins) or len(set(mins)) != len(mins):
        raise ValueError(f"index groups {labels}: their 'min' values {mins} must increase")
    out = pd.Series(pd.NA, index=score.index, dtype="object")
    for k, g in enumerate(groups):
        upper = (score < groups[k + 1]["min"]) if k + 1 < len(groups) else (score <= g["max"])
        out[(score >= g["min"]) & upper] = g["label"]
    uncovered = score.notna() & out.isna()
    if uncovered.any():
        raise ValueError(f"index score {score[uncovered].iloc[0]:g} falls in none of the groups {labels}")
    return pd.Series(pd.Categorical(out, categories=labels, ordered=True), index=score.index)


def at_or_above(score: pd.Series, cutoff: float) -> pd.Series:
    """1 if score >= cutoff, 0 if below, missing if the score is missing (e.g. PHQ-9 >= 10, CES-D >= 3)."""
    return (score >= cutoff).astype("float64").where(score.notna())
