"""Discrete-time complementary log-log hazard on unit-intervals: a grouped-time proportional-hazards model.

One row per unit and interval (e.g. interview to next interview), the event indicator of the interval, the
exposures and covariates at the interval's start, a dummy per interval and ``log(interval length)`` as offset:
``P(event in interval j) = 1 - exp(-exp(a_j + log(length) + x'b))``, so ``exp(b)`` is a hazard ratio
(Prentice & Gloeckler 1978). statsmodels GLM (binomial, cloglog link), IRLS.

**Weights** (``weight``): inverse-probability weights enter as ``var_weights`` (the weighted score equations of
a pseudo-likelihood; the same estimates as ``freq_weights``, see :mod:`analysis.estimators.glm` for why not
those), normalised to nothing: the sandwich does not depend on their scale. Record design ``weighted``.

**Standard errors**: cluster-robust by unit (``cluster``), ``V = G/(G-1) H^-1 (sum_g s_g s_g') H^-1`` with
``H`` the Hessian of the (weighted) log-likelihood and ``s_g`` the summed scores of unit ``g``: statsmodels
``cov_type="cluster"`` with ``use_correction=False`` times ``G/(G-1)`` (:mod:`analysis.estimators.vcov`).
statsmodels' default would also multiply by ``(n-1)/(n-k)``. Wald intervals on the normal scale.

**Convergence** is recorded, never silenced: statsmodels' convergence and perfect-separation warnings go into
the note, and either makes ``converged`` False (as does IRLS stopping at its iteration limit).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from analysis.estimators.formula import formula_variables, regressor_matrix
from analysis.estimators.records import (
    ModelSpec,
    check_columns,
    failed_fit_records,
    joint_specs,
    record_row,
    records_frame,
)
from analysis.estimators.vcov import with_small_sample_factor

MODEL = "cloglog_hazard"
FIT_ERRORS = (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError, RuntimeError)


def fit_cloglog_hazard(
    data: pd.DataFrame, spec: ModelSpec, *, event: str, interval: str, length: str, cluster: str,
    joint: Mapping[str, str] | None = None, weight: str | None = None, alpha: float = 0.05, maxiter: int = 100,
) -> pd.DataFrame:
    """Cloglog hazard of ``event`` on ``spec.exposure`` (and the ``joint`` exposures, column -> label, entered
    together and each recorded as its own exposure) and ``spec.covariates``, a dummy per value of ``interval``,
    offset ``log(length)``; SE clustered by ``cluster`` (G/(G-1)). ``weight`` (a column) fits the weighted
    version (design "weighted"). Records (measure HR); the sample is the complete cases on event, exposures,
    covariates, length (and weight). ``maxiter`` caps the IRLS iterations (a fit that reaches it did not
    converge).
    """
    specs = joint_specs(spec, joint)
    exposures = [s.exposure for s in specs]
    rhs = spec.covariates
    needed = [event, *exposures, *formula_variables(rhs), length, *([weight] if weight else [])]
    check_columns(data, [*needed, interval, cluster], "the cloglog hazard model")
    sample = data.dropna(subset=list(dict.fromkeys(needed))).copy()
    design = "weighted" if weight else "unweighted"
    events = float(sample[event].sum())
    common = {"model": MODEL, "design": design, "vcov": "cluster", "n": len(sample), "events": events}
    try:
        exog = pd.concat([regressor_matrix(sample, f"{' + '.join(exposures)}{' + ' + rhs if rhs else ''}"),
                          pd.get_dummies(sample[interval], prefix=interval, dtype=float)], axis=1)
        glm = GLM(sample[event].to_numpy(float), exog,
                     family=families.Binomial(link=families.links.CLogLog()),
                     offset=np.log(sample[length].to_numpy(float)),
                     var_weights=None if weight is None else sample[weight].to_numpy(float),
                     # the interval dummies sum to 1 (an implicit constant): said here, statsmodels skips the two
                     # rank computations (SVDs of the whole design) that would find it
                     hasconst=True)
        groups = pd.factorize(sample[cluster])[0]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = glm.fit(maxiter=maxiter, cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
        cov, g = with_small_sample_factor(result.cov_params(), groups)
    except FIT_ERRORS as err:
        return failed_fit_records(specs, err, **common)
    problems = sorted({str(w.message).splitlines()[0] for w in caught
                       if issubclass(w.category, (ConvergenceWarning, PerfectSeparationWarning))})
    converged = bool(result.converged) and not problems
    with np.errstate(invalid="ignore"):  # a negative variance (a degenerate sample) gives a NaN SE
        se = pd.Series(np.sqrt(np.diag(cov)), index=result.params.index)
    weighting = f"; weighted by '{weight}' (var_weights; SE treats the weights as fixed)" if weight else ""
    note = (f"discrete-time complementary log-log hazard (statsmodels GLM) on {len(sample):,} intervals of "
            f"{sample[cluster].nunique():,} units: exposures at the interval's start, covariates '{rhs}', a dummy "
            f"per {interval}, offset log({length}); exp(estimate) is a hazard ratio; SE cluster-robust by "
            f"'{cluster}' ({g} clusters, uncorrected sandwich x G/(G-1)){weighting}")
    if problems:
        note += f"; statsmodels: {'; '.join(problems)}"
    if not result.converged:
        note += f"; IRLS did not converge in {maxiter} iterations"
    rows = [record_row(s, s.exposure, "per point", float(result.params[s.exposure]), float(se[s.exposure]),
                       converged=converged, note=note, alpha=alpha, n_groups=float(g), **common) for s in specs]
    return records_frame(rows)
