"""Measurement reliability: internal consistency of a set of items, and agreement of a measure over occasions.

* :func:`cronbach_alpha` - Cronbach's alpha of k items with its confidence interval, via
  ``pingouin.cronbach_alpha``; on items that are all 0/1 the same number is the Kuder-Richardson
  formula 20 (KR-20), and the record is labelled so.
* :func:`icc` - the intraclass correlation of a measure taken on the same targets at several occasions
  (raters), via ``pingouin.intraclass_corr``; by default ICC(A,1) (see :func:`icc` for why).

Both return one tidy record (a dict with the keys :data:`RELIABILITY_COLUMNS`): the statistic's name,
estimate, CI, the n and k it rests on, and for the ICC the F test. Studies add what the record is of
(study, measure, sample). Library code throughout: pingouin is tested against R's psych/irr by its
authors; the tests here check it against the textbook formulas on hand-computed cases.

Missing data: complete cases only (a target with any item, or any occasion, missing is left out) and
the record says how many were dropped. pingouin's own ``pairwise`` default for alpha would mix samples
between the covariances, and its ICC needs a balanced table (every target at every occasion).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# pingouin is imported in the two functions that call it: it loads seaborn, statsmodels, scikit-learn and more
# (about 1.5 s CPU), which the stages that import this module but compute no reliability would pay (issue 23).

#: Keys of every reliability record, in order.
RELIABILITY_COLUMNS: list[str] = [
    "statistic", "estimate", "ci_low", "ci_high", "ci_level", "n", "k", "n_dropped", "items",
    "f_statistic", "df1", "df2", "p_value", "method",
]

#: pingouin's ICC forms (McGraw & Wong 1996 notation; Shrout & Fleiss 1979 ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k).
ICC_FORMS = ("ICC(1,1)", "ICC(A,1)", "ICC(C,1)", "ICC(1,k)", "ICC(A,k)", "ICC(C,k)")
ICC_CI_LEVEL = 0.95  # pingouin.intraclass_corr computes 95% intervals only


class ReliabilityError(ValueError):
    """The data cannot give a reliability estimate (too few items, occasions or complete rows)."""


def _record(**values) -> dict:
    out = dict.fromkeys(RELIABILITY_COLUMNS, np.nan)
    out.update(values)
    return out


def cronbach_alpha(items: pd.DataFrame, ci: float = 0.95, what: str = "items") -> dict:
    """Cronbach's alpha (KR-20 when every item is 0/1) of the columns of ``items``, on complete rows.

    alpha = k/(k-1) * (1 - sum of item variances / variance of the total score). On 0/1 items the item
    variance is p(1-p) (up to the common n/(n-1) factor, which cancels in the ratio), so the same number is
    KR-20 (Kuder & Richardson 1937) and ``statistic`` says "KR-20". The interval is pingouin's, from the F
    distribution of (1 - alpha) with n-1 and (n-1)(k-1) df (Feldt 1965); pingouin rounds it to 3 decimals.

    ``what`` names the items in error messages (e.g. the study's table). Raises :class:`ReliabilityError`
    for fewer than 2 items, a non-numeric item, fewer than 2 complete rows, or a total score with no variance.
    """
    if not 0 < ci < 1:
        raise ReliabilityError(f"{what}: the confidence level must be in (0, 1), not {ci!r}")
    columns = [str(c) for c in items.columns]
    if len(columns) < 2:
        raise ReliabilityError(f"{what}: Cronbach's alpha needs at least 2 items, got {len(columns)} ({columns})")
    numeric = {}
    for col in items.columns:
        values = items[col]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            raise ReliabilityError(f"{what}: item {col} is not numeric (dtype {values.dtype}); recode it first")
        numeric[str(col)] = values.astype("float64")
    frame = pd.DataFrame(numeric, index=items.index)
    complete = frame.dropna(how="any")
    n, k = len(complete), len(columns)
    if n < 2:
        raise ReliabilityError(f"{what}: {n} rows have every item of {columns} answered; alpha needs at least 2")
    if complete.sum(axis=1).var() == 0:
        raise ReliabilityError(f"{what}: the total score of {columns} has no variance in the {n} complete rows")
    binary = bool(complete.isin([0.0, 1.0]).all().all())
    import pingouin

    alpha, (low, high) = pingouin.cronbach_alpha(data=complete, nan_policy="listwise", ci=ci)
    return _record(statistic="KR-20" if binary else "Cronbach's alpha", estimate=float(alpha), ci_low=float(low),
                   ci_high=float(high), ci_level=ci, n=n, k=k, n_dropped=len(frame) - n, items=", ".join(columns),
                   method="pingouin.cronbach_alpha on complete rows; Feldt F interval"
                          + ("; all items 0/1, so alpha = KR-20" if binary else ""))


def icc(long: pd.DataFrame, target: str, rater: str, rating: str, form: str = "ICC(A,1)") -> dict:
    """Intraclass correlation of ``rating`` over the ``rater`` occasions (e.g. waves) of each ``target``
    (e.g. person), on the targets observed at every occasion; by default ICC(A,1).

    Why ICC(A,1) for the stability of a person-level measure across waves: each person is measured at the
    same waves, so waves are a crossed factor (two-way model; the one-way ICC(1,1) is for designs where each
    target has its own raters). Absolute agreement (A), not consistency (C): a stable measure gives the
    person the same value at the next wave, so a shift of the whole sample between waves (ageing, a period
    change, a change of mode) counts as instability, which ICC(C,1) would ignore. Single measurement (1),
    not the mean of k: analyses use one wave's value. McGraw & Wong (1996) show ICC(A,1) is the same
    number whether waves are taken as random or fixed, and Koo & Li (2016) recommend this form for
    test-retest reliability. Other forms: ``form`` (one of :data:`ICC_FORMS`).

    pingouin needs a balanced table: targets missing the rating at any occasion are dropped (counted in
    ``n_dropped``); a target with two rows at one occasion is an error (pingouin would average them).
    The interval is pingouin's 95% F-based interval (McGraw & Wong 1996), kept at full precision.
    """
    if form not in ICC_FORMS:
        raise ReliabilityError(f"ICC form {form!r} is not one of {list(ICC_FORMS)}")
    absent = [c for c in (target, rater, rating) if c not in long.columns]
    if absent:
        raise ReliabilityError(f"ICC: column {absent[0]} is missing (columns: {list(long.columns)[:12]})")
    if not pd.api.types.is_numeric_dtype(long[rating]):
        raise ReliabilityError(f"ICC: the rating column {rating} is not numeric (dtype {long[rating].dtype})")
    frame = long[[target, rater, rating]].copy()
    frame[rating] = frame[rating].astype("float64")
    repeated = frame.duplicated([target, rater])
    if repeated.any():
        row = frame[repeated].iloc[0]
        raise ReliabilityError(f"ICC: {target} {str(row[target])!r} has two rows at {rater} {row[rater]}; "
                               "one rating per target and occasion is needed")
    occasions = frame[rater].dropna().unique()
    if len(occasions) < 2:
        raise ReliabilityError(f"ICC: {rater} has {len(occasions)} distinct value(s); at least 2 occasions needed")
    observed = frame.dropna(subset=[rating]).groupby(target)[rater].nunique()
    complete_targets = observed.index[observed == len(occasions)]
    all_targets = frame[target].nunique()
    balanced = frame[frame[target].isin(complete_targets) & frame[rating].notna()]
    n = len(complete_targets)
    if n < 2:
        raise ReliabilityError(f"ICC: {n} {target} value(s) have {rating} at every {rater} "
                               f"({sorted(occasions.tolist())}); at least 2 are needed")
    if balanced[rating].var() == 0:
        raise ReliabilityError(f"ICC: {rating} has no variance among the {n} complete {target} values")
    import pingouin

    saved = dict(pingouin.options)
    try:
        pingouin.options["round.column.CI95"] = None  # the default rounds the interval to 2 decimals
        stats = pingouin.intraclass_corr(data=balanced, targets=target, raters=rater, ratings=rating)
    finally:
        pingouin.options.clear()
        pingouin.options.update(saved)
    row = stats.set_index("Type").loc[form]
    p_column = "pval" if "pval" in stats.columns else "p_val"
    low, high = row["CI95"]
    return _record(statistic=form, estimate=float(row["ICC"]), ci_low=float(low), ci_high=float(high),
                   ci_level=ICC_CI_LEVEL, n=n, k=len(occasions), n_dropped=all_targets - n,
                   items=f"{rating} at {rater} " + ", ".join(str(o) for o in sorted(occasions.tolist())),
                   f_statistic=float(row["F"]), df1=float(row["df1"]), df2=float(row["df2"]),
                   p_value=float(row[p_column]),
                   method=f"pingouin.intraclass_corr, {form}, targets observed at every occasion")


def describe(record: dict, decimals: int = 2) -> str:
    """One line for a data dictionary or a caption: "KR-20 0.62 (95% CI 0.60 to 0.64; n = 13,812, k = 5)"."""
    level = f"{100 * record['ci_level']:g}%"
    what = "occasions" if str(record["statistic"]).startswith("ICC") else "items"
    return (f"{record['statistic']} {record['estimate']:.{decimals}f} ({level} CI {record['ci_low']:.{decimals}f} to "
            f"{record['ci_high']:.{decimals}f}; n = {int(record['n']):,}, {what} = {int(record['k'])})")
