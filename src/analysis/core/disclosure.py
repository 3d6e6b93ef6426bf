"""Statistical disclosure control for tables and figures built from restricted data.

The conditions of use of the ageing cohorts (HRS, ELSA, SHARE, CHARLS) forbid publishing anything that could
identify a respondent. Every table and figure made from a study marked ``restricted: true`` in params.yaml
goes through these rules before it is written:

* **Primary suppression.** A count from 1 to ``min_cell - 1`` (params.yaml ``disclosure.min_cell``, default
  11) is shown as ``"<11"``; a zero is shown (it identifies no one). A statistic whose cell is that small (a
  percentage, a mean, an estimate resting on fewer than ``min_cell`` events) is shown as ``"suppressed"``.
* **Complementary suppression.** Counts that add up (a flow: remaining before = remaining after + excluded;
  a table row and its total) are declared as *relations*. No relation may hold exactly one suppressed cell,
  because the others would give it back by subtraction: while one does, the smallest count of that relation
  still shown is suppressed too (iterated until no relation is left with a single hidden cell).
* **Figures** that plot per-group statistics leave out groups smaller than ``min_cell``, and say so.

Every table that suppresses something says so in its footnote (:func:`footnote`). Public studies (NHANES,
GSS, the ecological studies, the SYNTHETIC cohort) are not touched.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from analysis.core.settings import DisclosureSettings

SUPPRESSED = "suppressed"
#: The note of a model record of a restricted study whose estimate rests on too few events (or rows): its
#: numbers are NaN and no table or metric shows them.
SUPPRESSED_NOTE = "SUPPRESSED (restricted data: fewer than {min_cell} events or person-waves)"


@dataclass(frozen=True)
class DisclosureRule:
    """The suppression threshold: counts from 1 to ``min_cell - 1`` are hidden."""

    min_cell: int = 11

    def __post_init__(self) -> None:
        if int(self.min_cell) < 2:
            raise ValueError(f"params.yaml disclosure.min_cell is {self.min_cell}; it must be 2 or more")

    @property
    def marker(self) -> str:
        """What a hidden count shows: "<11"."""
        return f"<{self.min_cell}"

    def small(self, count) -> bool:
        """True for a count that must be hidden (1 to min_cell - 1; missing and zero are not)."""
        if count is None or pd.isna(count):
            return False
        return 0 < float(count) < self.min_cell


def rule_of(disclosure: DisclosureSettings) -> DisclosureRule:
    """The rule of params.yaml ``disclosure`` (``min_cell``)."""
    return DisclosureRule(disclosure.min_cell)


def protect(counts: Mapping[Hashable, float], relations: Iterable[Sequence[Hashable]],
            rule: DisclosureRule) -> set[Hashable]:
    """The cells to hide: every small count, plus complementary cells so that no relation (a set of cells
    that add up, total included) holds exactly one hidden cell. Returns the keys of ``counts`` to hide."""
    hidden = {key for key, value in counts.items() if rule.small(value)}
    relations = [list(r) for r in relations]
    changed = True
    while changed:
        changed = False
        for relation in relations:
            inside = [k for k in relation if k in hidden]
            if len(inside) != 1:
                continue
            shown = [k for k in relation if k not in hidden and counts.get(k) is not None and not pd.isna(counts[k])]
            if not shown:
                continue
            hidden.add(min(shown, key=lambda k: (float(counts[k]), str(k))))
            changed = True
    return hidden


def count_cell(value, hide: bool, rule: DisclosureRule, fmt=None) -> str:
    """A count as shown: the marker when hidden, else ``fmt(value)`` (default: thousands separators)."""
    if hide:
        return rule.marker
    if value is None or pd.isna(value):
        return ""
    return fmt(value) if fmt else f"{int(value):,}"


def footnote(rule: DisclosureRule, hidden: int) -> str:
    """The sentence a table's footnote carries when it hides cells (empty when it hides none)."""
    if not hidden:
        return ""
    return (f"Restricted data: counts from 1 to {rule.min_cell - 1} are shown as \"{rule.marker}\", statistics "
            f"resting on so few as \"{SUPPRESSED}\", and further cells are hidden where a total would reveal a "
            f"hidden one ({hidden} cell{'s' if hidden != 1 else ''} hidden; params.yaml disclosure.min_cell).")


def is_suppressed(note) -> bool:
    """True for a record whose estimate was suppressed (its note starts with :data:`SUPPRESSED_NOTE`)."""
    return str(note).startswith(SUPPRESSED_NOTE.split(":")[0])
