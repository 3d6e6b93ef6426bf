"""Data for the design-based variance references (tests/reference/survey/survey.R). Run from the repository
root.

``python tests/reference/survey/make_data.py`` writes ``design.csv``: a tiny simulated stratified cluster
sample (committed: a fixture this script generates). Six strata with 2, 2, 2, 2, 3 and 1 PSUs (the last
stratum has a single PSU), 25-44 rows per PSU, a PSU random effect in every outcome, unequal weights
(four rows with weight 0), ``x`` missing at random in about 5% of rows and in *every* row of PSU 2 of
stratum S2, so the complete-case domain holds only one PSU of that stratum. True parameters (linear
predictor): ``x`` 0.4 / 0.6 / 1.5, ``group`` mid 0.3 / 0.4 / 0.5 and high 0.7 / 0.8 / 1.0, ``female`` yes
-0.2 / 0.3 / -0.7 for the log hazard / log odds / mean of ``months``+``event``, ``case`` and ``y``.
Factor levels, reference first: ``group`` low, mid, high; ``female`` no, yes.

``python tests/reference/survey/make_data.py --table DIR`` also exports the columns of the analysis table
(data/processed/nhanes.parquet, made by the pipeline) that survey.R fits, to ``DIR/table.csv`` with the
factor levels in ``DIR/levels.csv``. DIR should be a temporary folder: those rows are never committed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
TABLE = ROOT / "data" / "processed" / "nhanes.parquet"
LEVELS = {"group": ["low", "mid", "high"], "female": ["no", "yes"]}
PSUS_PER_STRATUM = [2, 2, 2, 2, 3, 1]
# Columns of the analysis table the R fits use (outcomes, exposure, the fullest covariate set, design).
TABLE_COLUMNS = ["followup_months", "died", "depression_phq9", "phq9_score", "isolation_category", "age", "sex",
                 "race_ethnicity", "education", "income_poverty_ratio", "smoking_status", "bmi", "hypertension",
                 "diabetes", "weight_interview", "stratum", "psu"]


def simulate_design(seed: int = 20240611) -> pd.DataFrame:
    """The tiny stratified cluster sample described in the module docstring."""
    rng = np.random.default_rng(seed)
    rows = []
    for h, n_psu in enumerate(PSUS_PER_STRATUM, start=1):
        for j in range(1, n_psu + 1):
            m = int(rng.integers(25, 45))
            rows.append(pd.DataFrame({"stratum": f"S{h}", "psu": j, "u": rng.normal(0, 0.4), "xu": rng.normal(0, 0.7),
                                      "wu": rng.uniform(0.5, 2.0) * h}, index=range(m)))
    d = pd.concat(rows, ignore_index=True)
    n = len(d)
    d["x"] = d["xu"] + rng.normal(0, 1, n)
    d["group"] = pd.Categorical(rng.choice(LEVELS["group"], n, p=[0.4, 0.35, 0.25]), categories=LEVELS["group"])
    d["female"] = pd.Categorical(rng.choice(LEVELS["female"], n), categories=LEVELS["female"])
    mid, high = (d["group"] == "mid").to_numpy(float), (d["group"] == "high").to_numpy(float)
    fem = (d["female"] == "yes").to_numpy(float)
    u, x = d["u"].to_numpy(), d["x"].to_numpy()
    hazard = 0.02 * np.exp(0.4 * x + 0.3 * mid + 0.7 * high - 0.2 * fem + u)
    t_event = rng.exponential(1 / hazard)
    t_censor = rng.uniform(12, 60, n)
    d["months"] = np.ceil(np.minimum(t_event, t_censor))  # whole months: tied times
    d["event"] = (t_event <= t_censor).astype(int)
    eta = -0.5 + 0.6 * x + 0.4 * mid + 0.8 * high + 0.3 * fem + u
    d["case"] = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    d["y"] = 2 + 1.5 * x + 0.5 * mid + 1.0 * high - 0.7 * fem + u + rng.normal(0, 1, n)
    d["weight"] = np.round(d["wu"] * rng.lognormal(0, 0.4, n), 6)
    d.loc[rng.choice(n, 4, replace=False), "weight"] = 0.0
    missing = (rng.uniform(size=n) < 0.05) | ((d["stratum"] == "S2") & (d["psu"] == 2)).to_numpy()
    d.loc[missing, "x"] = np.nan
    return d[["stratum", "psu", "weight", "months", "event", "case", "y", "x", "group", "female"]]


def read_design(path: Path = HERE / "design.csv") -> pd.DataFrame:
    """``design.csv`` with its factors as pandas Categoricals (reference level first)."""
    d = pd.read_csv(path)
    for column, levels in LEVELS.items():
        d[column] = pd.Categorical(d[column], categories=levels)
    return d


def export_table(folder: Path) -> None:
    """The analysis table's model columns (full precision) and factor levels, for survey.R."""
    table = pd.read_parquet(TABLE, columns=TABLE_COLUMNS)
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "table.csv", index=False, float_format="%.17g")
    levels = [(c, str(level)) for c in TABLE_COLUMNS if isinstance(table[c].dtype, pd.CategoricalDtype)
              for level in table[c].cat.categories]
    pd.DataFrame(levels, columns=["variable", "level"]).to_csv(folder / "levels.csv", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, help="also export the analysis table's model columns to this folder")
    args = parser.parse_args()
    simulate_design().to_csv(HERE / "design.csv", index=False, float_format="%.10g")
    if args.table is not None:
        if not TABLE.exists():
            raise SystemExit(f"{TABLE} is missing: run the pipeline (make repro) first")
        export_table(args.table)


if __name__ == "__main__":
    main()
