"""The ``gss:`` section of params.yaml, typed: the GSS panels' knobs, defaults, meanings and sources.

Loaded once at each GSS stage's entry (:func:`load`). The blocks ``panel_lagged`` and ``panel_weighted``
override keys of ``panel_models`` (:meth:`GssSettings.lagged_models`, :meth:`GssSettings.weighted_models`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from analysis.core.settings import Formula, Label, Probability, Settings, load_study
from analysis.estimators.panel_spec import WEIGHTED_ESTIMATORS, Estimator, PanelExposure, PanelSpec
from analysis.studies.gss.source import LONG_PANELS

STUDY = "gss"


class PanelModels(PanelSpec):
    """Within-person models of the stacked long panels (the library's panel spec, estimators/panel_spec.py, with
    the GSS's split ballots)."""

    entity: str = "person_id"
    """The person column."""
    time: str = "wave"
    """The wave column (1-3 within each panel)."""
    cluster: str | None = "person_id"
    """SEs clustered by this column (G/(G-1) small-sample factor, estimators/vcov.py)."""
    ballots: dict[str, list[Literal["A", "B", "C"]]] = {}
    """Outcome -> the split ballots whose person-waves it uses (an outcome not listed: all)."""

    @model_validator(mode="after")
    def _ballots_name_outcomes(self) -> PanelModels:
        unknown = [o for o in self.ballots if o not in self.outcomes]
        if unknown:
            raise ValueError(f"ballots: {unknown} are not outcomes {list(self.outcomes)}")
        return self


class PanelLagged(Settings):
    """Lagged exposure: contact at wave t-1, outcome at wave t; keys override panel_models."""

    exposures: Annotated[dict[str, PanelExposure], Field(min_length=1)]
    estimators: Annotated[list[Estimator], Field(min_length=1)]


class PanelWeighted(Settings):
    """Completers with NORC's panel weight, beside unweighted fits of the same completers."""

    label: Label
    weight: str
    estimators: Annotated[list[Literal[WEIGHTED_ESTIMATORS]], Field(min_length=1)]  # type: ignore[valid-type]
    """The estimators with a weighted version (estimators/panel_spec.py)."""


class ContactLevels(Settings):
    """Levels of social contact for the descriptive figure: cut-points on the contact index."""

    column: str = "social_contact_index"
    label: Label
    cuts: Annotated[list[float], Field(min_length=1)]
    labels: Annotated[list[Label], Field(min_length=2)]

    @model_validator(mode="after")
    def _one_more_label(self) -> ContactLevels:
        if len(self.labels) != len(self.cuts) + 1:
            raise ValueError(f"{len(self.cuts)} cuts make {len(self.cuts) + 1} levels; labels has {len(self.labels)}")
        if list(self.cuts) != sorted(set(self.cuts)):
            raise ValueError(f"cuts {self.cuts} must increase")
        return self


class Model2020(Settings):
    label: Label
    outcome: str
    family: Literal["binomial", "gaussian"]
    exposure: str
    exposure_label: Label
    covariates: Formula = ""
    type: Literal["continuous", "categorical"] = "continuous"


class Models2020(Settings):
    """2016/2018 baseline -> 2020: design-based and unweighted regressions of the re-interviewed."""

    weight: str = "weight_2020"
    alpha: Probability = 0.05
    models: Annotated[dict[str, Model2020], Field(min_length=1)]


class ReachJoint(Settings):
    """Exposures entered together in one model ("beside" each other), e.g. Web and e-mail hours beside social
    evenings: every exposure gets its own record, under ``covariate_set``."""

    exposures: Annotated[list[str], Field(min_length=2)]
    """Exposures of the digital spec (gss.reach.digital.exposures), entered jointly."""
    covariate_set: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    """The records' name for the spec's covariates plus the other joint exposures."""
    estimators: Annotated[list[Estimator], Field(min_length=1)]


class Reach(Settings):
    """Issue 22's GSS parts: digital and in-person connection (2016-2020 panel) and social trust (2006-2014
    panels and 2016-2020 panel); studies/gss/reach.py."""

    hours_top_code: Annotated[float, Field(gt=0, le=168)] = 84.0
    """Weekly Web and e-mail hours above this are set to it before log(1 + hours) (84 = 12 hours a day)."""
    trust_depends: Annotated[float, Field(ge=0, le=1)] = 0.5
    """Score of the volunteered answer "depends" on TRUST, HELPFUL and FAIR (trusting 1, distrusting 0)."""
    digital: PanelModels
    """Within-person models of the 2016-2020 panel (baseline and 2020 person-waves): health and happiness on Web
    and e-mail hours, social evenings and trust, each alone."""
    beside: ReachJoint
    """The digital exposures beside social evenings, in one model."""
    displacement: PanelModels
    """Within persons: social evenings on Web and e-mail hours (2016-2020 panel)."""
    trust: PanelModels
    """Within-person and between-person models of the 2006-2014 panels with the social trust score."""
    facebook: Models2020
    """2016 Facebook use -> 2020 loneliness (Facebook asked in 2016 only, loneliness in 2020 only)."""

    @model_validator(mode="after")
    def _joint_exposures_known(self) -> Reach:
        unknown = [e for e in self.beside.exposures if e not in self.digital.exposures]
        if unknown:
            raise ValueError(f"beside.exposures: {unknown} are not exposures of digital "
                             f"({list(self.digital.exposures)})")
        return self


class GssSettings(Settings):
    study: Label = "GSS panels 2006-2014"
    panels: Annotated[list[Literal[tuple(LONG_PANELS)]], Field(min_length=1)] = list(LONG_PANELS)  # type: ignore[misc]
    """The long panels to stack."""
    evenings_per_year: dict[int | str, float] | None = None
    """Evenings a year for each code of the social-evening items (null: the codebook midpoints of
    measures.EVENINGS_PER_YEAR)."""
    panel_models: PanelModels
    panel_lagged: PanelLagged | None = None
    panel_weighted: PanelWeighted | None = None
    assumed_reliability: Annotated[list[Annotated[float, Field(gt=0, le=1)]], Field(min_length=1)] = [0.7, 0.8, 0.9]
    """Reliabilities assumed for the regression-dilution factors of the contact index (a sensitivity range)."""
    contact_levels: ContactLevels
    models_2020: Models2020
    reach: Reach | None = None
    """Digital and in-person connection, and social trust (issue 22; studies/gss/reach.py)."""

    def lagged_models(self) -> PanelModels | None:
        """panel_models with panel_lagged's keys."""
        if self.panel_lagged is None:
            return None
        return self.panel_models.model_copy(update={"exposures": dict(self.panel_lagged.exposures),
                                                    "estimators": list(self.panel_lagged.estimators)})

    def weighted_models(self, weighted: bool) -> PanelModels | None:
        """panel_models for the completers, weighted or not, with panel_weighted's keys."""
        block = self.panel_weighted
        if block is None:
            return None
        return self.panel_models.model_copy(update={"weight": block.weight, "estimators": list(block.estimators),
                                                    "weighted": weighted, "sample": block.label})


def load(path=None) -> Any:
    """The shared sections and ``gss:``, validated (``.gss`` is a :class:`GssSettings`)."""
    return load_study(STUDY, GssSettings, path)
