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

The hot loop (profiled on the specification curve, issue 23): a reverse cumulative sum waits for each addition
before the next, so :func:`reverse_cumsum` runs two columns per instruction (a complex view); the risk sums are
kept at the tie groups' first rows only; the deaths' rows and their weighted sum are taken once per fit, not
once per iteration; and the score residuals start from the fit's last evaluation. Every one of these gives
the same bits as the plain form (checked on 189 NHANES fits and in tests/estimators/test_cox_fast.py), so the
results did not move; a fit costs about 30% less CPU than before.

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
        if strata is None:  # the permutation of lexsort((time, zeros)): a stable sort by time
            codes = np.zeros(n, dtype=np.int64)
            self.order = np.argsort(self.time, kind="stable")
        else:
            codes = np.unique(np.asarray(strata), return_inverse=True)[1]
            self.order = np.lexsort((self.time, codes))
        t, g = self.time[self.order], codes[self.order]
        self.d = self.event[self.order]
        self.dead = np.flatnonzero(self.d)  # the sorted rows of the deaths (indexing by position, not by mask)
        self.w = self.weights[self.order]
        self.w_d = self.w[self.dead]
        new_group = np.r_[True, (t[1:] != t[:-1]) | (g[1:] != g[:-1])]
        self.group = np.cumsum(new_group) - 1  # tie group of each sorted row
        n_groups = int(self.group[-1]) + 1 if n else 0
        new_stratum = np.r_[True, g[1:] != g[:-1]]
        stratum_start = np.flatnonzero(new_stratum)
        stratum_end = np.r_[stratum_start[1:], n]  # one past the stratum's last row
        self.group_first = np.flatnonzero(new_group)
        self.single_stratum = len(stratum_start) <= 1
        # one past the last row of the stratum of each group's first row, where its reverse cumulative sum stops
        stratum_end_of_row = np.repeat(stratum_end, np.diff(np.r_[stratum_start, n]))
        self.first_end = stratum_end_of_row[self.group_first]
        self.first_end_inside = np.flatnonzero(self.first_end < n)
        # first tie group of each row's stratum, for cumulative sums over event times restarted per stratum
        first_group_of_stratum = self.group[stratum_start]
        self.stratum_first_group = np.repeat(first_group_of_stratum, np.diff(np.r_[stratum_start, n]))
        dead_group = self.dead_group = self.group[self.dead]
        self.n_dead = np.bincount(dead_group, minlength=n_groups).astype(float)
        self.w_dead = np.bincount(dead_group, weights=self.w_d, minlength=n_groups)
        self.event_groups = np.flatnonzero(self.n_dead > 0)
        counts = self.n_dead[self.event_groups].astype(np.int64)
        self.term_group = np.repeat(self.event_groups, counts)  # Efron terms: d per event group
        k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        self.term_frac = k / np.repeat(counts, counts)
        self.term_wbar = (self.w_dead / np.maximum(self.n_dead, 1))[self.term_group]
        self.n_groups = n_groups
        #: the last evaluation of a fit on this layout: (sorted X, the X given, beta, _Terms), for the residuals
        self.last = None

    def risk_sums(self, values: np.ndarray) -> np.ndarray:
        """``sum_{j in stratum, t_j >= t_i} values_j`` for the first sorted row ``i`` of every tie group (values:
        n or n x p; the risk set of the group's time). The reverse cumulative sum runs over every row (the same
        running sum, bit for bit, as a sum for every row); the stratum's end is subtracted at the groups only."""
        tail = reverse_cumsum(values)
        at_first = tail[self.group_first]
        if self.single_stratum:  # nothing to subtract (the end of every row's stratum is past the last row)
            return at_first
        past = np.zeros_like(at_first)
        inside = self.first_end_inside
        past[inside] = tail[self.first_end[inside]]
        return at_first - past

    def dead_sums(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` over the deaths of each tie group (n_groups rows)."""
        return group_sums(self.dead_group, values[self.dead], self.n_groups)

    def per_row_cumulative(self, per_group: np.ndarray) -> np.ndarray:
        """For each sorted row, the sum of ``per_group`` over the tie groups of its stratum at or before its time."""
        cum = np.cumsum(per_group, axis=0)
        if self.single_stratum:  # the stratum's first group is group 0: nothing before it to subtract
            return cum[self.group]
        before = np.concatenate([np.zeros((1, *per_group.shape[1:])), cum])
        return cum[self.group] - before[self.stratum_first_group]


def reverse_cumsum(values: np.ndarray) -> np.ndarray:
    """``out[i] = values[i] + out[i + 1]`` down the rows (values: n or n x p), the running sums of
    ``np.cumsum(values[::-1], axis=0)[::-1]`` bit for bit.

    A cumulative sum waits for each addition before the next (it runs at the latency of one addition per
    element, about 3.5 ns here, whatever the layout). Two columns viewed as one complex column run two of these
    chains in one instruction: complex addition adds the real and the imaginary parts, each exactly the double
    addition of its column, so the result is the same to the last bit at half the time (0.34 against 0.67 ms for
    12,000 x 12, measured 2026-12-07; tests/estimators/test_cox_fast.py checks the bits)."""
    if values.ndim != 2 or values.shape[1] < 2:
        return np.cumsum(values[::-1], axis=0)[::-1]
    n, p = values.shape
    paired = values if p % 2 == 0 and values.flags.c_contiguous else _even_columns(values)
    tail = np.cumsum(paired.view(np.complex128)[::-1], axis=0)[::-1]
    return tail.view(np.float64)[:, :p]


def _even_columns(values: np.ndarray) -> np.ndarray:
    """A C-ordered copy of ``values`` (n x p) with a column of zeros added when p is odd."""
    n, p = values.shape
    out = np.zeros((n, p + p % 2))
    out[:, :p] = values
    return out


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


@dataclass(frozen=True)
class _Terms:
    """Per Efron term at one ``beta``: s0, s1 (terms x p), the hazard increment dL = wbar / s0; per row the risk
    scores ``r`` (and ``w r``) and the summed increments ``cumA`` of the event times at or before its time."""

    r: np.ndarray
    wr: np.ndarray
    s0: np.ndarray
    s1: np.ndarray
    dl: np.ndarray
    cum_a: np.ndarray


def _terms(layout: _Layout, x: np.ndarray, lp: np.ndarray, x_even: np.ndarray | None = None) -> _Terms:
    x_even = _even_columns(x) if x_even is None else x_even
    r = np.exp(lp - lp.max())
    wr = layout.w * r
    p = x.shape[1]
    wrx = wr[:, None] * x_even  # x with an even number of columns (a zero column added), for reverse_cumsum
    s0_first, s1_first = layout.risk_sums(wr), layout.risk_sums(wrx)[:, :p]
    s0_dead, s1_dead = layout.dead_sums(wr), layout.dead_sums(wrx[:, :p])
    g, f = layout.term_group, layout.term_frac
    s0 = s0_first[g] - f * s0_dead[g]
    s1 = s1_first[g] - f[:, None] * s1_dead[g]
    dl = layout.term_wbar / s0
    cum_a = layout.per_row_cumulative(np.bincount(g, weights=dl, minlength=layout.n_groups))
    return _Terms(r, wr, s0, s1, dl, cum_a)


class _Problem:
    """One fit's sorted data and what stays fixed over the Newton iterations (the deaths' rows and weighted sum)."""

    def __init__(self, layout: _Layout, x: np.ndarray):
        self.layout, self.x = layout, x
        self.x_even = _even_columns(x)
        self.xd = x[layout.dead]
        self.wxd_sum = (layout.w_d[:, None] * self.xd).sum(axis=0)

    def loglik_grad_info(self, beta: np.ndarray):
        layout, x, xd = self.layout, self.x, self.xd
        lp = x @ beta
        terms = _terms(layout, x, lp, self.x_even)
        wr, s0, s1, dl = terms.wr, terms.s0, terms.s1, terms.dl
        dead = layout.dead
        shift = lp.max()
        loglik = float(np.sum(layout.w_d * lp[dead]) - np.sum(layout.term_wbar * (np.log(s0) + shift)))
        grad = self.wxd_sum - dl @ s1
        Af = np.bincount(layout.term_group, weights=dl * layout.term_frac, minlength=layout.n_groups)
        xbar_part = s1 * np.sqrt(dl / s0)[:, None]
        info = (x.T @ (x * (wr * terms.cum_a)[:, None]) - xd.T @ (xd * (wr[dead] * Af[layout.dead_group])[:, None])
                - xbar_part.T @ xbar_part)
        return loglik, grad, info, terms


def efron_cox(X, time, event, weights=None, strata=None, *, tol: float = 1e-16, max_iter: int = 100) -> CoxFit:
    """Weighted (case weights), optionally stratified, Efron-ties Cox fit by Newton-Raphson with step halving.

    Stops when the Newton decrement ``g' I^-1 g`` falls below ``tol`` (lifelines' criterion, tighter) or the
    Newton step below 1e-13 in every coefficient (rounding floor);
    ``converged`` is False when ``max_iter`` is reached. Raises numpy's LinAlgError on a singular information
    (e.g. a covariate constant in the sample).
    """
    layout = _Layout(time, event, weights, strata)
    problem = _Problem(layout, np.asarray(X, dtype=float)[layout.order])
    beta = np.zeros(problem.x.shape[1])
    loglik, grad, info, terms = problem.loglik_grad_info(beta)
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
            new = problem.loglik_grad_info(trial)
            if np.isfinite(new[0]) and new[0] >= loglik - 1e-12 * abs(loglik) or scale < 1e-8:
                break
            scale /= 2
        beta, (loglik, grad, info, terms) = trial, new
    covariance = np.linalg.inv(info)
    # the last evaluation was at the returned beta: the score residuals of this fit start from it
    layout.last = (problem.x, X, beta.copy(), terms)
    return CoxFit(params=beta, information=info, covariance=covariance, loglik=loglik, iterations=iterations,
                  converged=converged, layout=layout)


def efron_score_residuals(X, time, event, beta, weights=None, strata=None, *, layout: _Layout | None = None
                          ) -> np.ndarray:
    """Weighted Efron score residuals, one row per subject in the input order: the same quantity as
    :func:`analysis.estimators.survival.cox_score_residuals` (``ties="efron"``, no delayed entry), vectorised.

    ``U_i = w_i [delta_i (x_i - mean_k xbar_k(t_i)) - r_i sum_{t <= t_i} sum_k c_ik (x_i - xbar_k) dL_k]``,
    ``c_ik = 1 - k/d`` for the deaths at ``t`` and 1 otherwise (that function's docstring). ``layout``: the
    ``CoxFit.layout`` of a fit on the same ``time``, ``event``, ``weights`` and ``strata`` (saves sorting again;
    when ``X`` is the very array that fit was given, unchanged, and ``beta`` its estimate, the fit's last
    evaluation is reused instead of recomputed: the same numbers, bit for bit).
    """
    layout = _Layout(time, event, weights, strata) if layout is None else layout
    beta = np.asarray(beta, dtype=float)
    last = layout.last
    if last is not None and last[1] is X and np.array_equal(last[2], beta):
        x, terms = last[0], last[3]
    else:
        x = np.asarray(X, dtype=float)[layout.order]
        terms = _terms(layout, x, x @ beta)
    r, s0, s1, dl = terms.r, terms.s0, terms.s1, terms.dl
    g, f = layout.term_group, layout.term_frac
    xbar = s1 / s0[:, None]
    n_groups, p = layout.n_groups, x.shape[1]

    def by_group(values):
        return group_sums(g, values, n_groups)

    A, B = by_group(dl), by_group(dl[:, None] * xbar)
    A_dead, B_dead = by_group((1 - f) * dl), by_group(((1 - f) * dl)[:, None] * xbar)
    xbar_mean = by_group(xbar) / np.maximum(layout.n_dead, 1)[:, None]
    cumA, cumB = terms.cum_a, layout.per_row_cumulative(B)
    u = -r[:, None] * (x * cumA[:, None] - cumB)
    dead, gd = layout.dead, layout.dead_group
    xd = x[dead]
    ud = u[dead]
    ud += r[dead, None] * ((xd * A[gd][:, None] - B[gd]) - (xd * A_dead[gd][:, None] - B_dead[gd]))
    ud += xd - xbar_mean[gd]
    u[dead] = ud
    out = np.empty((len(x), p))
    out[layout.order] = layout.w[:, None] * u
    return out
