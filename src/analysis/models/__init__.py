"""Models: fit from specs in ``params.yaml``, return tidy result records (never plots, never fitted objects).

* :mod:`.records` - the record every model returns (``RECORD_COLUMNS``), the model spec, shared helpers.
* :mod:`.survival` - Cox proportional hazards (Efron ties), design-based / stratified / unweighted, PH test.
* :mod:`.regression` - logistic and linear GLMs, survey-weighted pseudo-likelihood or unweighted.
* :mod:`.multilevel` - random-intercept linear (REML) and logistic (variational Bayes) models.
* :mod:`.nhanes` - ``run_nhanes_models``: every exposure x covariate set x outcome x design.
* :mod:`.panel` - within-person panel estimators (pooled, RE, FE, FD, Mundlak, conditional logit, multilevel
  growth) and the Hausman / Mundlak tests; ``run_panel_models`` for a ``panel_models`` spec.
"""

from .multilevel import fit_mixed_linear, fit_mixed_logistic, fit_multilevel
from .nhanes import run_nhanes_models
from .records import PH_TEST_COLUMNS, RECORD_COLUMNS, ModelSpec, ph_tests_frame, records_frame
from .regression import fit_glm
from .survival import cox_ph_test, fit_cox
from .panel import (
    PANEL_TEST_COLUMNS,
    PanelLayout,
    fit_conditional_logit,
    fit_first_difference,
    fit_fixed_effects,
    fit_mundlak,
    fit_panel_multilevel,
    fit_pooled_ols,
    fit_random_effects,
    panel_tests,
    run_panel_models,
)

__all__ = [
    "PH_TEST_COLUMNS", "RECORD_COLUMNS", "ModelSpec", "cox_ph_test", "fit_cox", "fit_glm", "fit_mixed_linear",
    "fit_mixed_logistic", "fit_multilevel", "ph_tests_frame", "records_frame", "run_nhanes_models",
    "PANEL_TEST_COLUMNS", "PanelLayout", "fit_conditional_logit", "fit_first_difference", "fit_fixed_effects",
    "fit_mundlak", "fit_panel_multilevel", "fit_pooled_ols", "fit_random_effects", "panel_tests", "run_panel_models",
]
