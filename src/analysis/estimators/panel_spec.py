"""What a panel analysis is asked to fit, typed: the columns, outcomes, exposures, covariates and estimators.

A study's settings block (e.g. ``gss.panel_models`` in params.yaml) is this schema, so the library
(:mod:`analysis.estimators.panel`) reads typed fields with their defaults here, never a raw mapping. A module of
its own, beside the ``panel`` package, so that a study's settings import the schema without the estimators.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from analysis.core.settings import Formula, Label, Probability, Settings

#: The estimators that take a weight (a weighted spec holds only these).
WEIGHTED_ESTIMATORS = ("pooled_ols", "fixed_effects", "first_difference")


def between_label(unit: str) -> str:
    """``term_label`` of the between-unit coefficient of a within-between model (``"between-person"``): here, in
    the schema module, so that a report can name that term without importing the panel fitters."""
    return f"between-{unit}"
#: The estimators a spec may list (analysis.estimators.panel.run.ESTIMATORS says what each compares).
Estimator = Literal["pooled_ols", "random_effects", "fixed_effects", "first_difference", "mundlak",
                    "conditional_logit", "multilevel"]


class PanelOutcome(Settings):
    label: Label
    binary: bool = False
    """0/1 outcome: conditional logit applies, and estimates are percentage points in the linear models."""
    column: str | None = None
    """The column (default: the outcome's name)."""


class PanelExposure(Settings):
    label: Label
    type: Literal["continuous", "categorical"] = "continuous"


class PanelSpec(Settings):
    """Every outcome x exposure x estimator to fit on a unit x time panel."""

    entity: str
    """The unit column (a person, an area)."""
    time: str
    """The period column (a wave, a year)."""
    cluster: str | None = None
    """SEs clustered by this column (default: ``entity``; G/(G-1) small-sample factor, estimators/vcov.py)."""
    outcomes: Annotated[dict[str, PanelOutcome], Field(min_length=1)]
    exposures: Annotated[dict[str, PanelExposure], Field(min_length=1)]
    covariates: Formula = ""
    """Time-varying covariates (absorbed with the unit effect when constant)."""
    invariant: Formula = ""
    """Time-invariant covariates: pooled, random-effects, Mundlak and multilevel models only."""
    covariate_set: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    """The name of ``covariates`` + ``invariant`` in the records (their ``covariate_set``)."""
    estimators: Annotated[list[Estimator], Field(min_length=1)] = list(Estimator.__args__)
    weight: str | None = None
    """Weight column: the sample is restricted to positive weights."""
    weighted: bool = False
    """Fit with the weight (only :data:`WEIGHTED_ESTIMATORS`)."""
    sample: str = "main"
    """The records' ``sample``: "main", or a restricted sample such as the completers."""
    alpha: Probability = 0.05

    @model_validator(mode="after")
    def _weights(self) -> PanelSpec:
        if self.weighted:
            if self.weight is None:
                raise ValueError("weighted: a weighted spec needs its weight column")
            unweightable = [e for e in self.estimators if e not in WEIGHTED_ESTIMATORS]
            if unweightable:
                raise ValueError(f"estimators: {unweightable} have no weighted version; a weighted spec can list "
                                 f"{list(WEIGHTED_ESTIMATORS)}")
        return self
