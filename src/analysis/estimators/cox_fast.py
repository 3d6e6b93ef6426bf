"""The project's Cox fit (Efron ties, case weights, strata), vectorised: the NHANES models, the design-based fits
(:func:`analysis.estimators.survey.cox_design_fit` without delayed entry), :func:`analysis.estimators.survival.fit_cox`
and the specification curve all fit with it.

**Why hand-written.** A specification curve fits the same Cox model thousands of times on one table. The
library fits cost 0.3-1 s each on the NHANES table (lifelines' Newton-Raphson recomputes pandas-level risk
sets; its stratified fit loops over strata in Python, and
:func:`analysis.estimators.survival.cox_score_residuals` loops over event times in Python), which at 1,000+
specifications (some with 5 imputations each) would take tens of minutes. Here every quantity is a sort, a
cumulative sum and a few matrix products over all rows at once:

* rows are sorted by (stratum, time) once; the risk-set sums ``S0(t) = sum_{j in stratum, t_j >= t} w_j r_j``
  (and ``S1``) are reverse cumulative sums within strata;
* Efron's approximation splits an event time with ``d`` tied deaths into ``d`` terms ``k = 0..d-1`` with
  ``S0 - k/d S0_dead`` (and ``S1``, ``S2`` likewise) and weight ``wbar`` (the deaths' mean weight), as
  lifelines and R ``coxph(ties = "efron")`` do; the terms of every tie group are laid out in one array;
* the information needs ``sum_terms dL S2`` with ``S2`` a p x p sum over the risk set: it is
  ``X' diag(w r cumA) X`` (``cumA_j``, the summed hazard increments of the event times at or before ``t_j``),
  minus the tied deaths' Efron share ``X_D' diag(w r Af) X_D``, so no n x p x p array is built;
* Newton-Raphson with step halving on the log partial likelihood, to a Newton decrement below ``tol``.

:func:`efron_score_residuals` gives the same weighted score residuals as
:func:`analysis.estimators.survival.cox_score_residuals` (R's ``resid(coxph, "score")`` for Efron ties)
without its loops, so the design-based (:func:`analysis.estimators.survey.domain_variance`) and cluster-robust
variances of the existing estimators apply unchanged. tests/estimators/test_cox_fast.py checks coefficients,
information and residuals against lifelines and those estimators to 1e-8 on simulated data with ties,
weights and strata, tests/estimators/test_specification_curve.py the curve's records against ``fit_cox_design``
and ``fit_cox`` (every design); on the NHANES table 54 specifications agree with them to 1.1e-9 (estimates) and
3.4e-9 (relative SE) (benchmarks/speccurve_check_nhanes.py). A single design-based fit costs about 0.04 s
here against lifelines' 0.1 s, a fit stratified by PSU 0.05 s against 1.5 s (2026-12-07, loaded machine).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CoxFit:
    """A Cox fit: coefficients, the information matrix (minus the Hessian of the log partial likelihood) and
    its inverse (the model-based covariance, the 'bread' of the sandwich)."""

    params: np.ndarray
    information: np.ndarray
    covariance: np.ndarray
    loglik: float
    iterations: int
    converged: bool
    #: the sorted rows and tie groups of the fit, for :func:`efron_score_residuals` of the same data
    layout: _Layout | None = field(default=None, repr=False, compare=False)

    @property
    def problem(self) -> str:
        """"" for a converged fit, else what a record's note says about it."""
        return "" if self.converged else f"Newton-Raphson did not converge in {self.iterations} iterations"


class _Layout:
    """Rows sorted by (stratum, time); tie groups (stratum, time) and the Efron terms of the groups with deaths."""

    def __init__(self, time, event, weights, strata):
        n = len(time)
        self.time = np.asarray(time, dtype=float)
        self.event = np.asarray(event, dtype=float) > 0
        self.weights = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
        codes = np.zeros(n, dtype=np.int64) if strata is None else np.unique(np.asarray(strata), return_inverse=True)[1]
        self.order = np.lexsort((self.time, codes))
        t, g = self.time[self.order], codes[self.order]
        self.d = self.event[self.order]
        self.w = self.weights[self.order]
        new_group = np.r_[True, (t[1:] != t[:-1]) | (g[1:] != g[:-1])]
        self.group = np.cumsum(new_group) - 1  # tie group of each sorted row
        n_groups = int(self.group[-1]) + 1 if n else 0
        new_stratum = np.r_[True, g[1:] != g[:-1]]
        stratum_start = np.flatnonzero(new_stratum)
        stratum_end = np.r_[stratum_start[1:], n]  # one past the stratum's last row
        self.stratum_end_of_row = np.repeat(stratum_end, np.diff(np.r_[stratum_start, n]))
        self.group_first = np.flatnonzero(new_group)
        # first tie group of each row's stratum, for cumulative sums over event times restarted per stratum
        first_group_of_stratum = self.group[stratum_start]
        self.stratum_first_group = np.repeat(first_group_of_stratum, np.diff(np.r_[stratum_start, n]))
        dead_group = self.dead_group = self.group[self.d]
        self.single_stratum = len(stratum_start) <= 1
        self.n_dead = np.bincount(dead_group, minlength=n_groups).astype(float)
        self.w_dead = np.bincount(dead_group, weights=self.w[self.d], minlength=n_groups)
        self.event_groups = np.flatnonzero(self.n_dead > 0)
        counts = self.n_dead[self.event_groups].astype(np.int64)
        self.term_group = np.repeat(self.event_groups, counts)  # Efron terms: d per event group
        k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        self.term_frac = k / np.repeat(counts, counts)
        self.term_wbar = (self.w_dead / np.maximum(self.n_dead, 1))[self.term_group]
        self.n_groups = n_groups

    def risk_sums(self, values: np.ndarray) -> np.ndarray:
        """``sum_{j in stratum, t_j >= t_i} values_j`` for every sorted row ``i`` (values: n or n x p)."""
        tail = np.cumsum(values[::-1], axis=0)[::-1]
        if self.single_stratum:  # nothing to subtract (the end of every row's stratum is past the last row)
            return tail
        tail = np.concatenate([tail, np.zeros((1, *values.shape[1:]))])
        return tail[:-1] - tail[self.stratum_end_of_row]

    def dead_sums(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` over the deaths of each tie group (n_groups rows)."""
        return group_sums(self.dead_group, values[self.d], self.n_groups)

    def per_row_cumulative(self, per_group: np.ndarray) -> np.ndarray:
        """For each sorted row, the sum of ``per_group`` over the tie groups of its stratum at or before its time."""
        cum = np.cumsum(per_group, axis=0)
        before = np.concatenate([np.zeros((1, *per_group.shape[1:])), cum])
        return cum[self.group] - before[self.stratum_first_group]


def group_sums(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """``out[g] = sum of values[i] over i with group[i] == g`` (values: n or n x p), added in row order: the sums of
    ``np.add.at`` bit for bit (each is one running double sum per group), but with ``np.bincount``, which is
    many times faster than ``np.add.at``."""
    if values.ndim == 1:
        return np.bincount(group, weights=values, minlength=n_groups)
    out = np.empty((n_groups, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(group, weights=values[:, j], minlength=n_groups)
    return out


def _terms(layout: _Layout, x: np.ndarray, lp: np.ndarray):
    """Per Efron term: s0, s1 (terms x p) and the hazard increment dL = wbar / s0, with risk scores ``r``."""
    r = np.exp(lp - lp.max())
    wr = layout.w * r
    s0_row, s1_row = layout.risk_sums(wr), layout.risk_sums(wr[:, None] * x)
    first = layout.group_first
    s0_dead, s1_dead = layout.dead_sums(wr), layout.dead_sums(wr[:, None] * x)
    g, f = layout.term_group, layout.term_frac
    s0 = s0_row[first][g] - f * s0_dead[g]
    s1 = s1_row[first][g] - f[:, None] * s1_dead[g]
    return r, wr, s0, s1, layout.term_wbar / s0


def _loglik_grad_info(layout: _Layout, x: np.ndarray, beta: np.ndarray):
    lp = x @ beta
    r, wr, s0, s1, dl = _terms(layout, x, lp)
    d, w = layout.d, layout.w
    xd = x[d]
    shift = lp.max()
    loglik = float(np.sum(w[d] * lp[d]) - np.sum(layout.term_wbar * (np.log(s0) + shift)))
    grad = (w[d, None] * xd).sum(axis=0) - dl @ s1
    g = layout.term_group
    A = np.bincount(g, weights=dl, minlength=layout.n_groups)
    Af = np.bincount(g, weights=dl * layout.term_frac, minlength=layout.n_groups)
    cumA = layout.per_row_cumulative(A)
    xbar_part = s1 * np.sqrt(dl / s0)[:, None]
    info = (x.T @ (x * (wr * cumA)[:, None]) - xd.T @ (xd * (wr[d] * Af[layout.dead_group])[:, None])
            - xbar_part.T @ xbar_part)
    return loglik, grad, info


def efron_cox(X, time, event, weights=None, strata=None, *, tol: float = 1e-16, max_iter: int = 100) -> CoxFit:
    """Weighted (case weights), optionally stratified, Efron-ties Cox fit by Newton-Raphson with step halving.

    Stops when the Newton decrement ``g' I^-1 g`` falls below ``tol`` (lifelines' criterion, tighter) or the
    Newton step below 1e-13 in every coefficient (rounding floor);
    ``converged`` is False when ``max_iter`` is reached. Raises numpy's LinAlgError on a singular information
    (e.g. a covariate constant in the sample).
    """
    layout = _Layout(time, event, weights, strata)
    x = np.asarray(X, dtype=float)[layout.order]
    beta = np.zeros(x.shape[1])
    loglik, grad, info = _loglik_grad_info(layout, x, beta)
    converged, iterations = False, 0
    while iterations < max_iter:
        iterations += 1
        step = np.linalg.solve(info, grad)
        decrement = float(grad @ step)
        if decrement < tol or np.max(np.abs(step), initial=0.0) < 1e-13:
            converged = True
            break
        scale = 1.0
        while True:
            trial = beta + scale * step
            new = _loglik_grad_info(layout, x, trial)
            if np.isfinite(new[0]) and new[0] >= loglik - 1e-12 * abs(loglik) or scale < 1e-8:
                break
            scale /= 2
        beta, (loglik, grad, info) = trial, new
    covariance = np.linalg.inv(info)
    return CoxFit(params=beta, information=info, covariance=covariance, loglik=loglik, iterations=iterations,
                  converged=converged, layout=layout)


def efron_score_residuals(X, time, event, beta, weights=None, strata=None, *, layout: _Layout | None = None
                          ) -> np.ndarray:
    """Weighted Efron score residuals, one row per subject in the input order: the same quantity as
    :func:`analysis.estimators.survival.cox_score_residuals` (``ties="efron"``, no delayed entry), vectorised.

    ``U_i = w_i [delta_i (x_i - mean_k xbar_k(t_i)) - r_i sum_{t <= t_i} sum_k c_ik (x_i - xbar_k) dL_k]``,
    ``c_ik = 1 - k/d`` for the deaths at ``t`` and 1 otherwise (that function's docstring). ``layout``: the
    ``CoxFit.layout`` of a fit on the same ``time``, ``event``, ``weights`` and ``strata`` (saves sorting again).
    """
    layout = _Layout(time, event, weights, strata) if layout is None else layout
    x = np.asarray(X, dtype=float)[layout.order]
    r, _, s0, s1, dl = _terms(layout, x, x @ np.asarray(beta, dtype=float))
    g, f = layout.term_group, layout.term_frac
    xbar = s1 / s0[:, None]
    n_groups, p = layout.n_groups, x.shape[1]

    def by_group(values):
        return group_sums(g, values, n_groups)

    A, B = by_group(dl), by_group(dl[:, None] * xbar)
    A_dead, B_dead = by_group((1 - f) * dl), by_group(((1 - f) * dl)[:, None] * xbar)
    xbar_mean = by_group(xbar) / np.maximum(layout.n_dead, 1)[:, None]
    cumA, cumB = layout.per_row_cumulative(A), layout.per_row_cumulative(B)
    u = -r[:, None] * (x * cumA[:, None] - cumB)
    d, gd = layout.d, layout.group[layout.d]
    u[d] += r[d, None] * ((x[d] * A[gd][:, None] - B[gd]) - (x[d] * A_dead[gd][:, None] - B_dead[gd]))
    u[d] += x[d] - xbar_mean[gd]
    out = np.empty((len(x), p))
    out[layout.order] = layout.w[:, None] * u
    return out
