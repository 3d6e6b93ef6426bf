"""Cognition and dementia in the cohorts (analysis.studies.cohorts.clean.cognition_measures, the settings block
``cohorts.studies.<study>.cognition``): the Langa-Weir score and classification on hand-computed cases.

The HRS rule (RAND HRS Longitudinal File, Section: Cognition; Crimmins et al. 2011; the Langa-Weir
Classification of Cognitive Function): immediate word recall r{w}imrc (0-10) + delayed word recall r{w}dlrc
(0-10) + serial 7s r{w}ser7 (0-5) + backwards counting r{w}bwc20 (0-2) = 0-27 (RAND's r{w}cogtot); 0-6
dementia, 7-11 cognitive impairment not dementia, 12-27 normal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.core.config import ConfigError
from analysis.core.settings import validate
from analysis.studies.cohorts.clean import cognition_measures, incident_reports
from analysis.studies.cohorts.settings import Cognition

HRS_ITEMS = {"r{w}imrc": 10, "r{w}dlrc": 10, "r{w}ser7": 5, "r{w}bwc20": 2}


def _long(rows: list[tuple]) -> pd.DataFrame:
    """Person-waves of the four items (and a dementia item), as the clean stage's wave frames hold them."""
    return pd.DataFrame(rows, columns=["cognition_item_1", "cognition_item_2", "cognition_item_3",
                                       "cognition_item_4", "dementia_item"], dtype=float)


def _interviewed(series: pd.Series) -> pd.Series:
    return series


def test_langa_weir_score_and_classification_by_hand():
    hrs = validate(Cognition, {"items": HRS_ITEMS}, "cohorts.studies.hrs.cognition")
    assert hrs.max == 27 and hrs.label == "Cognition score (0-27)"
    long = _long([(10, 10, 5, 2, None),   # 27: the maximum, normal
                  (3, 1, 1, 1, None),     # 6: the highest dementia score
                  (3, 2, 1, 1, None),     # 7: the lowest CIND score, not dementia
                  (0, 0, 0, 0, None),     # 0: dementia
                  (5, np.nan, 3, 2, None)])  # an item missing (e.g. a proxy interview): no score, no class
    score, dementia = cognition_measures(long, hrs, _interviewed)
    assert score.tolist()[:4] == [27, 6, 7, 0] and np.isnan(score.iloc[4])
    assert dementia.tolist()[:4] == [0, 1, 0, 1] and np.isnan(dementia.iloc[4])


def test_a_study_dementia_item_is_used_instead_of_the_score():
    spec = validate(Cognition, {"items": HRS_ITEMS, "dementia_item": "r{w}dementia"}, "cohorts.synthetic.cognition")
    score, dementia = cognition_measures(_long([(0, 0, 0, 0, 0), (10, 10, 5, 2, 1), (5, 5, 3, 1, np.nan)]), spec,
                                         _interviewed)
    assert score.tolist() == [0, 27, 14]
    assert dementia.iloc[0] == 0 and dementia.iloc[1] == 1 and np.isnan(dementia.iloc[2])


def test_no_cognition_block_gives_missing_measures():
    score, dementia = cognition_measures(_long([(1, 1, 1, 1, 1)]), None, _interviewed)
    assert score.isna().all() and dementia.isna().all()


def test_incident_dementia_is_the_first_classification_after_one_without():
    person = pd.Series(["a"] * 4 + ["b"] * 3)
    dementia = pd.Series([0, 0, 1, 0, 1, 1, 0], dtype=float)
    # a: first known answer missing, still free, new, then absorbing (missing after the first); b: prevalent at
    # its first answer (never incident)
    out = incident_reports(dementia, person)
    assert out.iloc[:4].tolist()[1:3] == [0, 1] and np.isnan(out.iloc[0]) and np.isnan(out.iloc[3])
    assert out.iloc[4:].isna().all()


@pytest.mark.parametrize("block, problem", [
    ({"items": HRS_ITEMS, "dementia_max": 12, "impairment_max": 11}, "dementia_max 12 < impairment_max 11"),
    ({"items": {"r{w}imrc": 10}, "impairment_max": 11}, "the score's maximum 10"),
    ({"items": {}}, "items"),
    ({"items": HRS_ITEMS, "label": "Cognition ({top})"}, "{top}"),
])
def test_bad_cognition_blocks_are_named(block, problem):
    with pytest.raises(ConfigError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        validate(Cognition, block, "cohorts.studies.hrs.cognition")
