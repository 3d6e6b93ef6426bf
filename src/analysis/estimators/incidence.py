"""Survival and cumulative-incidence curves with case weights: Kaplan-Meier and Aalen-Johansen.

Used by the figures (survey-weighted NHANES curves) and by the cohort models (attrition-weighted
cumulative incidence of new CVD with death competing). Both return a tidy frame (time, estimate, low,
high) starting at t = 0.

The weighted Kaplan-Meier and Aalen-Johansen estimators are computed here rather than with
lifelines' fitters: with non-integer weights lifelines 0.30 floors the weighted number at risk
to an integer in the Greenwood variance (``population.astype("uint64")``) and takes
log(n - d), which is NaN when everyone left at risk has the event, so S(t) never reaches 0.
With integer weights both estimators agree with lifelines (tests/report/test_figures.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# scipy.stats (about 0.5 s CPU at import) is imported by the two functions that draw intervals, so a stage that
# imports this module only for its helpers does not pay for it (issue 23).


def kish_scaled(weights: np.ndarray) -> np.ndarray:
    """Weights rescaled to sum to Kish's effective sample size, (sum w)^2 / sum w^2.

    Point estimates do not change; Greenwood-type variances computed from the weighted counts then
    reflect the loss of precision from unequal weights (not from clustering or stratification).
    """
    w = np.asarray(weights, dtype="float64")
    total, sq = w.sum(), np.square(w).sum()
    if total <= 0 or sq <= 0:
        return w
    return w * (total / sq)


def _risk_table(durations, codes, weights):
    """Distinct event times with the weighted number at risk (duration >= t) and the weighted
    number of events of every type (code > 0) at each time."""
    t = np.asarray(durations, dtype="float64")
    c = np.asarray(codes, dtype="int64")
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype="float64")
    times = np.unique(t[c > 0])
    order = np.argsort(t, kind="stable")
    t_sorted = t[order]
    tail = np.concatenate([np.cumsum(w[order][::-1])[::-1], [0.0]])  # weight with index >= i
    at_risk = tail[np.searchsorted(t_sorted, times, side="left")]
    slot = np.searchsorted(times, t)
    events = {}
    for code in np.unique(c[c > 0]):
        hit = c == code
        events[int(code)] = np.bincount(slot[hit], weights=w[hit], minlength=len(times))
    return times, at_risk, events


def _with_origin(times, estimate, low, high, at_origin: float) -> pd.DataFrame:
    return pd.DataFrame({"time": np.concatenate([[0.0], times]),
                         "estimate": np.concatenate([[at_origin], estimate]),
                         "low": np.concatenate([[at_origin], low]),
                         "high": np.concatenate([[at_origin], high])}).drop_duplicates("time", keep="last")


def weighted_kaplan_meier(durations, events, weights=None, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier S(t) with case weights and a pointwise log-log ("exponential Greenwood") CI.

    S(t) = prod_{t_j <= t} (1 - d_j / n_j), with d_j, n_j the summed weights of events at t_j and
    of those still followed at t_j;  Var(log S) = sum d_j / (n_j (n_j - d_j)) treats the weights
    as counts (scale them first, e.g. with :func:`kish_scaled`).  Columns: time, estimate, low,
    high; the first row is t = 0, S = 1.
    """
    times, n, by_type = _risk_table(durations, np.asarray(events, dtype="int64") > 0, weights)
    d = by_type.get(1, np.zeros(len(times)))
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(n > 0, 1 - d / n, 1.0))
        greenwood = np.cumsum(np.where(n - d > 0, d / (n * (n - d)), np.nan))
        from scipy.stats import norm

        z = norm.ppf(1 - alpha / 2)
        se = np.sqrt(greenwood) / np.abs(np.log(surv))
        low, high = surv ** np.exp(z * se), surv ** np.exp(-z * se)
    low = np.where(np.isfinite(low), low, surv)
    high = np.where(np.isfinite(high), high, surv)
    return _with_origin(times, surv, low, high, 1.0)


def weighted_cumulative_incidence(durations, causes, cause: int = 1, weights=None,
                                  alpha: float = 0.05) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of ``cause`` with the other causes competing.

    ``causes``: 0 censored, 1, 2, ... the cause of the event.  F(t) = sum_{t_j <= t} S(t_j-) d_kj / n_j
    with S the all-cause Kaplan-Meier; tied times of different causes need no jitter.  Variance:
    the Greenwood-type delta-method formula of Collett (Modelling Survival Data in Medical Research,
    3rd ed., p. 411; also lifelines' AalenJohansenFitter), CI on the log(-log F) scale.
    """
    times, n, by_type = _risk_table(durations, causes, weights)
    zeros = np.zeros(len(times))
    d_k = by_type.get(int(cause), zeros)
    d = sum(by_type.values(), zeros)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(n > 0, 1 - d / n, 1.0))
        s_prev = np.concatenate([[1.0], surv[:-1]])
        f = np.cumsum(np.where(n > 0, s_prev * d_k / n, 0.0))
        # Var F(t_i) = sum_{j<=i} [(F_i - F_j)^2 a_j + s_{j-1}^2 d_kj (n_j - d_kj) / n_j^3 - 2 (F_i - F_j) b_j]
        a = np.where(n - d > 0, d / (n * (n - d)), 0.0)
        b = np.where(n > 0, s_prev * d_k / n**2, 0.0)
        second = np.cumsum(np.where(n > 0, s_prev**2 * d_k * (n - d_k) / n**3, 0.0))
        var = (f**2 * np.cumsum(a) - 2 * f * np.cumsum(a * f) + np.cumsum(a * f**2)
               + second - 2 * (f * np.cumsum(b) - np.cumsum(b * f)))
        var = np.maximum(var, 0.0)
        from scipy.stats import norm

        z = norm.ppf(1 - alpha / 2)
        theta = np.log(-np.log(f))
        se = np.sqrt(var) / (f * np.abs(np.log(f)))
        one, two = np.exp(-np.exp(theta + z * se)), np.exp(-np.exp(theta - z * se))
    low = np.where(np.isfinite(one) & np.isfinite(two), np.minimum(one, two), f)
    high = np.where(np.isfinite(one) & np.isfinite(two), np.maximum(one, two), f)
    return _with_origin(times, f, low, high, 0.0)


