"""The one formula engine of the package: formulaic (pinned in requirements.txt).

Every model's right-hand side is a formula string from params.yaml (``"age + C(sex)"``). Design matrices
are built here with formulaic, the engine lifelines and linearmodels use; statsmodels' formula API is
switched to formulaic too (``statsmodels.formula.options``, with patsy's term ordering, "legacy"), so a
covariate set means the same columns in every estimator. patsy is installed (statsmodels depends on it)
but never used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.formula
from formulaic import Formula, model_matrix

statsmodels.formula.options.formula_engine = "formulaic"
statsmodels.formula.options.ordering = "legacy"


def formula_variables(rhs: str) -> list[str]:
    """Data columns a formula right-hand side needs, e.g. ``"age + C(sex)"`` -> ``["age", "sex"]``.

    formulaic leaves out the function names it knows (``C``, ``Treatment``, ``np``, ``I``...). An unknown
    function name is returned as if it were a column, so the missing-column check names it.
    """
    rhs = " ".join((rhs or "").split())
    if not rhs:
        return []
    return sorted(Formula(rhs).required_variables)


def design_matrix(frame: pd.DataFrame, formula: str) -> pd.DataFrame:
    """The float design matrix of ``formula`` on ``frame`` (treatment-coded factors, full rank), on
    ``frame``'s index; a missing value is an error (analytic samples are complete cases)."""
    matrix = model_matrix(formula, frame, na_action="raise", ensure_full_rank=True)
    return pd.DataFrame(np.asarray(matrix, dtype=float), columns=list(matrix.columns), index=frame.index)


def covariate_matrix(frame: pd.DataFrame, rhs: str) -> pd.DataFrame:
    """Covariate columns of a right-hand side, reference-coded as with an intercept, without the intercept."""
    rhs = " ".join((rhs or "").split())
    if not rhs:
        return pd.DataFrame(index=frame.index)
    return design_matrix(frame, f"1 + {rhs}").drop(columns="Intercept", errors="ignore")
