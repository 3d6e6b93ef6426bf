"""Simulated survey sample with competing risks, for tests/reference/competing/ (R: finegray.R).

Stated truth: 12 strata x 2 PSUs x 25 persons; x ~ Bernoulli(0.4), group in {a, b, c}; cause-1 hazard
0.010 * exp(0.5 x), cause-2 hazard 0.020 * exp(0.3 x), uniform censoring on (20, 120); times in whole months
(ties); weights lognormal; y (0/1) with P = 0.15 + 0.15 x for the prevalences; one PSU's rows outside the domain
(`domain` 0) so the domain variance keeps an empty PSU; `time_exact` (untied) for cmprsk::crr.
Run from the repository root:
    python tests/reference/competing/make_data.py && Rscript tests/reference/competing/finegray.R
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def simulate(seed: int = 20261207) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_strata, n_psu, per = 12, 2, 25
    n = n_strata * n_psu * per
    stratum = np.repeat(np.arange(1, n_strata + 1), n_psu * per)
    psu = np.tile(np.repeat([1, 2], per), n_strata)
    x = rng.binomial(1, 0.4, n)
    group = rng.choice(["a", "b", "c"], n)
    t1 = rng.exponential(1 / (0.010 * np.exp(0.5 * x)))
    t2 = rng.exponential(1 / (0.020 * np.exp(0.3 * x)))
    c = rng.uniform(20, 120, n)
    exact = np.minimum.reduce([t1, t2, c])
    time = np.ceil(exact)
    status = np.where(c <= np.minimum(t1, t2), 0, np.where(t1 < t2, 1, 2))
    weight = np.round(np.exp(rng.normal(0, 0.5, n)) * 1000, 3)
    y = rng.binomial(1, 0.15 + 0.15 * x).astype(float)
    y[rng.random(n) < 0.05] = np.nan
    domain = ~((stratum == 3) & (psu == 2))
    return pd.DataFrame({"stratum": stratum, "psu": psu, "x": x, "group": group, "time": time, "status": status,
                         "weight": weight, "y": y, "domain": domain.astype(int),
                         "time_exact": np.round(exact, 6)})


if __name__ == "__main__":
    simulate().to_csv(HERE / "design.csv", index=False)
