"""Stabilised inverse-probability weights (Robins, Hernan & Brumback 2000; Cole & Hernan 2008).

For a binary "still observed" indicator modelled at each step (e.g. interviewed at the next wave), the
stabilised ratio is ``p_num / p_den``: the fitted probability from a numerator model (time only) over that
from a denominator model (time plus the predictors). A unit's weight at step k is the product of its ratios
at the steps before k, truncated at chosen quantiles. The study decides who is at risk of dropping out and
which predictors enter; this module only fits and multiplies.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from analysis.estimators.formula import design_matrix, formula_variables
from analysis.estimators.survey import glm_design_fit


def stabilised_ratio(data: pd.DataFrame, outcome: str, denominator: str, numerator: str) -> pd.Series:
    """``p_num / p_den`` per row of ``data``: two logistic GLMs of ``outcome`` (0/1) on the right-hand sides
    ``numerator`` and ``denominator``; returned on ``data``'s index. Convergence problems of either model
    (statsmodels' convergence or perfect-separation warnings, IRLS not converged) are recorded in the
    result's ``attrs["problems"]`` (an empty list when there are none), never silenced."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        den = GLM.from_formula(f"{outcome} ~ {denominator}", data, family=families.Binomial()).fit()
        num = GLM.from_formula(f"{outcome} ~ {numerator}", data, family=families.Binomial()).fit()
    problems = sorted({str(w.message).splitlines()[0] for w in caught
                       if issubclass(w.category, (ConvergenceWarning, PerfectSeparationWarning))})
    problems += [f"the {name} model did not converge" for name, fit in (("denominator", den), ("numerator", num))
                 if not fit.converged]
    ratio = pd.Series(num.predict(data) / den.predict(data), index=data.index)
    ratio.attrs["problems"] = problems
    return ratio


def cumulative_weights(step: pd.Series, unit: pd.Series, keep: pd.Series, truncate: float = 0.01) -> pd.Series:
    """Weight of each row = product of its unit's ``step`` ratios on the rows before it (1 on the first row),
    where ``keep``; NaN elsewhere. Rows must be sorted by unit and time. Truncated at the ``truncate`` and
    ``1 - truncate`` quantiles of the kept weights; a NaN ratio breaks the chain (NaN from there on)."""
    shifted = step.groupby(unit).shift(1).fillna(1.0)
    log_w = np.log(shifted).groupby(unit).cumsum(skipna=False)
    weights = np.exp(log_w).where(keep)
    low, high = weights.quantile([truncate, 1 - truncate])
    return weights.clip(low, high)


def completion_weights(data: pd.DataFrame, completed: str, rhs: str, *, weight: str, stratum: str, psu: str,
                       subset=None, lonely_psu: str = "adjust"):
    """Inverse-probability-of-completion weights for a measure that only some of a survey sample completed.

    A design-weighted logistic model of ``completed`` (0/1) on the right-hand side ``rhs`` is fitted to the
    rows of ``subset`` (R ``svyglm(completed ~ rhs, subset(design, ...), family = quasibinomial)``,
    :func:`analysis.estimators.survey.glm_design_fit`); each row gets ``p_i``, its fitted probability of
    completion, and the weight ``weight_i / p_i`` (Seaman & White 2013: the survey weight times the inverse
    probability of being a complete case). Returns ``(ipw, p, fit)``: the new weight (NaN where ``p`` cannot be
    predicted, 0 where ``completed`` is 0), the fitted probabilities and the completion model's
    :class:`~analysis.estimators.survey.DesignFit`. Under missingness at random given ``rhs`` (and the survey
    design) a weighted analysis of the completers with ``ipw`` is consistent for the whole sample's estimand,
    where the complete-case analysis is not when completion depends on the outcome's predictors.
    """
    fit = glm_design_fit(data, rhs, outcome=completed, family="binomial", weight=weight, stratum=stratum, psu=psu,
                         subset=subset, lonely_psu=lonely_psu)
    needed = formula_variables(rhs)
    present = data[needed].notna().all(axis=1)
    if subset is not None:
        present &= np.asarray(subset, dtype=bool)
    X = design_matrix(data.loc[present], f"1 + {rhs}")
    linear = X.to_numpy(dtype=float) @ fit.params.reindex(X.columns).to_numpy(dtype=float)
    p = pd.Series(np.nan, index=data.index)
    p.loc[present] = 1.0 / (1.0 + np.exp(-linear))
    ipw = (data[weight] / p).where(data[completed] == 1, 0.0).where(p.notna())
    return ipw, p, fit
