"""Conditional (fixed-effects) logit for a 0/1 outcome: the within-unit odds ratio.

Conditioning on each unit's number of outcome events removes the unit effect from the likelihood, so units
whose outcome never changes drop out (``n`` counts the unit-times of those who remain). Time dummies;
model-based SEs (statsmodels offers no cluster-robust option here; the conditional likelihood already treats
units as independent). Fitted by Newton-Raphson; the fit counts as converged when the largest absolute score
at the estimate is below 1e-6 (statsmodels' own flag is not reliable for this model), and statsmodels'
convergence warnings are recorded in the note, never silenced.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.discrete.conditional_models import ConditionalLogit
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from analysis.estimators.panel.common import (
    PanelOptions,
    exposure_rows,
    failed_panel_records,
    panel_records,
    sample_text,
)
from analysis.estimators.panel.sample import FIT_ERRORS, PanelSample, persons

#: The largest absolute score at the estimate for which the fit counts as converged.
SCORE_TOLERANCE = 1e-6


def changers(p: PanelSample) -> pd.Index:
    """Unit-times of units whose binary outcome changes (the only ones in the conditional likelihood)."""
    by_person = p.y.groupby(level=0)
    spread = by_person.transform("max") - by_person.transform("min")
    return p.index[(spread > 0).to_numpy()]


def estimate_conditional_logit(p: PanelSample, options: PanelOptions) -> pd.DataFrame:
    """Conditional logit with time dummies; records (model ``conditional_logit``, measure OR)."""
    used = changers(p)
    layout = p.layout
    try:
        if not p.binary:
            raise ValueError(f"outcome '{p.y.name}' is not binary: the conditional logit needs a 0/1 outcome")
        if used.empty:
            raise ValueError(f"no {layout.unit}'s outcome changes between {layout.period}s")
        waves = p.waves.loc[used]
        exog = pd.concat([p.tv.loc[used], waves.loc[:, waves.std() > 0]], axis=1)  # times no changer was seen in
        groups = pd.factorize(used.get_level_values(0))[0]
        model = ConditionalLogit(p.y.loc[used].to_numpy(), exog, groups=groups)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # Newton-Raphson (statsmodels' numerical Hessian): BFGS stops at a gradient of about 1e-4 here.
            result = model.fit(method="newton", maxiter=100, disp=False)
        params = pd.Series(np.asarray(result.params), index=exog.columns)
        bse = pd.Series(np.asarray(result.bse), index=exog.columns)
        score = np.abs(model.score(params.to_numpy())).max()
        converged = bool(np.isfinite(params).all() and np.isfinite(bse).all() and score < SCORE_TOLERANCE)
    except FIT_ERRORS as err:
        return failed_panel_records(p, "conditional_logit", err, used=used, options=options, vcov="model_based")
    dropped = persons(p.index) - persons(used)
    sample = sample_text(p, len(used), used, dropped=f"{dropped} {layout.units} whose outcome never changes (or "
                         "seen once) contribute nothing to the conditional likelihood")
    note = (f"conditional (fixed-effects) logit (statsmodels ConditionalLogit, groups = {layout.unit}, "
            f"{layout.period} dummies; Newton-Raphson): within-{layout.unit} log odds ratio; {sample}; "
            "SE model-based (inverse numerical Hessian), not cluster-robust")
    if not converged:
        note += f"; did not converge (largest absolute score {score:.2g} at the estimate)"
    problems = sorted({str(w.message).splitlines()[0] for w in caught if issubclass(w.category, ConvergenceWarning)})
    if problems:
        note += f"; statsmodels warned: {'; '.join(problems)}"
    return panel_records(p, "conditional_logit", exposure_rows(p, params, bse, options), n=len(used), used=used,
                         converged=converged, note=note, options=options, vcov="model_based")
