"""Cox model with time-varying covariates on (start, stop] rows, Efron ties (lifelines CoxTimeVaryingFitter).

One row per unit and interval in counting-process form: the unit is at risk on (start, stop] with the
covariate values of that row, and the event (if any) happens at ``stop``. Model-based SEs (a unit's intervals
do not overlap). Checked against R ``coxph(Surv(start, stop, event) ~ ...)`` (../shared/TOOLING.md: identical
results). lifelines' convergence warnings are recorded in the note and make ``converged`` False, never
silenced.

Record: model ``cox_time_varying``, design ``unweighted``, vcov ``model_based``, measure HR.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from lifelines import CoxTimeVaryingFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning

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
FIT_ERRORS = (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError, RuntimeError,
              ConvergenceError)


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
        frame = pd.concat([sample[[entity, start, stop, event]].reset_index(drop=True), x.reset_index(drop=True)],
                          axis=1)
        frame[entity] = pd.factorize(frame[entity])[0]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ctv = CoxTimeVaryingFitter(alpha=alpha).fit(frame, event_col=event, start_col=start, stop_col=stop,
                                                        id_col=entity)
    except FIT_ERRORS as err:
        return failed_fit_records(specs, err, **common)
    problems = sorted({str(w.message).splitlines()[0] for w in caught if issubclass(w.category, ConvergenceWarning)})
    summary = ctv.summary
    note = (f"Cox model with time-varying exposures (lifelines CoxTimeVaryingFitter, Efron ties) on ({start}, {stop}] "
            f"rows; covariates '{rhs}'; {len(sample):,} intervals of {sample[entity].nunique():,} units, "
            f"{events:,.0f} events; SE model-based")
    if problems:
        note += f"; lifelines: {'; '.join(problems)}"
    rows = [record_row(s, s.exposure, "per point", float(summary.loc[s.exposure, "coef"]),
                       float(summary.loc[s.exposure, "se(coef)"]), converged=not problems, note=note, alpha=alpha,
                       **common) for s in specs]
    return records_frame(rows)
