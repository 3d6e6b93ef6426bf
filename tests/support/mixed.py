"""Simulated data for the mixed-model tests and the R references."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

TRUE_VAR_STRATUM, TRUE_VAR_PSU, TRUE_VAR_RESIDUAL = 2.0, 0.5, 4.0

# Linear model (PHQ-9-like score): mean differences vs Low, per-year age slope, variance components.
TRUE_MEAN_DIFF = {"Moderate": 1.0, "High": 2.5}

TRUE_AGE_SLOPE = 0.05
GROUPS = ["Low", "Moderate", "High"]



def simulate_linear(n: int = 3200, seed: int = 3) -> pd.DataFrame:
    """PHQ-9-like score: 4 + {0, 1.0, 2.5} by isolation group + 0.05 per year of age + stratum intercept
    (variance 2.0) + PSU-within-stratum intercept (variance 0.5) + residual (variance 4.0).

    80 strata x 4 PSUs (about 10 participants per PSU); 2% of age, 1% of the outcome and 1% of PSU missing,
    3% zero weights.
    """
    frame, s = simulate_survey(n, n_strata=80, psu_per_stratum=4, seed=seed)
    rng = s["rng"]
    u_stratum = rng.normal(0, math.sqrt(TRUE_VAR_STRATUM), 81)[s["stratum"]]
    u_psu = rng.normal(0, math.sqrt(TRUE_VAR_PSU), (81, 5))[s["stratum"], s["psu"]]
    effect = np.array([0.0, TRUE_MEAN_DIFF["Moderate"], TRUE_MEAN_DIFF["High"]])[s["level"]]
    frame["phq9_score"] = (4 + effect + TRUE_AGE_SLOPE * (frame["age"] - 50) + u_stratum + u_psu
                           + rng.normal(0, math.sqrt(TRUE_VAR_RESIDUAL), n))
    frame.loc[rng.random(n) < 0.02, "age"] = np.nan
    frame.loc[rng.random(n) < 0.01, "phq9_score"] = np.nan
    frame.loc[rng.random(n) < 0.01, "psu"] = np.nan
    return frame


def simulate_survey(n: int, n_strata: int, psu_per_stratum: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """Participants within PSUs (labelled 1..k inside each stratum, as NHANES) within strata.

    The exposure depends on age (so leaving age out would bias it); returns the frame without outcomes and
    the pieces the outcome models need.
    """
    rng = np.random.default_rng(seed)
    stratum = rng.integers(1, n_strata + 1, n)
    psu = rng.integers(1, psu_per_stratum + 1, n)
    age = rng.normal(50, 12, n)
    latent = 0.04 * (age - 50) + rng.logistic(size=n)
    level = np.digitize(latent, np.quantile(latent, [0.5, 0.8]))  # about 50% / 30% / 20%
    frame = pd.DataFrame({
        "isolation_group": pd.Categorical(np.array(GROUPS)[level], categories=GROUPS),
        "age": age, "stratum": stratum, "psu": psu, "cluster": stratum * 100 + psu,
        "weight": np.where(rng.random(n) < 0.03, 0.0, rng.uniform(0.5, 2.0, n) * 10_000),
    })
    return frame, {"rng": rng, "level": level, "stratum": stratum, "psu": psu}
