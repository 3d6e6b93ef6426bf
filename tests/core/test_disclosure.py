"""Disclosure control on cases worked by hand: primary and complementary suppression, the marker, footnotes."""

from __future__ import annotations

import math

import pytest

from analysis.core.config import ConfigError
from analysis.core.disclosure import (
    SUPPRESSED,
    DisclosureRule,
    count_cell,
    footnote,
    protect,
    rule_of,
)
from analysis.core.settings import DisclosureSettings, validate

RULE = DisclosureRule(11)


def test_small_counts_are_1_to_10_and_zero_or_missing_are_not(params):
    assert [RULE.small(v) for v in (0, 1, 10, 10.5, 11, 250)] == [False, True, True, True, False, False]
    assert not RULE.small(None) and not RULE.small(math.nan)
    assert RULE.marker == "<11"
    assert rule_of(validate(DisclosureSettings, {"min_cell": 5})).marker == "<5"
    assert rule_of(validate(DisclosureSettings, {})).min_cell == 11  # the default: the CMS rule
    assert rule_of(params.disclosure).min_cell == 11
    # a threshold of 1 hides nothing: the schema refuses it before any stage, as the rule itself does
    with pytest.raises(ConfigError, match="min_cell = 1: Input should be greater than or equal to 2"):
        validate(DisclosureSettings, {"min_cell": 1})
    with pytest.raises(ValueError, match="min_cell"):
        DisclosureRule(1)


def test_a_relation_never_holds_a_single_hidden_cell():
    # total 25 = 5 + 20: the 5 is hidden, and the 20 too (else 25 - 20 gives the 5 back).
    assert protect({"total": 25, "a": 5, "b": 20}, [["total", "a", "b"]], RULE) == {"a", "b"}
    # 5 + 3 + 40 = 48: two small cells hide each other; 40 and 48 stay.
    assert protect({"total": 48, "a": 5, "b": 3, "c": 40}, [["total", "a", "b", "c"]], RULE) == {"a", "b"}
    # nothing small, nothing hidden
    assert protect({"total": 60, "a": 20, "b": 40}, [["total", "a", "b"]], RULE) == set()


def test_a_flow_is_protected_down_the_chain():
    """100 -> 95 (5 excluded) -> 60 (35 excluded): the 5 is hidden; so is 95 (else 100 - 95 = 5); so is the
    35 (else 60 + 35 = 95 gives 95 back). 100 and 60 stay."""
    counts = {"n0": 100, "n1": 95, "e1": 5, "n2": 60, "e2": 35}
    hidden = protect(counts, [["n0", "n1", "e1"], ["n1", "n2", "e2"]], RULE)
    assert hidden == {"e1", "n1", "e2"}
    # what is left shown cannot give back a hidden cell: each relation holds 0 or 2+ hidden cells
    for relation in (["n0", "n1", "e1"], ["n1", "n2", "e2"]):
        assert len(set(relation) & hidden) != 1


def test_cells_and_footnote():
    assert count_cell(5, True, RULE) == "<11"
    assert count_cell(1234, False, RULE) == "1,234"
    assert count_cell(None, False, RULE) == ""
    assert footnote(RULE, 0) == ""
    note = footnote(RULE, 3)
    assert "1 to 10" in note and "<11" in note and SUPPRESSED in note and "3 cells hidden" in note
