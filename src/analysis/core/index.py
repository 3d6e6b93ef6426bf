"""Indices defined as data: a score is a list of items (column, operator, value) in ``params.yaml``.

A student changes an index by editing its items, its missing-data rule or its groups in params.yaml
(``nhanes.indices`` for NHANES, ``cohorts.isolation_index`` for the ageing cohorts); no code changes. Every
study builds its indices with these functions and checks their specification with :class:`IndexSpec`, so one
rule means the same thing everywhere.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import Field, model_validator

from analysis.core.settings import Label, Settings, formatted, number_text

OPERATORS = {
    "eq": lambda s, v: s == v,
    "ne": lambda s, v: s != v,
    "lt": lambda s, v: s < v,
    "le": lambda s, v: s <= v,
    "gt": lambda s, v: s > v,
    "ge": lambda s, v: s >= v,
    "in": lambda s, v: s.isin(v if isinstance(v, (list, tuple, set)) else [v]),
}

Number = int | float


class IndexItem(Settings):
    """One item: a point where ``<variable> <op> <value>`` holds (a column of the study's analysis table)."""

    variable: Annotated[str, Field(min_length=1)]
    """The column the item reads."""
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in"]
    """eq, ne, lt, le, gt, ge (compare with value) or in (value is a list)."""
    value: Number | str | list[Number | str]
    """What the column is compared with."""
    label: Label | None = None
    """The item in words (tables, the data dictionary); default: the variable's name."""

    @property
    def text(self) -> str:
        return self.label or self.variable

    @model_validator(mode="after")
    def _value_fits_op(self) -> IndexItem:
        if (self.op == "in") != isinstance(self.value, list):
            raise ValueError(f"op '{self.op}' needs {'a list' if self.op == 'in' else 'a single value'} "
                             f"as value, got {self.value!r}")
        return self


class IndexGroup(Settings):
    """A range of scores ``[min, max]``; the label may state it with ``{min}`` and ``{max}``
    (``"Isolated ({min}+)"``), so that editing the range edits the label."""

    label: Label
    """The group's name in tables and models; ``{min}`` and ``{max}`` are replaced by the range."""
    min: Number
    max: Number

    @model_validator(mode="before")
    @classmethod
    def _fill_label(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("label"), str) and all(
                isinstance(data.get(k), (int, float)) and not isinstance(data.get(k), bool) for k in ("min", "max")):
            data = {**data, "label": formatted(data["label"], "group", min=number_text(data["min"]),
                                               max=number_text(data["max"]))}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> IndexGroup:
        if self.min > self.max:
            raise ValueError(f"group '{self.label}': min {self.min} is above max {self.max}")
        return self


def check_groups(groups: list[IndexGroup], top: float, what: str) -> None:
    """Groups in increasing order that cover the index's scale 0..``top`` without gaps or overlap."""
    if not groups:
        return
    labels = [g.label for g in groups]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{what}: two groups share a label: {labels}")
    if groups[0].min != 0 or groups[-1].max != top:
        raise ValueError(f"{what}: the groups must cover the scale 0-{top:g} (the index has that many items); "
                         f"they run from {groups[0].min:g} to {groups[-1].max:g}")
    for a, b in zip(groups, groups[1:]):
        if not a.max < b.min:
            raise ValueError(f"{what}: groups '{a.label}' ({a.min:g}-{a.max:g}) and '{b.label}' "
                             f"({b.min:g}-{b.max:g}) overlap or are out of order")


class IndexSpec(Settings):
    """An index: items scored 1 point each, summed by a missing-data rule, then grouped."""

    label: Label | None = None
    """The index in words; ``{max}`` stands for its top score (the number of items), as in
    ``"Social isolation index (0-{max})"``, so a study that keeps the label but changes the items gets the
    right range (:meth:`label_or` fills it in). Default: the index's name."""
    group_column: str | None = None
    """Column of its groups (default ``<name>_group``)."""
    why: str = ""
    """Why these items: the definition and its source, shown in the data dictionary and the paper."""
    contact: str | None = None
    """Cohort studies: the study's definition of contact, in words (shown in every table)."""
    items: Annotated[list[IndexItem], Field(min_length=1)]
    missing: Literal["complete", "prorate"] = "complete"
    """complete: missing unless every item is answered; prorate: the mean point times the number of items
    when at least ``min_items`` are answered."""
    min_items: Annotated[int, Field(ge=1)] | None = None
    """Answered items needed under ``prorate`` (default: all)."""
    groups: list[IndexGroup] = []
    """Score ranges in increasing order; the first is the reference group in models."""
    groupings: dict[str, list[IndexGroup]] = {}
    """Further groupings of the same score, each its own column (e.g. the index by level)."""

    @model_validator(mode="after")
    def _consistent(self) -> IndexSpec:
        k = len(self.items)
        if self.label is not None:
            formatted(self.label, "label", max=k)  # an unknown placeholder fails here, not when drawn
        if self.min_items is not None and self.min_items > k:
            raise ValueError(f"min_items is {self.min_items} but the index has {k} items")
        check_groups(self.groups, k, "groups")
        for column, groups in self.groupings.items():
            check_groups(groups, k, f"groupings.{column}")
        return self

    @property
    def n_items(self) -> int:
        return len(self.items)

    def label_or(self, name: str) -> str:
        """The index in words, its range filled in (``"Social isolation index (0-4)"``); else ``name``."""
        return formatted(self.label, "label", max=self.n_items) if self.label else name

    def group_column_of(self, name: str) -> str:
        """Column holding the index's groups: ``group_column``, else ``<name>_group``."""
        return self.group_column or f"{name}_group"

    def groupings_of(self, name: str) -> dict[str, list[IndexGroup]]:
        """Every grouped column: the ``group_column`` with ``groups``, then each of ``groupings``."""
        return {self.group_column_of(name): list(self.groups), **self.groupings}


def index_points(table: pd.DataFrame, spec: IndexSpec) -> pd.DataFrame:
    """One column per item: 1 where the item's rule holds, 0 where it does not, NaN if missing."""
    points = {}
    for i, item in enumerate(spec.items):
        var = item.variable
        if var not in table.columns:
            raise KeyError(f"index item {i} uses the column '{var}', which the analysis table lacks "
                           f"(available: {', '.join(sorted(table.columns))})")
        values = table[var]
        hit = OPERATORS[item.op](values, item.value).astype("float64")
        points[f"{var}_{item.op}_{item.value}"] = hit.where(values.notna())
    return pd.DataFrame(points, index=table.index)


def build_index(table: pd.DataFrame, spec: IndexSpec) -> pd.Series:
    """Sum of item points by the spec's missing rule.

    ``missing: complete``: missing unless every item is answered.
    ``missing: prorate``: with at least ``min_items`` answered, the mean point times the number of
    items (so the scale stays 0..k); fewer answered -> missing.
    """
    points = index_points(table, spec)
    answered = points.notna().sum(axis=1)
    k = points.shape[1]
    if spec.missing == "complete":
        return points.sum(axis=1).where(answered == k)
    min_items = spec.min_items if spec.min_items is not None else k
    return (points.mean(axis=1) * k).where(answered >= min_items)


def group_index(score: pd.Series, groups: list[IndexGroup]) -> pd.Series:
    """Ordered categories from score ranges; the first group is the reference.

    Group k holds scores from its ``min`` up to (not including) the next group's ``min``; the last group
    holds ``min`` to ``max`` inclusive. With whole-number scores this is the inclusive ranges written in
    params.yaml ([0, 0], [1, 1], [2, 5]); a prorated, fractional score (``missing: prorate``) falls in
    the group whose range it starts in (1.25 -> [1, 1], "Moderate"). :class:`IndexSpec` checks that the
    groups increase and cover the scale; a score outside them is an error.
    """
    labels = [g.label for g in groups]
    out = pd.Series(pd.NA, index=score.index, dtype="object")
    for k, g in enumerate(groups):
        upper = (score < groups[k + 1].min) if k + 1 < len(groups) else (score <= g.max)
        out[(score >= g.min) & upper] = g.label
    uncovered = score.notna() & out.isna()
    if uncovered.any():
        raise ValueError(f"index score {score[uncovered].iloc[0]:g} falls in none of the groups {labels}")
    return pd.Series(pd.Categorical(out, categories=labels, ordered=True), index=score.index)


def at_or_above(score: pd.Series, cutoff: float) -> pd.Series:
    """1 if score >= cutoff, 0 if below, missing if the score is missing (e.g. PHQ-9 >= 10, CES-D >= 3)."""
    return (score >= cutoff).astype("float64").where(score.notna())
