"""Simulated NHANES analysis tables shared by the NHANES, imputation and manuscript tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.studies.nhanes.schema import EDUCATION, RACE, SEX, SMOKING

GROUPS = ["Connected (0)", "Moderate (1)", "Isolated (2+)"]

CYCLES = ["1999-2000", "2001-2002", "2003-2004", "2005-2006", "2007-2008"]


def fake_analysis_table(n: int = 2000, seed: int = 20261123) -> pd.DataFrame:
    """An analysis table shaped like the real one (schema.py dtypes, design columns, index columns).

    Five cycles of 15 strata x 2 PSUs; isolation raises the death hazard (log-HR 0.15 per point), the odds of
    depression and prevalent CVD, and the PHQ-9 score; PHQ-9 exists only in 2005-2008; some covariates,
    weights and follow-up are missing.
    """
    rng = np.random.default_rng(seed)
    cycle_ix = rng.integers(0, 5, n)
    stratum = cycle_ix * 15 + rng.integers(1, 16, n)
    psu = rng.integers(1, 3, n)
    cluster = stratum * 10 + psu
    stratum_effect = rng.normal(0, 0.3, 80)[stratum]

    def binary(p, missing=0.0):
        values = pd.array(rng.binomial(1, p, n), dtype="Int8")
        values[rng.random(n) < missing] = pd.NA
        return values

    def category(levels, missing=0.0):
        values = pd.Series(rng.choice(levels, n), dtype=object)
        values[rng.random(n) < missing] = None
        return values

    age = rng.uniform(20, 85, n).round()
    index = rng.binomial(5, 0.22, n).astype(float)
    index[rng.random(n) < 0.05] = np.nan
    group = pd.Categorical(np.select([index == 0, index == 1, index >= 2], GROUPS, default=None),
                           categories=GROUPS, ordered=True)
    lp = 0.08 * (age - 50) + 0.15 * np.nan_to_num(index) + stratum_effect
    death_time = rng.exponential(1 / (0.002 * np.exp(lp)))
    censor = rng.uniform(130, 250, n)
    followup = np.floor(np.minimum(death_time, censor))
    died = (death_time < censor).astype(int)
    cvd = died * rng.binomial(1, 0.35, n)
    followup[rng.random(n) < 0.01] = np.nan
    phq9 = np.clip(np.round(rng.gamma(1.2, 2.5, n) + 1.2 * np.nan_to_num(index) + stratum_effect), 0, 27)
    phq9[cycle_ix < 3] = np.nan
    weight = rng.uniform(2_000, 60_000, n)
    weight[rng.random(n) < 0.02] = np.nan
    weight_exam = weight * rng.uniform(0.9, 1.2, n)  # the MEC weight; 0 for the 3% interviewed but not examined
    weight_exam[rng.random(n) < 0.03] = 0.0
    prevalent = rng.binomial(1, 1 / (1 + np.exp(-(-3 + 0.05 * (age - 50) + 0.2 * np.nan_to_num(index)
                                                  + stratum_effect))))
    table = pd.DataFrame({
        "seqn": np.arange(1, n + 1), "cycle": pd.Categorical(np.array(CYCLES)[cycle_ix], categories=CYCLES),
        "psu": psu, "stratum": stratum, "cluster": cluster, "weight_interview": weight, "weight_exam": weight_exam,
        "age": age, "sex": category(SEX), "race_ethnicity": category(RACE),
        "education": category(EDUCATION, 0.02), "income_poverty_ratio": np.where(
            rng.random(n) < 0.08, np.nan, rng.uniform(0, 5, n).round(2)),
        "smoking_status": category(SMOKING, 0.01), "bmi": np.where(rng.random(n) < 0.04, np.nan,
                                                                   rng.normal(28, 5, n).round(1)),
        "hypertension": binary(0.3, 0.01), "diabetes": binary(0.1, 0.01),
        "isolation_index": index, "isolation_category": group,
        "died": pd.array(np.where(np.isnan(followup), pd.NA, died), dtype="Int8"),
        "cvd_death": pd.array(np.where(np.isnan(followup), pd.NA, cvd), dtype="Int8"),
        "followup_months": followup, "phq9_score": phq9,
        "depression_phq9": pd.array(np.where(np.isnan(phq9), pd.NA, (phq9 >= 10).astype(int)), dtype="Int8"),
        "prevalent_cvd": binary(np.clip(prevalent, 0, 1).astype(float), 0.01),
    })
    # the further confounders of the sensitivity analysis (drawn last: the columns above do not change)
    table["leisure_activity"] = binary(0.5, 0.01)
    table["alcohol_use"] = pd.Categorical(category(["Lifetime abstainer", "Former", "Current"], 0.1),
                                          categories=["Lifetime abstainer", "Former", "Current"])
    table["insured"] = binary(0.9, 0.01)
    table["cancer_history"] = binary(0.15, 0.01)
    table["copd_history"] = binary(0.08, 0.01)
    return table
