"""Cox model with time-varying covariates on (start, stop] rows, Efron ties (:mod:`analysis.estimators.cox_counting`).

One row per unit and interval in counting-process form: the unit is at risk on (start, stop] with the
covariate values of that row, and the event (if any) happens at ``stop``. Model-based SEs (a unit's intervals
do not overlap). Checked against R ``coxph(Surv(start, stop, event) ~ ...)`` (tests/reference/cox_counting/).
The fit was lifelines' ``CoxTimeVaryingFitter`` until its Python loop over event times made it 2.5x slower than
R (benchmarks/bench_r.py); the vectorised fit gives the same estimates to about 1e-9. A fit that does not
converge says so in the note and has ``converged`` False.

Record: model ``cox_time_varying``, design ``unweighted``, vcov ``model_based``, measure HR.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.estimators.cox_counting import fit_cox_counting
from analysis.estimators.formula import formula_variables, regressor_matrix
from analysis.estimators.records import (
    ModelSpec,
    check_columns,
    failed_fit_records,
    joint_specs,
    record_row,
    records_frame,
)

MODEL = "cox_time_varying"
FIT_ERRORS = (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError, RuntimeError)


def fit_cox_time_varying(
    data: pd.DataFrame, spec: ModelSpec, *, event: str, start: str, stop: str, entity: str,
    joint: Mapping[str, str] | None = None, alpha: float = 0.05,
) -> pd.DataFrame:
    """Time-varying Cox model of ``event`` on ``spec.exposure`` (and the ``joint`` exposures, column -> label,
    entered together and each recorded as its own exposure) and ``spec.covariates``, on (``start``, ``stop``]
    rows of each ``entity``; records (measure HR). The sample is the complete cases on event, exposures,
    covariates, start and stop.
    """
    specs = joint_specs(spec, joint)
    exposures = [s.exposure for s in specs]
    rhs = spec.covariates
    check_columns(data, [event, *exposures, *formula_variables(rhs), start, stop, entity], "the time-varying Cox model")
    sample = data.dropna(subset=list(dict.fromkeys([event, *exposures, *formula_variables(rhs), start, stop]))).copy()
    events = float(sample[event].sum())
    common = {"model": MODEL, "design": "unweighted", "vcov": "model_based", "n": len(sample), "events": events}
    try:
        x = regressor_matrix(sample, f"{' + '.join(exposures)}{' + ' + rhs if rhs else ''}")
        fit = fit_cox_counting(x.to_numpy(dtype=float), sample[stop].to_numpy(dtype=float),
                               sample[event].to_numpy(dtype=float), entry=sample[start].to_numpy(dtype=float))
    except FIT_ERRORS as err:
        return failed_fit_records(specs, err, **common)
    params = pd.Series(fit.params, index=x.columns)
    se = pd.Series(np.sqrt(np.diag(fit.variance)), index=x.columns)
    note = (f"Cox model with time-varying exposures (analysis.estimators.cox_counting, Efron ties; checked against R "
            f"coxph) on ({start}, {stop}] rows; covariates '{rhs}'; {len(sample):,} intervals of "
            f"{sample[entity].nunique():,} units, {events:,.0f} events; SE model-based")
    if not fit.converged:
        note += f"; {fit.message}"
    rows = [record_row(s, s.exposure, "per point", float(params[s.exposure]), float(se[s.exposure]),
                       converged=fit.converged, note=note, alpha=alpha, **common) for s in specs]
    return records_frame(rows)
