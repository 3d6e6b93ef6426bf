"""Data for the design-based Wald-test references (tests/reference/survey_wald/wald.R). Run from the repository
root: ``python tests/reference/survey_wald/make_data.py`` writes ``design.csv`` (committed: a fixture this
script generates, deterministic at the seed below).

A stratified cluster sample: 8 strata of 3 PSUs, 30-49 rows per PSU, a PSU random effect in every outcome,
unequal weights (three rows with weight 0), ``x`` missing at random in about 4% of rows. Factor levels,
reference first: ``group`` low, mid, high; ``female`` no, yes. True linear predictors (log hazard of
``months``+``event``, log odds of ``case``, mean of ``y``), with an exposure x modifier interaction::

    Cox:      0.3 mid + 0.6 high + 0.3 x - 0.3 yes + 0.5 mid:yes + 0.8 high:yes + 0.3 x:yes
    logistic: -0.5 + 0.3 mid + 0.5 high + 0.5 x + 0.2 yes + 0.6 mid:yes + 0.9 high:yes
    linear:   2 + 0.4 mid + 0.8 high + 1.0 x - 0.5 yes + 0.7 mid:yes + 1.2 high:yes + 0.5 x:yes (+ N(0, 1))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
LEVELS = {"group": ["low", "mid", "high"], "female": ["no", "yes"]}
N_STRATA, PSUS_PER_STRATUM = 8, 3
SEED = 20261201


def simulate_design(seed: int = SEED) -> pd.DataFrame:
    """The stratified cluster sample described in the module docstring."""
    rng = np.random.default_rng(seed)
    rows = []
    for h in range(1, N_STRATA + 1):
        for j in range(1, PSUS_PER_STRATUM + 1):
            m = int(rng.integers(30, 50))
            rows.append(pd.DataFrame({"stratum": f"S{h}", "psu": j, "u": rng.normal(0, 0.3),
                                      "xu": rng.normal(0, 0.5), "wu": rng.uniform(0.5, 2.0) * (1 + h / 4)},
                                     index=range(m)))
    d = pd.concat(rows, ignore_index=True)
    n = len(d)
    d["x"] = d["xu"] + rng.normal(0, 1, n)
    d["group"] = pd.Categorical(rng.choice(LEVELS["group"], n, p=[0.4, 0.35, 0.25]), categories=LEVELS["group"])
    d["female"] = pd.Categorical(rng.choice(LEVELS["female"], n), categories=LEVELS["female"])
    mid, high = (d["group"] == "mid").to_numpy(float), (d["group"] == "high").to_numpy(float)
    yes = (d["female"] == "yes").to_numpy(float)
    u, x = d["u"].to_numpy(), d["x"].to_numpy()
    eta = 0.3 * mid + 0.6 * high + 0.3 * x - 0.3 * yes + yes * (0.5 * mid + 0.8 * high + 0.3 * x) + u
    t_event = rng.exponential(1 / (0.02 * np.exp(eta)))
    t_censor = rng.uniform(12, 60, n)
    d["months"] = np.ceil(np.minimum(t_event, t_censor))  # whole months: tied times
    d["event"] = (t_event <= t_censor).astype(int)
    eta = -0.5 + 0.3 * mid + 0.5 * high + 0.5 * x + 0.2 * yes + yes * (0.6 * mid + 0.9 * high) + u
    d["case"] = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    d["y"] = (2 + 0.4 * mid + 0.8 * high + 1.0 * x - 0.5 * yes + yes * (0.7 * mid + 1.2 * high + 0.5 * x) + u
              + rng.normal(0, 1, n))
    d["weight"] = np.round(d["wu"] * rng.lognormal(0, 0.4, n), 6)
    d.loc[rng.choice(n, 3, replace=False), "weight"] = 0.0
    d.loc[rng.uniform(size=n) < 0.04, "x"] = np.nan
    return d[["stratum", "psu", "weight", "months", "event", "case", "y", "x", "group", "female"]]


def read_design(path: Path = HERE / "design.csv") -> pd.DataFrame:
    """``design.csv`` with its factors as pandas Categoricals (reference level first)."""
    d = pd.read_csv(path)
    for column, levels in LEVELS.items():
        d[column] = pd.Categorical(d[column], categories=levels)
    return d


def main() -> None:
    simulate_design().to_csv(HERE / "design.csv", index=False, float_format="%.10g")


if __name__ == "__main__":
    main()
