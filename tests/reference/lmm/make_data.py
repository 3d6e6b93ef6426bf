"""Simulated data for the lme4::lmer references of the REML linear mixed models (deterministic; writes the CSVs here).

* ``counties.csv`` (places-style, :func:`analysis.estimators.mixed.fit_random_slope_linear`): 45 states of 5-120
  counties; ``y = 12 + 0.3 x + 0.5 c + u0_state + u1_state (x - mean x) + e``, ``x`` a percentage (mean 20, SD 3,
  correlated with the state intercept), ``u0 ~ N(0, 2^2)``, ``u1 ~ N(0, 0.15^2)``, correlation 0.6, ``e ~ N(0,
  1.5^2)``. The slope varies little on the per-point scale, as in the county data, where L-BFGS-B clipped the
  slope's Cholesky entry to its bound 0 (a saddle of the criterion) before the fitter learnt to step off it.
* ``persons.csv`` (GSS-style growth model, :func:`analysis.estimators.panel.fit_panel_multilevel`): 400 persons x
  waves 1-3 (10% of person-waves missing); ``y = 1 + 0.4 x + 0.3 z + 0.5 female + 0.1 (wave - 1) + a_i + b_i (wave
  - 1) + e``, ``a ~ N(0, 0.8^2)``, ``b ~ N(0, 0.3^2)``, correlation -0.3, ``e ~ N(0, 0.6^2)``; ``x`` correlated
  with ``a_i``.

Seed 20261208. Run: ``.venv/bin/python tests/reference/lmm/make_data.py`` (then ``Rscript tests/reference/lmm/lmer.R``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def _correlated(rng: np.random.Generator, n: int, sds: tuple[float, float], corr: float) -> np.ndarray:
    cov = np.array([[sds[0] ** 2, corr * sds[0] * sds[1]], [corr * sds[0] * sds[1], sds[1] ** 2]])
    return rng.multivariate_normal([0.0, 0.0], cov, n)


def counties(rng: np.random.Generator) -> pd.DataFrame:
    sizes = rng.integers(5, 121, 45)
    state = np.repeat(np.arange(45), sizes)
    u = _correlated(rng, 45, (2.0, 0.15), 0.6)
    x = 20 + 1.5 * u[state, 0] / 2.0 + rng.normal(0, 2.6, len(state))
    c = rng.normal(size=len(state))
    y = 12 + 0.3 * x + 0.5 * c + u[state, 0] + u[state, 1] * (x - x.mean()) + rng.normal(0, 1.5, len(state))
    return pd.DataFrame({"y": np.round(y, 6), "x": np.round(x, 6), "c": np.round(c, 6),
                         "state": [f"S{s:02d}" for s in state]})


def persons(rng: np.random.Generator) -> pd.DataFrame:
    n, waves = 400, 3
    person = np.repeat(np.arange(n), waves)
    wave = np.tile(np.arange(1, waves + 1), n)
    ab = _correlated(rng, n, (0.8, 0.3), -0.3)
    female = rng.integers(0, 2, n)[person]
    x = 0.5 * ab[person, 0] + rng.normal(size=len(person))
    z = rng.normal(size=len(person))
    y = (1 + 0.4 * x + 0.3 * z + 0.5 * female + 0.1 * (wave - 1) + ab[person, 0] + ab[person, 1] * (wave - 1)
         + rng.normal(0, 0.6, len(person)))
    frame = pd.DataFrame({"person_id": [f"p{i:04d}" for i in person], "wave": wave, "y": np.round(y, 6),
                          "x": np.round(x, 6), "z": np.round(z, 6), "female": female})
    return frame[rng.random(len(frame)) > 0.1].reset_index(drop=True)


if __name__ == "__main__":
    generator = np.random.default_rng(20261208)
    counties(generator).to_csv(HERE / "counties.csv", index=False)
    persons(generator).to_csv(HERE / "persons.csv", index=False)
