"""Data for the counting-process Cox reference (tests/reference/cox_counting/cox_counting.R).

600 persons with stated true log-hazard ratios (x 0.5, group b 0.4, z -0.3) and a hazard of 0.05 a year at
0: entry at an age 50-80 (left truncation, age as the time scale), ``z`` switching 2.5 years after entry for
every other person (a second (start, stop] row: time-varying), exit ages rounded up to half years (ties),
80% of the exits before age 100 events, case weights 0.5-2.5. Writes ``data.csv``.
Run from the repository root: ``python tests/reference/cox_counting/make_data.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TRUE = {"x": 0.5, "groupb": 0.4, "z": -0.3}


def simulate(persons: int = 600, seed: int = 23) -> pd.DataFrame:
    """One or two (start, stop] rows per person on the age scale; ``event`` at the last row's stop."""
    rng = np.random.default_rng(seed)
    entry = np.round(rng.uniform(50, 80, persons), 1)
    x = np.round(rng.normal(size=persons), 4)
    group = np.where(rng.random(persons) < 0.4, "b", "a")
    z0 = (rng.random(persons) < 0.5).astype(float)
    changes = np.arange(persons) % 2 == 0  # z switches 2.5 years after entry for every other person
    z1 = np.where(changes, 1 - z0, z0)
    linear = TRUE["x"] * x + TRUE["groupb"] * (group == "b")
    # piecewise-constant hazard 0.05 exp(...) per year: z0 until the switch, z1 after it
    first = rng.exponential(1 / (0.05 * np.exp(linear + TRUE["z"] * z0)))
    later = rng.exponential(1 / (0.05 * np.exp(linear + TRUE["z"] * z1)))
    years = np.where(first < 2.5, first, 2.5 + later)
    exit_age = np.minimum(np.ceil(2 * (entry + years)) / 2, 100.0)  # half years: ties
    event = ((exit_age < 100) & (rng.random(persons) < 0.8)).astype(float)
    weight = np.round(rng.uniform(0.5, 2.5, persons), 3)
    rows = []
    for i in range(persons):
        split = entry[i] + 2.5
        if changes[i] and split < exit_age[i]:
            rows.append((i, entry[i], split, 0.0, x[i], group[i], z0[i], weight[i]))
            rows.append((i, split, exit_age[i], event[i], x[i], group[i], z1[i], weight[i]))
        else:
            rows.append((i, entry[i], exit_age[i], event[i], x[i], group[i], z0[i], weight[i]))
    return pd.DataFrame(rows, columns=["id", "start", "stop", "event", "x", "group", "z", "weight"])


if __name__ == "__main__":
    simulate().to_csv(HERE / "data.csv", index=False, float_format="%.17g")
