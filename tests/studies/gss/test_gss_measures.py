"""GSS measures on hand-computed cases (inputs are GSS codes, as ``studies.gss.source.recode`` returns)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.studies.gss import measures

nan = np.nan


def s(*values) -> pd.Series:
    return pd.Series(values, dtype="float64")


def test_evenings_per_year_each_code():
    # almost daily, once or twice a week, several a month, about once a month, several a year,
    # about once a year, never, missing
    out = measures.evenings_per_year(s(1, 2, 3, 4, 5, 6, 7, nan))
    assert out.tolist()[:7] == [300, 78, 36, 12, 3, 1, 0]
    assert math.isnan(out.iloc[7])


def test_evenings_per_year_mapping_by_label_or_code():
    mapping = {"almost daily": 312, "once or twice a week": 104, "several times a month": 36,
               "about once a month": 12, "several times a year": 4, "about once a year": 1, "never": 0}
    assert measures.evenings_per_year(s(1, 2, 5), mapping).tolist() == [312, 104, 4]
    by_code = {1: 312, 2: 104, 3: 36, 4: 12, 5: 4, 6: 1, 7: 0}
    assert measures.evenings_per_year(s(1, 2, 5), by_code).tolist() == [312, 104, 4]


@pytest.mark.parametrize("mapping, message", [
    ({1: 300, 2: 78}, "exactly the codes 1-7"),
    ({1: 10, 2: 78, 3: 36, 4: 12, 5: 3, 6: 1, 7: 0}, "must not increase"),
    ({"almost every hour": 1, 2: 78, 3: 36, 4: 12, 5: 3, 6: 1, 7: 0}, "not a label"),
])
def test_bad_evenings_mapping_is_an_error(mapping, message):
    with pytest.raises((ValueError, KeyError), match=message):
        measures.evenings_per_year(s(1), mapping)


def test_undocumented_code_is_an_error():
    with pytest.raises(ValueError, match="code 8 is not one of 1-7"):
        measures.evenings_per_year(s(1, 8))


def test_social_contact_index_hand_computed():
    relatives = s(78, 300, 0, 3, nan)  # once or twice a week; almost daily; never; several a year
    friends = s(36, 300, 0, 0, 12)
    neighbours = s(0, 300, 0, 0, 12)
    out = measures.social_contact_index(relatives, friends, neighbours)
    assert out.iloc[0] == pytest.approx(math.log(115))  # 1 + 78 + 36 + 0
    assert out.iloc[1] == pytest.approx(math.log(901))  # the maximum, 6.80
    assert out.iloc[2] == 0.0
    assert out.iloc[3] == pytest.approx(math.log(4))
    assert math.isnan(out.iloc[4])  # one item missing -> missing


def test_attendance_per_year():
    out = measures.attendance_per_year(s(0, 1, 2, 3, 4, 5, 6, 7, 8, nan))
    assert out.tolist()[:9] == [0, 0.5, 1.5, 3, 12, 30, 45, 52, 156]
    assert math.isnan(out.iloc[9])


def test_binary_measures():
    assert measures.married(s(1, 2, 3, 4, 5, nan)).fillna(-1).tolist() == [1, 0, 0, 0, 0, -1]
    assert measures.fair_poor_health(s(1, 2, 3, 4, nan)).fillna(-1).tolist() == [0, 0, 1, 1, -1]
    assert measures.unhappy(s(1, 2, 3, nan)).fillna(-1).tolist() == [0, 0, 1, -1]
    assert measures.female(s(1, 2, nan)).fillna(-1).tolist() == [0, 1, -1]
    # full time, part time, with a job not at work -> employed; unemployed ... other -> not
    assert measures.employed(s(1, 2, 3, 4, 5, 6, 7, 8, nan)).fillna(-1).tolist() == [1, 1, 1, 0, 0, 0, 0, 0, -1]


def test_confidants_capped_and_log_income():
    assert measures.confidants(s(0, 3, 6, 9, -2, nan)).fillna(-1).tolist() == [0, 3, 6, 6, 0, -1]
    out = measures.log_income(s(25582.5, 0, -5, nan))
    assert out.iloc[0] == pytest.approx(10.149664, abs=1e-6)
    assert out.iloc[1:].isna().all()


def test_loneliness_score():
    out = measures.loneliness_score(s(1, 5, 2, nan), s(2, 5, nan, 3))
    assert out.tolist()[:2] == [3, 10]
    assert out.iloc[2:].isna().all()
