"""Simulated data for the GLM tests and the R references."""

from __future__ import annotations

import numpy as np
import pandas as pd

TRUE_LOG_OR = 0.7

TRUE_SLOPE = 2.0

GROUPS = ["Low", "Mid", "High"]


def simulate(n: int = 4000, seed: int = 7) -> pd.DataFrame:
    """Binary outcome with log-OR 0.7 for Mid and 1.4 for High vs Low; continuous outcome with slope 2 per
    point of ``score``; 80 clusters with a shared cluster effect; weights independent of the outcomes."""
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, 80, n)
    shift = rng.normal(0, 0.3, 80)[cluster]
    level = rng.integers(0, 3, n)
    age = rng.normal(50, 10, n)
    score = rng.integers(0, 6, n).astype(float)
    lp = -1 + TRUE_LOG_OR * level + 0.03 * (age - 50) + shift
    frame = pd.DataFrame({
        "case": pd.array(rng.binomial(1, 1 / (1 + np.exp(-lp))), dtype="Int8"),
        "y": 1 + TRUE_SLOPE * score + 0.05 * age + shift + rng.normal(0, 2, n),
        "group": pd.Categorical(np.array(GROUPS)[level], categories=GROUPS, ordered=True),
        "score": score, "age": age, "sex": rng.choice(["Female", "Male"], n), "cluster": cluster,
        "weight": rng.integers(1, 4, n).astype(float),  # integer: equal to duplicating rows
    })
    frame.loc[rng.random(n) < 0.02, "age"] = np.nan
    return frame
