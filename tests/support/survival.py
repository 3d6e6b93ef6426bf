"""Simulated survival cohorts for the survival tests and the R references."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

TRUE_LOG_HR = math.log(1.5)
GROUPS = ["unexposed", "exposed"]



def simulate_cohort(n: int = 3000, seed: int = 2, whole_months: bool = True) -> pd.DataFrame:
    """Exponential survival, log-HR log(1.5) for exposure and 0.5 per SD of a covariate, uniform censoring.

    30 strata x 2 PSUs; weights independent of the outcome (so weighted and unweighted fits target the same
    HR); with ``whole_months`` follow-up is rounded up to whole months, giving many tied times as in NHANES.
    """
    rng = np.random.default_rng(seed)
    exposed = rng.binomial(1, 0.4, n)
    z = rng.normal(size=n)
    rate = 0.004 * np.exp(TRUE_LOG_HR * exposed + 0.5 * z)
    death = rng.exponential(1 / rate)
    censor = rng.uniform(60, 240, n)
    time = np.minimum(death, censor)
    stratum = rng.integers(1, 31, n)
    psu = rng.integers(1, 3, n)
    frame = pd.DataFrame({
        "followup_months": np.ceil(time) if whole_months else time,
        "died": pd.array((death < censor).astype(int), dtype="Int8"),
        "exposed": exposed,
        "group": pd.Categorical(np.array(GROUPS)[exposed], categories=GROUPS),
        "z": z, "stratum": stratum, "psu": psu, "cluster": stratum * 10 + psu,
        "weight": rng.uniform(0.5, 2.0, n) * 10_000,
    })
    frame.loc[rng.random(n) < 0.02, "z"] = np.nan  # complete-case handling
    return frame
