"""A simulated country panel and a countries model spec shared by the countries tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.studies.countries.models import (
    ESTIMATORS,
)

TRUE_WITHIN = -20.0  # CVD deaths per 100,000 per unit of social support: -2 per 0.1

SCALE = 0.1


def simulate_countries(n: int = 60, first: int = 2005, last: int = 2019, seed: int = 7) -> pd.DataFrame:
    """y = 300 - 120 u + g_t - 20 x + e. Countries with a high trait u have more social support *and* (for
    other reasons) fewer CVD deaths: between-country confounding. Support rises everywhere while deaths fall
    everywhere (g_t = -4 per year): confounding by year. Unbalanced: 5% of country-years missing, and one
    country seen in a single year."""
    rng = np.random.default_rng(seed)
    years = np.arange(first, last + 1)
    country = np.repeat(np.arange(n), len(years))
    year = np.tile(years, n)
    u = rng.normal(0, 1, n)[country]
    x = 0.8 + 0.08 * u + 0.01 * (year - first) + rng.normal(0, 0.03, len(year))
    gdp = 9 + u + 0.02 * (year - first) + rng.normal(0, 0.05, len(year))
    y = 300 - 120 * u - 4 * (year - first) + TRUE_WITHIN * x + rng.normal(0, 3, len(year))
    frame = pd.DataFrame({"iso3": [f"C{c:02d}" for c in country], "year": year, "social_support": x,
                          "log_gdp_per_capita": gdp, "cvd_death_rate": y,
                          "depression_prevalence": 4 - 0.5 * u + rng.normal(0, 0.1, len(year))})
    keep = rng.random(len(frame)) > 0.05
    frame = frame[keep & ~((frame["iso3"] == "C00") & (frame["year"] != 2010))].reset_index(drop=True)
    frame["social_support_lag1"] = frame.groupby("iso3")["social_support"].shift(1).where(
        frame.groupby("iso3")["year"].diff() == 1)
    return frame


SPEC = {
    "study": "simulated countries",
    "entity": "iso3", "time": "year",
    "outcomes": {"cvd_death_rate": {"label": "CVD deaths per 100,000"}},
    "exposures": {"social_support": {"label": "Social support", "scale": SCALE,
                                     "term_label": "per 0.1 social support"}},
    "covariate_sets": {"unadjusted": ""},
    "estimators": list(ESTIMATORS),
}
