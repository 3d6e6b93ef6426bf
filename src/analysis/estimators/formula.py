"""The one formula engine of the package: formulaic (pinned in requirements.txt).

Every model's right-hand side is a formula string from params.yaml (``"age + C(sex)"``). Design matrices
are built here with formulaic, the engine lifelines and linearmodels use; statsmodels' formula API is
switched to formulaic too (``statsmodels.formula.options``, with patsy's term ordering, "legacy"), so a
covariate set means the same columns in every estimator. patsy is installed (statsmodels depends on it)
but never used.
"""

from __future__ import annotations

import ast
from functools import lru_cache

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
    return list(_variables(" ".join((rhs or "").split())))


@lru_cache(maxsize=4096)
def _variables(rhs: str) -> tuple[str, ...]:
    """:func:`formula_variables` of a normalised right-hand side, memoised: parsing a formula costs about 2 ms,
    and a specification curve asks for the same few formulas thousands of times."""
    if not rhs:
        return ()
    return tuple(sorted(set(Formula(rhs).required_variables) | _transform_arguments(rhs)))


def without_terms(rhs: str, names: set[str]) -> tuple[str, list[str]]:
    """``rhs`` minus the top-level ``+`` terms that use any column in ``names``; returns (rhs, dropped terms):
    ``"a + log(b) + C(c)"`` without ``{"b"}`` -> ``("a + C(c)", ["log(b)"])``."""
    terms, depth, current = [], 0, ""
    for ch in " ".join((rhs or "").split()):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "+" and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        terms.append(current.strip())
    kept, dropped = [], []
    for term in terms:
        (dropped if set(formula_variables(term)) & names else kept).append(term)
    return " + ".join(kept), dropped


#: formulaic's stateful spline transforms, whose data argument ``required_variables`` leaves out.
SPLINE_TRANSFORMS = ("bs", "cr", "cc", "te")


def _transform_arguments(rhs: str) -> set[str]:
    """Column names passed positionally to a spline transform (``cr(bmi, df=4)`` -> ``{"bmi"}``): formulaic
    0.x/1.x does not list them in ``required_variables``, so the complete-case and missing-column checks
    would miss them."""
    names: set[str] = set()
    for term in Formula(rhs):
        for part in term.factors:
            try:
                tree = ast.parse(str(part.expr), mode="eval")
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id in SPLINE_TRANSFORMS):
                    names.update(arg.id for arg in node.args if isinstance(arg, ast.Name))
    return names


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


def regressor_matrix(frame: pd.DataFrame, rhs: str) -> pd.DataFrame:
    """The columns of a right-hand side fitted without an intercept (``"<rhs> - 1"``: a categorical term first
    in the formula keeps all its levels); empty for an empty right-hand side."""
    rhs = " ".join((rhs or "").split())
    if not rhs:
        return pd.DataFrame(index=frame.index)
    return design_matrix(frame, f"{rhs} - 1")
