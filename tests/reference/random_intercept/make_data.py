"""Simulated counties-in-states data for the lmer reference of analysis.estimators.random_intercept (deterministic;
writes data.csv here).

40 states of 5-120 counties (2,300 rows): ``y = 30 - 0.4 x + 0.8 c + u_state + e``, ``u ~ N(0, 1.5^2)``,
``e ~ N(0, 1)``; ``x`` correlated with the state effect (as infrastructure is across states), ``c`` a covariate.
Seed 20261207. Run: ``.venv/bin/python tests/reference/random_intercept/make_data.py`` (then
``Rscript tests/reference/random_intercept/lmer.R``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def simulate(seed: int = 20261207) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 121, 40)
    state = np.repeat(np.arange(40), sizes)
    u = rng.normal(0, 1.5, 40)
    x = 0.5 * u[state] + rng.normal(size=len(state))
    c = rng.normal(size=len(state))
    y = 30 - 0.4 * x + 0.8 * c + u[state] + rng.normal(size=len(state))
    return pd.DataFrame({"y": np.round(y, 6), "x": np.round(x, 6), "c": np.round(c, 6),
                         "state": [f"S{s:02d}" for s in state]})


if __name__ == "__main__":
    simulate().to_csv(HERE / "data.csv", index=False)
