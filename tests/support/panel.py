"""Simulated person panels (known truth) shared by the panel-estimator, GSS report and R-reference tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimators.panel import (
    ESTIMATORS,
)

TRUE_WITHIN = 0.5

TRUE_LOG_OR = 0.7


def simulate_confounded(confounded: bool, n: int = 400, waves: int = 3, seed: int = 11) -> pd.DataFrame:
    """y = 0.5 x + 0.3 z + trait + 0.2 wave + e; x = trait + noise when confounded, else unrelated to trait."""
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(n), waves)
    wave = np.tile(np.arange(1, waves + 1), n)
    trait = rng.normal(0, 1, n)[person]
    own_level = rng.normal(0, 1, n)[person]  # a stable component of x that is not the trait
    x = (trait if confounded else own_level) + rng.normal(0, 1, n * waves)
    z = rng.normal(0, 1, n * waves)
    y = TRUE_WITHIN * x + 0.3 * z + trait + 0.2 * wave + rng.normal(0, 1, n * waves)
    return pd.DataFrame({"person_id": [f"p{i:04d}" for i in person], "wave": wave, "x": x, "z": z, "y": y,
                         "female": rng.integers(0, 2, n)[person]})


def simulate_binary(n: int, waves: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(n), waves)
    wave = np.tile(np.arange(1, waves + 1), n)
    alpha = rng.normal(0, 1.5, n)[person]
    x = 0.8 * alpha + rng.normal(0, 1, n * waves)
    lp = -0.5 + alpha + TRUE_LOG_OR * x + 0.3 * (wave == 2)
    return pd.DataFrame({"person_id": [f"p{i:04d}" for i in person], "wave": wave, "x": x,
                         "case": rng.binomial(1, 1 / (1 + np.exp(-lp))), "female": rng.integers(0, 2, n)[person]})


#: The spec as a params.yaml block would hold it (plain YAML), and validated as the pipeline validates it.
STAGE_RAW = {
    "entity": "person_id", "time": "wave", "cluster": "person_id",
    "outcomes": {"case": {"label": "Case", "binary": True}, "y": {"label": "Score", "binary": False}},
    "exposures": {"x": {"label": "Contact", "type": "continuous"}},
    "covariates": "z", "invariant": "female + C(race)", "covariate_set": "z_race",
    "estimators": list(ESTIMATORS),
}
