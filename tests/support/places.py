"""Simulated counties and county panels, and a places stage configuration, shared by the places tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.core.settings import validate
from analysis.studies.places.settings import PlacesSettings


def places_settings(raw: dict) -> PlacesSettings:
    """A ``places:`` block validated as the models_places stage's settings are (messages name params.yaml keys)."""
    return validate(PlacesSettings, raw, "places", root="places")


STAGE = {
    "study": "sim counties",
    "county_models": {
        "outcomes": {"outcome_pct": {"label": "Outcome (%)"}, "z": {"label": "Z as an outcome"}},
        "exposures": {"isolation_pct": {"label": "Isolation (per point)"}},
        "covariate_sets": {"unadjusted": "", "adjusted": "z"},
        "group": "state", "weight": "population", "designs": ["multilevel", "unweighted", "weighted"],
    },
    "panel_models": {
        "entity": "fips", "time": "year",
        "outcomes": {"outcome": {"label": "Outcome"}},
        "exposures": {"inadequate_support_pct": {"label": "Inadequate support (per point)"}},
        "covariate_sets": {"unadjusted": ""},
    },
}
TRUE_SLOPE = 0.5
STATE_SD, SLOPE_SD, RESIDUAL_SD = 2.0, 0.2, 1.0



def simulate_counties(n_states: int = 40, per_state: int = 50, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counties within states: y = 20 + u_s + (0.5 + v_s) (x - mean x) + 0.3 z + e, with SD(u) = 2,
    SD(v) = 0.2, SD(e) = 1; x varies within and between states; uneven state sizes and populations."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(per_state // 2, per_state * 3 // 2, n_states)
    states = np.repeat([f"S{i:02d}" for i in range(n_states)], sizes)
    u = rng.normal(0, STATE_SD, n_states)
    v = rng.normal(0, SLOPE_SD, n_states)
    idx = np.repeat(np.arange(n_states), sizes)
    x = 30 + rng.normal(0, 2, n_states)[idx] + rng.normal(0, 3, len(idx))
    xc = x - x.mean()
    z = rng.normal(0, 1, len(idx))
    y = 20 + u[idx] + (TRUE_SLOPE + v[idx]) * xc + 0.3 * z + rng.normal(0, RESIDUAL_SD, len(idx))
    table = pd.DataFrame({"state": states, "isolation_pct": x, "z": z, "outcome_pct": y,
                          "population": rng.lognormal(10, 1.2, len(idx))})
    truth = pd.DataFrame({"state": [f"S{i:02d}" for i in range(n_states)], "u": u, "v": v})
    return table, truth


def simulate_panel(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Two releases: county effects correlated with the exposure, a common year shift, within slope 0.04."""
    rng = np.random.default_rng(seed)
    alpha = rng.normal(0, 1, n)
    x1 = 20 + 3 * alpha + rng.normal(0, 1, n)
    x2 = x1 + rng.normal(0.5, 1.5, n)
    rows = []
    for year, x, shift in ((2010, x1, 0.0), (2011, x2, 0.1)):
        y = 3 + alpha + shift + 0.04 * x + rng.normal(0, 0.3, n) * (1 + (x > 22))
        rows.append(pd.DataFrame({"fips": [f"{i:05d}" for i in range(n)], "year": year,
                                  "inadequate_support_pct": x, "outcome": y}))
    panel = pd.concat(rows, ignore_index=True)
    panel.loc[(panel["year"] == 2011) & (panel["fips"] == "00000"), "outcome"] = np.nan  # one incomplete county
    return panel


#: STAGE as the models_places stage passes it: the typed settings block.
STAGE_SETTINGS = places_settings(STAGE)
