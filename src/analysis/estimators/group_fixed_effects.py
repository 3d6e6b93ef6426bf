"""One-way (group) fixed effects: a linear regression with a dummy per group, SE clustered by group.

The exposure coefficient compares rows of the same group (the within-group association). Rows of a group
with a single row carry no within-group contrast and are dropped (named in the note). The model is
``"<outcome> ~ <exposure> + <covariates> + C(<group>)"``: ordinary least squares, or weighted least squares with
``weight`` normalised to mean 1 in the analytic sample when ``weighted``.

**Fitted by the within transformation** (:func:`within_fit`), not with a dummy column per group: by
Frisch-Waugh-Lovell the slopes of the dummy regression equal those of the (weighted) group-demeaned outcome on
the group-demeaned regressors, and because the clusters are the groups, each group's summed dummy score is zero,
so the clustered sandwich of the slopes is also the same. The dummy regression (statsmodels WLS with ~50 dummy
columns, a pseudo-inverse of an n x 60 matrix per fit) made the county models' slowest step; the test checks the
within fit against statsmodels' dummy regression to 1e-8.

**Standard errors**: cluster-robust by group, ``V = G/(G-1) (X'WX)^-1 (sum_g s_g s_g') (X'WX)^-1`` with
``s_g`` the summed (weighted) scores of group ``g`` - statsmodels ``cov_type="cluster"`` with
``use_correction=False`` times ``G/(G-1)`` (:mod:`analysis.estimators.vcov`). Wald intervals on the normal
scale (``interval`` "z"; with about 40 groups a t reference would widen them by about 2%).

Record: model ``group_fixed_effects``, design ``weighted`` or ``unweighted``, vcov ``cluster``,
``n_groups`` the groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimators.formula import covariate_matrix
from analysis.estimators.records import (
    ModelSpec,
    complete_cases,
    exposure_records,
    failed_records,
    normalised_weights,
)
from analysis.estimators.vcov import with_small_sample_factor

MODEL = "group_fixed_effects"


def groups_with_contrast(frame: pd.DataFrame, group: str) -> tuple[pd.DataFrame, list[str]]:
    """Rows of groups with 2+ rows (a lone row has no within-group contrast), and the dropped groups."""
    sizes = frame.groupby(group)[group].transform("size")
    dropped = sorted(frame.loc[sizes < 2, group].astype(str).unique())
    return frame.loc[sizes >= 2], dropped


def within_fit(y: np.ndarray, x: np.ndarray, codes: np.ndarray, w: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Slopes and uncorrected group-clustered covariance of ``y ~ x + group dummies`` (WLS with weights ``w``).

    Demeans ``y`` and ``x`` within each group (weighted means), then as statsmodels' ``WLS`` does: the
    pseudo-inverse ``P`` of the whitened regressors ``sqrt(w) x``, ``b = P sqrt(w) y``, bread ``P P'``, and the
    cluster meat ``sum_g s_g s_g'`` with ``s_g = sum_(i in g) w_i x_i e_i`` (``use_correction=False``).
    ``codes`` are the group codes 0..G-1, which are also the clusters.
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    n_groups = int(codes.max()) + 1
    wsum = np.bincount(codes, weights=w, minlength=n_groups)
    yx = np.column_stack([y, x])
    sums = np.zeros((n_groups, yx.shape[1]))
    np.add.at(sums, codes, yx * w[:, None])
    centred = yx - (sums / wsum[:, None])[codes]
    root = np.sqrt(w)
    pinv = np.linalg.pinv(centred[:, 1:] * root[:, None])
    beta = pinv @ (centred[:, 0] * root)
    bread = pinv @ pinv.T
    scores = centred[:, 1:] * (w * (centred[:, 0] - centred[:, 1:] @ beta))[:, None]
    meat = np.zeros((n_groups, scores.shape[1]))
    np.add.at(meat, codes, scores)
    return beta, bread @ (meat.T @ meat) @ bread


def fit_group_fixed_effects(
    data: pd.DataFrame, spec: ModelSpec, *, group: str, weight: str | None = None, weighted: bool = False,
    alpha: float = 0.05, validate: bool = True,
) -> pd.DataFrame:
    """OLS (or WLS) with a fixed effect per ``group``, SE clustered by group; records of the exposure term(s).

    ``weight`` is the weight column: used as WLS weights (normalised to mean 1) when ``weighted``, else it only
    restricts the sample to rows with a positive weight, so the weighted and unweighted fits of one model
    share one sample. A fit that fails numerically gives NaN records with ``converged`` False. ``validate=False``
    leaves the record-contract check to the caller (:func:`analysis.estimators.records.records_frame`).
    """
    if weighted and not weight:
        raise ValueError("a weighted group fixed-effects fit needs the weight column")
    outcome = spec.outcome
    frame = complete_cases(data, [outcome, *spec.variables(), group, weight], weight=weight)
    frame, lone = groups_with_contrast(frame, group)
    design = "weighted" if weighted else "unweighted"
    common = dict(levels=None, model=MODEL, design=design, vcov="cluster", n=len(frame), events=np.nan,
                  validate=validate)
    if frame.empty:
        return failed_records(spec, note="no complete rows", **common)
    frame = frame.copy()
    frame[group] = frame[group].astype(str)
    codes = pd.factorize(frame[group], sort=True)[0]
    try:
        x = covariate_matrix(frame, spec.rhs())
        beta, uncorrected = within_fit(frame[outcome].to_numpy(float), x.to_numpy(),
                                       codes, normalised_weights(frame[weight]) if weighted else None)
        params = pd.Series(beta, index=x.columns)
        cov, g = with_small_sample_factor(pd.DataFrame(uncorrected, index=x.columns, columns=x.columns), codes)
    except (np.linalg.LinAlgError, ValueError) as err:
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        return failed_records(spec, note=f"group fixed-effects fit failed ({type(err).__name__}: {text})", **common)
    se = pd.Series(np.sqrt(np.diag(cov)), index=cov.index)
    how = (f"weighted least squares (weight {weight}, normalised to mean 1)" if weighted
           else "ordinary least squares, each row counted once")
    lone_text = f"; {group}(s) with one row dropped: {', '.join(lone)}" if lone else ""
    note = (f"{how} with {group} fixed effects: within-{group} association, {len(frame)} rows in {g} groups; SE "
            f"cluster-robust by {group} ({g} clusters, uncorrected sandwich x G/(G-1)){lone_text}")
    return exposure_records(spec, params, se, converged=True, note=note, alpha=alpha,
                            n_groups=float(g), **common)
