"""Random-intercept cross-lagged panel model (RI-CLPM), fitted by full-information maximum likelihood.

The question: when a person is lonelier than *their own usual level*, are they more depressed than their own
usual level two years later, and the other way round? A classical cross-lagged panel model answers a mix of
that within-person question and stable differences between persons (a person who is always lonely may also
always be depressed); the RI-CLPM of Hamaker, Kuiper & Grasman (2015, "A critique of the cross-lagged panel
model", *Psychological Methods* 20:102-116) separates the two with a random intercept per person and variable.

**Model.** Two variables ``x`` (loneliness) and ``y`` (depression), waves ``t = 1..T`` (``T >= 3``)::

    x_it = mu_xt + RIx_i + wx_it            y_it = mu_yt + RIy_i + wy_it
    wx_it = a_x wx_i,t-1 + b_yx wy_i,t-1 + u_it        (t >= 2)
    wy_it = a_y wy_i,t-1 + b_xy wx_i,t-1 + v_it        (t >= 2)

``(RIx, RIy)`` ~ N(0, Phi) is the stable between-person part, uncorrelated with the within-person parts ``wx,
wy`` (a person's deviations from their own expected score). ``(wx_1, wy_1)`` ~ N(0, Psi_1) is free;
``(u_t, v_t)`` ~ N(0, Psi) with one innovation covariance for every ``t >= 2``. The lagged coefficients are
the same for every pair of adjacent waves (the usual constrained model): ``a_x``, ``a_y`` autoregressive,
``b_xy`` the cross-lag from ``x`` to later ``y`` and ``b_yx`` from ``y`` to later ``x``. Free parameters:
``2T`` wave means and 13 structural parameters (the names of :data:`PARAMETERS`); the implied covariance of
``(x_1..x_T, y_1..y_T)`` is ``Phi (x) 1 1'`` (the random intercepts) plus the within-person covariance, built
by the recursion ``Cov(w_t) = B Cov(w_t-1) B' + Psi`` and ``Cov(w_t, w_s) = B^(t-s) Cov(w_s)`` with
``B = [[a_x, b_yx], [b_xy, a_y]]`` (:func:`implied_covariance`). With ``T >= 3`` the model is identified; the
fit tests it against the saturated model with ``T (2T + 1) - 13`` degrees of freedom.

**Why hand-written.** The cohorts have ~20,000 persons x up to 14 biennial waves with attrition and death, so
most persons miss later waves (mostly monotone dropout). Listwise deletion throws the dropouts away and, as
dropout depends on earlier loneliness and depression, biases the estimates; FIML uses every observed value
and is consistent when the dropout is missing at random. Of the Python packages, statsmodels has no SEM and
semopy (2.3.11) evaluates FIML person by person: its ``ModelMeans`` fit of this model to 20,000 persons x 14
waves had not finished after 20 minutes, its default SLSQP tolerance stops ~1e-3 short of the optimum, and its
observed-information SEs (numerical, numdifftools) can fail. The RI-CLPM has a closed-form implied covariance,
so a dedicated likelihood over missing-data *patterns* is short, exact and fast (a 20,000 x 14-wave fit takes
about a second or two). The tests check it against semopy (complete data and FIML under dropout: estimates,
SEs, log-likelihood), against the ML discrepancy minimised over an independently coded (RAM-form) model, and
against the sum of the persons' normal log-densities.

**FIML.** Rows are grouped by missingness pattern (rows with nothing observed are dropped). For a pattern with
``n_p`` rows, observed variables ``o`` (``p_o`` of them), observed mean ``m_p`` and biased covariance ``S_p``
the log-likelihood contribution is::

    -n_p/2 [p_o log 2pi + log|Sigma_oo| + tr(Sigma_oo^-1 (S_p + (m_p - mu_o)(m_p - mu_o)'))]

which equals the sum of the rows' normal log-densities. The gradient is analytic: with
``A = Sigma_oo^-1`` the contribution's derivative is ``n_p A (m_p - mu_o)`` for the means and
``-n_p/2 (A - A C_p A)`` (``C_p = S_p + d d'``) for the covariance matrix, chained to the structural
parameters with the exact derivatives of the implied covariance (complex-step differentiation, exact to
rounding because the implied covariance is a polynomial in the parameters).

**Parameterisation.** The optimiser (scipy L-BFGS-B) works on the data centred and scaled by each variable's
pooled mean and SD, with the three 2x2 covariance matrices (``Phi``, ``Psi_1``, ``Psi``) written as ``L L'``
(``L`` lower-triangular, unconstrained), so every trial point is admissible (positive semi-definite) and the
implied covariance positive definite. Estimates are reported as variances and covariances on the data's own
scale. Start values: wave means, half of each variable's average variance (and of the average x-y covariance)
for the between-person part and half for the within-person parts, autoregressions 0.2, cross-lags 0.

**Standard errors** come from the inverse observed information: the Hessian of the log-likelihood in the
*natural* parameters (variances and covariances, not Cholesky factors) by central differences of the analytic
gradient at the optimum; Wald intervals ``estimate +- z SE`` and two-sided p-values on the normal scale (as
every record of :mod:`analysis.estimators`). A Wald test of a variance against 0 is on the boundary of the
parameter space and conservative; read the variance rows for their size, not their p-value. With data missing
at random the *observed* information is the right one (Kenward & Molenberghs 1998); the expected information,
semopy's default, ignores the missingness mechanism (in one of our checks its SEs were a quarter smaller).
``converged`` is False when the gradient at the optimiser's stopping point is not ~0 or the information is not
positive definite (then the SEs are NaN); ``message`` says why.

**Fit.** ``chi2`` is the likelihood-ratio test against the saturated model (free means and covariance matrix,
fitted by FIML on the same patterns - L-BFGS-B over the Cholesky factor, started at the RI-CLPM's implied
moments; on complete data this is the sample moments), with ``chi2_df`` degrees of freedom, and ``rmsea``
from it. When some pair of variables is never observed together the saturated model is not identified;
``chi2`` is NaN then and ``message`` says so.

Public API: :func:`simulate_riclpm` (data from stated parameters, optional MAR dropout),
:func:`wide_from_long` (a person-wave panel to the wide layout), :func:`fit_riclpm` (the fit, a
:class:`RICLPMResult`) and :func:`implied_covariance`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats
from tqdm.auto import tqdm

#: Structural parameters, in the order of every vector and table here.
PARAMETERS: tuple[str, ...] = (
    "a_x", "a_y", "b_xy", "b_yx",
    "var_ri_x", "var_ri_y", "cov_ri",
    "var_wx1", "var_wy1", "cov_w1",
    "var_u", "var_v", "cov_uv",
)
#: Columns of :attr:`RICLPMResult.params`.
PARAM_COLUMNS: tuple[str, ...] = (
    "parameter", "label", "estimate", "std_error", "ci_low", "ci_high", "p_value",
)
#: Slope of the logistic dropout model of :func:`simulate_riclpm`, per SD of the previous wave's x.
DROPOUT_SLOPE = 1.0

_N_STRUCT = len(PARAMETERS)
# (variance x, variance y, covariance) of the three 2x2 covariance matrices in the structural vector.
_BLOCKS = ((4, 5, 6), (7, 8, 9), (10, 11, 12))
_COMPLEX_STEP = 1e-20
# Largest absolute gradient of the log-likelihood per person (standardised data) accepted as converged.
_GRADIENT_TOLERANCE = 1e-5
_LOG_2PI = math.log(2.0 * math.pi)


def parameter_labels(x_label: str = "loneliness", y_label: str = "depression") -> dict[str, str]:
    """Plain-English label of every structural parameter, for variables named ``x_label`` and ``y_label``."""
    x, y = x_label, y_label
    return {
        "a_x": f"{x} -> later {x} (autoregression, within-person)",
        "a_y": f"{y} -> later {y} (autoregression, within-person)",
        "b_xy": f"{x} -> later {y} (cross-lag, within-person)",
        "b_yx": f"{y} -> later {x} (cross-lag, within-person)",
        "var_ri_x": f"between-person variance of {x} (random intercept)",
        "var_ri_y": f"between-person variance of {y} (random intercept)",
        "cov_ri": f"between-person covariance of {x} and {y} (random intercepts)",
        "var_wx1": f"within-person variance of {x}, first wave",
        "var_wy1": f"within-person variance of {y}, first wave",
        "cov_w1": f"within-person covariance of {x} and {y}, first wave",
        "var_u": f"innovation variance of within-person {x}, later waves",
        "var_v": f"innovation variance of within-person {y}, later waves",
        "cov_uv": f"innovation covariance of within-person {x} and {y}, later waves",
    }


@dataclass(frozen=True)
class RICLPMResult:
    """A fitted RI-CLPM.

    ``params`` has one row per structural parameter (:data:`PARAMETERS`, in that order) and then the wave
    means ``mu_x1..mu_xT, mu_y1..mu_yT`` (``t`` the position of the column in ``x``/``y``), with the columns
    of :data:`PARAM_COLUMNS`. ``loglik`` is the FIML log-likelihood at the estimates, ``n_persons`` the rows
    with at least one observed value, ``n_observations`` the observed values (cells) of x and y together,
    ``n_patterns`` the distinct missingness patterns. ``vcov`` is the estimates' covariance matrix (inverse
    observed information, natural parameterisation). ``chi2``/``chi2_df``/``chi2_p_value``/``rmsea``: the test
    against the saturated model (NaN when that could not be fitted).
    """

    params: pd.DataFrame
    loglik: float
    converged: bool
    n_persons: int
    n_observations: int
    n_patterns: int
    message: str
    n_parameters: int = 0
    iterations: int = 0
    chi2: float = math.nan
    chi2_df: int = 0
    chi2_p_value: float = math.nan
    rmsea: float = math.nan
    x: tuple[str, ...] = ()
    y: tuple[str, ...] = ()
    vcov: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def estimate(self, parameter: str) -> float:
        """The estimate of one parameter by name (e.g. ``"b_xy"``)."""
        return float(self.params.set_index("parameter").at[parameter, "estimate"])

    def std_error(self, parameter: str) -> float:
        """The standard error of one parameter by name."""
        return float(self.params.set_index("parameter").at[parameter, "std_error"])


# ---------------------------------------------------------------------------------------------
# Implied moments


def _sym2(var_x: np.ndarray, var_y: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Batch of 2x2 symmetric matrices from their entries (each of shape (K,))."""
    out = np.empty(var_x.shape + (2, 2), dtype=np.result_type(var_x, var_y, cov))
    out[:, 0, 0], out[:, 1, 1], out[:, 0, 1], out[:, 1, 0] = var_x, var_y, cov, cov
    return out


def _implied_cov_batch(theta: np.ndarray, waves: int) -> np.ndarray:
    """Implied covariance of (x_1..x_T, y_1..y_T) for a batch of structural vectors, shape (K, 2T, 2T).

    Works for complex input (complex-step derivatives): only sums and products of the parameters.
    """
    theta = np.atleast_2d(theta)
    k = theta.shape[0]
    a_x, a_y, b_xy, b_yx = theta[:, 0], theta[:, 1], theta[:, 2], theta[:, 3]
    lag = np.empty((k, 2, 2), dtype=theta.dtype)
    lag[:, 0, 0], lag[:, 0, 1], lag[:, 1, 0], lag[:, 1, 1] = a_x, b_yx, b_xy, a_y
    lag_t = lag.transpose(0, 2, 1)
    phi, psi1, psi = (_sym2(theta[:, i], theta[:, j], theta[:, c]) for i, j, c in _BLOCKS)
    # within[:, t, s] = Cov(w_t, w_s), w_t = (wx_t, wy_t)
    within = np.empty((k, waves, waves, 2, 2), dtype=theta.dtype)
    within[:, 0, 0] = psi1
    for t in range(1, waves):
        for s in range(t):
            within[:, t, s] = lag @ within[:, t - 1, s]
            within[:, s, t] = within[:, t, s].transpose(0, 2, 1)
        within[:, t, t] = lag @ within[:, t - 1, t - 1] @ lag_t + psi
    # Sigma[k, i*T + t, j*T + s] = within[k, t, s, i, j] + phi[k, i, j]
    sigma = within.transpose(0, 3, 1, 4, 2).reshape(k, 2 * waves, 2 * waves)
    sigma += np.repeat(np.repeat(phi, waves, axis=1), waves, axis=2)
    return sigma


def _structural_vector(params: Mapping[str, Any]) -> np.ndarray:
    missing = [name for name in PARAMETERS if name not in params]
    if missing:
        raise ValueError(f"RI-CLPM parameters missing: {', '.join(missing)} (need all of {', '.join(PARAMETERS)})")
    return np.array([float(params[name]) for name in PARAMETERS])


def implied_covariance(params: Mapping[str, Any], waves: int) -> np.ndarray:
    """Model-implied covariance matrix of ``(x_1..x_T, y_1..y_T)`` (that order) for structural ``params``.

    ``params`` maps every name of :data:`PARAMETERS` to its value (extra keys, e.g. means, are ignored).
    """
    if waves < 1:
        raise ValueError(f"waves must be at least 1, got {waves}")
    return _implied_cov_batch(_structural_vector(params), int(waves))[0]


def _implied_with_derivatives(theta: np.ndarray, waves: int) -> tuple[np.ndarray, np.ndarray]:
    """Implied covariance and its exact derivative in each structural parameter (complex step)."""
    batch = np.tile(theta.astype(complex), (_N_STRUCT, 1))
    batch[np.arange(_N_STRUCT), np.arange(_N_STRUCT)] += 1j * _COMPLEX_STEP
    sigmas = _implied_cov_batch(batch, waves)
    return sigmas[0].real.copy(), sigmas.imag / _COMPLEX_STEP


# ---------------------------------------------------------------------------------------------
# Missing-data patterns and the FIML likelihood


@dataclass(frozen=True)
class _Group:
    """The missingness patterns with ``q`` observed variables, stacked (``K`` patterns)."""

    observed: np.ndarray  # (K, q) indices of the observed variables
    n: np.ndarray  # (K,) rows per pattern
    mean: np.ndarray  # (K, q) observed means
    cov: np.ndarray  # (K, q, q) biased covariances (divided by n)
    flat: np.ndarray  # (K * q * q,) positions of the (K, q, q) blocks in the flattened p x p matrix


def _patterns(values: np.ndarray) -> list[_Group]:
    """Sufficient statistics per missingness pattern (rows with nothing observed dropped), grouped by size."""
    p = values.shape[1]
    mask = ~np.isnan(values)
    keep = mask.any(axis=1)
    values, mask = values[keep], mask[keep]
    if not len(values):
        return []
    packed = np.packbits(mask, axis=1)  # one byte string per row: np.unique on it is fast
    keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    unique = mask[first]
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(unique)))])
    by_size: dict[int, list[tuple[np.ndarray, int, np.ndarray, np.ndarray]]] = {}
    for k, pattern in enumerate(unique):
        observed = np.flatnonzero(pattern)
        rows = values[order[bounds[k]:bounds[k + 1]]][:, observed]
        mean = rows.mean(axis=0)
        centred = rows - mean
        by_size.setdefault(len(observed), []).append((observed, len(rows), mean, centred.T @ centred / len(rows)))
    groups = []
    for q in sorted(by_size):
        members = by_size[q]
        observed = np.array([m[0] for m in members])
        flat = (observed[:, :, None] * p + observed[:, None, :]).ravel()
        groups.append(_Group(observed, np.array([m[1] for m in members], dtype=float),
                             np.array([m[2] for m in members]), np.array([m[3] for m in members]), flat))
    return groups


def _n_patterns(groups: list[_Group]) -> int:
    return sum(len(g.n) for g in groups)


def _moments_loglik(sigma: np.ndarray, mu: np.ndarray, groups: list[_Group], gradient: bool = True
                    ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """FIML log-likelihood of mean ``mu`` and covariance ``sigma``, and its gradient in both.

    The gradient in ``sigma`` is ``G`` with ``d loglik = tr(G d sigma)`` (symmetric). Returns
    ``(-inf, None, None)`` when a sub-block of ``sigma`` is not positive definite.
    """
    p = len(mu)
    total = 0.0
    g_sigma = np.zeros(p * p) if gradient else None
    g_mu = np.zeros(p) if gradient else None
    for g in groups:
        idx = g.observed
        block = sigma[idx[:, :, None], idx[:, None, :]]
        try:
            chol = np.linalg.cholesky(block)
        except np.linalg.LinAlgError:
            return -math.inf, None, None
        chol_inv = np.linalg.inv(chol)
        inv = chol_inv.transpose(0, 2, 1) @ chol_inv
        dev = g.mean - mu[idx]
        cross = g.cov + dev[:, :, None] * dev[:, None, :]
        logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        trace = np.einsum("kij,kji->k", inv, cross)
        total -= 0.5 * float(g.n @ (idx.shape[1] * _LOG_2PI + logdet + trace))
        if gradient:
            g_block = -0.5 * g.n[:, None, None] * (inv - inv @ cross @ inv)
            g_sigma += np.bincount(g.flat, weights=g_block.ravel(), minlength=p * p)
            g_dev = g.n[:, None] * np.einsum("kij,kj->ki", inv, dev)
            g_mu += np.bincount(idx.ravel(), weights=g_dev.ravel(), minlength=p)
    if not gradient:
        return total, None, None
    return total, g_sigma.reshape(p, p), g_mu


def _loglik(theta: np.ndarray, groups: list[_Group], waves: int, gradient: bool = True
            ) -> tuple[float, np.ndarray | None]:
    """FIML log-likelihood (and its gradient) at the natural vector ``theta`` = (structural, means).

    Returns ``(-inf, None)`` when an implied covariance sub-block is not positive definite.
    """
    structural, mu = theta[:_N_STRUCT], theta[_N_STRUCT:]
    if not gradient:
        return _moments_loglik(_implied_cov_batch(structural, waves)[0], mu, groups, gradient=False)[0], None
    sigma, d_sigma = _implied_with_derivatives(structural, waves)
    total, g_sigma, g_mu = _moments_loglik(sigma, mu, groups)
    if g_sigma is None:
        return total, None
    return total, np.concatenate([np.einsum("kij,ij->k", d_sigma, g_sigma), g_mu])


def _on_boundary(theta: np.ndarray, tol: float = 1e-6) -> bool:
    """True when a variance of ``theta`` (standardised scale) is ~0 or a 2x2 block's correlation ~+-1."""
    for i, j, c in _BLOCKS:
        if min(theta[i], theta[j]) < tol or theta[c] ** 2 > (1 - tol) * theta[i] * theta[j]:
            return True
    return False


# Optimiser vector: (a_x, a_y, b_xy, b_yx, Cholesky factors (l11, l21, l22) of Phi, Psi_1, Psi, means).


def _natural(phi: np.ndarray) -> np.ndarray:
    theta = phi.copy()
    for i, j, c in _BLOCKS:
        l11, l21, l22 = phi[i], phi[c], phi[j]
        theta[i], theta[j], theta[c] = l11 * l11, l21 * l21 + l22 * l22, l11 * l21
    return theta


def _natural_gradient_to_phi(phi: np.ndarray, grad: np.ndarray) -> np.ndarray:
    out = grad.copy()
    for i, j, c in _BLOCKS:
        l11, l21, l22 = phi[i], phi[c], phi[j]
        g_vx, g_vy, g_c = grad[i], grad[j], grad[c]
        out[i] = 2 * l11 * g_vx + l21 * g_c
        out[c] = 2 * l21 * g_vy + l11 * g_c
        out[j] = 2 * l22 * g_vy
    return out


def _cholesky_start(theta: np.ndarray) -> np.ndarray:
    phi = theta.copy()
    for i, j, c in _BLOCKS:
        l11 = math.sqrt(max(theta[i], 1e-8))
        l21 = theta[c] / l11
        phi[i], phi[c], phi[j] = l11, l21, math.sqrt(max(theta[j] - l21 * l21, 1e-8))
    return phi


def _start_values(values: np.ndarray, waves: int) -> np.ndarray:
    """Start values from the (standardised) data: wave means, variances split half between and half within."""
    frame = pd.DataFrame(values)
    mu = frame.mean().to_numpy()
    cov = frame.cov(min_periods=2).to_numpy()
    var = np.diag(cov)
    var_x, var_y = np.nanmean(var[:waves]), np.nanmean(var[waves:])
    same_wave = np.array([cov[t, waves + t] for t in range(waves)])
    cov_xy = np.nanmean(same_wave) if np.isfinite(same_wave).any() else 0.0
    bound = 0.9 * math.sqrt(var_x * var_y)
    cov_xy = float(np.clip(cov_xy, -bound, bound))
    var_x1 = var[0] if np.isfinite(var[0]) and var[0] > 0 else var_x
    var_y1 = var[waves] if np.isfinite(var[waves]) and var[waves] > 0 else var_y
    cov_1 = cov[0, waves] if np.isfinite(cov[0, waves]) else cov_xy
    cov_1 = float(np.clip(cov_1, -0.9 * math.sqrt(var_x1 * var_y1), 0.9 * math.sqrt(var_x1 * var_y1)))
    structural = np.array([
        0.2, 0.2, 0.0, 0.0,
        var_x / 2, var_y / 2, cov_xy / 2,
        var_x1 / 2, var_y1 / 2, cov_1 / 2,
        var_x / 2, var_y / 2, cov_xy / 2,
    ])
    return np.concatenate([structural, mu])


# ---------------------------------------------------------------------------------------------
# Saturated model for the chi-square test


def _saturated_loglik(groups: list[_Group], sigma0: np.ndarray, mu0: np.ndarray, max_iter: int
                      ) -> tuple[float, str | None]:
    """Maximum FIML log-likelihood of the saturated normal model (free mean and covariance).

    Maximised by L-BFGS-B over the mean and the Cholesky factor of the covariance, from ``(sigma0, mu0)``
    (the fitted model's implied moments, close to the optimum when the model fits). Returns the
    log-likelihood and None, or NaN and the reason it could not be fitted.
    """
    p = len(mu0)
    together = np.zeros(p * p)
    for g in groups:
        together += np.bincount(g.flat, weights=np.repeat(g.n, g.observed.shape[1] ** 2), minlength=p * p)
    if (together == 0).any():
        return math.nan, "some pairs of variables are never observed together"
    n_total = sum(float(g.n.sum()) for g in groups)
    lower = np.tril_indices(p)
    start = np.concatenate([mu0, np.linalg.cholesky(sigma0)[lower]])

    def objective(vec: np.ndarray) -> tuple[float, np.ndarray]:
        chol = np.zeros((p, p))
        chol[lower] = vec[p:]
        ll, g_sigma, g_mu = _moments_loglik(chol @ chol.T, vec[:p], groups)
        if g_sigma is None:
            return 1e10, np.zeros_like(vec)
        return -ll / n_total, -np.concatenate([g_mu, (2 * g_sigma @ chol)[lower]]) / n_total

    res = optimize.minimize(objective, start, jac=True, method="L-BFGS-B",
                            options={"maxiter": max_iter, "maxfun": 4 * max_iter, "ftol": 1e-15, "gtol": 1e-9,
                                     "maxcor": 30})
    if not res.success and "ABNORMAL" not in str(res.message):
        return math.nan, f"saturated model not fitted ({res.message})"
    if np.max(np.abs(res.jac)) > 1e-6:
        return math.nan, f"saturated model not fitted (largest gradient {np.max(np.abs(res.jac)):.2g})"
    return -res.fun * n_total, None


# ---------------------------------------------------------------------------------------------
# Input handling


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar (so messages read ``3``, not ``np.int64(3)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _check_numeric(wide: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The columns as a float array; ValueError naming a non-numeric or infinite value."""
    out = np.empty((len(wide), len(columns)))
    for i, col in enumerate(columns):
        series = wide[col]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            values = series.astype(float).to_numpy()
        else:
            present = series[series.notna()]
            bad = present[[not isinstance(v, numbers.Real) or isinstance(v, bool) for v in present]]
            if len(bad):
                raise ValueError(f"column {col!r} has non-numeric values, e.g. {_plain(bad.iloc[0])!r}")
            values = pd.to_numeric(series, errors="raise").astype(float).to_numpy()
        if np.isinf(values).any():
            raise ValueError(f"column {col!r} has infinite values")
        out[:, i] = values
    return out


def _check_layout(wide: pd.DataFrame, x: list[str], y: list[str]) -> None:
    x, y = list(x), list(y)
    if len(x) != len(y):
        raise ValueError(f"x and y must name one column per wave each; got {len(x)} x and {len(y)} y columns")
    if len(x) < 3:
        raise ValueError(f"the RI-CLPM needs at least 3 waves (with 2 it is not identified); got {len(x)}")
    dupes = sorted({c for c in x + y if (x + y).count(c) > 1})
    if dupes:
        raise ValueError(f"columns named more than once in x/y: {', '.join(map(repr, dupes))}")
    missing = [c for c in x + y if c not in wide.columns]
    if missing:
        raise ValueError(f"column(s) missing from the data: {', '.join(map(repr, missing))}")


# ---------------------------------------------------------------------------------------------
# Public API


def fit_riclpm(
    wide: pd.DataFrame,
    x: list[str],
    y: list[str],
    *,
    alpha: float = 0.05,
    max_iter: int = 5000,
    progress: bool = False,
    x_label: str = "loneliness",
    y_label: str = "depression",
    saturated: bool = True,
) -> RICLPMResult:
    """Fit the RI-CLPM by FIML to a wide frame (one row per person).

    ``x`` and ``y`` name the columns of the two variables, one per wave, in wave order (``x[t]`` and ``y[t]``
    measured at the same wave). Missing values (NaN) are allowed anywhere; rows with nothing observed are
    dropped. ``alpha`` sets the Wald intervals (``1 - alpha``); ``max_iter`` caps the optimiser's iterations;
    ``progress`` shows a tqdm bar over them. ``x_label``/``y_label`` name the variables in the ``label``
    column. ``saturated=False`` skips the fit of the saturated model (no chi-square test).

    Raises ValueError for fewer than 3 waves, unequal numbers of x and y columns, a column missing (named),
    non-numeric or infinite values (column and an example value named), a column with no observed value, and
    fewer persons than free parameters.
    """
    x, y = list(x), list(y)
    _check_layout(wide, x, y)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    waves = len(x)
    columns = x + y
    values = _check_numeric(wide, columns)
    empty = [c for c, seen in zip(columns, (~np.isnan(values)).any(axis=0)) if not seen]
    if empty:
        raise ValueError(f"column(s) with no observed value: {', '.join(map(repr, empty))}")
    values = values[(~np.isnan(values)).any(axis=1)]
    n_persons = len(values)
    n_params = _N_STRUCT + 2 * waves
    if n_persons < n_params:
        raise ValueError(f"{n_persons} persons with any observed value, fewer than the {n_params} free "
                         f"parameters of a {waves}-wave RI-CLPM")
    n_observations = int((~np.isnan(values)).sum())

    # Optimise on data centred and scaled per variable (pooled over waves); report on the data's scale.
    centre = np.array([np.nanmean(values[:, :waves]), np.nanmean(values[:, waves:])])
    scale = np.array([np.nanstd(values[:, :waves]), np.nanstd(values[:, waves:])])
    scale[~(scale > 0)] = 1.0
    var_of = np.repeat([0, 1], waves)
    std_values = (values - centre[var_of]) / scale[var_of]
    patterns = _patterns(std_values)

    start = _start_values(std_values, waves)
    phi0 = _cholesky_start(start)

    def objective(phi: np.ndarray) -> tuple[float, np.ndarray]:
        ll, grad = _loglik(_natural(phi), patterns, waves)
        if grad is None or not math.isfinite(ll):
            return 1e10, np.zeros_like(phi)
        return -ll / n_persons, -_natural_gradient_to_phi(phi, grad) / n_persons

    with tqdm(total=max_iter, desc="RI-CLPM", unit="iter", leave=False, disable=not progress) as bar:
        res = optimize.minimize(
            objective, phi0, jac=True, method="L-BFGS-B", callback=lambda *_: bar.update(1),
            options={"maxiter": max_iter, "maxfun": 4 * max_iter, "ftol": 1e-14, "gtol": 1e-8, "maxcor": 20},
        )
    theta_std = _natural(res.x)
    ll_std, grad_std = _loglik(theta_std, patterns, waves)
    # L-BFGS-B may stop in a line search right at the optimum (rounding): the gradient decides, in the
    # optimiser's parameters (at a variance of 0 the natural gradient need not vanish).
    grad_norm = (float(np.max(np.abs(_natural_gradient_to_phi(res.x, grad_std)))) / n_persons
                 if grad_std is not None else math.inf)
    notes = []
    if grad_norm > _GRADIENT_TOLERANCE:
        notes.append(f"not converged: optimiser stopped ({res.message}) with largest gradient "
                     f"{grad_norm:.2g} per person")

    # Observed information in the natural parameters (standardised scale) by central differences.
    vcov_std = _inverse_information(theta_std, patterns, waves, notes)

    # Back to the data's scale: theta = shift + D theta_std (linear in every parameter).
    factor, shift = _rescaling(scale, centre, waves)
    theta = shift + factor * theta_std
    vcov = vcov_std * np.outer(factor, factor)
    # the log-likelihood of the data themselves differs by the Jacobian of the standardisation
    n_x, n_y = (~np.isnan(values[:, :waves])).sum(), (~np.isnan(values[:, waves:])).sum()
    loglik = ll_std - n_x * math.log(scale[0]) - n_y * math.log(scale[1])

    chi2 = chi2_p = rmsea = math.nan
    chi2_df = waves * (2 * waves + 1) - _N_STRUCT
    if saturated:
        ll_sat, problem = _saturated_loglik(
            patterns, _implied_cov_batch(theta_std[:_N_STRUCT], waves)[0], theta_std[_N_STRUCT:], max_iter)
        if problem is None:
            chi2 = max(2.0 * (ll_sat - ll_std), 0.0)
            chi2_p = float(stats.chi2.sf(chi2, chi2_df))
            rmsea = math.sqrt(max(chi2 - chi2_df, 0.0) / (chi2_df * max(n_persons - 1, 1)))
        else:
            notes.append(f"{problem}: no chi-square test")

    converged = grad_norm <= _GRADIENT_TOLERANCE and bool(np.isfinite(vcov).all())
    if _on_boundary(theta_std):
        notes.append("estimates at the boundary of the parameter space (a variance ~0 or a correlation ~+-1): "
                     "Wald SEs and intervals are unreliable there")
    names = list(PARAMETERS) + [f"mu_x{t + 1}" for t in range(waves)] + [f"mu_y{t + 1}" for t in range(waves)]
    labels = parameter_labels(x_label, y_label)
    labels.update({f"mu_x{t + 1}": f"mean of {x_label} ({col})" for t, col in enumerate(x)})
    labels.update({f"mu_y{t + 1}": f"mean of {y_label} ({col})" for t, col in enumerate(y)})
    se = np.sqrt(np.where(np.diag(vcov) >= 0, np.diag(vcov), np.nan))
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value = 2 * stats.norm.sf(np.abs(theta / se))
    table = pd.DataFrame({
        "parameter": names,
        "label": [labels[n] for n in names],
        "estimate": theta,
        "std_error": se,
        "ci_low": theta - z * se,
        "ci_high": theta + z * se,
        "p_value": p_value,
    }, columns=list(PARAM_COLUMNS))
    return RICLPMResult(
        params=table,
        loglik=float(loglik),
        converged=converged,
        n_persons=n_persons,
        n_observations=n_observations,
        n_patterns=_n_patterns(patterns),
        message="; ".join(notes) if notes else "converged",
        n_parameters=n_params,
        iterations=int(res.nit),
        chi2=chi2,
        chi2_df=chi2_df,
        chi2_p_value=chi2_p,
        rmsea=rmsea,
        x=tuple(x),
        y=tuple(y),
        vcov=pd.DataFrame(vcov, index=names, columns=names),
    )


def _rescaling(scale: np.ndarray, centre: np.ndarray, waves: int) -> tuple[np.ndarray, np.ndarray]:
    """``(factor, shift)`` with theta = shift + factor * theta_std, for data z = centre + scale * z_std."""
    sx, sy = scale
    structural = np.array([1.0, 1.0, sy / sx, sx / sy] + [sx * sx, sy * sy, sx * sy] * 3)
    factor = np.concatenate([structural, np.full(waves, sx), np.full(waves, sy)])
    shift = np.concatenate([np.zeros(_N_STRUCT), np.full(waves, centre[0]), np.full(waves, centre[1])])
    return factor, shift


def _inverse_information(theta: np.ndarray, patterns: list[_Group], waves: int, notes: list[str]
                         ) -> np.ndarray:
    """Inverse of minus the Hessian (central differences of the analytic gradient); NaN if not invertible."""
    k = len(theta)
    hessian = np.empty((k, k))
    for i in range(k):
        step = 1e-5 * max(1.0, abs(theta[i]))
        up, down = theta.copy(), theta.copy()
        up[i] += step
        down[i] -= step
        _, g_up = _loglik(up, patterns, waves)
        _, g_down = _loglik(down, patterns, waves)
        if g_up is None or g_down is None:
            notes.append("log-likelihood undefined next to the optimum: no standard errors")
            return np.full((k, k), np.nan)
        hessian[:, i] = (g_up - g_down) / (2 * step)
    information = -(hessian + hessian.T) / 2
    try:
        chol = np.linalg.cholesky(information)
    except np.linalg.LinAlgError:
        notes.append("observed information not positive definite (model not identified at the optimum?): "
                     "no standard errors")
        return np.full((k, k), np.nan)
    chol_inv = np.linalg.inv(chol)
    return chol_inv.T @ chol_inv


def simulate_riclpm(
    n: int,
    waves: int,
    params: Mapping[str, Any],
    *,
    seed: int,
    dropout: float = 0.0,
) -> pd.DataFrame:
    """Simulate ``n`` persons x ``waves`` waves from the RI-CLPM with the true ``params``.

    ``params`` holds every name of :data:`PARAMETERS` and optionally ``means_x``/``means_y`` (one mean per
    wave; zero by default). The data are generated by the model's recursion (random intercepts, first-wave
    within-person scores, then ``w_t = B w_t-1 + innovation``), all normal. Returns a wide frame with columns
    ``x1..xT, y1..yT``, one row per person.

    ``dropout`` > 0 adds monotone dropout that is missing at random: a person still in the study at wave
    ``t - 1`` leaves before wave ``t`` (and misses every later wave, x and y) with probability
    ``expit(logit(dropout) + DROPOUT_SLOPE * z)``, ``z`` their x at ``t - 1`` in SDs from its mean, so
    lonelier persons drop out more. Dropout depends only on observed values, so FIML is consistent and the
    complete cases are a selected sample.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if waves < 2:
        raise ValueError(f"waves must be at least 2, got {waves}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    theta = _structural_vector(params)
    means = {}
    for var in ("x", "y"):
        given = params.get(f"means_{var}")
        means[var] = np.zeros(waves) if given is None else np.asarray(given, dtype=float)
        if means[var].shape != (waves,):
            raise ValueError(f"means_{var} must have one value per wave ({waves}), got {len(means[var])}")
    phi, psi1, psi = (_sym2(theta[[i]], theta[[j]], theta[[c]])[0] for i, j, c in _BLOCKS)
    lag = np.array([[theta[0], theta[3]], [theta[2], theta[1]]])
    rng = np.random.default_rng(seed)
    ri = rng.multivariate_normal(np.zeros(2), phi, size=n, method="eigh")
    within = np.empty((n, waves, 2))
    within[:, 0] = rng.multivariate_normal(np.zeros(2), psi1, size=n, method="eigh")
    for t in range(1, waves):
        within[:, t] = within[:, t - 1] @ lag.T + rng.multivariate_normal(np.zeros(2), psi, size=n, method="eigh")
    xs = means["x"] + ri[:, [0]] + within[:, :, 0]
    ys = means["y"] + ri[:, [1]] + within[:, :, 1]
    if dropout > 0:
        sd_x = np.sqrt(np.diag(_implied_cov_batch(theta, waves)[0])[:waves])
        base = math.log(dropout / (1 - dropout))
        present = np.ones(n, dtype=bool)
        for t in range(1, waves):
            z = (xs[:, t - 1] - means["x"][t - 1]) / sd_x[t - 1]
            leave = rng.random(n) < 1 / (1 + np.exp(-(base + DROPOUT_SLOPE * z)))
            present &= ~leave
            xs[~present, t] = np.nan
            ys[~present, t] = np.nan
    columns = [f"x{t + 1}" for t in range(waves)] + [f"y{t + 1}" for t in range(waves)]
    return pd.DataFrame(np.hstack([xs, ys]), columns=columns)


def wide_from_long(
    panel: pd.DataFrame,
    *,
    id: str,
    wave: str,
    x: str,
    y: str,
    waves: list[int] | None = None,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Pivot a long panel (one row per person and wave) to the wide layout :func:`fit_riclpm` takes.

    Returns ``(wide, x_columns, y_columns)``: ``wide`` has one row per person (index: the ``id`` values,
    sorted) and columns ``f"{x}_{w}"`` and ``f"{y}_{w}"`` for every wave ``w`` of ``waves`` (default: every
    wave in the panel, sorted), NaN where a person has no row or a missing value. Rows of waves not in
    ``waves`` are ignored. Raises ValueError naming a missing column, rows with a missing id or wave, or a
    person with two rows in one wave (the first such id and wave).
    """
    missing = [c for c in (id, wave, x, y) if c not in panel.columns]
    if missing:
        raise ValueError(f"column(s) missing from the panel: {', '.join(map(repr, missing))}")
    if len({id, wave, x, y}) < 4:
        raise ValueError(f"id, wave, x and y must be four different columns; got {id!r}, {wave!r}, {x!r}, {y!r}")
    no_key = panel[id].isna() | panel[wave].isna()
    if no_key.any():
        raise ValueError(f"{int(no_key.sum())} row(s) with a missing {id!r} or {wave!r}")
    if waves is None:
        waves = sorted(panel[wave].unique().tolist())
    else:
        waves = list(waves)
        panel = panel[panel[wave].isin(waves)]
    if len(waves) < 3:
        raise ValueError(f"the RI-CLPM needs at least 3 waves; got {len(waves)}: {waves}")
    dupes = panel.duplicated([id, wave], keep=False)
    if dupes.any():
        person, when = (_plain(panel.loc[dupes, c].iloc[0]) for c in (id, wave))
        count = int(((panel[id] == person) & (panel[wave] == when)).sum())
        raise ValueError(f"person {person!r} has {count} rows in wave {when!r} "
                         f"({int(dupes.sum())} duplicated person-wave rows in all)")
    wide = panel.pivot(index=id, columns=wave, values=[x, y])
    x_cols = [f"{x}_{w}" for w in waves]
    y_cols = [f"{y}_{w}" for w in waves]
    out = pd.DataFrame(index=wide.index.sort_values())
    for var, cols in ((x, x_cols), (y, y_cols)):
        for w, col in zip(waves, cols):
            out[col] = wide[(var, w)] if (var, w) in wide.columns else np.nan
    return out, x_cols, y_cols
