"""Cross-sectional outcomes: logistic (binomial) and linear (gaussian) GLMs, returned as tidy records.

Fit with the statsmodels formula API (patsy), from ``"<outcome> ~ <exposure term> + <covariates>"``.

Designs:

* ``"design-based"``: survey-weighted **pseudo-maximum-likelihood** with cluster-robust (sandwich) SEs by
  variance unit (``cluster`` = stratum x PSU); record ``vcov`` "cluster", ``n_groups`` the clusters. (The
  stratified Taylor-linearised variance with t intervals is :mod:`analysis.estimators.survey`.)
* ``"unweighted"``: ordinary maximum likelihood, model-based SEs (for the linear model the usual OLS SE
  with the residual variance on n - k degrees of freedom); record ``vcov`` "model_based".
* ``"multilevel"``: see :mod:`analysis.estimators.mixed`.

Which statsmodels weights give the pseudo-likelihood estimator: ``GLM(..., var_weights=w)``. The weighted
score equations ``sum_i w_i x_i (y_i - mu_i) / V(mu_i) = 0`` are those of a survey-weighted (pseudo-)likelihood,
and ``var_weights`` keep the number of observations at the number of rows, so nothing that depends on n
(residual degrees of freedom, the scale of a gaussian model) pretends the sample is ``sum(w)`` people large.
``freq_weights`` give the same point estimates but declare each row to be ``w_i`` independent copies: their
model-based SEs and ``nobs`` are wrong for survey weights, and statsmodels' robust covariances are not fully
wired for them (statsmodels issues #2829, #7861). With the sandwich the weights' scale cancels; they are
normalised to mean 1 in each analytic sample anyway. Integer weights reproduce the estimates - and, with the
convention below, the cluster-robust SEs - of the data with rows duplicated; a test checks both.

Standard-error convention (as :mod:`analysis.estimators.survival`): ``V = G/(G-1) * H^-1 (sum_g s_g s_g') H^-1``
with ``s_g`` the summed weighted scores of cluster ``g``, i.e. statsmodels ``cov_type="cluster"`` with
``use_correction=False`` times ``G/(G-1)``; statsmodels' default would also multiply by (n-1)/(n-k). This is
the with-replacement linearisation variance ignoring stratification (usually slightly conservative for
NHANES' two-PSU strata). Wald intervals on the normal scale.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from analysis.estimators.records import (
    ModelSpec,
    complete_cases,
    exposure_levels,
    exposure_records,
    failed_records,
    normalised_weights,
)
from analysis.estimators.vcov import with_small_sample_factor

FAMILIES = {"binomial": ("logistic", families.Binomial), "gaussian": ("linear", families.Gaussian)}


def survey_glm(
    formula: str, frame: pd.DataFrame, family: str, weights: np.ndarray, clusters: np.ndarray
) -> tuple[pd.Series, pd.DataFrame, bool]:
    """Survey-weighted GLM: (params, cluster-robust covariance with factor G/(G-1), converged).

    ``var_weights`` (see the module docstring for why), IRLS, then statsmodels' uncorrected cluster
    sandwich multiplied by ``G/(G-1)``.
    """
    _, family_class = FAMILIES[family]
    codes = pd.factorize(np.asarray(clusters), sort=True)[0]
    model = GLM.from_formula(formula, frame, family=family_class(), var_weights=np.asarray(weights, dtype=float))
    result = model.fit(cov_type="cluster", cov_kwds={"groups": codes, "use_correction": False})
    cov, _ = with_small_sample_factor(result.cov_params(), codes)
    return result.params, cov, bool(result.converged)


def fit_glm(
    data: pd.DataFrame,
    spec: ModelSpec,
    *,
    outcome: str,
    family: str,
    design: str = "design-based",
    weight: str | None = None,
    cluster: str = "cluster",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Fit one logistic ("binomial", measure OR) or linear ("gaussian", mean difference) model; return records.

    ``outcome`` is the outcome column; ``design`` "design-based" (needs ``weight``) or "unweighted". When
    ``weight`` is given to the unweighted design it only restricts the sample to rows with a positive weight,
    so both designs of one model use the same analytic sample.
    """
    if family not in FAMILIES:
        raise ValueError(f"family '{family}' unknown for outcome '{spec.outcome}'; use one of {list(FAMILIES)}")
    if design not in ("design-based", "unweighted"):
        raise ValueError(f"design '{design}' not fit by fit_glm (multilevel: analysis.estimators.mixed)")
    if design == "design-based" and weight is None:
        raise ValueError("a design-based GLM needs the survey weight column (params.yaml models.weight)")
    model_name, family_class = FAMILIES[family]
    extra = [weight, cluster] if design == "design-based" else [weight]
    frame = complete_cases(data, [outcome, *spec.variables(), *extra], weight=weight)
    levels = exposure_levels(frame[spec.exposure]) if spec.exposure_type == "categorical" else None
    formula = f"{outcome} ~ {spec.rhs(levels[0] if levels else None)}"
    n = len(frame)
    events = float(frame[outcome].sum()) if family == "binomial" else np.nan
    vcov = "cluster" if design == "design-based" else "model_based"
    n_groups = float(frame[cluster].nunique()) if design == "design-based" else np.nan
    common = dict(levels=levels, model=model_name, design=design, vcov=vcov, n=n, events=events, n_groups=n_groups)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if design == "design-based":
                w = normalised_weights(frame[weight])
                params, cov, converged = survey_glm(formula, frame, family, w, frame[cluster].to_numpy())
                se = pd.Series(np.sqrt(np.diag(cov)), index=params.index)
                g = frame[cluster].nunique()
                note = (f"survey-weighted pseudo-ML (statsmodels GLM var_weights = {weight} normalised to mean 1); "
                        f"cluster-robust sandwich SE by stratum x PSU ({g} clusters, factor G/(G-1))")
            else:
                result = GLM.from_formula(formula, frame, family=family_class()).fit()
                params, se, converged = result.params, result.bse, bool(result.converged)
                note = "unweighted ML; model-based SE" + (
                    " (residual variance on n - k df)" if family == "gaussian" else "")
        except (np.linalg.LinAlgError, ValueError) as err:
            return failed_records(spec, note=f"GLM fit failed: {str(err).splitlines()[0]}", **common)
    problems = sorted({str(w.message).split("\n")[0] for w in caught
                       if issubclass(w.category, (ConvergenceWarning, PerfectSeparationWarning))})
    if problems:
        note = f"{note}; statsmodels: {'; '.join(problems)}"
        converged = converged and not any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
    return exposure_records(spec, params, se, converged=converged, note=note, alpha=alpha, **common)
