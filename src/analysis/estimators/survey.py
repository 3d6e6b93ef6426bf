"""Design-based (Taylor-linearisation) variance of survey-weighted Cox, logistic and linear models.

What R's ``survey`` package computes for ``svydesign(ids = ~psu, strata = ~stratum, weights = ~w,
nest = TRUE)`` followed by ``svycoxph`` or ``svyglm`` (checked against survey 4.1.1 and the current
source, 4.5; tests/reference/survey/ holds the R script and its numbers).

**Variance.** Each fit gives one influence row per observation, ``h_i`` (its score contribution times the
bread: for a Cox model the weighted dfbeta residuals, for a GLM the weighted score times
``(X'WX)^-1``). With PSUs nested in strata, ``z_hi`` the sum of ``h_i`` over the rows of PSU ``i`` of
stratum ``h``, ``n_h`` the number of PSUs of stratum ``h`` in the design and ``zbar_h = sum_i z_hi / n_h``::

    V = sum_h n_h / (n_h - 1) * sum_{i in h} (z_hi - zbar_h)(z_hi - zbar_h)'

(``survey:::onestrat``: ``scale = f * nPSU / (nPSU - 1)`` with ``f = 1`` without a finite population
correction, ``x`` summed by PSU with ``rowsum`` and centred with ``sweep(x, 2, colMeans(x))``; this is the
with-replacement, ultimate-cluster variance: no finite population correction, no later stages). The
design degrees of freedom are ``number of PSUs - number of strata`` (``survey:::degf.survey.design2``).
``n_h/(n_h - 1)`` is :func:`analysis.estimators.vcov.small_sample_factor` of ``n_h``.

**Strata with a single PSU** (``lonely_psu``, R's ``options(survey.lonely.psu = ...)``), for a stratum whose
design has one PSU:

* ``"fail"``: raise a ValueError naming the stratum (R's own default).
* ``"remove"``: the stratum contributes nothing to ``V``.
* ``"certainty"``: the PSU is taken as sampled with certainty, so it too contributes nothing (in a
  one-stage, ultimate-cluster variance this equals ``"remove"``; in R they differ only in later stages).
  Neither option changes the degrees of freedom (R's ``degf`` does not either).
* ``"adjust"`` (the **default** here): the PSU total is centred at the grand mean of all PSU totals,
  ``zbar = sum_all z / sum_h n_h``, instead of its own stratum mean (which would give 0), with scale 1:
  it contributes ``(z - zbar)(z - zbar)'``. This is survey >= 4.3 (``onestage``'s ``recentering``
  attribute and the C++ ``arma_onestage``); survey 4.1 centred it at 0 instead. For the influence
  functions of an estimating equation the PSU totals sum to zero at the solution, so both versions agree
  to the convergence tolerance. The default is ``"adjust"`` rather than R's ``"fail"`` because it is the
  conservative choice that keeps an analysis running: a lonely PSU adds a positive variance term rather
  than being dropped (``"remove"`` understates the variance) or stopping every model of a table; a
  design with no lonely stratum - the usual case - gives the same numbers under every option.

**Domains.** A complete-case sample or a subgroup is a *domain* of the full design, not a new design
(R: ``subset(design, ...)``): rows outside the domain keep their PSU and stratum and contribute zero
influence, and ``n_h`` is the stratum's number of PSUs in the full design. A stratum in which the domain
falls in one PSU is therefore not "lonely" (its other PSUs enter with total 0), which is R's default
``options(survey.adjust.domain.lonely = FALSE)``. :func:`domain_variance` takes the full design columns
and a domain mask and reproduces R's subset design exactly: strata without a domain row drop out, and the
degrees of freedom count the PSUs and strata that hold domain rows (R's ``degf`` of the subset design).

**Point estimates** are those of the existing weighted fits: weights normalised to mean 1 in the domain
(``svycoxph``/``svyglm`` ``rescale = TRUE``; estimates and this variance do not depend on the scale).
Cox: the vectorised Efron-ties Newton-Raphson of :mod:`analysis.estimators.cox_fast` (lifelines' fitter until
2026-12-07, the same estimates to about 1e-8, 0.3 s a fit against 0.03 s) with the weights as case weights
(``coxph(..., weights = )`` as ``svycoxph`` calls it); the influence is ``w_i U_i I^-1`` with ``U_i`` the
Efron-weighted score residuals (:func:`analysis.estimators.cox_fast.efron_score_residuals`, equal to
:func:`analysis.estimators.survival.cox_score_residuals`) and ``I^-1`` the inverse weighted information
(R: ``resid(fit, "dfbeta", weighted = TRUE)``). GLM: statsmodels IRLS with ``var_weights`` (the weighted
score equations of ``glm(..., weights = )`` as ``svyglm`` calls it); the influence is
``w_i x_i (y_i - mu_i) mu'_i / V(mu_i) (X'WX)^-1`` with working weights ``W`` (``survey:::svy.varcoef``).

**Intervals**: Wald, ``estimate +/- t(1 - alpha/2; df) * SE`` and two-sided t p-values on the design
degrees of freedom ``df`` (the Stata/SUDAAN convention; R's ``confint.svyglm`` uses ``df - p + 1``,
``summary.svycoxph`` the normal distribution; the coefficients and SEs are the same).

**Wald tests** of several coefficients (:func:`wald_test`, e.g. the interaction terms of an effect
modifier): ``F = b' V^-1 b / q`` on ``(q, design df - p + 1)``, R's ``regTermTest(fit, ~term, method =
"Wald")`` (tests/reference/survey_wald/).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from lifelines.exceptions import ConvergenceError
from scipy import stats
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.sm_exceptions import ConvergenceWarning as GLMConvergenceWarning
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from analysis.estimators.cox_counting import fit_cox_counting
from analysis.estimators.cox_fast import efron_cox, efron_score_residuals
from analysis.estimators.formula import design_matrix, formula_variables
from analysis.estimators.glm import FAMILIES
from analysis.estimators.records import (
    ModelSpec,
    check_columns,
    complete_cases,
    exposure_coefficients,
    exposure_levels,
    failed_records,
    normalised_weights,
    record_row,
    records_frame,
    t_interval,  # noqa: F401  (part of this module's API: the t interval of design-based records)
)
from analysis.estimators.survival import cox_design_matrix, cox_score_residuals
from analysis.estimators.vcov import small_sample_factor

#: The errors a design-based fit (or a test on it) raises when the data cannot support it: callers record
#: them as a failed fit.
FIT_ERRORS = (ConvergenceError, np.linalg.LinAlgError, ValueError)
LONELY_PSU = ("adjust", "fail", "remove", "certainty")
DESIGN = "design-based"
#: Record ``vcov`` of every design-based fit: Taylor linearisation with PSUs nested in strata.
VCOV = "linearisation"


# --- the variance --------------------------------------------------------------------------------------


def _labels(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if pd.isna(pd.Series(array, dtype=object)).any():
        raise ValueError(f"{name} has missing values: every row of the design needs a stratum and a PSU")
    return array


def _psu_codes(strata, psu) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(PSU code of each row, stratum code of each PSU, stratum labels); PSUs are nested in strata, so
    ``(stratum, psu)`` pairs identify a PSU (``nest = TRUE``)."""
    strata = _labels(strata, "strata")
    psu = _labels(psu, "psu")
    if len(strata) != len(psu):
        raise ValueError(f"strata ({len(strata)} rows) and psu ({len(psu)} rows) differ in length")
    stratum_code, stratum_labels = pd.factorize(strata, sort=True)
    within, within_labels = pd.factorize(psu, sort=True)
    # one integer per (stratum, psu) pair, ordered as the pairs sorted (a MultiIndex factorize built 20,000
    # Python tuples: 0.8 s of a 1.5 s design-based GLM fit on a busy machine)
    pair = stratum_code.astype(np.int64) * len(within_labels) + within
    pairs, psu_code = np.unique(pair, return_inverse=True)
    psu_stratum = pairs // len(within_labels)
    return psu_code, psu_stratum, np.asarray(stratum_labels)


def _stratified_variance(z: np.ndarray, psu_stratum: np.ndarray, n_design: np.ndarray, labels: np.ndarray,
                         lonely_psu: str) -> np.ndarray:
    """``sum_h n_h/(n_h-1) sum_i (z_hi - zbar_h)(z_hi - zbar_h)'`` from PSU totals ``z`` (one row per PSU
    with rows, stratum code ``psu_stratum``); ``n_design[h]`` PSUs in the design of stratum ``h`` (PSUs
    without rows enter with total 0); single-PSU strata by ``lonely_psu``."""
    if lonely_psu not in LONELY_PSU:
        raise ValueError(f"lonely_psu '{lonely_psu}' unknown; use one of {list(LONELY_PSU)}")
    present = np.unique(psu_stratum)
    p = z.shape[1]
    cov = np.zeros((p, p))
    lonely = [h for h in present if n_design[h] == 1]
    if lonely and lonely_psu == "fail":
        names = ", ".join(repr(labels[h].item() if hasattr(labels[h], "item") else labels[h]) for h in lonely)
        raise ValueError(
            f"stratum {names} has only one PSU in the design (lonely_psu='fail'); a single PSU gives no "
            "within-stratum variance: merge strata, or choose lonely_psu 'adjust', 'remove' or 'certainty'"
        )
    # Grand mean of the PSU totals over every PSU of the strata present ("adjust" only).
    grand = z.sum(axis=0) / n_design[present].sum()
    for h in present:
        zh = z[psu_stratum == h]
        n_h = int(n_design[h])
        if n_h == 1:
            if lonely_psu == "adjust":
                dev = zh - grand
                cov += dev.T @ dev
            continue  # "remove", "certainty": no contribution
        centre = zh.sum(axis=0) / n_h  # the mean over all n_h PSUs, those without rows being 0
        dev = zh - centre
        ss = dev.T @ dev + (n_h - len(zh)) * np.outer(centre, centre)
        cov += small_sample_factor(n_h) * ss
    return cov


def _psu_totals(influence: np.ndarray, psu_code: np.ndarray, n_psu: int) -> np.ndarray:
    totals = np.zeros((n_psu, influence.shape[1]))
    np.add.at(totals, psu_code, influence)
    return totals


def _as_matrix(influence) -> tuple[np.ndarray, bool]:
    array = np.asarray(influence, dtype=float)
    return (array[:, None], True) if array.ndim == 1 else (array, False)


def design_variance(influence, strata, psu, *, lonely_psu: str = "adjust") -> tuple[np.ndarray, int]:
    """Taylor-linearisation covariance of an estimate with influence rows ``influence`` (n x p, or n),
    PSUs nested in strata; returns ``(covariance, df)`` with ``df = number of PSUs - number of strata``.

    Every row passed is a row of the design (a row outside an estimation domain carries zero influence;
    see :func:`domain_variance` to pass the domain's rows and a mask). ``lonely_psu`` says what a stratum
    with one PSU contributes: "adjust" (default), "fail", "remove" or "certainty" (module docstring).
    """
    z_rows, vector = _as_matrix(influence)
    psu_code, psu_stratum, labels = _psu_codes(strata, psu)
    if len(psu_code) != len(z_rows):
        raise ValueError(f"influence has {len(z_rows)} rows, the design columns {len(psu_code)}")
    n_design = np.bincount(psu_stratum, minlength=len(labels))
    z = _psu_totals(z_rows, psu_code, len(psu_stratum))
    cov = _stratified_variance(z, psu_stratum, n_design, labels, lonely_psu)
    df = len(psu_stratum) - len(labels)
    return (cov[0, 0] if vector else cov), int(df)


def domain_influence(influence, domain) -> np.ndarray:
    """Full-design influence rows: those of the domain rows (in order) where ``domain`` is True, zero
    elsewhere. ``influence`` has one row per domain row (or is already full-length with zeros outside)."""
    mask = np.asarray(domain, dtype=bool)
    z_rows, vector = _as_matrix(influence)
    if len(z_rows) == len(mask) and len(mask) != mask.sum():
        if np.any(z_rows[~mask] != 0):
            raise ValueError("influence rows outside the domain must be zero")
        full = z_rows.copy()
    elif len(z_rows) == mask.sum():
        full = np.zeros((len(mask), z_rows.shape[1]))
        full[mask] = z_rows
    else:
        raise ValueError(f"influence has {len(z_rows)} rows; the domain has {int(mask.sum())} of {len(mask)}")
    return full[:, 0] if vector else full


def domain_variance(influence, strata, psu, domain, *, lonely_psu: str = "adjust") -> tuple[np.ndarray, int]:
    """Design-based covariance of a domain estimate: ``(covariance, df)`` as R computes it on
    ``subset(design, domain)``.

    ``strata``, ``psu`` and ``domain`` (boolean) are columns of the *full* design; ``influence`` has one
    row per domain row (or is full-length with zeros outside the domain). Each stratum keeps its number of
    PSUs in the full design (PSUs without domain rows enter with total 0), strata without domain rows drop
    out, and ``df`` counts the PSUs and strata that hold domain rows (R's ``degf`` of the subset design).
    """
    mask = np.asarray(domain, dtype=bool)
    psu_code, psu_stratum, labels = _psu_codes(strata, psu)
    if len(mask) != len(psu_code):
        raise ValueError(f"domain has {len(mask)} rows, the design columns {len(psu_code)}")
    if not mask.any():
        raise ValueError("the domain is empty")
    full = domain_influence(influence, mask)
    z_rows, vector = _as_matrix(full)
    n_design = np.bincount(psu_stratum, minlength=len(labels))
    in_domain = np.unique(psu_code[mask])
    z = _psu_totals(z_rows, psu_code, len(psu_stratum))[in_domain]
    cov = _stratified_variance(z, psu_stratum[in_domain], n_design, labels, lonely_psu)
    df = len(in_domain) - len(np.unique(psu_stratum[in_domain]))
    return (cov[0, 0] if vector else cov), int(df)


# --- fits ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DesignFit:
    """A survey-weighted fit with its design-based covariance (every coefficient, not just the exposure)."""

    params: pd.Series
    cov: pd.DataFrame
    df: int  # design degrees of freedom (PSUs - strata holding domain rows)
    n: int  # rows in the domain
    events: float  # events (Cox, logistic) or NaN (linear)
    n_psu: int
    n_strata: int
    converged: bool
    problems: str  # convergence or fitting warnings, "" if none

    @property
    def std_errors(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=self.params.index)


def _design_domain(data: pd.DataFrame, columns: list[str], *, weight: str, stratum: str, psu: str,
                   subset) -> tuple[pd.DataFrame, np.ndarray]:
    """(analytic frame of the domain, boolean mask over ``data``): rows with every ``column`` present, a
    positive weight and, when given, ``subset`` True. The design columns must be complete on ``data``."""
    check_columns(data, [weight, stratum, psu], "the survey design")
    for column in (weight, stratum, psu):
        if data[column].isna().any():
            raise ValueError(f"design column '{column}' has missing values: every row of the design needs "
                             "a weight, a stratum and a PSU (restrict the table before, or fill them)")
    needed = list(dict.fromkeys([*columns, weight]))
    check_columns(data, needed, "the model specification")
    mask = data[needed].notna().all(axis=1).to_numpy() & (data[weight].to_numpy(dtype=float) > 0)
    if subset is not None:
        sub = np.asarray(subset)
        if sub.shape != mask.shape or pd.isna(pd.Series(sub, dtype=object)).any():
            raise ValueError(f"subset must be a boolean mask without missing values over the {len(mask)} rows")
        mask &= sub.astype(bool)
    frame = complete_cases(data.iloc[np.flatnonzero(mask)], needed, weight=weight)
    return frame, mask


def _collect(caught, categories) -> list[str]:
    return sorted({str(w.message).split("\n")[0] for w in caught if issubclass(w.category, categories)})


def _cox_fit(data: pd.DataFrame, frame: pd.DataFrame, mask: np.ndarray, rhs: str, *, duration: str, event: str,
             weight: str, stratum: str, psu: str, lonely_psu: str, entry: str | None = None) -> DesignFit:
    X = cox_design_matrix(frame, rhs)
    w = normalised_weights(frame[weight])
    time, died = frame[duration].to_numpy(dtype=float), frame[event].to_numpy(dtype=float)
    start = frame[entry].to_numpy(dtype=float) if entry is not None else None
    if start is not None and not np.all(start < time):
        bad = np.flatnonzero(~(start < time))[0]
        raise ValueError(f"entry column '{entry}' must be below '{duration}' in every row of the domain; row "
                         f"{frame.index[bad]} enters at {start[bad]:g} and exits at {time[bad]:g}")
    if start is not None:
        # delayed entry: the vectorised counting-process fit (lifelines' left-truncated fit loops over event times
        # in Python, ~3 s per NHANES fit); the same Efron pseudo-likelihood, checked against R svycoxph
        counting = fit_cox_counting(X.to_numpy(), time, died, entry=start, weights=w)
        beta, bread = counting.params, counting.variance
        params = pd.Series(beta, index=X.columns)
        problems = [] if counting.converged else [counting.message]
        other, retried = [], ""
        influence = cox_score_residuals(X.to_numpy(), time, died, beta, weights=w, entry=start) @ bread  # dfbeta
    else:
        # the vectorised Efron Newton-Raphson (estimators/cox_fast.py): lifelines' fitter took about 0.3 s per NHANES
        # fit, a hundred times over (models, imputations, sensitivity); the same estimates (checked against R
        # svycoxph in tests/reference/survey and against lifelines in tests/estimators/test_cox_fast.py)
        x = X.to_numpy(dtype=float)
        fit = efron_cox(x, time, died, w)
        params = pd.Series(fit.params, index=X.columns)
        beta, bread = fit.params, fit.covariance  # bread: inverse of the weighted (Efron) information
        problems = [fit.problem] if fit.problem else []
        other, retried = [], ""
        influence = efron_score_residuals(x, time, died, beta, w, layout=fit.layout) @ bread  # dfbeta
    cov, df = domain_variance(influence, data[stratum], data[psu], mask, lonely_psu=lonely_psu)
    return _design_fit(params, cov, df, data, mask, stratum, psu, events=float(died.sum()),
                       converged=not problems, problems="; ".join(problems + sorted(set(other))
                                                                  + ([retried] if retried else [])))


def _glm_fit(data: pd.DataFrame, frame: pd.DataFrame, mask: np.ndarray, rhs: str, *, outcome: str, family: str,
             weight: str, stratum: str, psu: str, lonely_psu: str) -> DesignFit:
    _, family_class = FAMILIES[family]
    X = design_matrix(frame, f"1 + {rhs}" if rhs.strip() else "1")
    y = frame[outcome].to_numpy(dtype=float)
    w = normalised_weights(frame[weight])
    glm_family = family_class()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # IRLS to a change in the coefficients below 1e-10 (statsmodels' default stops on the deviance).
        result = GLM(y, X, family=glm_family, var_weights=w).fit(tol=1e-10, tol_criterion="params",
                                                                    maxiter=200)
    problems = _collect(caught, (GLMConvergenceWarning, PerfectSeparationWarning))
    separated = any(issubclass(x.category, PerfectSeparationWarning) for x in caught)
    x = X.to_numpy()
    mu = np.asarray(result.mu, dtype=float)
    dmu_deta = 1.0 / glm_family.link.deriv(mu)
    variance = glm_family.variance(mu)
    score = x * (w * (y - mu) * dmu_deta / variance)[:, None]  # weighted score, unit dispersion
    working = w * dmu_deta ** 2 / variance
    bread = np.linalg.inv(x.T @ (x * working[:, None]))  # (X'WX)^-1
    cov, df = domain_variance(score @ bread, data[stratum], data[psu], mask, lonely_psu=lonely_psu)
    events = float(y.sum()) if family == "binomial" else math.nan
    return _design_fit(result.params, cov, df, data, mask, stratum, psu, events=events,
                       converged=bool(result.converged) and not separated, problems="; ".join(problems))


def _design_fit(params: pd.Series, cov: np.ndarray, df: int, data: pd.DataFrame, mask: np.ndarray, stratum: str,
                psu: str, *, events: float, converged: bool, problems: str) -> DesignFit:
    inside = data.loc[mask, [stratum, psu]]
    names = list(params.index)
    return DesignFit(
        params=pd.Series(np.asarray(params, dtype=float), index=names),
        cov=pd.DataFrame(cov, index=names, columns=names), df=df, n=int(mask.sum()), events=events,
        n_psu=len(inside.drop_duplicates()), n_strata=int(inside[stratum].nunique()),
        converged=converged, problems=problems,
    )


def cox_design_fit(
    data: pd.DataFrame, rhs: str, *, duration: str, event: str, weight: str, stratum: str = "stratum",
    psu: str = "psu", subset=None, lonely_psu: str = "adjust", entry: str | None = None,
) -> DesignFit:
    """Survey-weighted Cox model (Efron ties) of right-hand side ``rhs`` with its design-based covariance,
    every coefficient (R: ``svycoxph(Surv(duration, event) ~ rhs, subset(design, domain))``).

    ``data`` is the full design: every row keeps its stratum and PSU. The domain is the complete cases of
    the model with a positive weight (and ``subset``, a boolean mask over ``data``, when given). Raises
    numpy's LinAlgError when the fit fails (a singular information); a fit that has not converged is recorded
    as such.

    ``entry`` names a column of delayed-entry times (left truncation, counting-process form: R
    ``svycoxph(Surv(entry, duration, event) ~ rhs, ...)``): a row is at risk at ``t`` when ``entry < t <=
    duration``, e.g. age as the time scale with entry at the age at interview. It is fitted with
    :func:`analysis.estimators.cox_counting.fit_cox_counting` (vectorised; lifelines' ``entry_col`` fit gives the
    same estimates to about 1e-8 and took ~60x longer), and :func:`analysis.estimators.survival.cox_score_residuals`
    restricts the risk sets the same way. Rows missing the entry leave the domain; an entry not below
    ``duration`` raises a ValueError.
    """
    columns = [duration, event, *([entry] if entry else []), *formula_variables(rhs)]
    frame, mask = _design_domain(data, columns, weight=weight, stratum=stratum, psu=psu, subset=subset)
    return _cox_fit(data, frame, mask, rhs, duration=duration, event=event, weight=weight, stratum=stratum,
                    psu=psu, lonely_psu=lonely_psu, entry=entry)


def glm_design_fit(
    data: pd.DataFrame, rhs: str, *, outcome: str, family: str, weight: str, stratum: str = "stratum",
    psu: str = "psu", subset=None, lonely_psu: str = "adjust",
) -> DesignFit:
    """Survey-weighted logistic ("binomial") or linear ("gaussian") model of ``outcome ~ rhs`` with its
    design-based covariance, every coefficient (R: ``svyglm(outcome ~ rhs, subset(design, domain))``).
    The domain as in :func:`cox_design_fit`."""
    if family not in FAMILIES:
        raise ValueError(f"family '{family}' unknown; use one of {list(FAMILIES)}")
    frame, mask = _design_domain(data, [outcome, *formula_variables(rhs)], weight=weight, stratum=stratum,
                                 psu=psu, subset=subset)
    return _glm_fit(data, frame, mask, rhs, outcome=outcome, family=family, weight=weight, stratum=stratum,
                    psu=psu, lonely_psu=lonely_psu)


# --- records -------------------------------------------------------------------------------------------


def design_records(spec: ModelSpec, fit: DesignFit, *, levels: list[str] | None, model: str, note: str,
                   alpha: float = 0.05, coefficients: list[tuple[str, str, str]] | None = None,
                   validate: bool = True) -> pd.DataFrame:
    """Records (design "design-based", vcov "linearisation") of the exposure term(s) of a :class:`DesignFit`,
    with t-based intervals and p-values on the fit's design degrees of freedom (record ``df``).
    ``coefficients`` (``(coefficient, term, term_label)`` triples) records other terms of the fit instead,
    e.g. every term of several exposures entered jointly. ``validate=False``: see :func:`records_frame`."""
    se = fit.std_errors
    rows = []
    for coefficient, term, term_label in coefficients or exposure_coefficients(spec, levels):
        if coefficient not in fit.params.index:
            raise KeyError(f"coefficient '{coefficient}' not among the fitted terms {list(fit.params.index)}")
        rows.append(record_row(spec, term, term_label, float(fit.params[coefficient]), float(se[coefficient]),
                               model=model, design=DESIGN, vcov=VCOV, n=fit.n, events=fit.events,
                               converged=fit.converged, note=note, alpha=alpha, df=fit.df, n_groups=fit.n_psu))
    return records_frame(rows, validate=validate)


def _variance_note(fit: DesignFit, lonely_psu: str) -> str:
    note = (f"design-based SE by Taylor linearisation, PSUs nested in strata ({fit.n_psu} PSUs in "
            f"{fit.n_strata} strata; single-PSU strata: {lonely_psu}); the analytic sample is a "
            f"domain of the full design (rows outside it keep their stratum and PSU with zero influence); "
            f"Wald CI and p on t with the design df (PSUs - strata)")
    return f"{note}; {fit.problems}" if fit.problems else note


def _spec_sample(data: pd.DataFrame, spec: ModelSpec, columns: list[str], *, weight: str, stratum: str, psu: str,
                 subset) -> tuple[pd.DataFrame, np.ndarray, list[str] | None, str]:
    frame, mask = _design_domain(data, [*columns, *spec.variables()], weight=weight, stratum=stratum, psu=psu,
                                 subset=subset)
    levels = exposure_levels(frame[spec.exposure]) if spec.exposure_type == "categorical" else None
    return frame, mask, levels, spec.rhs(levels[0] if levels else None)


def fit_cox_design(
    data: pd.DataFrame,
    spec: ModelSpec,
    *,
    duration: str,
    event: str,
    weight: str,
    stratum: str = "stratum",
    psu: str = "psu",
    subset=None,
    lonely_psu: str = "adjust",
    alpha: float = 0.05,
    entry: str | None = None,
    validate: bool = True,
) -> pd.DataFrame:
    """Survey-weighted Cox model (Efron ties) with design-based variance; records of the exposure term(s)
    (measure "HR", design "design-based"). ``data`` is the full design; the domain is the complete cases
    with a positive weight (and ``subset`` when given), see :func:`cox_design_fit` (also for ``entry``,
    delayed entry). ``validate=False`` skips the record-contract check, for a caller that checks the records
    it gathers once (:func:`analysis.estimators.records.records_frame`)."""
    frame, mask, levels, rhs = _spec_sample(data, spec, [duration, event, *([entry] if entry else [])],
                                            weight=weight, stratum=stratum, psu=psu, subset=subset)
    events = float(frame[event].sum())
    common = {"levels": levels, "model": "cox", "design": DESIGN, "vcov": VCOV, "n": len(frame), "events": events,
              "validate": validate}
    if events == 0:
        return failed_records(spec, note="no events in the analytic sample", **common)
    try:
        fit = _cox_fit(data, frame, mask, rhs, duration=duration, event=event, weight=weight, stratum=stratum,
                       psu=psu, lonely_psu=lonely_psu, entry=entry)
    except (ConvergenceError, np.linalg.LinAlgError) as err:
        return failed_records(spec, note=f"Cox fit failed: {str(err).splitlines()[0]}", **common)
    timing = f"; delayed entry at {entry} (left-truncated, at risk on ({entry}, {duration}])" if entry else ""
    note = (f"Efron ties{timing}; survey-weighted pseudo-partial-likelihood (weights {weight}, normalised to mean "
            f"1 in the domain); {_variance_note(fit, lonely_psu)}")
    return design_records(spec, fit, levels=levels, model="cox", note=note, alpha=alpha, validate=validate)


def fit_glm_design(
    data: pd.DataFrame,
    spec: ModelSpec,
    *,
    outcome: str,
    family: str,
    weight: str,
    stratum: str = "stratum",
    psu: str = "psu",
    subset=None,
    lonely_psu: str = "adjust",
    alpha: float = 0.05,
    validate: bool = True,
) -> pd.DataFrame:
    """Survey-weighted logistic ("binomial", OR) or linear ("gaussian", mean difference) model with
    design-based variance; records of the exposure term(s), design "design-based". ``validate`` as in
    :func:`fit_cox_design`."""
    if family not in FAMILIES:
        raise ValueError(f"family '{family}' unknown for outcome '{spec.outcome}'; use one of {list(FAMILIES)}")
    model_name = FAMILIES[family][0]
    frame, mask, levels, rhs = _spec_sample(data, spec, [outcome], weight=weight, stratum=stratum, psu=psu,
                                            subset=subset)
    events = float(frame[outcome].sum()) if family == "binomial" else math.nan
    common = {"levels": levels, "model": model_name, "design": DESIGN, "vcov": VCOV, "n": len(frame),
              "events": events, "validate": validate}
    try:
        fit = _glm_fit(data, frame, mask, rhs, outcome=outcome, family=family, weight=weight, stratum=stratum,
                       psu=psu, lonely_psu=lonely_psu)
    except np.linalg.LinAlgError as err:
        return failed_records(spec, note=f"GLM fit failed: {str(err).splitlines()[0]}", **common)
    note = (f"survey-weighted pseudo-ML (GLM, weights {weight} normalised to mean 1 in the domain); "
            f"{_variance_note(fit, lonely_psu)}")
    return design_records(spec, fit, levels=levels, model=model_name, note=note, alpha=alpha, validate=validate)


# --- means and proportions ----------------------------------------------------------------------------


class DesignMean(NamedTuple):
    """A survey-weighted mean (a proportion for a 0/1 variable) of a domain with its design-based SE."""

    estimate: float
    std_error: float
    df: int  # design degrees of freedom of the domain (PSUs - strata holding domain rows)
    ci_low: float
    ci_high: float
    n: int  # domain rows with the variable observed


def design_mean(values, weights, strata, psu, *, domain=None, lonely_psu: str = "adjust", alpha: float = 0.05,
                interval: str = "logit") -> DesignMean:
    """Weighted mean of ``values`` over the rows of ``domain`` (all rows when None) with a positive weight and
    an observed value, with its Taylor-linearised variance (R ``svymean(~y, subset(design, domain))``; the
    influence of the ratio mean is ``w_i (y_i - mean) / sum w``, a domain of the full design).

    ``interval``: "logit" (R ``svyciprop(~y, design, method = "logit")``: Wald on the logit scale with t on the
    design df, for a proportion: it stays inside (0, 1)) or "t" (mean +/- t * SE). ``strata``, ``psu`` and
    ``weights`` are columns of the *full* design."""
    y = pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce").to_numpy(dtype=float)
    w = pd.to_numeric(pd.Series(np.asarray(weights)), errors="coerce").fillna(0.0).to_numpy(dtype=float)
    mask = ~np.isnan(y) & (w > 0)
    if domain is not None:
        mask &= np.asarray(domain, dtype=bool)
    if not mask.any():
        return DesignMean(math.nan, math.nan, 0, math.nan, math.nan, 0)
    total = w[mask].sum()
    mean = float((w[mask] * y[mask]).sum() / total)
    influence = w[mask] * (y[mask] - mean) / total
    var, df = domain_variance(influence, strata, psu, mask, lonely_psu=lonely_psu)
    se = float(math.sqrt(var))
    q = stats.t.ppf(1 - alpha / 2, df) if df >= 1 else math.nan
    if interval == "logit":
        if not 0 < mean < 1:
            low = high = mean
        else:
            logit, se_logit = math.log(mean / (1 - mean)), se / (mean * (1 - mean))
            low, high = (1 / (1 + math.exp(-(logit + s * q * se_logit))) for s in (-1, 1))
    elif interval == "t":
        low, high = mean - q * se, mean + q * se
    else:
        raise ValueError(f"interval '{interval}' unknown; use 'logit' or 't'")
    return DesignMean(mean, se, int(df), float(low), float(high), int(mask.sum()))


# --- Wald tests of several coefficients ----------------------------------------------------------------


class WaldTest(NamedTuple):
    """A design-based Wald test of ``q`` coefficients: ``F = W / q`` on ``(df_num, df_den)``."""

    F: float
    df_num: int
    df_den: int
    p_value: float


def residual_design_df(fit: DesignFit) -> int:
    """The denominator degrees of freedom R's ``regTermTest`` uses by default: design df - p + 1, with p the
    number of fitted coefficients (the intercept included for a GLM; ``svyglm``'s ``df.residual =
    degf(design) + 1 - length(coef)``, ``svycoxph``'s ``degf.resid = degf(design) - length(coef) + 1``)."""
    return int(fit.df - len(fit.params) + 1)


def wald_test(fit: DesignFit, coefficients, *, df: int | None = None) -> WaldTest:
    """Design-based Wald test that the coefficients named in ``coefficients`` are all zero.

    ``W = b' V^-1 b`` with ``b`` those coefficients and ``V`` their block of the design-based covariance;
    ``F = W / q`` (``q`` coefficients) referred to an F distribution on ``(q, df)``. The default ``df`` is
    :func:`residual_design_df` (design df - p + 1), which is R's ``survey::regTermTest(fit, ~term, method =
    "Wald")`` for ``svyglm`` and ``svycoxph`` fits (survey 4.1.1; tests/reference/survey_wald/); pass
    ``df=fit.df`` for the design df itself. With one coefficient, ``F`` is the squared t statistic. No
    library computes this from our fit objects (statsmodels' ``wald_test`` needs its own results class with
    its own covariance), and the statistic is four lines of algebra, checked against R and by hand.

    Raises KeyError naming a coefficient the fit lacks, ValueError for an empty list or a singular
    covariance block (e.g. a coefficient that the domain cannot estimate).
    """
    names = [coefficients] if isinstance(coefficients, str) else list(coefficients)
    if not names:
        raise ValueError("wald_test needs at least one coefficient to test")
    missing = [name for name in names if name not in fit.params.index]
    if missing:
        raise KeyError(f"coefficients {missing} are not among the fitted terms {list(fit.params.index)}")
    if len(set(names)) != len(names):
        raise ValueError(f"coefficients to test are repeated: {names}")
    beta = fit.params[names].to_numpy(dtype=float)
    block = fit.cov.loc[names, names].to_numpy(dtype=float)
    if not np.all(np.isfinite(block)) or np.linalg.matrix_rank(block) < len(names):
        raise ValueError(f"the covariance of coefficients {names} is singular or not finite: "
                         "they cannot be tested jointly")
    statistic = float(beta @ np.linalg.solve(block, beta))
    q = len(names)
    df_den = residual_design_df(fit) if df is None else int(df)
    F = statistic / q
    p = float(stats.f.sf(F, q, df_den)) if df_den >= 1 else math.nan
    return WaldTest(F=F, df_num=q, df_den=df_den, p_value=p)
