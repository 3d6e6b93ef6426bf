"""What every model shares: the specification of one fit and the tidy record it returns (the record contract).

Every model in :mod:`analysis.estimators` returns the same shape, a DataFrame with the columns
:data:`RECORD_COLUMNS`, one row per *exposure* term (covariate coefficients are not recorded). Tables,
figures and the manuscript read these records, never a fitted model object. Each column means the same thing
in every study; :data:`RECORD_SCHEMA` (pandera) checks it whenever a records frame is built
(:func:`records_frame`, which every stage calls before it writes), so a record that breaks the contract never
reaches ``reports/``.

**What was fitted**

* ``model``: the *estimator*, one of :data:`MODELS` (below). It says how the numbers were computed, never
  which study asked for them; a study that shows its own names for its fits (a table header, a metrics key)
  maps the record's columns to them in its own folder.
* ``design``: how the observations are *weighted*, one of :data:`RECORD_DESIGNS`:

  - ``design-based``: survey weights (a pseudo-likelihood) with a variance that follows the survey design;
  - ``weighted``: other weights (population, inverse probability of attrition, a panel weight): weighted least
    squares or a weighted likelihood, the variance treating the weights as fixed;
  - ``unweighted``: every row counts once;
  - ``multilevel``: unweighted, with the grouping of the sample (PSUs, states, persons) *in the model*:
    random effects fitted by likelihood (the ``multilevel_*``, ``within_between_lmm`` models) or, for a Cox
    model, a baseline hazard per group (``stratified_cox``). The GLS random-effects estimators of panel data
    (``random_effects``, ``mundlak``) are ``unweighted``: their variance is cluster-robust.

  Fixed effects are an estimator (``model``), not a design.
* ``vcov``: the variance of the estimate, one of :data:`VCOV_TYPES`: ``model_based`` (inverse information,
  the OLS or REML/ML covariance), ``cluster`` (cluster-robust sandwich times ``G/(G-1)``,
  :mod:`analysis.estimators.vcov`), ``driscoll_kraay`` (kernel sandwich over time periods) or
  ``linearisation`` (design-based Taylor linearisation, PSUs nested in strata, :mod:`analysis.estimators.survey`).
* ``covariate_set``: the *name* of the covariates in ``params.yaml`` - a key of a ``covariate_sets`` block, a
  block's ``covariate_set`` key, or, where a model lists its covariates inline, that model's key. Never free
  text: the contract accepts letters, digits and underscores only (empty for a model without a named set).
* ``sample``: the analytic sample: ``main`` (the study's complete cases for the model), or the name of a
  restricted or altered sample (e.g. ``completers``, ``no_carry``, a sensitivity analysis that leaves part
  of the design out, ``<modifier>=<subgroup>``).

**The numbers**

* ``estimate``, ``std_error``, ``ci_low``, ``ci_high`` are on the linear-predictor scale: a log hazard
  ratio (Cox, cloglog), a log odds ratio (logistic) or a mean difference (linear models, including the linear
  probability versions of the panel estimators for binary outcomes).
* ``ratio``, ``ratio_ci_low``, ``ratio_ci_high`` are ``exp()`` of those for HR and OR, NaN for a
  mean difference. ``measure`` says which: ``"HR"``, ``"OR"`` or ``"Mean difference"``; it follows from
  ``model`` (:data:`MEASURES`) and the contract checks that it does.
* ``statistic`` is the Wald statistic ``estimate / std_error``; ``interval`` says what it and the interval are
  referred to: ``z`` (normal: ``estimate +/- z(1 - alpha/2) * std_error``, ``p = 2 * (1 - Phi(|statistic|))``)
  or ``t`` (Student t on ``df`` degrees of freedom, e.g. the design df = PSUs - strata of a design-based fit,
  or a Barnard-Rubin df after multiple imputation). ``df`` is NaN for ``z``; a ``t`` record without a
  positive ``df`` breaks the contract.
* ``n`` is the number of rows used (complete cases on outcome, exposure, covariates and design columns;
  person-waves or country-years in a panel); ``events`` the number of events (Cox, logistic, hazard models,
  binary panel outcomes) or NaN (linear). ``n_groups`` is the number of groups the variance or the model is
  built on: clusters of a ``cluster`` variance, PSUs of a ``linearisation`` variance, time periods of a
  ``driscoll_kraay`` variance, groups of a multilevel model's random effects; NaN otherwise.
* Variance components, in their own columns (NaN where the model has none): ``var_group`` (variance of the
  group's random intercept, or of the unit effect of a random-effects GLS fit), ``var_slope`` (of the random
  slope), ``cov_group_slope`` (their covariance), ``var_residual`` (residual, or idiosyncratic, variance).
* ``term`` is a stable identifier that does not depend on the formula engine: the exposure column for a
  continuous exposure (``term_label`` "per point"), ``"<exposure>[<level>]"`` for each non-reference level
  of a categorical exposure (``term_label`` ``"<level> vs <reference>"``), ``"<term>:between"`` for the
  between-unit coefficient of a within-between model.
* ``converged`` is False when the fit failed or an optimizer did not converge; ``note`` then says why, in
  words. ``note`` is human text only: no number a program needs is kept there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa
from scipy import stats

from analysis.estimators.formula import formula_variables  # noqa: F401  (part of the records API)

RECORD_COLUMNS: list[str] = [
    "study", "outcome", "outcome_label", "exposure", "exposure_label", "term", "term_label",
    "estimate", "std_error", "statistic", "interval", "df", "ci_low", "ci_high", "p_value",
    "ratio", "ratio_ci_low", "ratio_ci_high", "measure", "n", "events", "n_groups",
    "model", "design", "vcov", "covariate_set", "sample",
    "var_group", "var_slope", "cov_group_slope", "var_residual", "converged", "note",
]

#: Columns of the proportional-hazards test table (see :func:`analysis.estimators.survival.cox_ph_test`).
PH_TEST_COLUMNS: list[str] = [
    "study", "outcome", "outcome_label", "exposure", "covariate_set", "term", "term_label", "exposure_term",
    "test_statistic", "p_value", "flagged", "n", "events", "note",
]


@dataclass(frozen=True)
class Estimator:
    """One value of the record's ``model``: the measure its coefficient is reported as, and what it is."""

    measure: str
    description: str


#: The vocabulary of ``model``: every estimator of the package, the measure of its coefficient, what it is.
MODELS: dict[str, Estimator] = {
    # one row per unit (cross-sectional or time to event)
    "linear": Estimator("Mean difference", "linear regression: least squares, or a Gaussian GLM (survey-weighted: "
                                           "pseudo-maximum likelihood)"),
    "logistic": Estimator("OR", "logistic regression by maximum likelihood (weighted: pseudo-likelihood)"),
    "cox": Estimator("HR", "Cox proportional hazards, partial likelihood, Efron ties"),
    "stratified_cox": Estimator("HR", "Cox proportional hazards with a baseline hazard per group (stratum)"),
    "multilevel_linear": Estimator("Mean difference", "linear mixed model by REML: random intercept (and slope) "
                                                      "per group"),
    "multilevel_logistic": Estimator("OR", "random-intercept logistic model by maximum likelihood (Laplace)"),
    "group_fixed_effects": Estimator("Mean difference", "linear regression with a dummy per group (one-way "
                                                        "fixed effects): the within-group association"),
    # panel data: units observed at several times
    "pooled_ols": Estimator("Mean difference", "pooled least squares with time dummies"),
    "random_effects": Estimator("Mean difference", "random-intercept GLS (Swamy-Arora) with time dummies"),
    "fixed_effects": Estimator("Mean difference", "two-way (unit and time) fixed effects: the within estimator"),
    "first_difference": Estimator("Mean difference", "least squares on changes between adjacent times"),
    "mundlak": Estimator("Mean difference", "within-between (Mundlak) random-effects GLS: within and between "
                                            "coefficients"),
    "conditional_logit": Estimator("OR", "conditional (fixed-effects) logit, conditioned on each unit's events"),
    "within_between_lmm": Estimator("Mean difference", "linear mixed model by REML with each exposure split "
                                                       "into the unit mean and the deviation from it"),
    "cloglog_hazard": Estimator("HR", "discrete-time complementary log-log hazard on unit-intervals (grouped-time "
                                      "proportional hazards)"),
    "cox_time_varying": Estimator("HR", "Cox model with time-varying covariates on (start, stop] rows, Efron ties"),
    "fine_gray": Estimator("HR", "Fine-Gray subdistribution hazards: Cox partial likelihood (Efron ties) on the "
                                 "censoring-weighted expanded data, competing events kept at risk"),
}
#: ``model`` -> ``measure``.
MEASURES: dict[str, str] = {name: e.measure for name, e in MODELS.items()}
MEASURE_NAMES = ("HR", "OR", "Mean difference")
DESIGNS = ("design-based", "multilevel", "unweighted")  # the survey designs of a study, fit in this order
#: Every ``design`` a record may carry (see the module docstring).
RECORD_DESIGNS = ("design-based", "weighted", "unweighted", "multilevel")
#: Every ``vcov`` a record may carry (see the module docstring).
VCOV_TYPES = ("model_based", "cluster", "driscoll_kraay", "linearisation")
INTERVALS = ("z", "t")
#: The variance-component columns (``components=`` of :func:`record_row`).
COMPONENT_COLUMNS = ("var_group", "var_slope", "cov_group_slope", "var_residual")
MAIN_SAMPLE = "main"
EXPOSURE_TYPES = ("categorical", "continuous")

_FLOAT_COLUMNS = ["estimate", "std_error", "statistic", "df", "ci_low", "ci_high", "p_value", "ratio",
                  "ratio_ci_low", "ratio_ci_high", "events", "n_groups", *COMPONENT_COLUMNS]
_TEXT_COLUMNS = ["study", "outcome", "outcome_label", "exposure", "exposure_label", "term", "term_label",
                 "interval", "measure", "model", "design", "vcov", "covariate_set", "sample", "note"]
_NAME = r"[A-Za-z0-9_]*"


def _measure_follows_model(frame: pd.DataFrame) -> pd.Series:
    return frame["measure"] == frame["model"].map(MEASURES)


def _df_follows_interval(frame: pd.DataFrame) -> pd.Series:
    t = frame["interval"] == "t"
    return (t & (frame["df"] > 0)) | (~t & frame["df"].isna())


#: The record contract as a pandera schema: exactly :data:`RECORD_COLUMNS` in order, their types, the
#: vocabularies of ``model``, ``design``, ``vcov``, ``interval`` and ``measure``, a named ``covariate_set``,
#: ``measure`` as ``model`` implies and a ``df`` exactly for t intervals.
_SCHEMA_COLUMNS = {
    **{c: pa.Column(str, nullable=True) for c in ("study", "outcome", "outcome_label", "exposure",
                                                   "exposure_label", "term", "term_label", "note")},
    **{c: pa.Column("float64", nullable=True) for c in _FLOAT_COLUMNS},
    "interval": pa.Column(str, pa.Check.isin(INTERVALS)),
    "measure": pa.Column(str, pa.Check.isin(MEASURE_NAMES)),
    "n": pa.Column("int64", pa.Check.ge(0)),
    "model": pa.Column(str, pa.Check.isin(list(MODELS))),
    "design": pa.Column(str, pa.Check.isin(RECORD_DESIGNS)),
    "vcov": pa.Column(str, pa.Check.isin(VCOV_TYPES)),
    "covariate_set": pa.Column(str, pa.Check.str_matches(f"^{_NAME}$"), nullable=True),
    "sample": pa.Column(str, pa.Check.str_length(min_value=1)),
    "converged": pa.Column(bool),
}
RECORD_SCHEMA = pa.DataFrameSchema(
    {c: _SCHEMA_COLUMNS[c] for c in RECORD_COLUMNS},
    checks=[
        pa.Check(_measure_follows_model, error="measure must be the one its model reports (MEASURES[model])"),
        pa.Check(_df_follows_interval, error="a t interval needs its df (> 0); a z interval has none (NaN)"),
    ],
    strict=True,
    ordered=True,
)


class RecordContractError(ValueError):
    """A records frame breaks the record contract: names the columns, the offending values and the rule."""


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
    sample: str = MAIN_SAMPLE  # the analytic sample (record ``sample``): "main" or a named variant

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
    vcov: str,
    n: int,
    events: float,
    converged: bool,
    note: str,
    alpha: float = 0.05,
    df: float | None = None,
    n_groups: float = math.nan,
    components: Mapping[str, float] | None = None,
    validate: bool = True,
) -> pd.DataFrame:
    """Records for the exposure term(s) of one fit, from coefficient and standard-error Series (``validate``:
    see :func:`records_frame`)."""
    rows = []
    for coefficient, term, term_label in exposure_coefficients(spec, levels):
        if coefficient not in params.index:
            raise KeyError(
                f"coefficient '{coefficient}' not among the fitted terms {list(params.index)}: "
                "the formula engine named the exposure term differently than expected"
            )
        rows.append(record_row(spec, term, term_label, float(params[coefficient]), float(std_errors[coefficient]),
                               model=model, design=design, vcov=vcov, n=n, events=events, converged=converged,
                               note=note, alpha=alpha, df=df, n_groups=n_groups, components=components))
    return records_frame(rows, validate=validate)


def failed_records(spec: ModelSpec, *, levels: list[str] | None, model: str, design: str, vcov: str, n: int,
                   events: float, note: str, df: float | None = None, n_groups: float = math.nan,
                   validate: bool = True) -> pd.DataFrame:
    """Rows for a fit that failed numerically: NaN estimates, ``converged`` False, the error in ``note``."""
    rows = [record_row(spec, term, label, math.nan, math.nan, model=model, design=design, vcov=vcov, n=n,
                       events=events, converged=False, note=note, df=df, n_groups=n_groups)
            for _, term, label in exposure_coefficients(spec, levels)]
    return records_frame(rows, validate=validate)


def joint_specs(spec: ModelSpec, joint: Mapping[str, str] | None = None) -> list[ModelSpec]:
    """The spec of each exposure of a fit that enters several jointly: ``spec`` itself, then one per ``joint``
    exposure (column -> label), each recorded as its own exposure."""
    return [spec, *(replace(spec, exposure=e, exposure_label=label) for e, label in (joint or {}).items())]


def error_text(err: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none), for a record's note."""
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def failed_fit_records(specs: Iterable[ModelSpec], err: BaseException, *, model: str, **common) -> pd.DataFrame:
    """NaN records (``converged`` False) of every spec of a fit that raised ``err``, named in the note."""
    note = f"{model} fit failed ({type(err).__name__}): {error_text(err)}"
    return records_frame(pd.concat([failed_records(s, levels=None, model=model, note=note, **common) for s in specs],
                                   ignore_index=True))


def t_interval(estimate: float, std_error: float, df: float, alpha: float = 0.05) -> tuple[float, float, float]:
    """``(ci_low, ci_high, p)``: Wald interval ``estimate +/- t(1 - alpha/2; df) * SE`` and two-sided t
    p-value (``df`` may be fractional, e.g. a Barnard-Rubin df); NaN when ``df < 1`` or the SE is not positive."""
    if df < 1 or not std_error > 0:
        return math.nan, math.nan, math.nan
    t = float(stats.t.ppf(1 - alpha / 2, df))
    p = float(2 * stats.t.sf(abs(estimate / std_error), df))
    return estimate - t * std_error, estimate + t * std_error, p


def record_row(
    spec: ModelSpec, term: str, term_label: str, estimate: float, std_error: float, *, model: str, design: str,
    vcov: str, n: int, events: float, converged: bool, note: str, alpha: float = 0.05, df: float | None = None,
    n_groups: float = math.nan, components: Mapping[str, float] | None = None,
) -> dict:
    """One record (see the module docstring for every column).

    The interval and p-value are Wald, on the normal scale (``interval`` "z") or, when ``df`` is given, on
    Student's t with ``df`` degrees of freedom (``interval`` "t"); ratios by exponentiation for HR and OR.
    ``components`` holds the variance components the model estimated (keys of :data:`COMPONENT_COLUMNS`).
    """
    if model not in MODELS:
        raise ValueError(f"model '{model}' unknown; use one of {list(MODELS)} (estimators/records.py MODELS)")
    unknown = sorted(set(components or {}) - set(COMPONENT_COLUMNS))
    if unknown:
        raise ValueError(f"variance components {unknown} unknown; use {list(COMPONENT_COLUMNS)}")
    measure = MEASURES[model]
    if df is None:
        z = stats.norm.ppf(1 - alpha / 2)
        ci_low, ci_high = estimate - z * std_error, estimate + z * std_error
        p_value = float(2 * stats.norm.sf(abs(estimate / std_error))) if std_error > 0 else math.nan
    else:
        ci_low, ci_high, p_value = t_interval(estimate, std_error, df, alpha)
    exp = measure in ("HR", "OR")
    return {
        "study": spec.study, "outcome": spec.outcome, "outcome_label": spec.outcome_label,
        "exposure": spec.exposure, "exposure_label": spec.exposure_label, "term": term, "term_label": term_label,
        "estimate": estimate, "std_error": std_error,
        "statistic": estimate / std_error if std_error > 0 else math.nan,
        "interval": "z" if df is None else "t", "df": math.nan if df is None else float(df),
        "ci_low": ci_low, "ci_high": ci_high, "p_value": p_value,
        "ratio": exp_or_inf(estimate) if exp else math.nan,
        "ratio_ci_low": exp_or_inf(ci_low) if exp else math.nan,
        "ratio_ci_high": exp_or_inf(ci_high) if exp else math.nan,
        "measure": measure, "n": int(n), "events": float(events), "n_groups": float(n_groups),
        "model": model, "design": design, "vcov": vcov, "covariate_set": spec.covariate_set, "sample": spec.sample,
        **{c: float((components or {}).get(c, math.nan)) for c in COMPONENT_COLUMNS},
        "converged": bool(converged), "note": note,
    }


def exp_or_inf(x: float) -> float:
    """``exp(x)``, or infinity where it overflows (a CI limit of a fit on separated data: the record keeps
    the fit, and its ratio CI is unbounded, rather than the stage crashing); NaN stays NaN."""
    if math.isnan(x):
        return math.nan
    return math.exp(x) if x < 709.0 else math.inf


def table_frame(rows: Iterable[dict] | pd.DataFrame | None, columns: list[str], what: str, *,
                floats: Iterable[str] = (), ints: Iterable[str] = (), bools: Iterable[str] = (),
                error: type[ValueError] = ValueError) -> pd.DataFrame:
    """A table with exactly ``columns``, in order (an empty one when there are no rows), the named columns as
    float64, int64 and bool; ``error`` (naming ``what``) lists any missing or unexpected column."""
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows or []))
    if frame.empty and len(frame.columns) == 0:
        frame = pd.DataFrame(columns=columns)
    missing = [c for c in columns if c not in frame.columns]
    extra = [c for c in frame.columns if c not in columns]
    if missing or extra:
        raise error(f"{what}: missing columns {missing}, unexpected columns {extra}")
    frame = frame.loc[:, columns]
    for names, dtype in ((list(floats), "float64"), (list(ints), "int64"), (list(bools), bool)):
        if names:
            frame[names] = frame[names].astype(dtype)
    return frame.reset_index(drop=True)


def records_frame(rows: Iterable[dict] | pd.DataFrame | None = None, *, validate: bool = True) -> pd.DataFrame:
    """Build (or check) a records frame: exactly :data:`RECORD_COLUMNS`, in order, with stable dtypes,
    validated against :data:`RECORD_SCHEMA`.

    Raises :class:`RecordContractError` (a ValueError) naming any missing or unexpected column, and every
    rule a row breaks (an unknown ``model``, ``design``, ``vcov`` or ``interval``, a t interval without
    its df, a free-text ``covariate_set``, a measure that is not its model's) with the offending values.

    ``validate=False`` builds the frame without the schema check (about 25 ms a frame, as long as many small
    fits): only for a fitter whose caller validates the records it gathers once, with ``records_frame``.
    """
    frame = table_frame(rows, RECORD_COLUMNS, "records frame", floats=_FLOAT_COLUMNS, ints=["n"],
                        bools=["converged"], error=RecordContractError)
    for column in _TEXT_COLUMNS:
        frame[column] = frame[column].astype(object)
    return validate_records(frame) if validate else frame


def validate_records(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` validated against :data:`RECORD_SCHEMA`; a failure raises :class:`RecordContractError`
    naming each failing column and rule with (up to five of) its values, and for a rule across columns the
    failing rows' model, measure, interval and df."""
    try:
        return RECORD_SCHEMA.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as err:
        cases = err.failure_cases
        lines = []
        columns = cases["schema_context"] == "Column"
        for (column, check), part in cases.loc[columns].groupby(["column", "check"], sort=False):
            values = sorted({str(v) for v in part["failure_case"]})[:5]
            lines.append(f"column '{column}': {check} failed for {values}")
        for check, part in cases.loc[~columns].groupby("check", sort=False):
            rows = sorted({int(i) for i in part["index"].dropna()})
            if rows:
                shown = frame.loc[rows[:5], ["outcome", "term", "model", "measure", "interval", "df"]]
                lines.append(f"{check} in {len(rows)} row(s), e.g.\n{shown.to_string()}")
            else:
                lines.append(f"{check}: {sorted({str(v) for v in part['failure_case']})[:5]}")
        raise RecordContractError("records break the record contract (analysis.estimators.records):\n  "
                                  + "\n  ".join(lines)) from None


def ph_tests_frame(rows: Iterable[dict] | pd.DataFrame | None = None) -> pd.DataFrame:
    """Build (or check) a proportional-hazards test table with exactly :data:`PH_TEST_COLUMNS`."""
    return table_frame(rows, PH_TEST_COLUMNS, "PH test table", floats=["test_statistic", "p_value", "events"],
                       ints=["n"], bools=["flagged", "exposure_term"])
