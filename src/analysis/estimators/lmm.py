"""Linear mixed model with random effects per group, REML, from per-group sufficient statistics.

Why by hand: statsmodels ``MixedLM`` loops over groups in Python at every likelihood evaluation; with
20,000 persons and a random intercept and slope it took 100 s on our machine (the cohort target is 60 s),
lme4 is R. The model here is the same (``y = X b + Z_i u_i + e``, ``u_i ~ N(0, sigma^2 Psi)``, ``e ~ N(0,
sigma^2 I)``, REML) and its estimates are checked against statsmodels MixedLM in the tests (coefficients to
1e-5); only the arithmetic is organised differently:

* Per group, the cross-products ``Z_i'Z_i``, ``Z_i'X_i``, ``Z_i'y_i`` are computed once. With ``Psi = L L'``
  and ``M_i = I + L' Z_i'Z_i L`` (q x q), Woodbury gives ``sigma^2 V_i^-1 = I - Z_i L M_i^-1 L' Z_i'`` and
  ``log|V_i / sigma^2| = log|M_i|`` (Bates et al. 2015, J Stat Softw 67(1), section 3), so every
  likelihood evaluation is a batched q x q solve over groups, not a loop.
* REML criterion with ``sigma^2`` and ``b`` profiled out:
  ``-2 l_R = sum_i log|M_i| + log|X'WX| + (n - p) (1 + log(2 pi r'Wr / (n - p)))``, ``W = sigma^2 V^-1``.
* The Cholesky factor ``L`` (lower triangular, diagonal >= 0; lme4's ``theta``) is optimised with L-BFGS-B
  and the *analytic* gradient of the profiled criterion (:meth:`GroupStats.criterion_and_gradient`; checked
  against finite differences in the tests). When L-BFGS-B stops short (its line search fails once the
  criterion, of order n, changes by less than its rounding, with a projected gradient still above
  :data:`GRADIENT_TOL`), a few Newton steps finish the fit (:func:`newton_refine`: the Hessian by central
  differences of the analytic gradient, as lme4 computes its Hessian for its convergence check). Only when
  those do not converge either is the point polished with Nelder-Mead and the better REML value kept. A diagonal
  entry of ``L`` that L-BFGS-B left at its bound 0 is a saddle, not necessarily a variance on the boundary (the
  criterion depends on it only through its square, so its gradient there is always 0): the fit restarts from a
  point off the bound when that lowers the criterion (:func:`off_the_boundary`; 19 of the 48 county random-slope
  fits of the places study stopped at such a saddle, up to 50 units of ``-2 l_R`` above lme4's optimum). On the
  SYNTHETIC cohort (117k rows, 19.8k groups) this fit is several times faster than ``lme4::lmer`` with the
  same estimates (benchmarks/bench_r.py).
* Fixed-effect covariance: ``sigma^2 (X'WX)^-1`` at the estimate, lme4's convention (statsmodels' ``bse_fe``
  inverts the full Hessian with the variance parameters and is about 6% larger, ../shared/TOOLING.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize


@dataclass
class LMMResult:
    """REML fit: fixed effects with SEs, random-effect covariance (``sigma^2 Psi``), residual variance."""

    params: pd.Series
    bse: pd.Series
    cov_params: pd.DataFrame
    cov_re: np.ndarray
    scale: float
    reml_criterion: float  # -2 x REML log-likelihood
    converged: bool
    n_obs: int
    n_groups: int
    message: str
    #: group labels (sorted, as ``np.unique``), each group's BLUP (conditional mode, ``g x q``) and its conditional
    #: covariance given the data, the fixed effects and the variances (``g x q x q``; lme4 ``ranef(condVar=TRUE)``)
    groups: np.ndarray | None = None
    random_effects: np.ndarray | None = None
    random_effects_cov: np.ndarray | None = None


def _batched_inverse(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse and log-determinant of a stack of small symmetric positive-definite matrices."""
    chol = np.linalg.cholesky(m)
    logdet = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    inv = np.linalg.inv(m)
    return inv, logdet


class GroupStats:
    """Per-group cross-products of a data set: everything the REML criterion needs."""

    def __init__(self, y: np.ndarray, x: np.ndarray, z: np.ndarray, groups: np.ndarray):
        codes, index = np.unique(groups, return_inverse=True)
        g, q, p = len(codes), z.shape[1], x.shape[1]
        self.n, self.p, self.q, self.g = len(y), p, q, g
        self.ztz = np.zeros((g, q, q))
        self.ztx = np.zeros((g, q, p))
        self.zty = np.zeros((g, q))
        def total(values: np.ndarray) -> np.ndarray:
            return np.bincount(index, weights=values, minlength=g)

        for a in range(q):
            self.zty[:, a] = total(z[:, a] * y)
            for b in range(q):
                self.ztz[:, a, b] = total(z[:, a] * z[:, b])
            for b in range(p):
                self.ztx[:, a, b] = total(z[:, a] * x[:, b])
        self.xtx, self.xty, self.yty = x.T @ x, x.T @ y, float(y @ y)
        self.labels = codes

    def random_effects(self, theta: np.ndarray, beta: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Each group's BLUP ``u_i = L M_i^-1 L' Z_i'(y_i - X_i b)`` and its conditional covariance
        ``sigma^2 L M_i^-1 L'`` (Bates et al. 2015, section 3; statsmodels ``random_effects`` and
        ``random_effects_cov``, lme4 ``ranef(condVar = TRUE)``), at Cholesky parameters ``theta``."""
        low = self.lower(theta)
        m = np.eye(self.q) + np.matmul(np.matmul(low.T, self.ztz), low)
        minv = np.linalg.inv(m)
        zr = self.zty - self.ztx @ beta  # Z_i'r_i, one row per group
        blup = np.einsum("ij,gjk,gk->gi", low, minv, zr @ low, optimize=True)
        cov = scale * np.matmul(np.matmul(low, minv), low.T)
        return blup, cov

    def lower(self, theta: np.ndarray) -> np.ndarray:
        q = self.q
        low = np.zeros((q, q))
        low[np.tril_indices(q)] = theta
        return low

    def parts(self, theta: np.ndarray):
        """X'WX, X'Wy, y'Wy and sum log|M_i| at Cholesky parameters ``theta``."""
        return self._terms(theta)[:4]

    def _terms(self, theta: np.ndarray):
        """The criterion's parts and the per-group pieces its gradient reuses (batched over groups)."""
        low = self.lower(theta)
        la = np.matmul(low.T, self.ztz)  # L' Z_i'Z_i
        m = np.eye(self.q) + np.matmul(la, low)
        minv, logdet = _batched_inverse(m)
        lzx = np.matmul(low.T, self.ztx)  # L' Z'X
        lzy = self.zty @ low  # L' Z'y, one row per group
        mx = np.matmul(minv, lzx)
        xwx = self.xtx - np.einsum("gik,gil->kl", lzx, mx, optimize=True)
        xwy = self.xty - np.einsum("gik,gi->k", mx, lzy, optimize=True)
        my = np.einsum("gij,gj->gi", minv, lzy)
        ywy = self.yty - float(np.einsum("gi,gi->", lzy, my))
        return xwx, xwy, ywy, float(logdet.sum()), low, la, minv, mx, my

    def criterion(self, theta: np.ndarray) -> float:
        """-2 x REML log-likelihood, sigma^2 and the fixed effects profiled out."""
        return self.criterion_and_gradient(theta, gradient=False)[0]

    def criterion_and_gradient(self, theta: np.ndarray, gradient: bool = True) -> tuple[float, np.ndarray]:
        """-2 x REML log-likelihood (sigma^2 and the fixed effects profiled out) and its gradient in ``theta``.

        With ``W_i = (I + Z_i L L' Z_i')^-1``, ``G_i = Z_i' W_i X_i = Z_i'X_i - A_i L M_i^-1 L' Z_i'X_i``
        (``A_i = Z_i'Z_i``), ``s_i = Z_i' W_i r_i`` at the profiled ``beta`` (``r = y - X beta``) and
        ``dV_i = Z_i (dL L' + L dL') Z_i'``, the derivative in the entry ``L_ab`` is
        ``2 [sum_i M_i^-1 L' A_i]_ba - 2 [L' sum_i G_i C G_i']_ba - 2 (n - p) / rss [L' sum_i s_i s_i']_ba``
        with ``C = (X'WX)^-1``: the three terms are ``d log|M|``, ``d log|X'WX|`` and ``(n - p) d log rss``
        (``beta`` profiled out, so ``d rss = r' dW r``). Every piece is a batch of q x q or q x p products over
        groups, so one evaluation costs about as much as the criterion itself.
        """
        nothing = np.full(len(theta), np.nan)
        try:
            xwx, xwy, ywy, logdet, low, la, minv, mx, my = self._terms(theta)
            chol = np.linalg.cholesky(xwx)
        except np.linalg.LinAlgError:
            return np.inf, nothing
        beta = np.linalg.solve(xwx, xwy)
        rss = ywy - float(beta @ xwy)
        dof = self.n - self.p
        if rss <= 0:
            return np.inf, nothing
        value = logdet + 2 * float(np.log(np.diagonal(chol)).sum()) + dof * (1 + np.log(2 * np.pi * rss / dof))
        if not gradient:
            return value, nothing
        al = np.swapaxes(la, 1, 2)  # A_i L
        g = self.ztx - np.matmul(al, mx)  # G_i = Z'W X
        ze = self.zty - self.ztx @ beta  # Z'r, one row per group
        s = ze - np.einsum("gij,gj->gi", al, my - (mx @ beta))  # Z'W r
        cov = np.linalg.inv(xwx)
        h = np.einsum("gip,pr,gjr->ij", g, cov, g, optimize=True)
        t = np.einsum("gij,gjk->ik", minv, la)  # sum_i M_i^-1 L' A_i
        d = 2 * t - 2 * low.T @ h - 2 * dof / rss * (low.T @ (s.T @ s))  # [.]_ba at row b, column a
        rows, cols = np.tril_indices(self.q)
        return value, d[cols, rows]


#: L-BFGS-B settings: the criterion is of order n, so the relative decrease test is set near machine precision
#: and the fit stops on the projected gradient instead.
LBFGSB_OPTIONS = {"ftol": 1e-15, "gtol": 1e-7, "maxiter": 500}
#: The fit counts as converged without a polish when L-BFGS-B reports success and the largest projected
#: gradient entry of the REML criterion (-2 log L) is below this.
GRADIENT_TOL = 1e-3


def projected_gradient(theta: np.ndarray, gradient: np.ndarray, bounds) -> np.ndarray:
    """The gradient with the entries that push against an active lower bound (a diagonal of L at 0) set to 0."""
    lower = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
    return np.where((theta <= lower) & (gradient > 0), 0.0, gradient)


#: Newton refinement: at most this many steps, each with a Hessian from 2 x n_theta gradient evaluations.
NEWTON_MAX_STEPS = 20


def newton_refine(fun_and_gradient, theta: np.ndarray, bounds, *, tol: float | None = None,
                  max_steps: int = NEWTON_MAX_STEPS) -> tuple[np.ndarray, float, int, bool]:
    """Newton steps on the free parameters from ``theta`` until the largest projected gradient entry is at most
    ``tol`` (default :data:`GRADIENT_TOL`). Returns the point, its criterion, the number of steps and whether
    the gradient converged.

    The Hessian is symmetrised central differences of the analytic gradient (step ``1e-5 * max(1, |theta_k|)``);
    parameters held at an active lower bound stay there. A step is halved until it lowers the largest projected
    gradient entry: near the optimum the criterion's own decrease is below its rounding, the gradient's is not.
    Why by hand: scipy's trust-region Newton methods take no bounds, and L-BFGS-B is the method that stopped.
    """
    tol = GRADIENT_TOL if tol is None else tol
    lower = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
    theta = np.array(theta, dtype=float)
    value, gradient = fun_and_gradient(theta)
    worst = np.max(np.abs(projected_gradient(theta, gradient, bounds)), initial=0.0)
    for step_count in range(max_steps + 1):
        if np.isfinite(worst) and worst <= tol:
            return theta, float(value), step_count, True
        if step_count == max_steps:
            break
        free = ~((theta <= lower) & (gradient > 0))
        h = 1e-5 * np.maximum(1.0, np.abs(theta))
        hessian = np.empty((len(theta), len(theta)))
        for k in range(len(theta)):
            e = np.zeros(len(theta))
            e[k] = h[k]
            hessian[:, k] = (fun_and_gradient(theta + e)[1] - fun_and_gradient(theta - e)[1]) / (2 * h[k])
        hessian = (hessian + hessian.T) / 2
        try:
            direction = np.zeros(len(theta))
            direction[free] = np.linalg.solve(hessian[np.ix_(free, free)], gradient[free])
        except np.linalg.LinAlgError:
            break
        length = 1.0
        while length > 1e-6:
            trial = np.maximum(theta - length * direction, lower)
            trial_value, trial_gradient = fun_and_gradient(trial)
            trial_worst = np.max(np.abs(projected_gradient(trial, trial_gradient, bounds)), initial=0.0)
            if np.isfinite(trial_value) and trial_worst < worst:
                break
            length /= 2
        else:
            break
        theta, value, gradient, worst = trial, trial_value, trial_gradient, trial_worst
    return theta, float(value), step_count, False


#: Steps tried off a diagonal entry of ``L`` that ended at its bound 0 (times ``max(1, max |theta|)``), and how
#: many restarts from such a point a fit may make.
ESCAPE_STEPS = (0.3, 0.1, 0.03, 0.01, 0.001)
BOUNDARY_ESCAPES = 3


def off_the_boundary(criterion, fit, diagonal: list[int]) -> np.ndarray | None:
    """A point that lowers the criterion by moving a diagonal entry of ``L`` off its bound 0, or None.

    Why: the criterion depends on a diagonal entry ``c`` of ``L`` only through ``c^2`` (``L L'``), so its gradient
    in ``c`` is exactly 0 at ``c = 0`` whatever the curvature. L-BFGS-B, whose line search can clip ``c`` to the
    bound, then stops there with a zero projected gradient although the criterion falls as ``c`` grows: a saddle,
    not a variance on the boundary (a county random-slope fit of the places study stopped 25 units of ``-2 l_R``
    above lme4's optimum this way, with the intercept-slope correlation at 1). The steps of :data:`ESCAPE_STEPS` are
    tried on each such entry; the best point below the fit's value is returned.
    """
    theta = np.asarray(fit.x, dtype=float)
    scale = max(1.0, float(np.max(np.abs(theta), initial=0.0)))
    best, best_value = None, float(fit.fun) - 1e-9 * max(1.0, abs(float(fit.fun)))
    for k in diagonal:
        if theta[k] > 0:
            continue
        for step in ESCAPE_STEPS:
            trial = theta.copy()
            trial[k] = step * scale
            value = criterion(trial)
            if value < best_value:
                best, best_value = trial, value
    return best


def fit_lmm(y, x: pd.DataFrame, z: np.ndarray, groups, *, start: np.ndarray | None = None) -> LMMResult:
    """REML fit of ``y ~ x`` with random effects ``z`` (columns: intercept, slope, ...) per group.

    ``x`` must contain the intercept column if one is wanted. Raises ValueError for mismatched lengths,
    missing values or fewer than two groups.
    """
    y = np.asarray(y, dtype=float)
    xm = np.asarray(x, dtype=float)
    z = np.asarray(z, dtype=float)
    groups = np.asarray(groups)
    if not (len(y) == len(xm) == len(z) == len(groups)):
        raise ValueError(f"fit_lmm: y, x, z and groups differ in length ({len(y)}, {len(xm)}, {len(z)}, {len(groups)})")
    if not (np.isfinite(y).all() and np.isfinite(xm).all() and np.isfinite(z).all()):
        raise ValueError("fit_lmm: missing or infinite values in y, x or z; pass complete cases")
    stats = GroupStats(y, xm, z, groups)
    if stats.g < 2:
        raise ValueError("fit_lmm: fewer than two groups")
    q = z.shape[1]
    n_theta = q * (q + 1) // 2
    if start is None:
        start = np.zeros(n_theta)
        start[[i * (i + 3) // 2 for i in range(q)]] = 0.5  # diagonal entries of L, row-major lower triangle
    diag = {i * (i + 3) // 2 for i in range(q)}
    bounds = [(0.0, None) if k in diag else (None, None) for k in range(n_theta)]
    first = optimize.minimize(stats.criterion_and_gradient, start, jac=True, method="L-BFGS-B", bounds=bounds,
                              options=LBFGSB_OPTIONS)
    escapes = 0
    while escapes < BOUNDARY_ESCAPES and (away := off_the_boundary(stats.criterion, first, sorted(diag))) is not None:
        escapes += 1
        first = optimize.minimize(stats.criterion_and_gradient, away, jac=True, method="L-BFGS-B", bounds=bounds,
                                  options=LBFGSB_OPTIONS)
    gradient = projected_gradient(first.x, stats.criterion_and_gradient(first.x)[1], bounds)
    best, message = first, f"L-BFGS-B (analytic gradient): {first.message}"
    if escapes:
        message += f" (restarted {escapes}x off a diagonal of L stuck at 0, a saddle of the criterion)"
    converged = first.success and np.max(np.abs(gradient), initial=0.0) <= GRADIENT_TOL
    if np.isfinite(first.fun) and not converged:
        theta, value, steps, converged = newton_refine(stats.criterion_and_gradient, first.x, bounds)
        message += (f"; max |projected gradient| {np.max(np.abs(gradient)):.2g}, Newton refinement "
                    f"({steps} steps): {'converged' if converged else 'not converged'}")
        if converged and value <= first.fun + 1e-10 * max(1.0, abs(first.fun)):  # not above it beyond rounding
            best = optimize.OptimizeResult(x=theta, fun=value, success=True)
        else:
            converged = False
    if not (np.isfinite(best.fun) and converged):
        polish = optimize.minimize(stats.criterion, first.x, method="Nelder-Mead",
                                   options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
        best = polish if polish.fun <= first.fun else first
        message += f"; gradient not converged, Nelder-Mead polish: {polish.message}"
        first_success = first.success or polish.success
    else:
        first_success = True
    # Nelder-Mead is unbounded: a negative diagonal entry of L is fixed by flipping its whole column
    # (L L' is unchanged, so is the fit)
    low = stats.lower(np.array(best.x))
    low *= np.where(np.diag(low) < 0, -1.0, 1.0)
    theta = low[np.tril_indices(q)]
    xwx, xwy, ywy, _ = stats.parts(theta)
    beta = np.linalg.solve(xwx, xwy)
    dof = stats.n - stats.p
    scale = (ywy - float(beta @ xwy)) / dof
    cov = scale * np.linalg.inv(xwx)
    low = stats.lower(theta)
    names = list(x.columns) if isinstance(x, pd.DataFrame) else [f"x{i}" for i in range(xm.shape[1])]
    converged = bool(np.isfinite(best.fun) and first_success)
    blups, blup_cov = stats.random_effects(theta, beta, scale)
    return LMMResult(
        params=pd.Series(beta, index=names), bse=pd.Series(np.sqrt(np.diag(cov)), index=names),
        cov_params=pd.DataFrame(cov, index=names, columns=names), cov_re=scale * low @ low.T, scale=float(scale),
        reml_criterion=float(best.fun), converged=converged, n_obs=stats.n, n_groups=stats.g,
        message=message, groups=stats.labels, random_effects=blups, random_effects_cov=blup_cov,
    )
