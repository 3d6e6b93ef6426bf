"""Indirect effect exposure -> mediator -> outcome (product of coefficients) in a random-intercept model, with a
cluster-bootstrap interval.

Two multilevel regressions on one complete-case sample, each with a random intercept per group
(:func:`analysis.estimators.random_intercept.fit_random_intercept`):

* the mediator model  ``M = a X + C'g + u_g + e``       -> ``a``
* the outcome model   ``Y = c' X + b M + C'h + v_g + e`` -> ``b`` and the direct coefficient ``c'``
* the total model     ``Y = c X + C'k + w_g + e``        -> ``c``

The indirect coefficient is ``a b`` (Baron and Kenny's product of coefficients; VanderWeele 2015, "Explanation in
Causal Inference", ch. 2: with linear models and no exposure-mediator interaction it equals the natural indirect
effect **only** under no unmeasured confounding of X-M, X-Y and M-Y; for observational data, and a fortiori for
ecological data, it is a decomposition of an association, not an effect). The proportion "mediated" is ``a b /
c`` (reported only, not bootstrapped: a ratio with a denominator near zero has no useful interval).

Interval: the cluster (block) bootstrap by group: ``n_boot`` samples of the groups drawn with replacement (a group
drawn twice enters as two groups), all three models refitted on each, percentile interval of ``a b`` and the
bootstrap standard deviation as its standard error. Groups, not rows, are resampled because rows of one group
share its random intercept (and, ecologically, its policies and data sources). The random generator is
``numpy.random.default_rng(seed)``; draws are identical for a given seed and number of groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.estimators.random_intercept import GroupCrossProducts, fit_random_intercept


@dataclass(frozen=True)
class MediationResult:
    """Point estimates (with model-based SEs for the paths) and the cluster-bootstrap distribution of ``a b``."""

    a: float
    a_se: float
    b: float
    b_se: float
    direct: float
    direct_se: float
    total: float
    total_se: float
    indirect: float
    boot_indirect: np.ndarray
    boot_se: float
    ci_low: float
    ci_high: float
    n_obs: int
    n_groups: int
    n_boot: int
    n_failed: int
    converged: bool

    @property
    def proportion_mediated(self) -> float:
        """``a b / c`` (NaN when ``c`` is 0)."""
        return self.indirect / self.total if self.total != 0 else float("nan")


def _paths(cross: GroupCrossProducts, exposure: str, mediator: str, outcome: str, covariates: list[str],
           draw: np.ndarray | None = None):
    a_fit = fit_random_intercept(cross, mediator, [exposure, *covariates], draw=draw)
    b_fit = fit_random_intercept(cross, outcome, [exposure, mediator, *covariates], draw=draw)
    return a_fit, b_fit


def bootstrap_mediation(data: pd.DataFrame, *, exposure: str, mediator: str, outcome: str, covariates: list[str],
                        group: str, n_boot: int, seed: int, alpha: float = 0.05) -> MediationResult:
    """``a b`` with its percentile cluster-bootstrap interval (module docstring); complete cases of every column.

    Raises ValueError for fewer than two groups or an exposure, mediator or outcome among the covariates.
    """
    covariates = [c for c in dict.fromkeys(covariates)]
    clash = sorted({exposure, mediator, outcome} & set(covariates))
    if clash:
        raise ValueError(f"bootstrap_mediation: {clash} are both a path variable and a covariate")
    if n_boot < 1:
        raise ValueError(f"bootstrap_mediation: n_boot is {n_boot}; it must be at least 1")
    columns = [exposure, mediator, outcome, *covariates]
    sample = data.dropna(subset=[*columns, group])
    cross = GroupCrossProducts(sample, columns, group)
    a_fit, b_fit = _paths(cross, exposure, mediator, outcome, covariates)
    c_fit = fit_random_intercept(cross, outcome, [exposure, *covariates])
    a, a_se = a_fit.coefficient(exposure)
    b, b_se = b_fit.coefficient(mediator)
    direct, direct_se = b_fit.coefficient(exposure)
    total, total_se = c_fit.coefficient(exposure)
    rng = np.random.default_rng(seed)
    g = len(cross.sizes)
    draws = np.full(n_boot, np.nan)
    for i in range(n_boot):
        draw = rng.integers(0, g, size=g)
        try:
            ra, rb = _paths(cross, exposure, mediator, outcome, covariates, draw)
        except (ValueError, np.linalg.LinAlgError):
            continue  # a draw whose design is singular (e.g. a covariate constant in every drawn group)
        draws[i] = ra.coefficient(exposure)[0] * rb.coefficient(mediator)[0]
    ok = draws[np.isfinite(draws)]
    low, high = (np.quantile(ok, [alpha / 2, 1 - alpha / 2]) if len(ok) else (np.nan, np.nan))
    return MediationResult(
        a=a, a_se=a_se, b=b, b_se=b_se, direct=direct, direct_se=direct_se, total=total, total_se=total_se,
        indirect=a * b, boot_indirect=draws, boot_se=float(np.std(ok, ddof=1)) if len(ok) > 1 else np.nan,
        ci_low=float(low), ci_high=float(high), n_obs=a_fit.n_obs, n_groups=g, n_boot=n_boot,
        n_failed=int(n_boot - len(ok)), converged=bool(a_fit.converged and b_fit.converged and c_fit.converged),
    )


__all__ = ["MediationResult", "bootstrap_mediation"]
