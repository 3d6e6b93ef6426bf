"""False-discovery-rate control within named families of estimates (Benjamini & Hochberg 1995).

Why a family: a paper that reports hundreds of secondary estimates beside one primary estimate should say how
many of the secondary "findings" are expected to be false. Within each family the Benjamini-Hochberg step-up
procedure turns the p-values into q-values (adjusted p-values): q_(i) = min_{j >= i} min(1, m p_(j) / j) over the
p-values sorted ascending, m the family's size. Rejecting every q <= alpha controls the expected share of false
discoveries among the rejections at alpha, for independent or positively dependent tests.

The computation is statsmodels' ``multipletests(method="fdr_bh")``; this module only groups by family, keeps
missing p-values (a fit that did not converge) out of the family's size, and returns the q-values aligned with
the input. Checked against a hand-computed case in ``tests/estimators/test_multiplicity.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

METHODS = ("fdr_bh",)


def adjusted_p(p_values, method: str = "fdr_bh") -> np.ndarray:
    """q-values of one family: NaN where p is missing, the family's size counting only the present p-values."""
    if method not in METHODS:
        raise ValueError(f"multiplicity method {method!r} is not one of {METHODS}")
    p = np.asarray(p_values, dtype="float64")
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"p-values must lie in [0, 1]; got {p[(p < 0) | (p > 1)][:5].tolist()}")
    q = np.full(p.shape, np.nan)
    present = ~np.isnan(p)
    if present.any():
        q[present] = multipletests(p[present], method=method)[1]
    return q


def q_values(frame: pd.DataFrame, family: str = "family", p_value: str = "p_value",
             method: str = "fdr_bh") -> pd.Series:
    """q-values of ``frame[p_value]``, Benjamini-Hochberg within each value of ``frame[family]``; the index of
    ``frame``."""
    out = pd.Series(np.nan, index=frame.index, dtype="float64", name="q_value")
    for _, part in frame.groupby(family, sort=False):
        out.loc[part.index] = adjusted_p(part[p_value].to_numpy(), method)
    return out
