"""Write the data of the weighted panel reference (run from the repository root:
``python tests/reference/panel_weighted/make_data.py``, then
``Rscript tests/reference/panel_weighted/panel_weighted.R``).

A confounded, unbalanced panel with stated parameters: y = 0.5 x + 0.3 z + trait + 0.2 wave + e, x = trait +
noise; 300 persons, 3 waves, about 1 in 5 persons missing their last wave. The weight is a person-level
panel weight (lognormal, constant within a person, as the GSS panel weights) except for a tenth of the
persons, whose weight also varies by wave, so that the weighted within transformation is exercised in both
forms. Deterministic (seed 23).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TRUE_WITHIN = 0.5


def simulate(n: int = 300, waves: int = 3, seed: int = 23) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(n), waves)
    wave = np.tile(np.arange(1, waves + 1), n)
    trait = rng.normal(0, 1, n)[person]
    x = trait + rng.normal(0, 1, n * waves)
    z = rng.normal(0, 1, n * waves)
    y = TRUE_WITHIN * x + 0.3 * z + trait + 0.2 * wave + rng.normal(0, 1, n * waves)
    weight = np.exp(rng.normal(0, 0.5, n))[person]
    varying = (rng.uniform(size=n) < 0.1)[person]
    weight = np.where(varying, weight * rng.uniform(0.5, 1.5, n * waves), weight)
    frame = pd.DataFrame({"person_id": [f"p{i:04d}" for i in person], "wave": wave, "x": x, "z": z, "y": y,
                          "female": rng.integers(0, 2, n)[person], "weight": weight})
    dropped = (rng.uniform(size=n) < 0.2)[person] & (wave == waves)
    return frame[~dropped].reset_index(drop=True)


if __name__ == "__main__":
    simulate().to_csv(HERE / "data.csv", index=False, float_format="%.12g")
