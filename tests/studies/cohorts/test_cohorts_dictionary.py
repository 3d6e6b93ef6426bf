"""The cohort data dictionary says why the CES-D score has no item-level reliability."""

from __future__ import annotations

import pandas as pd

from analysis.studies.cohorts.schema import COHORT_VARIABLES, cohort_data_dictionary


def test_dictionary_states_that_cesd_items_are_absent():
    panel = pd.DataFrame({v.name: [pd.NA] for v in COHORT_VARIABLES})
    dictionary = cohort_data_dictionary(panel).set_index("name")
    note = dictionary.loc["depression_score", "reliability"]
    assert note.startswith("not computed") and "r{w}cesd" in note and "SYNTHETIC" in note
    assert (dictionary.drop(index="depression_score")["reliability"] == "").all()
