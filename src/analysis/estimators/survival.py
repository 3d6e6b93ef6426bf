"""Cox proportional-hazards models for time to death, fit from a spec, returned as tidy records.

Estimation: :func:`fit_cox` uses the vectorised Efron-ties Newton-Raphson of :mod:`analysis.estimators.cox_fast`
(checked there against lifelines ``CoxPHFitter`` to 1e-8, here against R ``coxph``: tests/reference/). It
replaced lifelines' fitter in this function because lifelines' stratified fit took about 2 s per NHANES model
(75 strata, pandas-level risk sets) against 0.05 s. The proportional-hazards test (:func:`cox_ph_test`) still
fits with lifelines (:class:`EfronCoxFitter`), whose ``proportional_hazard_test`` needs its fitter.

* **Ties: Efron** (lifelines' only method for the partial likelihood). NHANES follow-up is counted in whole
  months, so tied death times are common; Breslow's approximation would shrink log-HRs towards 0.
* **Cause-specific CVD death**: the event column is ``cvd_death`` with deaths from other causes coded 0, i.e.
  censored at death. The HR is a cause-specific hazard ratio, not a subdistribution (Fine-Gray) ratio.
* The design matrix is built with **formulaic** from the same right-hand side string as every other model
  (formulaic is the engine behind lifelines' own ``formula=``), so a covariate set is edited in one place.

Designs (the ``design`` column of the records):

* ``"design-based"``: the survey weight (normalised to mean 1) as ``weights_col`` - a weighted
  pseudo-partial-likelihood - with a **cluster-robust sandwich** variance by variance unit
  (``cluster`` = stratum x PSU).
* ``"multilevel"``: lifelines has no frailty term, so the analogue is a Cox model **stratified by survey
  stratum** (``strata=["stratum"]``: a separate baseline hazard per stratum, not a random effect / frailty),
  unweighted, with the same cluster-robust variance by stratum x PSU (record ``model`` ``stratified_cox``).
* ``"unweighted"``: unweighted, model-based (inverse-information) standard errors. The
  proportional-hazards test is run on this fit.

Standard-error convention for both cluster-robust designs: ``V = G/(G-1) * sum_g D_g D_g'`` where ``D_g`` is
the sum over cluster ``g`` of the dfbeta residuals (score residuals times the inverse information) and ``G``
the number of clusters: the with-replacement linearisation variance that ignores stratification, the same
small-sample factor Stata applies to ``vce(cluster)`` for likelihood models and the one
:mod:`analysis.estimators.glm` uses. Wald intervals on the normal scale.

Why the sandwich is computed here and not with lifelines' ``robust=True``: lifelines computes score
residuals with a Python loop that is quadratic in the number of rows (about 4.5 s per fit at 14,000 rows)
and treats tied times as if ordered (a subject's risk set excludes others tied with it). The vectorised
version below uses proper risk sets and the Breslow form of the score residuals (as statsmodels ``PHReg``;
R's ``coxph`` uses Efron-weighted residuals, which differ only at tied event times). Tests check it
against lifelines' ``robust=True`` on untied data and against statsmodels ``PHReg`` on tied data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from lifelines.exceptions import ConvergenceError, ConvergenceWarning, StatisticalWarning
from lifelines.fitters.coxph_fitter import SemiParametricPHFitter
from lifelines.statistics import proportional_hazard_test

from analysis.estimators.cox_fast import efron_cox, efron_score_residuals
from analysis.estimators.formula import design_matrix
from analysis.estimators.records import (
    ModelSpec,
    complete_cases,
    exposure_coefficients,
    exposure_levels,
    exposure_records,
    failed_records,
    normalised_weights,
    ph_tests_frame,
)
from analysis.estimators.vcov import cluster_sandwich

# Reserved column names for the frame handed to lifelines, so no covariate can collide with them.
_T, _E, _W, _S = "__duration", "__event", "__weight", "__stratum"
# Newton-Raphson tolerances: tighter than lifelines' defaults so estimates agree with other
# implementations (statsmodels PHReg, R coxph) to about 1e-8.
FIT_OPTIONS = {"precision": 1e-12, "r_precision": 1e-14, "max_steps": 200}


class EfronCoxFitter(SemiParametricPHFitter):
    """lifelines' Efron-ties Cox fitter (the class ``CoxPHFitter`` delegates to for its default, semi-parametric
    baseline) minus the per-stratum summary of the training data lifelines keeps for plots.

    That summary (a pandas ``describe()`` of every column in every stratum) took 3.0 of 3.3 s of a fit
    stratified by NHANES' 75 strata; estimates, variance and residuals are unchanged (lifelines 0.30 is pinned
    in requirements.txt; a test compares with ``CoxPHFitter``). ``plot_partial_effects_on_outcome`` and
    predictions at "typical values" are unavailable on these fits: fitting returns data, figures are elsewhere.
    """

    def _compute_central_values_of_raw_training_data(self, df, strata=None, name="baseline"):
        return pd.DataFrame(index=[name])


#: Newton step of the one retry when lifelines' default step (0.95) diverges ("delta contains nan value(s)",
#: seen on the NHANES cardiovascular-death model with spline terms: a basis column for extreme BMI has SD 0.011).
#: A smaller step converges to the same maximum (checked there against step 0.25 and CoxPHFitter: 1e-8).
RETRY_STEP_SIZE = 0.5


def fit_efron(training: pd.DataFrame, fit_options: dict, *, strata: list[str] | None = None,
              **fit_kwargs) -> tuple[EfronCoxFitter, list, str]:
    """An :class:`EfronCoxFitter` fitted to ``training`` (``fit_kwargs``: duration_col, event_col, ...), the
    warnings of that fit (recorded, for the caller to sort), and a note: "" or, when the default Newton step
    diverged (lifelines ConvergenceError on a NaN step), the refit with step :data:`RETRY_STEP_SIZE` that
    replaced it (the failed attempt's warnings are dropped with it). Any other error propagates."""
    def attempt(options: dict) -> tuple[EfronCoxFitter, list]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cph = EfronCoxFitter(strata=strata).fit(training, fit_options=options, **fit_kwargs)
        return cph, list(caught)

    try:
        return (*attempt(fit_options), "")
    except ConvergenceError as err:
        if "nan" not in str(err):
            raise
    return (*attempt({**fit_options, "step_size": RETRY_STEP_SIZE}),
            f"refitted with Newton step size {RETRY_STEP_SIZE}: the default step diverged (lifelines "
            "'delta contains nan')")


def cox_design_matrix(frame: pd.DataFrame, rhs: str) -> pd.DataFrame:
    """Design matrix of a right-hand side (formulaic, as lifelines' ``formula=``), without the intercept."""
    return design_matrix(frame, rhs).drop(columns="Intercept", errors="ignore")


def cox_score_residuals(
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    beta: np.ndarray,
    weights: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    ties: str = "efron",
    entry: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted score residuals of a Cox model (within strata), one row per subject.

    With ``r_i = exp(x_i'beta)``, ``S0(t) = sum_{j: t_j >= t} w_j r_j`` and ``S1(t)`` the same sum of
    ``w_j r_j x_j``, at a distinct event time with ``d`` tied deaths D (``S0_D``, ``S1_D`` their sums and
    ``wbar`` their mean weight), the Efron approximation splits the time into ``d`` terms ``k = 0..d-1`` with
    ``xbar_k = (S1 - k/d S1_D) / (S0 - k/d S0_D)`` and hazard increments ``dL_k = wbar / (S0 - k/d S0_D)``;
    a tied death is at risk in term ``k`` with fraction ``1 - k/d``. Then::

        U_i = w_i * [ delta_i * (x_i - mean_k xbar_k(t_i)) - r_i * sum_{t <= t_i} sum_k c_ik (x_i - xbar_k) dL_k ]

    with ``c_ik = 1 - k/d`` for the deaths at ``t`` and 1 otherwise (R ``survival`` coxph's residuals for
    ``ties = "efron"``; they sum to the score, zero at the estimate). ``ties="breslow"`` uses one term per
    time (``d = 1`` in the formulas: statsmodels PHReg's robust covariance). A subject censored at ``t`` is
    at risk at ``t``. Written by hand because lifelines' own score residuals ignore case weights with
    Efron ties; checked against R coxph in tests/test_reference_r.py.

    ``entry`` (left truncation, delayed entry: R ``Surv(entry, time, event)``): subject ``j`` is at risk at
    ``t`` only when ``entry_j < t <= time_j``, so the risk-set sums drop those not yet entered and the
    integral of ``U_i`` runs over ``(entry_i, time_i]`` (event times at or before ``entry_i`` excluded). An
    entry at or after the exit time raises a ValueError. Checked against R ``svycoxph(Surv(entry, exit,
    event) ~ ...)`` in tests/reference/survey_entry/.
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties '{ties}' unknown; use 'efron' or 'breslow'")
    X = np.asarray(X, dtype=float)
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    weights = np.ones(len(time)) if weights is None else np.asarray(weights, dtype=float)
    strata = np.zeros(len(time)) if strata is None else np.asarray(strata)
    start = np.full(len(time), -np.inf) if entry is None else np.asarray(entry, dtype=float)
    if entry is not None and not np.all(start < time):
        bad = int(np.flatnonzero(~(start < time))[0])
        raise ValueError(f"entry must be before the exit time: row {bad} enters at {start[bad]:g} and exits at "
                         f"{time[bad]:g}")
    n, p = X.shape
    residuals = np.zeros((n, p))
    for stratum in pd.unique(strata):
        rows = np.flatnonzero(strata == stratum)
        order = rows[np.argsort(time[rows], kind="stable")]
        x, t, d, w, e = X[order], time[order], event[order], weights[order], start[order]
        lp = x @ beta
        risk = np.exp(lp - lp.max())  # any constant cancels between S0 and the risk scores
        wr = w * risk
        # Sums over the risk set {j: t_j >= t}: reverse cumulative sums over time-sorted rows.
        s0_from = np.cumsum(wr[::-1])[::-1]
        s1_from = np.cumsum((wr[:, None] * x)[::-1], axis=0)[::-1]
        dead = np.flatnonzero(d > 0)
        event_times = np.unique(t[dead])
        if event_times.size == 0:
            continue
        first = np.searchsorted(t, event_times, side="left")  # first row still at risk at t_m
        # Delayed entry: the rows not yet entered at t_m (entry >= t_m; they all exit after t_m) leave the sums.
        by_entry = np.argsort(e, kind="stable")
        e_sorted = e[by_entry]
        late0 = np.concatenate([np.cumsum(wr[by_entry][::-1])[::-1], [0.0]])
        late1 = np.vstack([np.cumsum((wr[by_entry, None] * x[by_entry])[::-1], axis=0)[::-1], np.zeros(p)])
        not_entered = np.searchsorted(e_sorted, event_times, side="left")  # first row with entry >= t_m
        s0_at = s0_from[first] - late0[not_entered]
        s1_at = s1_from[first] - late1[not_entered]
        slot = np.searchsorted(event_times, t[dead])  # event time of each death
        n_dead = np.bincount(slot, minlength=event_times.size)
        w_dead = np.bincount(slot, weights=w[dead], minlength=event_times.size)
        s0_dead = np.bincount(slot, weights=wr[dead], minlength=event_times.size)
        s1_dead = np.zeros((event_times.size, p))
        np.add.at(s1_dead, slot, wr[dead, None] * x[dead])
        # Per event time m: A = sum_k dL_k, B = sum_k xbar_k dL_k (everyone at risk), the same with the
        # tied deaths' fractions (A_dead, B_dead), and the deaths' mean xbar.
        A = np.zeros(event_times.size)
        B = np.zeros((event_times.size, p))
        A_dead, B_dead = np.zeros_like(A), np.zeros_like(B)
        xbar_mean = np.zeros_like(B)
        for m in range(event_times.size):
            dm = int(n_dead[m]) if ties == "efron" else 1
            frac = np.arange(dm) / dm
            s0 = s0_at[m] - frac * s0_dead[m]
            xbar = (s1_at[m] - frac[:, None] * s1_dead[m]) / s0[:, None]
            dl = (w_dead[m] / dm) / s0
            A[m], B[m] = dl.sum(), dl @ xbar
            A_dead[m], B_dead[m] = ((1 - frac) * dl).sum(), ((1 - frac) * dl) @ xbar
            xbar_mean[m] = xbar.mean(axis=0)
        cum_A = np.concatenate([[0.0], np.cumsum(A)])
        cum_B = np.vstack([np.zeros(p), np.cumsum(B, axis=0)])
        k = np.searchsorted(event_times, t, side="right")  # number of event times <= t_i
        k0 = np.searchsorted(event_times, e, side="right")  # event times <= entry_i: before i was at risk
        u = -risk[:, None] * (x * (cum_A[k] - cum_A[k0])[:, None] - (cum_B[k] - cum_B[k0]))
        # Deaths: their own time counts with the Efron fractions, and the event term.
        u[dead] += risk[dead, None] * ((x[dead] * A[slot][:, None] - B[slot])
                                       - (x[dead] * A_dead[slot][:, None] - B_dead[slot]))
        u[dead] += x[dead] - xbar_mean[slot]
        residuals[order] = w[:, None] * u
    return residuals


def cluster_robust_covariance(
    score_residuals: np.ndarray, bread: np.ndarray, clusters: np.ndarray, small_sample: bool = True
) -> np.ndarray:
    """Cluster-robust sandwich of a Cox fit: :func:`analysis.estimators.vcov.cluster_sandwich` of the dfbeta
    residuals ``U_i @ bread`` (``bread``: the model-based covariance, the inverse information)."""
    return cluster_sandwich(np.asarray(score_residuals) @ np.asarray(bread), clusters, small_sample)


def _fit_lifelines(X: pd.DataFrame, time, event, weights=None, strata=None) -> tuple[EfronCoxFitter, bool, str]:
    """Fit Efron-ties Cox with lifelines on a prepared design matrix; returns (fitter, converged, warnings)."""
    df = X.copy()
    df[_T], df[_E] = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    if weights is not None:
        df[_W] = np.asarray(weights, dtype=float)
    if strata is not None:
        df[_S] = np.asarray(strata)
    cph, caught, retried = fit_efron(df, FIT_OPTIONS, strata=[_S] if strata is not None else None, duration_col=_T,
                                     event_col=_E, weights_col=_W if weights is not None else None)
    # Non-integer weights make lifelines warn that its *model-based* SEs are wrong: we never use those
    # for weighted fits (the sandwich replaces them), so that warning is dropped.
    problems = [str(w.message).split("\n")[0] for w in caught
                if issubclass(w.category, ConvergenceWarning)]
    other = [str(w.message).split("\n")[0] for w in caught
             if not issubclass(w.category, (ConvergenceWarning, StatisticalWarning, DeprecationWarning,
                                            FutureWarning))]
    return cph, not problems, "; ".join(problems + other + ([retried] if retried else []))


def _sample(data: pd.DataFrame, spec: ModelSpec, duration: str, event: str, extra: list[str | None],
            weight: str | None):
    frame = complete_cases(data, [duration, event, *spec.variables(), *extra], weight=weight)
    levels = exposure_levels(frame[spec.exposure]) if spec.exposure_type == "categorical" else None
    reference = levels[0] if levels else None
    return frame, levels, spec.rhs(reference)


def fit_cox(
    data: pd.DataFrame,
    spec: ModelSpec,
    *,
    duration: str,
    event: str,
    design: str = "design-based",
    weight: str | None = None,
    cluster: str = "cluster",
    stratum: str = "stratum",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Fit one Cox model (Efron ties) and return the exposure term(s) as records (measure "HR").

    ``design``: "design-based" (weights + cluster-robust SE; needs ``weight``), "multilevel" (stratified by
    ``stratum``, unweighted, cluster-robust SE) or "unweighted" (model-based SE). When ``weight`` is given to a
    design that does not use it, rows without a positive weight are still dropped, so every design of one
    outcome/exposure/covariate set uses the same analytic sample.
    """
    if design not in ("design-based", "multilevel", "unweighted"):
        raise ValueError(f"design '{design}' unknown for a Cox model")
    if design == "design-based" and weight is None:
        raise ValueError("a design-based Cox model needs the survey weight column (params.yaml models.weight)")
    extra = {"design-based": [weight, cluster], "multilevel": [weight, stratum, cluster], "unweighted": [weight]}
    frame, levels, rhs = _sample(data, spec, duration, event, extra[design], weight)
    n, events = len(frame), float(frame[event].sum())
    robust = design != "unweighted"
    common = dict(levels=levels, model="stratified_cox" if design == "multilevel" else "cox", design=design,
                  vcov="cluster" if robust else "model_based", n=n, events=events,
                  n_groups=float(frame[cluster].nunique()) if robust else np.nan)
    if events == 0:
        return failed_records(spec, note="no events in the analytic sample", **common)

    X = cox_design_matrix(frame, rhs)
    w = normalised_weights(frame[weight]) if design == "design-based" else None
    strata = frame[stratum].to_numpy() if design == "multilevel" else None
    x, time, died = X.to_numpy(dtype=float), frame[duration].to_numpy(dtype=float), frame[event].to_numpy(dtype=float)
    try:
        fit = efron_cox(x, time, died, w, strata)
    except (np.linalg.LinAlgError, ValueError) as err:
        return failed_records(spec, note=f"Cox fit failed: {str(err).splitlines()[0]}", **common)
    converged, problems = fit.converged, fit.problem

    params = pd.Series(fit.params, index=X.columns)
    if design == "unweighted":
        se = pd.Series(np.sqrt(np.diag(fit.covariance)), index=params.index)
        note = "Efron ties; unweighted; model-based SE (inverse information); the fit the PH test uses"
    else:
        u = efron_score_residuals(x, time, died, fit.params, w, strata, layout=fit.layout)
        cov = cluster_robust_covariance(u, fit.covariance, frame[cluster].to_numpy())
        se = pd.Series(np.sqrt(np.diag(cov)), index=params.index)
        g = frame[cluster].nunique()
        robust = f"cluster-robust sandwich SE by stratum x PSU ({g} clusters, factor G/(G-1))"
        if design == "design-based":
            note = f"Efron ties; survey-weighted ({weight}, normalised to mean 1) pseudo-partial-likelihood; {robust}"
        else:
            note = (f"Efron ties; Cox stratified by {stratum} ({frame[stratum].nunique()} levels): stratified "
                    f"baseline hazards, not a frailty; unweighted; {robust}")
    if problems:
        note = f"{note}; {problems}"
    return exposure_records(spec, params, se, converged=converged, note=note, alpha=alpha, **common)


def cox_ph_test(
    data: pd.DataFrame,
    spec: ModelSpec,
    *,
    duration: str,
    event: str,
    ph_alpha: float = 0.01,
    weight: str | None = None,
) -> pd.DataFrame:
    """Proportional-hazards check: Schoenfeld-residual test per model term (lifelines, rank time transform).

    Runs ``lifelines.statistics.proportional_hazard_test(..., time_transform="rank")`` on the *unweighted*
    fit with model-based SEs (the test statistic uses them; no design-based version exists in lifelines).
    One row per term, covariates included; ``exposure_term`` marks the exposure rows, whose ``term`` and
    ``term_label`` match the records. ``flagged`` = ``p_value < ph_alpha``. ``weight`` (optional) only
    restricts the sample to rows with a positive weight, as in :func:`fit_cox`.
    """
    frame, levels, rhs = _sample(data, spec, duration, event, [weight], weight)
    n, events = len(frame), float(frame[event].sum())
    X = cox_design_matrix(frame, rhs)
    cph, converged, problems = _fit_lifelines(X, frame[duration], frame[event])
    training = X.copy()
    training[_T], training[_E] = frame[duration].to_numpy(float), frame[event].to_numpy(float)
    result = proportional_hazard_test(cph, training, time_transform="rank")
    table = result.summary
    names = {coef: (term, label) for coef, term, label in exposure_coefficients(spec, levels)}
    note = "Schoenfeld-residual test, rank time transform, on the unweighted Efron-ties fit (model-based SE)"
    if not converged:
        note += f"; fit did not converge: {problems}"
    rows = []
    for coefficient in cph.params_.index:
        term, label = names.get(coefficient, (coefficient, coefficient))
        p_value = float(table.loc[coefficient, "p"])
        rows.append({
            "study": spec.study, "outcome": spec.outcome, "outcome_label": spec.outcome_label,
            "exposure": spec.exposure, "covariate_set": spec.covariate_set, "term": term, "term_label": label,
            "exposure_term": coefficient in names,
            "test_statistic": float(table.loc[coefficient, "test_statistic"]), "p_value": p_value,
            "flagged": p_value < ph_alpha, "n": n, "events": events, "note": note,
        })
    return ph_tests_frame(rows)
