"""Logistic model with random intercepts, maximum likelihood by the Laplace approximation (lme4 ``glmer``).

Why by hand: no Python library fits a generalised linear mixed model by (Laplace) maximum likelihood.
statsmodels has only ``BinomialBayesMixedGLM``/``PoissonBayesMixedGLM`` (variational Bayes or a Laplace
*posterior* mode under priors, not ML); its ``MixedLM`` is linear; linearmodels, pingouin and glum have no
GLMM. lme4 is R. The model and the criterion here are lme4's (Bates, Maechler, Bolker & Walker 2015, "Fitting
linear mixed-effects models using lme4", J Stat Softw 67(1), sections 3 and 5.4 on the PIRLS; ``?glmer``,
``nAGQ = 1``), checked against ``glmer`` in ``tests/reference/glmer/``:

* ``logit P(y_i = 1) = x_i' beta + z_i' Lambda(theta) u``, ``u ~ N(0, I)``; every grouping factor k is a
  random intercept with standard deviation ``theta_k`` (``Lambda`` diagonal, ``theta_k`` on the columns of
  factor k of the indicator matrix ``Z``). R ``(1 | stratum) + (1 | stratum:psu)`` is
  ``groups=[stratum, stratum x psu codes]``.
* Penalised IRLS gives the conditional mode ``u*`` of ``u`` given ``(theta, beta)``: it minimises
  ``D(u) + ||u||^2`` with ``D`` the binomial deviance (Newton steps with step halving, converged to machine
  precision, warm-started).
* The Laplace deviance (``-2 log L``, lme4's ``ldL2 + sqrL + aic``) is
  ``f(theta, beta) = -2 sum_i log dbinom(y_i; 1, mu_i) + ||u*||^2 + log det(L L')``, ``L L' = Lambda' Z' W Z
  Lambda + I``, ``W = diag(mu (1 - mu))`` at ``u*``. For 0/1 outcomes ``dbinom`` has no constant, so
  ``log_likelihood = -f / 2`` is R's ``logLik(fit)``.
* Optimisation as ``glmer``'s two stages: stage 1 (``nAGQ = 0``) optimises ``theta`` with ``beta`` inside the
  PIRLS (joint conditional modes of ``u`` and ``beta``, criterion without ``log det RX``); stage 2 optimises
  ``f`` over ``(theta, beta)`` jointly from there, ``theta >= 0`` (L-BFGS-B with the analytic gradient, then
  Newton steps on the free parameters with the finite-difference Hessian). The fixed effects are optimised on
  a centred and scaled copy of ``X`` (intercept kept) and transformed back: the deviance depends on
  ``X beta`` only, so the optimum is the same and the problem better conditioned.
* Gradient: by the envelope theorem for ``u*`` plus the derivative of ``log det`` through ``W``, ``Lambda``
  and ``u*`` (implicit function theorem on the PIRLS stationarity condition); tested against finite
  differences of ``f``.
* Fixed-effect covariance as ``vcov(glmer fit)`` with its default ``use.hessian = TRUE`` (lme4
  ``vcov.merMod``): ``H`` is the Hessian of ``f`` over ``(theta, beta)`` at the optimum (here: central
  differences of the analytic gradient; lme4: ``deriv12``), and ``V = 2 [H^-1]_{beta, beta}``, the
  fixed-effect block of the *full* inverse (so the uncertainty of ``theta`` is included). As in lme4, if that
  matrix is not positive definite the RX-based covariance (``[[L L', Lambda'Z'WX], [X'WZ Lambda, X'WX]]^-1``,
  fixed-effect block, conditional on ``theta``) is used instead and ``vcov_method`` says so.

``Z`` is kept as its sparsity pattern (the column of each row in each factor: a random-intercept row has one 1
per factor), so ``Z v``, ``Z' r`` and ``Z' W Z`` are gathers and ``bincount`` sums; scipy.sparse products
did the same work several times slower in profiling. Dense linear algebra on the ``q x q`` random-effects
block (q = total number of groups, a few hundred here): fine for survey strata and PSUs, not meant for tens
of thousands of groups. Many small dense factorisations: with a multi-threaded BLAS on a busy machine a fit
can be ten times slower than with one BLAS thread (the pipeline's worker processes use one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg, optimize
from scipy.special import expit
from threadpoolctl import threadpool_limits

#: PIRLS stops after a Newton step that moved no conditional mode by more than ``PIRLS_STEP_TOL`` (Newton
#: converges quadratically: the modes are then exact to rounding), when the Newton decrement is below
#: ``PIRLS_TOL`` x the penalised deviance, when step halving finds no decrease, or after ``PIRLS_MAXIT`` steps.
PIRLS_STEP_TOL = 1e-10
PIRLS_TOL = 1e-20
PIRLS_MAXIT = 60


@dataclass
class GLMMResult:
    """Laplace-ML fit: fixed effects, lme4-style SEs, random-intercept SDs, deviance and convergence."""

    params: pd.Series
    bse: pd.Series
    cov_params: pd.DataFrame
    theta: pd.Series  # random-intercept standard deviations, by factor name
    minus2_loglik: float  # the Laplace deviance -2 log L (lme4's objective; not R's deviance(fit))
    log_likelihood: float  # R ``logLik(fit)``
    converged: bool
    n_obs: int
    n_groups: dict[str, int]
    vcov_method: str  # "hessian" (lme4 default) or "RX" (fallback, Hessian not positive definite)
    gradient_max: float  # largest |projected gradient| of the deviance at the optimum (standardised scale)
    message: str
    hessian: np.ndarray = field(repr=False)  # of the deviance over (theta, beta), original scale
    conditional_modes: np.ndarray = field(repr=False)  # b = Lambda u*, one per group, factors in order


class LaplaceDeviance:
    """The Laplace deviance of a random-intercept logistic model and its gradient in ``(theta, beta)``.

    ``y`` 0/1, ``X`` (n x p) dense, ``codes`` a list of integer group-code arrays (0..g_k - 1), one per
    grouping factor. Keeps the last conditional modes as the warm start of the next PIRLS.
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, codes: list[np.ndarray]):
        self.y, self.X = y, X
        self.n, self.p = X.shape
        sizes = [int(c.max()) + 1 for c in codes]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
        self.columns = [c + o for c, o in zip(codes, offsets)]  # column of Z of each row, per factor
        self.q = int(sum(sizes))
        self.factor_of = np.repeat(np.arange(len(codes)), sizes)
        # Z' W Z by one bincount over the (column, column) pairs of every row
        self.pairs = np.concatenate([ck * self.q + cm for ck in self.columns for cm in self.columns])
        self.u = np.zeros(self.q)

    def z_times(self, v: np.ndarray) -> np.ndarray:
        """``Z v`` (n), from the indicator structure of Z."""
        return sum(v[ck] for ck in self.columns)

    def zt_times(self, values: np.ndarray) -> np.ndarray:
        """``Z' values`` for a vector (q) or a matrix with n rows (q x columns)."""
        if values.ndim == 1:
            return sum(np.bincount(ck, values, minlength=self.q) for ck in self.columns)
        return np.column_stack([self.zt_times(values[:, j]) for j in range(values.shape[1])])

    def ztwz(self, w: np.ndarray) -> np.ndarray:
        """``Z' diag(w) Z`` (q x q, dense)."""
        k = len(self.columns) ** 2
        return np.bincount(self.pairs, np.tile(w, k), minlength=self.q * self.q).reshape(self.q, self.q)

    # --- pieces -------------------------------------------------------------------------------------------
    def _state(self, lam: np.ndarray, offset: np.ndarray, u: np.ndarray) -> dict:
        eta = offset + self.z_times(lam * u)
        mu = expit(eta)
        w = mu * (1 - mu)
        ztwz = self.ztwz(w)
        M = lam[:, None] * ztwz * lam[None, :] + np.eye(self.q)
        return {"eta": eta, "mu": mu, "w": w, "r": self.y - mu, "ztwz": ztwz, "M": M, "u": u}

    def _penalised(self, eta: np.ndarray, u: np.ndarray) -> float:
        return float(2 * np.sum(np.logaddexp(0, eta) - self.y * eta) + u @ u)

    def modes(self, theta: np.ndarray, beta: np.ndarray, u0: np.ndarray | None = None) -> dict:
        """PIRLS: conditional modes ``u*`` given ``(theta, beta)``; returns the state at ``u*``."""
        lam = np.asarray(theta, dtype=float)[self.factor_of]
        offset = self.X @ beta
        u = self.u.copy() if u0 is None else u0.copy()
        s = self._state(lam, offset, u)
        value = self._penalised(s["eta"], u)
        for _ in range(PIRLS_MAXIT):
            grad = lam * self.zt_times(s["r"]) - u  # minus half the gradient of D + ||u||^2
            step = linalg.cho_solve(linalg.cho_factor(s["M"]), grad)
            if grad @ step < PIRLS_TOL * max(1.0, value):
                break
            t = 1.0
            while True:
                candidate = u + t * step
                eta = offset + self.z_times(lam * candidate)
                new_value = self._penalised(eta, candidate)
                if new_value <= value + 1e-12 * abs(value) or t < 1e-10:
                    break
                t /= 2
            u, value = candidate, new_value
            s = self._state(lam, offset, u)
            if t * np.max(np.abs(step)) < PIRLS_STEP_TOL or t < 1e-10:
                break
        s["lam"], s["value"] = lam, value
        self.u = u
        return s

    def deviance(self, theta: np.ndarray, beta: np.ndarray, gradient: bool = False):
        """Laplace deviance ``f(theta, beta)`` (and its gradient, theta first, if asked)."""
        s = self.modes(theta, beta)
        chol = linalg.cho_factor(s["M"], lower=True)
        value = s["value"] + 2 * np.sum(np.log(np.diag(chol[0])))
        if not gradient:
            return value
        lam, u, r, w, mu, ztwz = s["lam"], s["u"], s["r"], s["w"], s["mu"], s["ztwz"]
        Minv = linalg.cho_solve(chol, np.eye(self.q))
        scaled = lam[:, None] * Minv * lam[None, :]  # Lambda M^-1 Lambda
        h = np.zeros(self.n)  # h_i = z_i' Lambda M^-1 Lambda z_i: each row has one 1 per factor
        for ck in self.columns:
            for cm in self.columns:
                h += scaled[ck, cm]
        c = h * w * (1 - 2 * mu)  # d log det / d eta_i through W
        ztr, ztc = self.zt_times(r), self.zt_times(c)
        v = Minv @ (lam * ztc)
        grad_beta = self.X.T @ (-2 * r + c - w * (self.z_times(lam * v)))
        per_column = (-2 * ztr * u + 2 * np.einsum("jl,l,lj->j", ztwz, lam, Minv) + ztc * u + v * ztr
                      - (ztwz @ (lam * v)) * u)
        grad_theta = np.bincount(self.factor_of, per_column, minlength=len(self.columns))
        return value, np.concatenate([grad_theta, grad_beta])

    def joint_modes(self, theta: np.ndarray, beta0: np.ndarray) -> tuple[float, np.ndarray]:
        """Stage 1 (glmer ``nAGQ = 0``): PIRLS over ``(u, beta)`` jointly; returns (criterion, beta).

        The criterion is lme4's for that stage: ``D + ||u||^2 + log det(L L')`` at the joint mode.
        """
        lam = np.asarray(theta, dtype=float)[self.factor_of]
        u, beta = self.u.copy(), beta0.copy()

        def penalised(u, beta):
            return self._penalised(self.X @ beta + self.z_times(lam * u), u)

        value = penalised(u, beta)
        for _ in range(PIRLS_MAXIT):
            s = self._state(lam, self.X @ beta, u)
            cross = lam[:, None] * self.zt_times(s["w"][:, None] * self.X)
            H = np.block([[s["M"], cross], [cross.T, self.X.T @ (s["w"][:, None] * self.X)]])
            grad = np.concatenate([lam * self.zt_times(s["r"]) - u, self.X.T @ s["r"]])
            step = linalg.cho_solve(linalg.cho_factor(H), grad)
            if grad @ step < PIRLS_TOL * max(1.0, value):
                break
            t = 1.0
            while True:
                cu, cb = u + t * step[: self.q], beta + t * step[self.q:]
                new_value = penalised(cu, cb)
                if new_value <= value + 1e-12 * abs(value) or t < 1e-10:
                    break
                t /= 2
            u, beta, value = cu, cb, new_value
            if t * np.max(np.abs(step)) < PIRLS_STEP_TOL or t < 1e-10:
                break
        s = self._state(lam, self.X @ beta, u)
        self.u = u
        return value + 2 * np.sum(np.log(np.diag(linalg.cholesky(s["M"])))), beta


def standardising_transform(X: np.ndarray) -> np.ndarray:
    """``S`` with ``X S`` centred and scaled (an all-ones column kept as the intercept): ``beta = S beta_s``.

    Without an intercept the columns are only scaled (by their root mean square).
    """
    p = X.shape[1]
    ones = [j for j in range(p) if np.all(X[:, j] == 1.0)]
    S = np.eye(p)
    for j in range(p):
        if j in ones[:1]:
            continue
        if ones:
            centre, scale = X[:, j].mean(), X[:, j].std()
        else:
            centre, scale = 0.0, np.sqrt(np.mean(X[:, j] ** 2))
        scale = scale if scale > 0 else 1.0
        S[j, j] = 1 / scale
        if ones:
            S[ones[0], j] = -centre / scale
    return S


def hessian_from_gradient(gradient, x: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Central differences of an analytic gradient, symmetrised."""
    k = len(x)
    H = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = steps[j]
        H[:, j] = (gradient(x + e) - gradient(x - e)) / (2 * steps[j])
    return (H + H.T) / 2


def fit_laplace_glmm(
    y,
    X: pd.DataFrame,
    groups: list,
    *,
    names: list[str] | None = None,
    gtol: float = 1e-6,
    maxiter: int = 2000,
    hessian_step: float = 1e-4,
) -> GLMMResult:
    """Random-intercept logistic regression by Laplace maximum likelihood (``glmer(..., nAGQ = 1)``).

    ``y``: 0/1 outcome; ``X``: fixed-effect design (DataFrame, column names kept; include the intercept);
    ``groups``: one array of group labels per random intercept (nested factors as combined labels, e.g.
    stratum x PSU); ``names``: the factors' names (default ``group1, group2, ...``). ``gtol``: convergence
    tolerance on the largest projected gradient of the deviance (standardised fixed effects); ``maxiter``:
    L-BFGS-B iterations; ``hessian_step``: finite-difference step of the Hessian (standardised scale).
    Raises ValueError on an outcome that is not 0/1, on missing values, or on mismatched lengths.
    """
    # One BLAS thread for the fit: it is thousands of small factorisations, and on a 2-core machine BLAS's own
    # threads made the prevalent-CVD fit 20-30x slower (85-134 s instead of 4.6 s) than in a one-thread worker.
    with threadpool_limits(limits=1):
        return _fit_laplace_glmm(y, X, groups, names=names, gtol=gtol, maxiter=maxiter, hessian_step=hessian_step)


def _fit_laplace_glmm(y, X: pd.DataFrame, groups: list, *, names: list[str] | None, gtol: float, maxiter: int,
                      hessian_step: float) -> GLMMResult:
    """The fit of :func:`fit_laplace_glmm`, with BLAS threads as the caller left them."""
    y = np.asarray(y, dtype=float)
    columns = list(X.columns) if isinstance(X, pd.DataFrame) else [f"x{j}" for j in range(np.shape(X)[1])]
    Xa = np.asarray(X, dtype=float)
    names = list(names) if names is not None else [f"group{k + 1}" for k in range(len(groups))]
    if not groups or len(names) != len(groups):
        raise ValueError(f"give one name per grouping factor: {len(groups)} factors, names {names}")
    if Xa.ndim != 2 or Xa.shape[0] != len(y) or any(len(g) != len(y) for g in groups):
        raise ValueError(f"y ({len(y)} rows), X {Xa.shape} and the grouping factors must have the same rows")
    if not np.all(np.isfinite(Xa)) or not np.all(np.isfinite(y)):
        raise ValueError("y and X must not contain missing or infinite values (pass complete cases)")
    bad = np.setdiff1d(np.unique(y), [0.0, 1.0])
    if bad.size:
        raise ValueError(f"the outcome must be 0/1; found value {bad[0]:g}")
    codes = []
    for name, g in zip(names, groups):
        labels = pd.Series(np.asarray(g))
        if labels.isna().any():
            raise ValueError(f"grouping factor '{name}' has missing values")
        codes.append(pd.factorize(labels, sort=True)[0])

    S = standardising_transform(Xa)
    Xs = Xa @ S
    model = LaplaceDeviance(y, Xs, codes)
    nt, p = len(codes), Xa.shape[1]

    # stage 1: theta with beta inside the PIRLS (derivative-free, as glmer's first stage), from theta = 1
    beta_start = np.zeros(p)

    def stage1(theta):
        return model.joint_modes(np.abs(theta), beta_start)[0]

    first = optimize.minimize(stage1, np.ones(nt), method="Nelder-Mead",
                              options={"xatol": 1e-3, "fatol": 1e-4, "maxiter": 400 * nt})
    theta1 = np.abs(first.x)
    _, beta1 = model.joint_modes(theta1, beta_start)

    # stage 2: (theta, beta) jointly, theta >= 0
    def objective(z):
        return model.deviance(z[:nt], z[nt:], gradient=True)

    def gradient_at(x):
        model.u = u_opt.copy()
        return model.deviance(x[:nt], x[nt:], gradient=True)[1]

    def projected(z, grad):
        at_bound = (z[:nt] <= 0) & (grad[:nt] >= 0)
        g = grad.copy()
        g[:nt][at_bound] = 0.0
        return g, at_bound

    steps = np.full(nt + p, hessian_step)
    bounds = [(0.0, None)] * nt + [(None, None)] * p

    def optimise(start):
        nonlocal u_opt
        second = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                                   options={"maxiter": maxiter, "ftol": 1e-15, "gtol": gtol * 1e-2, "maxcor": 20})
        z = second.x.copy()
        value, grad = objective(z)
        # Newton steps on the free parameters (theta off its bound, all fixed effects)
        for _ in range(20):
            u_opt = model.u.copy()
            g, at_bound = projected(z, grad)
            if np.max(np.abs(g)) < gtol:
                break
            H = hessian_from_gradient(gradient_at, z, steps)
            free = np.concatenate([~at_bound, np.ones(p, bool)])
            delta = np.zeros_like(z)
            try:
                delta[free] = -linalg.solve(H[np.ix_(free, free)], grad[free], assume_a="sym")
            except linalg.LinAlgError:
                break
            t, improved = 1.0, False
            while t > 1e-6:
                candidate = z + t * delta
                candidate[:nt] = np.maximum(candidate[:nt], 0.0)
                model.u = u_opt.copy()
                new_value, new_grad = objective(candidate)
                if new_value <= value + 1e-10 * abs(value):
                    z, value, grad, improved = candidate, new_value, new_grad, True
                    break
                t /= 2
            model.u = u_opt.copy()
            if not improved:
                break
        return z, second

    u_opt = model.u.copy()
    z, second = optimise(np.concatenate([theta1, beta1]))
    # theta_k = 0 is always a stationary point (the deviance is even in each theta_k): if the curvature there
    # is negative it is a saddle, not the bounded optimum, so restart from theta_k = 0.1 (lme4 restart_edge).
    for attempt in range(nt + 1):
        # an SD within 1e-8 of its bound is the bound (the deviance is even and smooth in theta_k, so the
        # change is below rounding); L-BFGS-B otherwise leaves values like 1e-15
        z[:nt][z[:nt] < 1e-8] = 0.0
        value, grad = objective(z)
        u_opt = model.u.copy()
        H_s = hessian_from_gradient(gradient_at, z, steps)
        saddle = (z[:nt] <= 0) & (np.diag(H_s)[:nt] < 0)
        if not saddle.any() or attempt == nt:
            break
        restart = z.copy()
        restart[:nt][saddle] = 0.1
        z, second = optimise(restart)
    gradient_max = float(np.max(np.abs(projected(z, grad)[0])))
    model.u = u_opt.copy()
    state = model.modes(z[:nt], z[nt:])

    # back to the original fixed-effect scale: beta = S beta_s; H = J^-T H_s J^-1 with J = diag(I, S)
    beta = S @ z[nt:]
    J_inv = linalg.block_diag(np.eye(nt), np.linalg.inv(S))
    H = J_inv.T @ H_s @ J_inv
    vcov_method = "hessian"
    try:
        V = S @ (2 * np.linalg.inv(H_s)[nt:, nt:]) @ S.T
        V = (V + V.T) / 2
        if not np.all(np.isfinite(V)) or np.linalg.eigvalsh(V).min() <= 0:
            raise np.linalg.LinAlgError("Hessian-based covariance not positive definite")
    except np.linalg.LinAlgError:
        vcov_method = "RX"  # lme4's fallback: conditional on theta, from the PIRLS system at the optimum
        w = state["w"]
        cross = state["lam"][:, None] * model.zt_times(w[:, None] * Xa)
        full = np.block([[state["M"], cross], [cross.T, Xa.T @ (w[:, None] * Xa)]])
        V = np.linalg.inv(full)[model.q:, model.q:]
    converged = gradient_max < gtol
    bse = np.sqrt(np.diag(V))
    return GLMMResult(
        params=pd.Series(beta, index=columns),
        bse=pd.Series(bse, index=columns),
        cov_params=pd.DataFrame(V, index=columns, columns=columns),
        theta=pd.Series(z[:nt], index=names),
        minus2_loglik=float(value),
        log_likelihood=float(-value / 2),
        converged=converged,
        n_obs=len(y),
        n_groups={name: int(c.max()) + 1 for name, c in zip(names, codes)},
        vcov_method=vcov_method,
        gradient_max=gradient_max,
        message=str(second.message),
        hessian=H,
        conditional_modes=state["lam"] * state["u"],
    )
