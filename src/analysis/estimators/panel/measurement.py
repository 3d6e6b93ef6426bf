"""Measurement of a repeated exposure: its value at the previous time, how much of it varies within units,
and the regression dilution that classical measurement error implies for pooled, FE and FD slopes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.estimators.records import check_columns


def with_lag(panel: pd.DataFrame, entity: str, time: str, column: str, name: str, step: float = 1) -> pd.DataFrame:
    """``panel`` with ``name`` = the person's value of ``column`` at time ``t - step`` (NaN when the person
    has no row, or no value, there: never carried across a gap). Raises ValueError on duplicate person-times."""
    check_columns(panel, [entity, time, column], "the lagged exposure")
    if panel.duplicated([entity, time]).any():
        raise ValueError(f"two rows share an ({entity}, {time}) pair: a lag needs one row per person and time")
    earlier = panel[[entity, time, column]].copy()
    earlier[time] = earlier[time] + step
    earlier = earlier.rename(columns={column: name})
    out = panel.drop(columns=[name], errors="ignore").merge(earlier, on=[entity, time], how="left")
    return out.set_axis(panel.index)


#: Columns of :func:`attenuation_table`.
ATTENUATION_COLUMNS = ["reliability", "within_share", "diff_variance_ratio", "lambda_pooled",
                       "lambda_fixed_effects", "lambda_first_difference", "note"]


def within_person_variance(panel: pd.DataFrame, entity: str, time: str, column: str) -> dict[str, Any]:
    """How much of a repeated measure varies within persons, on the persons measured at every time:

    * ``adjacent_correlations``: Pearson correlation of the measure between each pair of adjacent times;
    * ``between_variance``, ``within_variance``: one-way ANOVA components, ``sigma_w^2 = MSW`` and
      ``sigma_b^2 = (MSB - MSW) / T``; ``within_share = sigma_w^2 / (sigma_b^2 + sigma_w^2)`` (1 - ICC(1));
    * ``total_variance`` (their sum) and ``diff_variance``: the variance of the change between adjacent
      times (all adjacent pairs pooled), the variation a first-difference fit uses.
    """
    check_columns(panel, [entity, time, column], "the within-person variance")
    wide = panel.pivot_table(index=entity, columns=time, values=column, aggfunc="first").dropna()
    times = list(wide.columns)
    if len(times) < 2 or len(wide) < 3:
        raise ValueError(f"'{column}': fewer than 3 persons measured at every one of 2+ times")
    k, n = len(times), len(wide)
    values = wide.to_numpy(dtype=float)
    person_means = values.mean(axis=1)
    msw = float(((values - person_means[:, None]) ** 2).sum() / (n * (k - 1)))
    msb = float(k * ((person_means - values.mean()) ** 2).sum() / (n - 1))
    between = max((msb - msw) / k, 0.0)
    diffs = np.diff(values, axis=1).ravel()
    return {"persons": n, "times": times,
            "adjacent_correlations": [float(np.corrcoef(values[:, i], values[:, i + 1])[0, 1]) for i in range(k - 1)],
            "between_variance": between, "within_variance": msw, "total_variance": between + msw,
            "within_share": msw / (between + msw), "diff_variance": float(diffs.var(ddof=1))}


def attenuation_table(components: dict[str, Any], reliabilities) -> pd.DataFrame:
    """Regression-dilution factors implied by classical measurement error, one row per assumed reliability.

    Model: observed x = true x + u, u independent of everything and across waves, with ``reliability``
    rho = var(true x) / var(observed x) (an assumption: the data alone cannot separate true change from
    error). Then, for a regression on x alone, the slope is multiplied by (Fuller 1987; Griliches and
    Hausman 1986, J Econometrics 31:93):

    * pooled: ``lambda = rho``;
    * fixed effects (within): ``lambda = 1 - (1 - rho) / s_w``, ``s_w`` the within-person share of the
      observed variance (``components["within_share"]``), because the error is all within-person variance
      while the stable part of true x is removed;
    * first differences: ``lambda = 1 - 2 (1 - rho) V / var(dx)``, V the total observed variance.

    A factor at or below 0 means that, under that rho, the within-person variation could be error alone.
    Covariates make the attenuation worse still (they absorb true variation, not error). The factors show
    the sensitivity of the estimates to measurement error; they are not an exact correction.
    """
    s_w = float(components["within_share"])
    ratio = float(components["diff_variance"]) / float(components["total_variance"])
    rows = []
    for rho in reliabilities:
        rho = float(rho)
        if not 0 < rho <= 1:
            raise ValueError(f"an assumed reliability must be in (0, 1], got {rho}")
        error = 1 - rho
        rows.append({"reliability": rho, "within_share": s_w, "diff_variance_ratio": ratio,
                     "lambda_pooled": rho, "lambda_fixed_effects": 1 - error / s_w,
                     "lambda_first_difference": 1 - 2 * error / ratio,
                     "note": "classical error independent across waves; regression on the measure alone"})
    return pd.DataFrame(rows, columns=ATTENUATION_COLUMNS)
