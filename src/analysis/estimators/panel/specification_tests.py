"""Specification tests of the panel estimators: the classical Hausman test and the Mundlak Wald tests.

**Hausman test** (:func:`hausman`), per outcome x exposure, on the time-varying coefficients (exposure and
time-varying covariates; not the time dummies): the classical ``(b_FE - b_RE)' (V_FE - V_RE)^+ (b_FE - b_RE)``
with ``df`` the rank of ``V_FE - V_RE``, from the *non-robust* covariances of both fits, both using one
idiosyncratic variance (the FE residual variance, Stata's ``hausman, sigmaless``). With one variance,
``V_FE - V_RE`` is positive semi-definite (RE is GLS for the error structure it estimated, FE a linear unbiased
competitor), so the statistic is never negative; with each model's own variance it can be. The classical test
assumes homoskedastic, serially uncorrelated idiosyncratic errors; the cluster-robust alternative is the
**Mundlak Wald test** (:func:`mundlak_wald`) that the between- and within-unit coefficients of the same
regressors are equal in the within-between model: jointly over every time-varying regressor (exposure and
covariates), and for the exposure alone (1 df). Only the second says whether the exposure's between- and
within-unit associations differ.

The tests are a table of their own (:data:`PANEL_TEST_COLUMNS`: the statistic and its df in columns).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from linearmodels import PanelOLS, RandomEffects
from scipy import stats

from analysis.estimators.panel.mundlak import fit_mundlak_model
from analysis.estimators.panel.sample import FIT_ERRORS, PanelSample, multi_wave_rows, with_constant
from analysis.estimators.records import table_frame

#: Columns of the specification-test table returned by :func:`analysis.estimators.panel.panel_tests`.
PANEL_TEST_COLUMNS: list[str] = ["outcome", "exposure", "test", "statistic", "df", "p_value", "note"]
HAUSMAN_TEST = "Hausman FE vs RE (classical)"
MUNDLAK_TEST = "Mundlak between = within (cluster-robust Wald)"
MUNDLAK_EXPOSURE_TEST = "Mundlak between = within, exposure only (cluster-robust Wald)"
#: Short keys of the tests (metrics files, manuscript): the joint Mundlak test is over every time-varying
#: regressor, so what it says about the exposure is the 1-df exposure-only test.
TEST_KEYS = {HAUSMAN_TEST: "hausman", MUNDLAK_TEST: "mundlak", MUNDLAK_EXPOSURE_TEST: "mundlak_exposure"}


def hausman(p: PanelSample) -> dict:
    """Classical Hausman test FE vs RE on the time-varying coefficients (see the module docstring)."""
    names = list(p.tv.columns)
    unit, units, period = p.layout.unit, p.layout.units, p.layout.period
    row = {"outcome": p.spec.outcome, "exposure": p.spec.exposure, "test": HAUSMAN_TEST}
    used = multi_wave_rows(p)
    try:
        fe = PanelOLS(p.y.loc[used], p.tv.loc[used], entity_effects=True, time_effects=True).fit(
            cov_type="unadjusted")
        re = RandomEffects(p.y, with_constant(p.tv, p.invariant, p.waves)).fit(small_sample=True,
                                                                               cov_type="unadjusted")
    except FIT_ERRORS as err:
        return {**row, "statistic": math.nan, "df": math.nan, "p_value": math.nan,
                "note": f"fit failed ({type(err).__name__}): {str(err).splitlines()[0] if str(err) else ''}"}
    sigma2 = float(fe.s2)  # idiosyncratic variance from the two-way FE residuals, df n - persons - waves + 1 - k
    v_fe = fe.cov.loc[names, names].to_numpy()
    v_re = re.cov.loc[names, names].to_numpy() * sigma2 / float(re.s2)
    d = (fe.params[names] - re.params[names]).to_numpy()
    eigenvalues, vectors = np.linalg.eigh(v_fe - v_re)
    tol = 1e-8 * max(np.abs(eigenvalues).max(), np.finfo(float).tiny)
    positive = eigenvalues > tol
    statistic = float(((vectors[:, positive].T @ d) ** 2 / eigenvalues[positive]).sum())
    df = int(positive.sum())
    p_value = float(stats.chi2.sf(statistic, df)) if df > 0 else math.nan
    note = (f"classical Hausman on {len(names)} time-varying coefficients ({', '.join(names)}; wave dummies "
            "excluded): (b_FE - b_RE)'(V_FE - V_RE)^+(b_FE - b_RE), df = rank; NON-ROBUST covariances of "
            f"both fits with one idiosyncratic variance ({sigma2:.3g}, from the two-way FE residuals; Stata "
            "'sigmaless'), valid only for homoskedastic, serially uncorrelated errors - see the cluster-robust "
            f"Mundlak test; FE on {len(used)} {unit}-{period}s (single-{period} {units} dropped), RE on {len(p.index)}")
    if (eigenvalues < -tol).any():
        note += f"; V_FE - V_RE has {int((eigenvalues < -tol).sum())} negative eigenvalue(s), left out"
    return {**row, "statistic": statistic, "df": float(df), "p_value": p_value, "note": note}


def mundlak_wald(p: PanelSample, exposure_only: bool = False) -> dict:
    """Cluster-robust Wald test that between- and within-person coefficients are equal: jointly for every
    time-varying regressor, or (``exposure_only``) for the exposure alone, a 1-df test whose square root is
    the z of the between - within difference."""
    row = {"outcome": p.spec.outcome, "exposure": p.spec.exposure,
           "test": MUNDLAK_EXPOSURE_TEST if exposure_only else MUNDLAK_TEST}
    try:
        result, covariance, within, between = fit_mundlak_model(p)
        cov = covariance.cov
    except FIT_ERRORS as err:
        return {**row, "statistic": math.nan, "df": math.nan, "p_value": math.nan,
                "note": f"fit failed ({type(err).__name__}): {str(err).splitlines()[0] if str(err) else ''}"}
    pairs = list(zip(within, between))
    if exposure_only:
        pairs = [(w, b) for w, b in pairs if w == p.spec.exposure]
        if len(pairs) != 1:
            raise KeyError(f"exposure '{p.spec.exposure}' is not among the within-person terms {within}")
    columns = list(cov.index)
    contrast = np.zeros((len(pairs), len(columns)))
    for i, (w, b) in enumerate(pairs):
        contrast[i, columns.index(b)] = 1.0
        contrast[i, columns.index(w)] = -1.0
    difference = contrast @ result.params[columns].to_numpy()
    v = contrast @ cov.to_numpy() @ contrast.T
    statistic = float(difference @ np.linalg.solve(v, difference))
    df = len(pairs)
    if exposure_only:
        (w, b), = pairs
        note = (f"Wald test of between - within = 0 for the exposure {w} alone (between {result.params[b]:.4g}, "
                f"within {result.params[w]:.4g}, difference {difference[0]:.4g}, SE {math.sqrt(v[0, 0]):.4g}, "
                f"z {difference[0] / math.sqrt(v[0, 0]):.2f}) in the within-between random-effects model; "
                f"{covariance.text}")
    else:
        note = (f"joint Wald test of between - within = 0 for all {df} time-varying regressors "
                f"({', '.join(within)}) in the within-between random-effects model, not a test of the exposure "
                f"alone (see the exposure-only test); {covariance.text}; the robust alternative to the "
                "classical Hausman test (rejection: the person-level confounding that FE removes matters)")
    return {**row, "statistic": statistic, "df": float(df), "p_value": float(stats.chi2.sf(statistic, df)),
            "note": note}


def panel_tests_frame(rows: list[dict] | pd.DataFrame | None = None) -> pd.DataFrame:
    """Build (or check) a specification-test table with exactly :data:`PANEL_TEST_COLUMNS`."""
    return table_frame(rows, PANEL_TEST_COLUMNS, "panel test table", floats=["statistic", "df", "p_value"])
