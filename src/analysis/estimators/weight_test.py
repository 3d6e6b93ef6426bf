"""The DuMouchel-Duncan (1983) weight-association test: do the survey weights change a regression?

DuMouchel W.H. & Duncan G.J. (1983), "Using sample survey weights in multiple regression analyses of
stratified samples", JASA 78:535-543. When a model is correctly specified and the sampling depends only on
its covariates, the weighted and unweighted fits estimate the same coefficients and the unweighted one is
more efficient; the weights matter when they are associated with the outcome given the covariates. The test
adds the weight ``w`` and the products ``w x x_j`` (every column ``x_j`` of the design matrix but the
intercept) to the **unweighted** model and tests those added terms jointly; a small p-value says the
weighted and unweighted coefficients differ (Bollen et al. 2016, "Are survey weights needed? A review of
diagnostic tests in regression analysis", Annu Rev Stat Appl 3:375-392, section 3.1).

* **Linear** (``model="gaussian"``): the original F test of the nested OLS fits,
  ``F = ((RSS_0 - RSS_1) / q) / (RSS_1 / (n - p_1))`` on ``(q, n - p_1)``.
* **Logistic** (``"binomial"``) and **Cox** (``"cox"``, Efron ties; ``entry`` for delayed entry): the
  analogous likelihood-ratio test, ``2 (l_1 - l_0)`` on ``q`` degrees of freedom (Bollen et al.'s extension
  to GLMs; for Cox the partial likelihood, as Cox-model versions of the test do).

``q`` is the number of added columns that are linearly independent of the model's own columns and of each
other (a product with a rare dummy can be collinear; such columns are dropped and not counted). The weights
are scaled to mean 1 in the sample first, which changes neither the test nor the fits but keeps the design
matrix well conditioned. The fits are model-based (independent rows): the test asks whether the weights are
informative for the *model*, not a design-based question, and it ignores clustering (as the original).

No library offers it (statsmodels, lifelines and R ``survey`` have no such function; R users code it by hand
as here); it is a nested-model comparison of library fits (statsmodels OLS/GLM, lifelines), checked in
tests/estimators/test_weight_test.py by hand (the F and LR statistics from the two fits) and on simulated data
with informative and non-informative weights.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.regression.linear_model import OLS

from analysis.estimators.cox_counting import fit_cox_counting
from analysis.estimators.formula import design_matrix, formula_variables
from analysis.estimators.records import check_columns, normalised_weights
from analysis.estimators.survival import FIT_OPTIONS, fit_efron

MODELS = ("gaussian", "binomial", "cox")
# Reserved column names for the frame handed to lifelines.
_T, _E, _S = "__duration", "__event", "__entry"


class WeightTest(NamedTuple):
    """One DuMouchel-Duncan test: ``statistic`` (F or LR chi-square) on ``df_num`` (and ``df_den`` for F)."""

    test: str  # "F" or "LR chi2"
    statistic: float
    df_num: int
    df_den: float  # residual df of the F test; NaN for the LR test
    p_value: float
    n: int
    added_terms: int  # = df_num: the independent weight terms added


def weight_terms(X: pd.DataFrame, w: np.ndarray, *, tol: float = 1e-8) -> pd.DataFrame:
    """The columns DuMouchel and Duncan add: ``w`` and ``w x x_j`` for every non-intercept column of ``X``,
    keeping only those that raise the rank of ``[X, kept so far]`` (relative tolerance ``tol`` on the
    singular values of the column-standardised matrix)."""
    candidates = {"weight": w}
    for name in X.columns:
        if name != "Intercept":
            candidates[f"weight:{name}"] = w * X[name].to_numpy(dtype=float)
    base = X.to_numpy(dtype=float)
    if "Intercept" not in X.columns:  # the Cox design has no intercept; the rank check still needs one
        base = np.column_stack([np.ones(len(X)), base])
    kept: dict[str, np.ndarray] = {}

    def rank(matrix: np.ndarray) -> int:
        scale = np.linalg.norm(matrix, axis=0)
        scale[scale == 0] = 1.0
        singular = np.linalg.svd(matrix / scale, compute_uv=False)
        return int((singular > tol * singular[0]).sum())

    current = rank(base)
    for name, column in candidates.items():
        trial = np.column_stack([base, *kept.values(), column])
        r = rank(trial)
        if r > current:
            kept[name], current = column, r
    return pd.DataFrame(kept, index=X.index)


def _sample(data: pd.DataFrame, columns: list[str], weight: str) -> pd.DataFrame:
    check_columns(data, [*columns, weight], "the weight-association test")
    frame = data[list(dict.fromkeys([*columns, weight]))].dropna()
    frame = frame[frame[weight].to_numpy(dtype=float) > 0]
    if frame.empty:
        raise ValueError(f"no complete rows with a positive weight '{weight}' for the weight-association test")
    return frame


def _cox_loglik(X: pd.DataFrame, time, event, entry) -> float:
    if entry is not None:  # delayed entry: the vectorised fit (lifelines' loops over event times in Python)
        return fit_cox_counting(X.to_numpy(dtype=float), np.asarray(time, dtype=float),
                                np.asarray(event, dtype=float), entry=np.asarray(entry, dtype=float)).log_likelihood
    training = X.copy()
    training[_T], training[_E] = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    if entry is not None:
        training[_S] = np.asarray(entry, dtype=float)
    cph, _, _ = fit_efron(training, FIT_OPTIONS, duration_col=_T, event_col=_E,
                          entry_col=_S if entry is not None else None)  # its warnings are recorded, not shown
    return float(cph.log_likelihood_)


def dumouchel_duncan(
    data: pd.DataFrame,
    rhs: str,
    *,
    weight: str,
    model: str,
    outcome: str | None = None,
    duration: str | None = None,
    event: str | None = None,
    entry: str | None = None,
) -> WeightTest:
    """DuMouchel-Duncan test of the weight ``weight`` for the model ``outcome ~ rhs`` (``model`` "gaussian" or
    "binomial") or ``Surv([entry,] duration, event) ~ rhs`` (``model`` "cox"), on the complete cases with a
    positive weight. See the module docstring. Raises ValueError naming a missing column or an unknown model,
    and when no weight term is left to test."""
    if model not in MODELS:
        raise ValueError(f"model '{model}' unknown for the weight-association test; use one of {list(MODELS)}")
    if model == "cox":
        if duration is None or event is None:
            raise ValueError("a Cox weight-association test needs duration= and event=")
        response = [duration, event, *([entry] if entry else [])]
    else:
        if outcome is None:
            raise ValueError(f"a {model} weight-association test needs outcome=")
        response = [outcome]
    frame = _sample(data, [*response, *formula_variables(rhs)], weight)
    w = normalised_weights(frame[weight])
    X = design_matrix(frame, f"1 + {rhs}" if rhs.strip() else "1")
    added = weight_terms(X, w)
    if added.empty:
        raise ValueError(f"the weight '{weight}' is collinear with the model's columns: nothing to test")
    q, n = added.shape[1], len(frame)
    augmented = pd.concat([X, added], axis=1)
    if model == "gaussian":
        y = frame[outcome].to_numpy(dtype=float)
        small, big = OLS(y, X).fit(), OLS(y, augmented).fit()
        df_den = float(big.df_resid)
        F = ((small.ssr - big.ssr) / q) / (big.ssr / df_den)
        return WeightTest("F", float(F), q, df_den, float(stats.f.sf(F, q, df_den)), n, q)
    if model == "binomial":
        y = frame[outcome].to_numpy(dtype=float)
        fits = [GLM(y, design, family=families.Binomial()).fit(tol=1e-10, maxiter=200)
                for design in (X, augmented)]
        lr = 2 * (fits[1].llf - fits[0].llf)
    else:
        X = X.drop(columns="Intercept")
        augmented = augmented.drop(columns="Intercept")
        start = frame[entry] if entry else None
        lr = 2 * (_cox_loglik(augmented, frame[duration], frame[event], start)
                  - _cox_loglik(X, frame[duration], frame[event], start))
    lr = max(float(lr), 0.0)
    return WeightTest("LR chi2", lr, q, float("nan"), float(stats.chi2.sf(lr, q)), n, q)
