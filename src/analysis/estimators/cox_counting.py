"""Cox model in counting-process form, (entry, exit] rows, Efron ties, case weights: a vectorised Newton fit.

Why by hand: lifelines fits delayed entry (``CoxPHFitter(entry_col=...)``) and (start, stop] rows
(``CoxTimeVaryingFitter``) with a Python loop over the distinct event times at every Newton step; on an NHANES-sized
sample with age as the time scale that took about 3.3 s per fit, and 6 s against R ``svycoxph``'s 0.8 s in
``benchmarks/bench_r.py``. The model and the criterion here are R ``coxph(Surv(entry, exit, event) ~ ..., weights
= w, ties = "efron")``'s (Therneau & Grambsch 2000, section 3.3; survival's ``agfit4``), checked against R in the
tests (``tests/reference/survey_entry/``, ``tests/reference/cox_counting/``):

* a row is at risk at ``t`` when ``entry < t <= exit``; an event happens at ``exit``;
* at each distinct event time ``t`` with ``d`` events ``D`` (risk weights ``r_j = w_j exp(x_j' b)``), the Efron
  approximation subtracts the fraction ``k / d`` (``k = 0 .. d-1``) of the tied events' sums from the risk-set
  sums, and every term is weighted by the tied events' mean case weight (``coxph``'s convention with weights):
  ``log L = sum_D w_i x_i'b - mean_D(w) sum_k log(S0 - k/d E0)``, with ``S0 = sum_{risk set} r_j`` and ``E0 =
  sum_D r_j`` (and ``S1, E1, S2, E2`` with ``x`` and ``x x'``);
* the risk-set sums at every event time come from one sparse product (each row added at the first event time
  after its entry, removed after its exit) and a cumulative sum over the event times, so one Newton step is a
  few array passes;
* Newton-Raphson from 0 with step halving when the log-likelihood falls; it stops when the largest step is
  below ``tol`` (the final step is applied, so the estimate is accurate to about ``tol**2``). The covariates
  are centred first (the fit and the log-likelihood do not change; the exponentials cannot overflow).

The variance is the inverse of the (weighted) information, the model-based one; callers form sandwiches from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass
class CoxCountingFit:
    """Estimates, inverse information, log partial likelihood (Efron) and convergence of one fit."""

    params: np.ndarray
    variance: np.ndarray  # inverse of the information at the estimate
    log_likelihood: float
    converged: bool
    iterations: int
    message: str


class _RiskSets:
    """The data sorted for risk-set sums: event times, tie groups, exit and entry orders."""

    def __init__(self, x: np.ndarray, exit: np.ndarray, event: np.ndarray, entry: np.ndarray | None,
                 weights: np.ndarray):
        self.x, self.w = x, weights
        died = event > 0
        self.times = np.unique(exit[died])
        # Row j is at risk at the event times T_m with b_j <= m < a_j: a_j = #{T_m <= exit_j}, b_j = #{T_m <=
        # entry_j}. A difference matrix (+1 at b_j, -1 at a_j) turns per-row values into risk-set sums with one
        # sparse product and a cumulative sum over the (few) event times.
        n, m = len(exit), len(self.times)
        after = np.searchsorted(self.times, exit, side="right")
        before = np.zeros(n, dtype=int) if entry is None else np.searchsorted(self.times, entry, side="right")
        self.difference = sparse.csr_matrix(
            (np.concatenate([np.ones(n), -np.ones(n)]), (np.concatenate([before, after]), np.tile(np.arange(n), 2))),
            shape=(m + 1, n))
        self.sign = self.difference.data.copy()
        self.before, self.after = before, after
        self.base = np.column_stack([np.ones(n), x])  # the risk-weighted sums of these are S0 and S1
        rows = np.flatnonzero(died)
        self.events = rows[np.argsort(exit[rows], kind="stable")]
        self.event_time = np.searchsorted(self.times, exit[self.events])  # index m of each event's time
        self.deaths = np.bincount(self.event_time, minlength=len(self.times)).astype(float)
        starts = np.concatenate([[0], np.cumsum(self.deaths)[:-1]]).astype(int)
        self.group_start = starts
        rank = np.arange(len(self.events)) - starts[self.event_time]
        self.fraction = rank / self.deaths[self.event_time]  # k / d for the k-th of d tied events
        self.mean_weight = np.bincount(self.event_time, weights=weights[self.events],
                                       minlength=len(self.times)) / self.deaths

    def _at_risk(self, risk: np.ndarray) -> np.ndarray:
        """Risk-set sums of ``risk`` times (1, x) at each event time, one row per event time."""
        self.difference.data = self.sign * risk[self.difference.indices]
        return np.cumsum(self.difference @ self.base, axis=0)[:-1]

    def evaluate(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Log partial likelihood, score and information at ``beta``."""
        x, w = self.x, self.w
        eta = x @ beta
        risk = w * np.exp(eta)
        sums = self._at_risk(risk)
        s0, s1 = sums[:, 0], sums[:, 1:]
        ev, m = self.events, self.event_time
        tied = np.add.reduceat(risk[ev, None] * self.base[ev], self.group_start, axis=0)  # the events' own sums
        e0, e1 = tied[:, 0], tied[:, 1:]
        f = self.fraction
        den = s0[m] - f * e0[m]
        num1 = s1[m] - f[:, None] * e1[m]
        mw = self.mean_weight[m]
        loglik = float(w[ev] @ eta[ev] - mw @ np.log(den))
        mean1 = num1 / den[:, None]
        score = w[ev] @ x[ev] - mw @ mean1
        # sum_e mw/den (S2 - f E2) without S2 per event time: S2 enters linearly, so the terms of each row j add
        # up to r_j x_j x_j' times the sum of c_m = sum_{e at T_m} mw/den over the event times j is at risk at,
        # and those of each tied event i to r_i x_i x_i' times g_m = sum_{e at T_m} mw f / den at its own time.
        c = np.concatenate([[0.0], np.cumsum(np.bincount(m, weights=mw / den, minlength=len(s0)))])
        g = np.bincount(m, weights=mw * f / den, minlength=len(s0))
        at_risk = risk * (c[self.after] - c[self.before])
        information = (x.T @ (x * at_risk[:, None]) - x[ev].T @ (x[ev] * (risk[ev] * g[m])[:, None])
                       - np.einsum("e,ei,ej->ij", mw, mean1, mean1, optimize=True))
        return loglik, score, information


def fit_cox_counting(
    x, exit, event, *, entry=None, weights=None, tol: float = 1e-9, max_iter: int = 100,
) -> CoxCountingFit:
    """Efron-ties Cox fit of ``event`` at ``exit`` on the columns of ``x``, at risk on ``(entry, exit]`` (``entry``
    None: from time -inf), case ``weights`` (None: 1). Raises ValueError for an entry not before its exit, negative
    weights, missing values or no events."""
    x = np.asarray(x, dtype=float)
    exit, event = np.asarray(exit, dtype=float), np.asarray(event, dtype=float)
    w = np.ones(len(exit)) if weights is None else np.asarray(weights, dtype=float)
    start = None if entry is None else np.asarray(entry, dtype=float)
    if x.ndim != 2 or not (len(x) == len(exit) == len(event) == len(w)) or (start is not None and len(start) != len(x)):
        raise ValueError("fit_cox_counting: x, exit, event, entry and weights differ in length")
    arrays = [x.ravel(), exit, event, w] + ([start] if start is not None else [])
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError("fit_cox_counting: missing or infinite values; pass complete cases")
    if (w < 0).any():
        raise ValueError("fit_cox_counting: negative weights")
    if start is not None and not np.all(start < exit):
        bad = int(np.flatnonzero(~(start < exit))[0])
        raise ValueError(f"fit_cox_counting: row {bad} enters at {start[bad]:g}, not before its exit {exit[bad]:g}")
    if not (event > 0).any():
        raise ValueError("fit_cox_counting: no events")
    centred = x - np.average(x, axis=0, weights=w if w.sum() > 0 else None)
    sets = _RiskSets(centred, exit, event, start, w)
    beta = np.zeros(x.shape[1])
    loglik, score, information = sets.evaluate(beta)
    converged, message = False, f"no convergence in {max_iter} Newton steps"
    iteration = 0
    for iteration in range(1, max_iter + 1):
        step = np.linalg.solve(information, score)
        halvings = 0
        while True:
            trial = beta + step
            new = sets.evaluate(trial)
            if np.isfinite(new[0]) and new[0] >= loglik - 1e-12 * abs(loglik):
                break
            step, halvings = step / 2, halvings + 1
            if halvings > 30:
                raise np.linalg.LinAlgError("fit_cox_counting: the Newton step does not increase the likelihood")
        beta, (loglik, score, information) = trial, new
        if np.max(np.abs(step)) < tol:
            converged, message = True, f"Newton-Raphson converged in {iteration} steps"
            break
    variance = np.linalg.inv(information)
    return CoxCountingFit(params=beta, variance=variance, log_likelihood=loglik, converged=converged,
                          iterations=iteration, message=message)
