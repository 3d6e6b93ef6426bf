"""Data for the delayed-entry (left-truncated) design-based Cox reference (survey_entry.R). Run from the
repository root: ``python tests/reference/survey_entry/make_data.py`` writes ``design.csv`` (committed).

A simulated stratified cluster sample with age as the time scale: 5 strata x 2 PSUs (one stratum with 3),
40-70 rows per PSU, entry age uniform on [40, 80), a Gompertz baseline hazard in age
``h0(a) = 0.002 exp(0.08 (a - 40))``, a PSU frailty (log-normal, SD 0.2), true log-HRs ``x`` 0.5 and
``group`` b 0.4 (reference a), administrative censoring 15 years after entry, and unequal weights (two rows
with weight 0, which leave the domain). Some deaths tie on whole years (exit ages rounded to 0.5 years).
Entry and exit are on one clock (age), so entry < exit in every row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PSUS_PER_STRATUM = [2, 2, 3, 2, 2]
TRUE = {"x": 0.5, "groupb": 0.4}


def simulate(seed: int = 20261205, rows_per_psu: tuple[int, int] = (40, 71)) -> pd.DataFrame:
    """The sample of the module docstring (``rows_per_psu``: the range of PSU sizes, for a larger sample)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s, n_psu in enumerate(PSUS_PER_STRATUM, start=1):
        for p in range(1, n_psu + 1):
            frailty = rng.normal(0, 0.2)
            for _ in range(int(rng.integers(*rows_per_psu))):
                x = rng.normal()
                group = "b" if rng.random() < 0.4 else "a"
                entry = rng.uniform(40, 80)
                lp = TRUE["x"] * x + TRUE["groupb"] * (group == "b") + frailty
                # Gompertz: H(a) = (0.002 / 0.08) (exp(0.08 (a - 40)) - 1); draw from entry (left truncation)
                u = rng.exponential() / np.exp(lp)
                base = np.exp(0.08 * (entry - 40)) + u * 0.08 / 0.002
                death = 40 + np.log(base) / 0.08
                end = entry + 15
                exit_age = min(death, end)
                exit_age = max(np.round(exit_age * 2) / 2, entry + 0.25)
                rows.append({"stratum": f"S{s}", "psu": p, "weight": float(rng.uniform(0.5, 3.0)),
                             "entry": round(entry, 3), "exit": exit_age, "event": int(death <= end),
                             "x": round(x, 4), "group": group})
    out = pd.DataFrame(rows)
    out.loc[[5, 77], "weight"] = 0.0
    return out


if __name__ == "__main__":
    simulate().to_csv(HERE / "design.csv", index=False)
