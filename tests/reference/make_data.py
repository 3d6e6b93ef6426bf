"""Write the small simulated data sets the R reference fits read (run from the repository root:
``PYTHONPATH=tests python tests/reference/make_data.py``, then ``Rscript tests/reference/models.R``; `make references`
does both). ``PYTHONPATH=tests`` makes the fixtures package tests/support importable as ``support``, as pytest's
``pythonpath`` setting does for the tests.

The data come from the simulators of the unit tests, with stated true parameters; complete cases only,
so R and Python see the same rows. Committed: tiny fixtures our own code generates.
"""

from __future__ import annotations

from pathlib import Path

from support.glm import simulate
from support.mixed import simulate_linear
from support.panel import simulate_binary, simulate_confounded
from support.survival import simulate_cohort

HERE = Path(__file__).resolve().parent


def main() -> None:
    cohort = simulate_cohort(n=600, seed=5).dropna()
    cohort[["followup_months", "died", "group", "z", "stratum", "psu", "cluster", "weight"]].to_csv(
        HERE / "cox.csv", index=False, float_format="%.10g")
    glm = simulate(n=1200, seed=3).dropna()
    glm[["case", "y", "group", "score", "age", "sex", "cluster", "weight"]].to_csv(
        HERE / "glm.csv", index=False, float_format="%.10g")
    mixed = simulate_linear(n=1200, seed=4).dropna()
    mixed = mixed[mixed["weight"] > 0]
    mixed[["phq9_score", "isolation_group", "age", "stratum", "psu", "cluster", "weight"]].to_csv(
        HERE / "mixed.csv", index=False, float_format="%.10g")
    simulate_confounded(True, n=150, waves=3, seed=2).to_csv(HERE / "panel.csv", index=False, float_format="%.10g")
    simulate_binary(n=300, waves=3, seed=4).to_csv(HERE / "panel_binary.csv", index=False, float_format="%.10g")


if __name__ == "__main__":
    main()
