"""Competing risks: the Fine-Gray subdistribution hazard, design-based, and grouped cumulative incidence.

**Fine-Gray by data expansion** (Fine & Gray 1999; Geskus 2011): a subject who dies of a competing cause stays
in the risk set of the cause of interest after its death, with a weight that falls as the censoring
distribution does. :func:`finegray_expand` builds that counting-process data set exactly as R's
``survival::finegray`` (survival 3.5, ``R/finegray.R`` and ``src/finegray.c``) does for right-censored data:

* ``G`` is the Kaplan-Meier estimate of the *censoring* distribution, unweighted (``finegray`` passes no
  weights to its ``survfit``), with a censoring tied with an event taken to come after the event;
* a subject with the event of interest or censored keeps its one row ``(start, time]`` with weight 1;
* a subject with a competing event has its row extended to the first censoring time at or after its death,
  then one row ``(c_{j-1}, c_j]`` for every later censoring interval that holds an event of interest, with
  weight ``G(c_{j-1}) / G(c at death)``; the last interval ends at the largest follow-up time;
* the user (survey) weight multiplies every row's weight (``fgwt = split$wt * user.weights``).

Written here rather than called from a library: no Python package builds the Fine-Gray data set (lifelines has
no subdistribution model, scikit-survival and statsmodels none either); the expansion is a few array steps and
tests/reference/finegray/ checks it, and the fit, against R (``finegray`` then ``coxph``/``svycoxph``).

**The fit and its variance**: the subdistribution hazard ratio is the Cox (Efron ties) estimate on the expanded
rows with weight ``survey weight x fgwt`` and delayed entry at ``fgstart``
(:func:`analysis.estimators.survey.cox_design_fit`). The design-based variance sums each row's dfbeta
influence by PSU - all rows of a subject lie in its PSU, so this is the subject-level influence summed by PSU
- and is R's ``svycoxph`` on the expanded data. Like R's ``coxph(..., cluster = id)`` on ``finegray`` output it
treats ``G`` as known (it ignores the variability of the estimated censoring weights, usually a small term).

**Cumulative incidence by group**: :func:`grouped_cumulative_incidence` is the weighted Aalen-Johansen estimate
(:func:`analysis.estimators.incidence.weighted_cumulative_incidence`) of each group, in one tidy frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimators.incidence import kish_scaled, weighted_cumulative_incidence

#: Columns the expansion adds (R ``finegray``'s default prefix "fg").
FG_START, FG_STOP, FG_STATUS, FG_WEIGHT, FG_ROW = "fgstart", "fgstop", "fgstatus", "fgwt", "fgrow"


def _censoring_survival(time: np.ndarray, status: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(censoring times at which G drops, G just after each): the unweighted Kaplan-Meier of censoring, an
    event at the same time as a censoring counted first (R finegray shifts event times down by 0.2 of an
    index step)."""
    censor_times = np.unique(time[status == 0])
    order = np.sort(time)
    # at risk of censoring at c: followed beyond c, or censored at c (those with an event at c left before)
    beyond = len(time) - np.searchsorted(order, censor_times, side="right")
    censored_at = np.bincount(np.searchsorted(censor_times, time[status == 0]), minlength=len(censor_times))
    at_risk = beyond + censored_at
    survival = np.cumprod(1.0 - censored_at / at_risk)
    return censor_times, survival


def finegray_expand(data: pd.DataFrame, *, duration: str, status: str, cause: int,
                    weight: str | None = None) -> pd.DataFrame:
    """The Fine-Gray counting-process data set of ``cause`` (R ``finegray(Surv(duration, factor(status)) ~ .,
    data, etype = cause, weights = weight)``).

    ``status``: 0 censored, any other integer the cause of the event. Returns the rows of ``data`` (repeated
    for the extended competing-event subjects) with ``fgstart``, ``fgstop``, ``fgstatus`` (1 = the event of
    interest in that interval), ``fgwt`` (the censoring weight times ``weight``, when given) and ``fgrow`` (the
    position of the source row in ``data``). Raises ValueError on missing or negative times, a status that is
    not a whole number, or no event of ``cause``.
    """
    time = pd.to_numeric(data[duration], errors="coerce").to_numpy(dtype=float)
    code = pd.to_numeric(data[status], errors="coerce").to_numpy(dtype=float)
    if np.isnan(time).any() or np.isnan(code).any():
        raise ValueError(f"finegray_expand: '{duration}' and '{status}' must be complete (drop incomplete rows first)")
    if (code % 1 != 0).any() or (code < 0).any():
        bad = code[(code % 1 != 0) | (code < 0)][0]
        raise ValueError(f"finegray_expand: '{status}' must be 0 (censored) or a positive cause code, found {bad:g}")
    code = code.astype(int)
    if not (code == cause).any():
        raise ValueError(f"finegray_expand: no event of cause {cause} in '{status}'")
    low = time.min()
    zero = 0.0 if low > 0 else 2 * low - 1  # R: a start below every time
    censor_times, g = _censoring_survival(time, code)
    maxtime = time.max()
    ctime = np.concatenate([censor_times, [maxtime]])  # ends of the censoring intervals
    cprob = np.concatenate([[1.0], g])  # G at the start of interval j (G after c_{j-1})
    # intervals (c_{j-1}, c_j] that hold an event of interest: only those get an extra row
    event_times = np.unique(time[code == cause])
    holds = np.zeros(len(ctime) + 1, dtype=bool)
    holds[np.searchsorted(ctime, event_times, side="left") + 0] = True
    # C indexing: keep[j] for the interval (ctime[j-1], ctime[j]]; keep[0] = TRUE
    keep = holds[: len(ctime)]
    keep[0] = True

    # each subject's rows in order: its own interval, then (a competing event only) one row per later censoring
    # interval that holds an event of interest, weighted G(start of the interval) / G(at its event); built by
    # array indexing (the same values as a loop over subjects, at a fraction of its time)
    competing = (code != 0) & (code != cause)
    n = len(time)
    j = np.searchsorted(ctime, time, side="left")  # first ctime >= time (read for competing events only)
    kept = np.flatnonzero(keep)
    first = np.searchsorted(kept, j, side="right")  # the first kept interval after j
    counts = 1 + np.where(competing, len(kept) - first, 0)
    rows = np.repeat(np.arange(n), counts)
    pos = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)  # 0: the subject's own row
    own = pos == 0
    extra = ~own
    k = kept[(first[rows] + pos - 1)[extra]]
    starts = np.full(len(rows), zero, dtype=float)
    starts[extra] = ctime[k - 1]
    stops = np.where(competing, ctime[np.minimum(j, len(ctime) - 1)], time)[rows]
    stops[extra] = ctime[k]
    weights = np.ones(len(rows))
    weights[extra] = cprob[k] / cprob[j[rows[extra]]]
    out = data.iloc[rows].reset_index(drop=True)
    out[FG_START] = starts
    out[FG_STOP] = stops
    out[FG_STATUS] = (code[rows] == cause).astype(float)
    user = np.ones(len(time)) if weight is None else pd.to_numeric(data[weight]).to_numpy(dtype=float)
    out[FG_WEIGHT] = weights * user[rows]
    out[FG_ROW] = rows
    return out


def grouped_cumulative_incidence(data: pd.DataFrame, *, duration: str, status: str, cause: int, group: str,
                                 weight: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Weighted Aalen-Johansen cumulative incidence of ``cause`` (other causes competing) in each level of
    ``group``: columns group, time, estimate, low, high, n (rows), events (rows with the cause).

    The weights are Kish-scaled within each group (:func:`analysis.estimators.incidence.kish_scaled`), so the
    pointwise Greenwood-type interval reflects unequal weights but not the clustering of the design; the
    point estimates are those of R ``survfit(Surv(time, factor(status)) ~ 1, weights = w)``.
    """
    frames = []
    levels = data[group].cat.categories if isinstance(data[group].dtype, pd.CategoricalDtype) else \
        sorted(data[group].dropna().unique())
    for level in levels:
        rows = data[data[group] == level]
        if rows.empty:
            continue
        w = None if weight is None else kish_scaled(rows[weight].to_numpy(dtype=float))
        curve = weighted_cumulative_incidence(rows[duration], rows[status].astype(int), cause=cause, weights=w,
                                              alpha=alpha)
        frames.append(curve.assign(group=str(level), n=len(rows),
                                   events=int((rows[status].astype(int) == cause).sum())))
    return pd.concat(frames, ignore_index=True)[["group", "time", "estimate", "low", "high", "n", "events"]]
