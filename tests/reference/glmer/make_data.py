"""Simulated survey-like data for the glmer reference (deterministic; writes data.csv and boundary.csv here).

Participants in PSUs (2 or 3 per stratum, labelled 1..k inside each stratum as NHANES) in 30 strata,
3,000 rows. ``logit P(y = 1) = -1 + {0, 0.5, 1.0} for exposure Low/Moderate/High + 0.03 (age - 50)
+ stratum intercept + PSU-within-stratum intercept``. The exposure depends on age.

* ``data.csv``: intercept SDs 0.5 (stratum) and 0.3 (PSU within stratum), seed 20261201.
* ``boundary.csv``: no PSU-within-stratum variation (SD 0), stratum SD 0.5, seed 7: glmer's estimate of the
  PSU SD is exactly 0 on it (the bounded optimum).

Run: ``.venv/bin/python tests/reference/glmer/make_data.py`` (then ``Rscript tests/reference/glmer/glmer.R``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
LEVELS = ["Low", "Moderate", "High"]
TRUE_BETA = {"Intercept": -1.0, "Moderate": 0.5, "High": 1.0, "age": 0.03}
CASES = {"data": {"sd_stratum": 0.5, "sd_psu": 0.3, "seed": 20261201},
         "boundary": {"sd_stratum": 0.5, "sd_psu": 0.0, "seed": 7}}


def simulate(n: int = 3000, n_strata: int = 30, *, sd_stratum: float, sd_psu: float, seed: int) -> pd.DataFrame:
    """One data set; columns stratum, psu, exposure, age, y (rounded: the CSV is what both sides read)."""
    rng = np.random.default_rng(seed)
    psu_count = rng.integers(2, 4, n_strata)  # 2 or 3 PSUs per stratum
    stratum = rng.integers(0, n_strata, n)
    psu = np.floor(rng.random(n) * psu_count[stratum]).astype(int)
    age = np.round(rng.normal(50, 12, n), 1)
    latent = 0.04 * (age - 50) + rng.logistic(size=n)
    level = np.digitize(latent, np.quantile(latent, [0.5, 0.8]))
    u_stratum = rng.normal(0, sd_stratum, n_strata)[stratum]
    u_psu = rng.normal(0, sd_psu, (n_strata, 3))[stratum, psu]
    eta = (TRUE_BETA["Intercept"] + np.array([0.0, TRUE_BETA["Moderate"], TRUE_BETA["High"]])[level]
           + TRUE_BETA["age"] * (age - 50) + u_stratum + u_psu)
    y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    return pd.DataFrame({"stratum": stratum + 1, "psu": psu + 1, "exposure": np.array(LEVELS)[level],
                         "age": age, "y": y})


def main() -> None:
    for name, case in CASES.items():
        simulate(**case).to_csv(HERE / f"{name}.csv", index=False)


if __name__ == "__main__":
    main()
