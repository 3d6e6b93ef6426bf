"""What every model shares: the specification of one fit and the tidy record it returns.

Every model in :mod:`analysis.estimators` returns the same shape, a DataFrame with the columns
:data:`RECORD_COLUMNS`, one row per *exposure* term (covariate coefficients are not recorded).
Tables, figures and the manuscript read these records, never a fitted model object.

Conventions held by every record:

* ``estimate``, ``std_error``, ``ci_low``, ``ci_high`` are on the linear-predictor scale: a log hazard
  ratio (Cox), a log odds ratio (logistic) or a mean difference (linear).
* ``ratio``, ``ratio_ci_low``, ``ratio_ci_high`` are ``exp()`` of those for HR and OR, NaN for a
  mean difference. ``measure`` says which: ``"HR"``, ``"OR"`` or ``"Mean difference"``.
* Confidence intervals and p-values are Wald intervals on the normal scale:
  ``estimate +/- z(1 - alpha/2) * std_error``, two-sided ``p = 2 * (1 - Phi(|estimate / std_error|))``.
* ``term`` is a stable identifier that does not depend on the formula engine: the exposure column for a
  continuous exposure (``term_label`` "per point"), ``"<exposure>[<level>]"`` for each non-reference level
  of a categorical exposure (``term_label`` ``"<level> vs <reference>"``).
* ``n`` is the number of rows used (complete cases on outcome, exposure, covariates and design columns);
  ``events`` the number of events (Cox, logistic) or NaN (linear).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from analysis.estimators.formula import formula_variables  # noqa: F401  (part of the records API)

RECORD_COLUMNS: list[str] = [
    "study", "outcome", "outcome_label", "exposure", "exposure_label", "term", "term_label",
    "estimate", "std_error", "ci_low", "ci_high", "p_value", "ratio", "ratio_ci_low", "ratio_ci_high",
    "measure", "n", "events", "model", "design", "covariate_set", "converged", "note",
]

#: Columns of the proportional-hazards test table (see :func:`analysis.estimators.survival.cox_ph_test`).
PH_TEST_COLUMNS: list[str] = [
    "study", "outcome", "outcome_label", "exposure", "covariate_set", "term", "term_label", "exposure_term",
    "test_statistic", "p_value", "flagged", "n", "events", "note",
]

MEASURES = {"cox": "HR", "logistic": "OR", "linear": "Mean difference"}
DESIGNS = ("design-based", "multilevel", "unweighted")  # the NHANES designs, fit in this order
#: Every ``design`` a record may carry: the NHANES designs, plus "weighted" (e.g. population-weighted
#: ecological models) and "fixed-effects" (panel models with unit and time effects).
RECORD_DESIGNS = (*DESIGNS, "weighted", "fixed-effects")
EXPOSURE_TYPES = ("categorical", "continuous")

_FLOAT_COLUMNS = ["estimate", "std_error", "ci_low", "ci_high", "p_value", "ratio", "ratio_ci_low",
                  "ratio_ci_high", "events"]
_TEXT_COLUMNS = ["study", "outcome", "outcome_label", "exposure", "exposure_label", "term", "term_label",
                 "measure", "model", "design", "covariate_set", "note"]


@dataclass(frozen=True)
class ModelSpec:
    """One model to fit, as read from ``params.yaml`` ``models``: what is regressed on what, and the labels.

    ``covariates`` is a formula right-hand side (patsy/formulaic syntax, e.g. ``"age + C(sex)"``); the
    exposure term is added in front of it by :meth:`rhs`, so editing a covariate set in ``params.yaml`` is
    the only change needed to adjust a model.
    """

    outcome: str  # the outcome's key in params (e.g. "all_cause_death", "phq9_score")
    exposure: str  # a column of the analysis table
    covariates: str = ""  # formula right-hand side, may be empty
    exposure_type: str = "continuous"  # "categorical" or "continuous"
    covariate_set: str = ""
    study: str = ""
    outcome_label: str = ""
    exposure_label: str = ""

    def __post_init__(self) -> None:
        if self.exposure_type not in EXPOSURE_TYPES:
            raise ValueError(
                f"exposure '{self.exposure}': type is '{self.exposure_type}'; use one of {list(EXPOSURE_TYPES)} "
                "(params.yaml models.exposures)"
            )

    def covariate_variables(self) -> list[str]:
        """Columns named in the covariate right-hand side (function names like ``C`` or ``np`` excluded)."""
        return formula_variables(self.covariates)

    def variables(self) -> list[str]:
        """The exposure and every covariate column, in a stable order."""
        return [self.exposure] + [v for v in self.covariate_variables() if v != self.exposure]

    def rhs(self, reference: str | None = None) -> str:
        """Right-hand side ``"<exposure term> + <covariates>"``; a categorical exposure needs its reference."""
        term = exposure_term(self.exposure, reference if self.exposure_type == "categorical" else None)
        covariates = " ".join(self.covariates.split())
        return f"{term} + {covariates}" if covariates else term




def exposure_term(exposure: str, reference: str | None = None) -> str:
    """Formula term for an exposure: the column itself, or ``C(col, Treatment(reference='<first level>'))``."""
    if reference is None:
        return exposure
    return f"C({exposure}, Treatment(reference={reference!r}))"


def exposure_levels(values: pd.Series) -> list[str]:
    """Levels of a categorical exposure, reference first.

    A pandas Categorical keeps its category order (params.yaml lists the reference group first); any other
    column is sorted. Levels absent from the data are dropped, so a model never gets an all-zero column.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique())
        return [str(c) for c in values.cat.categories if c in present]
    return sorted(str(v) for v in values.dropna().unique())


def exposure_coefficients(spec: ModelSpec, levels: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(coefficient name in the fitted model, record ``term``, record ``term_label``) for the exposure.

    patsy (statsmodels) and formulaic (lifelines, and the Cox design matrix here) name a treatment-coded
    level ``"<term>[T.<level>]"``; both are checked in the tests.
    """
    if spec.exposure_type == "continuous":
        return [(spec.exposure, spec.exposure, "per point")]
    if not levels or len(levels) < 2:
        raise ValueError(
            f"exposure '{spec.exposure}' has fewer than two levels in the analytic sample of outcome "
            f"'{spec.outcome}' ({levels}): nothing to compare"
        )
    reference, others = levels[0], levels[1:]
    term = exposure_term(spec.exposure, reference)
    return [(f"{term}[T.{level}]", f"{spec.exposure}[{level}]", f"{level} vs {reference}") for level in others]


def check_columns(data: pd.DataFrame, columns: Iterable[str], where: str) -> None:
    """Raise a ValueError naming the first column that a spec needs and the table lacks."""
    for column in columns:
        if column not in data.columns:
            raise ValueError(
                f"column '{column}' (named in {where}) is not in the analysis table; "
                f"add it to the table or fix the spec. Available columns: {', '.join(map(str, data.columns))}"
            )


def complete_cases(data: pd.DataFrame, columns: Iterable[str], weight: str | None = None) -> pd.DataFrame:
    """The analytic sample of one model: rows with every listed column present (and a positive weight).

    Returns a copy with only those columns; nullable integers/booleans (the schema's 0/1 ``Int8``)
    become float64 and unused categories are dropped, so neither patsy nor formulaic sees a missing value
    or builds an all-zero dummy column.
    """
    columns = list(dict.fromkeys(c for c in columns if c))
    check_columns(data, columns, "the model specification")
    frame = data.loc[:, columns].dropna()
    if weight is not None:
        frame = frame.loc[frame[weight] > 0]
    frame = frame.copy()
    for column in frame.columns:
        dtype = frame[column].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            frame[column] = frame[column].cat.remove_unused_categories()
        elif pd.api.types.is_bool_dtype(dtype) or (
            pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype)
        ):
            frame[column] = frame[column].astype("float64")
    return frame


def normalised_weights(values: pd.Series | np.ndarray) -> np.ndarray:
    """Weights rescaled to mean 1 in the analytic sample (point estimates and sandwich SEs are unchanged)."""
    w = np.asarray(values, dtype=float)
    return w / w.mean()


def exposure_records(
    spec: ModelSpec,
    params: pd.Series,
    std_errors: pd.Series,
    *,
    levels: list[str] | None,
    model: str,
    design: str,
    n: int,
    events: float,
    converged: bool,
    note: str,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Records for the exposure term(s) of one fit, from coefficient and standard-error Series."""
    rows = []
    for coefficient, term, term_label in exposure_coefficients(spec, levels):
        if coefficient not in params.index:
            raise KeyError(
                f"coefficient '{coefficient}' not among the fitted terms {list(params.index)}: "
                "the formula engine named the exposure term differently than expected"
            )
        rows.append(record_row(spec, term, term_label, float(params[coefficient]), float(std_errors[coefficient]),
                               model=model, design=design, n=n, events=events, converged=converged, note=note,
                               alpha=alpha))
    return records_frame(rows)


def failed_records(spec: ModelSpec, *, levels: list[str] | None, model: str, design: str, n: int, events: float,
                   note: str) -> pd.DataFrame:
    """Rows for a fit that failed numerically: NaN estimates, ``converged`` False, the error in ``note``."""
    rows = [record_row(spec, term, label, math.nan, math.nan, model=model, design=design, n=n, events=events,
                       converged=False, note=note)
            for _, term, label in exposure_coefficients(spec, levels)]
    return records_frame(rows)


def record_row(
    spec: ModelSpec, term: str, term_label: str, estimate: float, std_error: float, *, model: str, design: str,
    n: int, events: float, converged: bool, note: str, alpha: float = 0.05,
) -> dict:
    """One record: Wald CI and p on the linear-predictor scale, ratios by exponentiation for HR and OR."""
    if model not in MEASURES:
        raise ValueError(f"model '{model}' unknown; use one of {list(MEASURES)}")
    measure = MEASURES[model]
    z = stats.norm.ppf(1 - alpha / 2)
    ci_low, ci_high = estimate - z * std_error, estimate + z * std_error
    p_value = float(2 * stats.norm.sf(abs(estimate / std_error))) if std_error > 0 else math.nan
    exp = measure in ("HR", "OR")
    return {
        "study": spec.study, "outcome": spec.outcome, "outcome_label": spec.outcome_label,
        "exposure": spec.exposure, "exposure_label": spec.exposure_label, "term": term, "term_label": term_label,
        "estimate": estimate, "std_error": std_error, "ci_low": ci_low, "ci_high": ci_high, "p_value": p_value,
        "ratio": exp_or_inf(estimate) if exp else math.nan,
        "ratio_ci_low": exp_or_inf(ci_low) if exp else math.nan,
        "ratio_ci_high": exp_or_inf(ci_high) if exp else math.nan,
        "measure": measure, "n": int(n), "events": float(events), "model": model, "design": design,
        "covariate_set": spec.covariate_set, "converged": bool(converged), "note": note,
    }


def exp_or_inf(x: float) -> float:
    """``exp(x)``, or infinity where it overflows (a CI limit of a fit on separated data: the record keeps
    the fit, and its ratio CI is unbounded, rather than the stage crashing)."""
    return math.exp(x) if x < 709.0 else math.inf


def records_frame(rows: Iterable[dict] | pd.DataFrame | None = None) -> pd.DataFrame:
    """Build (or check) a records frame: exactly :data:`RECORD_COLUMNS`, in order, with stable dtypes.

    Raises ValueError naming any missing or unexpected column, an unknown ``design`` or ``measure``.
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows or []))
    if frame.empty and len(frame.columns) == 0:
        frame = pd.DataFrame(columns=RECORD_COLUMNS)
    missing = [c for c in RECORD_COLUMNS if c not in frame.columns]
    extra = [c for c in frame.columns if c not in RECORD_COLUMNS]
    if missing or extra:
        raise ValueError(f"records frame: missing columns {missing}, unexpected columns {extra}")
    frame = frame.loc[:, RECORD_COLUMNS]
    bad_design = sorted(set(frame["design"].dropna()) - set(RECORD_DESIGNS))
    if bad_design:
        raise ValueError(f"records frame: design {bad_design} unknown; use one of {list(RECORD_DESIGNS)}")
    bad_measure = sorted(set(frame["measure"].dropna()) - set(MEASURES.values()))
    if bad_measure:
        raise ValueError(f"records frame: measure {bad_measure} unknown; use one of {list(MEASURES.values())}")
    frame[_FLOAT_COLUMNS] = frame[_FLOAT_COLUMNS].astype("float64")
    frame["n"] = frame["n"].astype("int64")
    frame["converged"] = frame["converged"].astype(bool)
    for column in _TEXT_COLUMNS:
        frame[column] = frame[column].astype(object)
    return frame.reset_index(drop=True)


def ph_tests_frame(rows: Iterable[dict] | pd.DataFrame | None = None) -> pd.DataFrame:
    """Build (or check) a proportional-hazards test table with exactly :data:`PH_TEST_COLUMNS`."""
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows or []))
    if frame.empty and len(frame.columns) == 0:
        frame = pd.DataFrame(columns=PH_TEST_COLUMNS)
    missing = [c for c in PH_TEST_COLUMNS if c not in frame.columns]
    extra = [c for c in frame.columns if c not in PH_TEST_COLUMNS]
    if missing or extra:
        raise ValueError(f"PH test table: missing columns {missing}, unexpected columns {extra}")
    frame = frame.loc[:, PH_TEST_COLUMNS]
    frame[["test_statistic", "p_value", "events"]] = frame[["test_statistic", "p_value", "events"]].astype("float64")
    frame["n"] = frame["n"].astype("int64")
    frame[["flagged", "exposure_term"]] = frame[["flagged", "exposure_term"]].astype(bool)
    return frame.reset_index(drop=True)
