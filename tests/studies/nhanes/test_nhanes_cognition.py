"""Cognition (CFQ) and reach measures on hand-computed codebook cases (CFQ/CFQ_B codebooks, LMF dictionary)."""

import numpy as np
import pandas as pd
import pytest

from analysis.core.contract import SourceDataError
from analysis.studies.nhanes.cognition_source import check_codes, death_cause, dsst_status
from analysis.studies.nhanes.reach import group_labels
from analysis.studies.nhanes.settings import ReachGrouping

NA = np.nan


def _cfq(rows):
    return pd.DataFrame(rows, columns=["SEQN", "CFD010", "CFD030", "CFD040", "CFD050", "CFDFINSH", "CFDRIGHT"])


def test_dsst_status_follows_the_capi_flow():
    cfq = _cfq([[1, 1, 1, NA, 1, 29, 29],      # completed
                [2, NA, NA, NA, NA, NA, NA],   # section not started (proxy)
                [3, 2, NA, NA, NA, NA, NA],    # CFD010 2: distraction
                [4, 1, 7, NA, NA, NA, NA],     # CFD030 7: refused
                [5, 1, 2, 1, NA, NA, NA],      # unable, physical
                [6, 1, 2, 2, NA, NA, NA],      # unable, cognitive
                [7, 1, 2, 3, NA, NA, NA],      # unable, other
                [8, 1, 1, NA, 2, NA, NA],      # stopped before 2 minutes
                [9, 1, 1, NA, 1, NA, NA],      # form misplaced
                [10, 1, 1, NA, 1, 0, 0]])      # scored 0 after the full 2 minutes: a score
    assert list(dsst_status(cfq).astype(str)) == [
        "completed", "not_attempted", "distraction", "refused", "unable_physical", "unable_cognitive",
        "unable_other", "stopped_early", "score_missing", "completed"]


def test_undocumented_cfq_code_names_file_column_value():
    cfq = _cfq([[1, 1, 9, NA, NA, NA, NA]])  # CFD030 has no code 9
    with pytest.raises(SourceDataError, match=r"CFQ\.csv\.xz: column CFD030 has the value 9 \(SEQN 1\)"):
        check_codes(cfq, "CFQ.csv.xz")
    with pytest.raises(SourceDataError, match="CFDRIGHT has the value 134"):
        check_codes(_cfq([[1, 1, 1, NA, 1, 134, 134]]), "CFQ.csv.xz")


def test_death_cause_alzheimer_other_alive():
    died = pd.Series([0.0, 1.0, 1.0, 1.0, NA])
    ucod = pd.Series([pd.NA, "006", "001", pd.NA, pd.NA], dtype="string")
    out = death_cause(died, ucod, "006")
    assert out.iloc[:4].tolist() == [0.0, 1.0, 2.0, 2.0] and np.isnan(out.iloc[4])


def test_group_labels_by_cuts_and_levels():
    g = ReachGrouping(name="age_group", label="Age", column="age", cuts=[40, 60, 80])
    labels = group_labels(pd.Series([39.0, 40.0, 59.0, 60.0, 85.0, np.nan]), g)
    assert labels.tolist()[:5] == [pd.NA, "40 to < 60", "40 to < 60", "60 to < 80", "80+"]
    assert pd.isna(labels.iloc[5]) and pd.isna(labels.iloc[0])
    with pytest.raises(ValueError, match="must increase"):
        ReachGrouping(name="x", label="X", column="age", cuts=[60, 40])
