"""Benjamini-Hochberg q-values: a hand-computed case, families kept apart, missing p-values left out."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.estimators.multiplicity import adjusted_p, q_values


def test_hand_computed_case():
    # p sorted: 0.01, 0.02, 0.03, 0.04, 0.20 (m = 5). m p / rank: 0.05, 0.05, 0.05, 0.05, 0.20;
    # the running minimum from the top leaves them: 0.05, 0.05, 0.05, 0.05, 0.20.
    p = [0.04, 0.01, 0.20, 0.03, 0.02]
    assert np.allclose(adjusted_p(p), [0.05, 0.05, 0.20, 0.05, 0.05])
    # p = 0.001, 0.02, 0.5: m p / rank = 0.003, 0.03, 0.5.
    assert np.allclose(adjusted_p([0.5, 0.001, 0.02]), [0.5, 0.003, 0.03])


def test_families_apart_and_missing_left_out():
    frame = pd.DataFrame({"family": ["a", "a", "b", "b", "b"], "p_value": [0.01, 0.04, 0.01, math.nan, 0.04]})
    q = q_values(frame)
    # family a: m = 2 -> 0.02, 0.04; family b: the missing p is not counted, so the same
    assert np.allclose(q.to_numpy(), [0.02, 0.04, 0.02, math.nan, 0.04], equal_nan=True)


def test_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adjusted_p([0.1, 1.5])
    with pytest.raises(ValueError, match="not one of"):
        adjusted_p([0.1], method="bonferroni")
