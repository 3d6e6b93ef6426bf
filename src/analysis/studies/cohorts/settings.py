"""The ``cohorts:`` section of params.yaml, typed: the ageing cohorts' layouts, measures, models and the
SYNTHETIC cohort of known truth. Loaded once at each cohorts stage's entry (:func:`load`).

A study block overrides the base layout (``cohorts.variables``) and the base isolation index; the merged
index of every study is validated here (:meth:`CohortsSettings.isolation_index_of`), so a study whose items and
groups disagree fails before any file is read.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from analysis.core.index import IndexGroup, IndexItem, IndexSpec
from analysis.core.settings import (
    Formula,
    Label,
    Number,
    Probability,
    Settings,
    bounded,
    formatted,
    load_study,
    number_text,
    validate,
)

STUDY = "cohorts"
SYNTHETIC = "synthetic"
#: Time-invariant variables (``cohorts.variables`` keys) and the wave-varying ones (``{w}`` = the wave).
PERSON_VARIABLES = ("id", "sex", "birth_year", "education_years", "death_year", "death_month")
WAVE_VARIABLES = ("interview_status", "interview_year", "interview_month", "age", "marital_status", "depression",
                  "heart", "stroke", "contact_children", "contact_family", "contact_friends", "contact_family_friends",
                  "groups")
Variable = Literal[PERSON_VARIABLES + WAVE_VARIABLES + ("loneliness_items",)]  # type: ignore[valid-type]
Estimator = Literal["within_between_lmm", "two_way_fe", "two_way_fe_ipw", "cloglog_hazard", "cloglog_hazard_ipw",
                    "cox_time_varying"]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Depression(Settings):
    """The study's depressive-symptoms score: its range and caseness cut-off. The label may state them as
    ``{min}``, ``{max}`` and ``{cutoff}``."""

    label: Label
    min: Number = 0
    max: Number
    cutoff: Number
    """Score at or above this is "depressed"."""

    @model_validator(mode="before")
    @classmethod
    def _fill_label(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("label"), str):
            values = {k: number_text(data[k]) for k in ("min", "max", "cutoff")
                      if isinstance(data.get(k), (int, float)) and not isinstance(data.get(k), bool)}
            if len(values) == 3:
                data = {**data, "label": formatted(data["label"], "depression.label", **values)}
        return data

    @model_validator(mode="after")
    def _range(self) -> Depression:
        if not self.min <= self.cutoff <= self.max:
            raise ValueError(f"cutoff {self.cutoff:g} is outside the score's range {self.min:g}-{self.max:g}")
        return self


class LonelinessItems(Settings):
    """Loneliness from UCLA items, each recoded to 1 hardly ever ... 3 often by ``codes``."""

    items: Annotated[list[str], Field(min_length=1)]
    codes: dict[int, int] = {1: 1, 2: 2, 3: 3}


class LonelinessScore(Settings):
    """Loneliness from a precomputed score (RAND r{w}lblonely3, Gateway r{w}lnlys3)."""

    score: str
    min: Number
    max: Number
    scale: Literal["mean", "sum"]
    n_items: Annotated[int, Field(ge=1)] = 3
    """Items behind a mean score (it is multiplied by this to the sum scale)."""

    @model_validator(mode="after")
    def _range(self) -> LonelinessScore:
        if self.min >= self.max:
            raise ValueError(f"min {self.min:g} must be below max {self.max:g}")
        return self


class Cognition(Settings):
    """The study's cognition score: the sum of test items, each with its maximum points, and the dementia
    classification. For the HRS this is the 27-point Langa-Weir score (Crimmins et al. 2011; Langa-Weir
    Classification of Cognitive Function, HRS researcher contribution): immediate word recall (RAND
    ``r{w}imrc``, 0-10), delayed word recall (``r{w}dlrc``, 0-10), serial 7s (``r{w}ser7``, 0-5) and
    backwards counting from 20 (``r{w}bwc20``, 0-2). The label may state ``{min}`` and ``{max}``; ``max`` is
    the sum of the items' maxima (never typed twice)."""

    label: Label = "Cognition score ({min}-{max})"
    items: Annotated[dict[str, Annotated[int, Field(ge=1, le=100)]], Field(min_length=1)]
    """Item name template (``{w}`` = wave) -> its maximum points; the score is their sum (all items needed)."""
    dementia_max: Annotated[int, Field(ge=0)] = 6
    """A score at or below this is classified dementia (Langa-Weir: 0-6 of 27)."""
    impairment_max: Annotated[int, Field(ge=0)] = 11
    """A score above ``dementia_max`` and at or below this is cognitive impairment, not dementia (CIND: 7-11)."""
    dementia_item: str | None = None
    """A dementia classification item the study records (0 no / 1 yes, ``{w}`` = wave); null: classified from
    the score by ``dementia_max``."""

    @property
    def max(self) -> int:
        return int(sum(self.items.values()))

    @model_validator(mode="before")
    @classmethod
    def _fill_label(cls, data: Any) -> Any:
        items = data.get("items") if isinstance(data, dict) else None
        if isinstance(items, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in items.values()):
            label = data.get("label", cls.model_fields["label"].default)
            if isinstance(label, str):
                data = {**data, "label": formatted(label, "cognition.label", min="0", max=str(sum(items.values())))}
        return data

    @model_validator(mode="after")
    def _cut_offs(self) -> Cognition:
        if not self.dementia_max < self.impairment_max < self.max:
            raise ValueError(f"dementia_max {self.dementia_max} < impairment_max {self.impairment_max} < the score's "
                             f"maximum {self.max} (the sum of the items' maxima) must hold")
        return self


class JoinedFile(Settings):
    label: Label
    path: str | None = None


class StudyIndex(Settings):
    """A study's isolation index: keys laid over ``cohorts.isolation_index``."""

    contact: str | None = None
    """The study's contact definition in words (shown in every table)."""
    items: Annotated[list[IndexItem], Field(min_length=1)] | None = None
    min_items: Annotated[int, Field(ge=1)] | None = None
    groups: list[IndexGroup] | None = None


class CarryForward(Settings):
    """Measures asked every other wave (HRS Leave-Behind): carried to the next wave's outcome."""

    variables: list[Literal["loneliness", "isolation_index"]] = []
    max_waves: Annotated[int, Field(ge=0, le=5)] = 0


class CohortStudy(Settings):
    """One restricted study: your file, its layout, and its measures."""

    restricted: bool = True
    """Conditions of use: no individual rows, small cells suppressed (disclosure)."""
    label: Label
    path: str | None = None
    """Your copy of the file (null: not configured, reported as such)."""
    join: list[JoinedFile] = []
    """Further files of the same study joined on the id."""
    waves: Annotated[dict[Annotated[int, Field(ge=1, le=40)], Annotated[int, Field(ge=1900, le=2100)]],
                     Field(min_length=1)]
    """wave -> the year it started."""
    depression: Depression
    variables: dict[Variable, str | list[str] | None] = {}
    """Overrides of the base names; null removes a variable the study lacks."""
    education_codes: dict[int, float] | None = None
    """A categorical education item -> years."""
    loneliness: LonelinessItems | LonelinessScore | None = None
    """Items with their codes, or a precomputed score; null: not measured. Absent: the base items."""
    isolation_index: StudyIndex | None = None
    cognition: Cognition | None = None
    """The study's cognition score and dementia classification; null: not harmonised for this study."""
    carry_forward: CarryForward = CarryForward()

    @model_validator(mode="after")
    def _waves_increase(self) -> CohortStudy:
        waves = sorted(self.waves)
        years = [self.waves[w] for w in waves]
        if years != sorted(years):
            raise ValueError(f"waves: the years {years} must increase with the wave numbers {waves}")
        return self


class SyntheticTruth(Settings):
    """The effects the models must recover (known truth)."""

    cesd_isolation: float
    """CES-D points per isolation-index point, within person."""
    cesd_loneliness: float
    death_isolation: float
    """log hazard ratio of death per isolation-index point."""
    death_loneliness: float
    cvd_isolation: float
    cvd_loneliness: float
    cognition_isolation: float
    """cognition-score points per isolation-index point, within person."""
    cognition_loneliness: float
    dementia_isolation: float
    """log hazard ratio of dementia onset per isolation-index point."""
    dementia_loneliness: float


class SyntheticNuisance(Settings):
    """Every other parameter of the simulated process (synthetic.py says what each drives)."""

    p_female: Probability
    iso_edu: float
    iso_trait: float
    iso_person_sd: Annotated[float, Field(ge=0)]
    contact_intercepts: Annotated[list[float], Field(min_length=4, max_length=4)]
    """children, family, friends, groups."""
    lone_iso: float
    lone_trait: float
    lone_person_sd: Annotated[float, Field(ge=0)]
    lone_ar: Annotated[float, Field(gt=-1, lt=1)]
    lone_innovation_sd: Annotated[float, Field(ge=0)]
    cesd_intercept: float
    cesd_female: float
    cesd_education: float
    cesd_age: float
    cesd_trait: float
    cesd_intercept_sd: Annotated[float, Field(ge=0)]
    cesd_slope_sd: Annotated[float, Field(ge=0)]
    cesd_wave: float
    death_intercept: float
    death_age: float
    death_female: float
    death_education: float
    death_cvd: float
    drop_intercept: float
    drop_isolation: float
    drop_age: float
    cvd_intercept: float
    cvd_age: float
    cvd_female: float
    cvd_education: float
    p_heart: Probability
    cognition_intercept: float
    cognition_female: float
    cognition_education: float
    cognition_age: float
    cognition_trait: float
    cognition_intercept_sd: Annotated[float, Field(ge=0)]
    cognition_slope_sd: Annotated[float, Field(ge=0)]
    cognition_wave: float
    dementia_intercept: float
    dementia_age: float
    dementia_education: float
    item_missing: Annotated[float, Field(ge=0, lt=1)]


class Synthetic(Settings):
    """The SYNTHETIC cohort (RAND layout), generated from these parameters; every output says SYNTHETIC."""

    label: Label = "SYNTHETIC cohort"
    persons: Annotated[int, Field(ge=10, le=10_000_000)]
    waves: Annotated[int, Field(ge=2, le=30)]
    first_year: Annotated[int, Field(ge=1900, le=2100)] = 1992
    age_range: Annotated[list[bounded(gt=0, le=110)], Field(min_length=2, max_length=2)]
    seed: Annotated[int, Field(ge=0)]
    depression: Depression
    cognition: Cognition
    """The cognition items the SYNTHETIC cohort writes and its dementia item (see synthetic.py)."""
    truth: SyntheticTruth
    nuisance: SyntheticNuisance

    @model_validator(mode="after")
    def _ages(self) -> Synthetic:
        if not self.age_range[0] < self.age_range[1]:
            raise ValueError(f"age_range: {self.age_range} must be [youngest, oldest]")
        return self

    def wave_years(self) -> dict[int, int]:
        """wave -> year: every two years from ``first_year``."""
        return {w: self.first_year + 2 * (w - 1) for w in range(1, self.waves + 1)}


class ModelExposure(Settings):
    label: Label


class DepressionModel(Settings):
    """Depressive symptoms: within-between mixed model (random intercept and slope on ``time``), two-way FE."""

    outcome: str = "depression_score"
    label: Label
    time: str = "wave"
    covariates: Formula = ""
    """Mixed model only (the FE model absorbs them)."""
    covariate_set: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    """The name of ``covariates`` in the records (their ``covariate_set``)."""
    trajectory_levels: Annotated[list[float], Field(min_length=1)] = [0, 1, 2, 3, 4]
    """Isolation-index values of the predicted trajectories."""


#: The cognition model has the depression model's form (within-between LMM, two-way FE).
ContinuousModel = DepressionModel


class HazardOutcome(Settings):
    label: Label
    event: str
    covariates: Formula = ""
    """Added to hazards.covariates for this outcome."""
    needs_next_interview: bool | None = None
    """The event is known only at the next interview (default: true for cvd_event)."""

    @property
    def counted_at_next_interview(self) -> bool:
        return self.needs_next_interview if self.needs_next_interview is not None else self.event == "cvd_event"


class Hazards(Settings):
    covariates: Formula = ""
    covariate_set: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    """The name of ``covariates`` in the records (each outcome adds its own covariates)."""
    outcomes: Annotated[dict[str, HazardOutcome], Field(min_length=1)]


class Attrition(Settings):
    """Inverse-probability-of-attrition weights (sensitivity analysis)."""

    predictors: Formula
    truncate: Annotated[float, Field(ge=0, lt=0.5)] = 0.01
    """Weights truncated at this quantile and its complement."""


class Riclpm(Settings):
    """Random-intercept cross-lagged panel model (FIML)."""

    x: str = "loneliness"
    y: str = "depression_score"
    waves: list[int] | None = None
    """null: every wave."""


class CohortModels(Settings):
    exposures: Annotated[dict[str, ModelExposure], Field(min_length=1)]
    estimators: Annotated[list[Estimator], Field(min_length=1)] = list(Estimator.__args__)
    depression: DepressionModel
    cognition: ContinuousModel | None = None
    """Cognition score: the same estimators as ``depression``, in the studies with a ``cognition`` block."""
    hazards: Hazards
    attrition: Attrition
    incidence_group: str = "isolation_group"
    """Groups of the cumulative incidence curves (at the first interview)."""
    horizon_months: bounded(gt=0, le=1200) = 312
    riclpm: Riclpm = Riclpm()
    alpha: Probability = 0.05
    no_carry_sensitivity: bool = True
    """Also fit studies with carried-forward measures without carrying them."""


class ConditionCodes(Settings):
    present: Annotated[list[int], Field(min_length=1)] = [1]
    absent: Annotated[list[int], Field(min_length=1)] = [0]

    @model_validator(mode="before")
    @classmethod
    def _yaml_booleans(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(isinstance(k, bool) for k in data):
            raise ValueError("write the keys as 'present' and 'absent' (YAML reads a bare yes/no as true/false)")
        return data

    @model_validator(mode="after")
    def _disjoint(self) -> ConditionCodes:
        if set(self.present) & set(self.absent):
            raise ValueError(f"codes {sorted(set(self.present) & set(self.absent))} are both present and absent")
        return self


class CohortsSettings(Settings):
    variables: dict[Variable, str | list[str] | None]
    """The base layout: RAND names, as the SYNTHETIC cohort writes them."""
    condition_codes: ConditionCodes = ConditionCodes()
    partnered_codes: Annotated[list[int], Field(min_length=1)] = [1, 2, 3]
    """Marital-status codes counted as partnered."""
    loneliness_lonely_cutoff: Number = 6
    """Loneliness score (3-9) at or above this is "lonely"."""
    isolation_index: IndexSpec
    studies: dict[Name, CohortStudy] = {}
    models: CohortModels
    synthetic: Synthetic

    def isolation_index_of(self, key: str, study: CohortStudy | None = None) -> IndexSpec:
        """The study's index: the base index with the keys of the study's own ``isolation_index`` laid over it
        (validated; ``study`` defaults to ``studies[key]``). Its reads count as reads of both blocks."""
        study = study if study is not None else self.studies.get(key)
        merged = self.isolation_index.model_dump(exclude_none=True)
        if study is not None and study.isolation_index is not None:
            merged.update(study.isolation_index.model_dump(exclude_none=True))
        where = (f"{STUDY}.studies.{key}.isolation_index" if study is not None and study.isolation_index is not None
                 else f"{STUDY}.isolation_index")
        spec = validate(IndexSpec, merged, where, root=where)
        if where != f"{STUDY}.isolation_index":
            for name in type(spec).model_fields:
                spec.derived_from(name, f"{STUDY}.isolation_index.{name}")
        return spec

    @model_validator(mode="after")
    def _checks(self) -> CohortsSettings:
        if SYNTHETIC in self.studies:
            raise ValueError(f"studies: '{SYNTHETIC}' is the SYNTHETIC cohort's name (cohorts.synthetic); rename it")
        for key in self.studies:
            self.isolation_index_of(key)
        return self


def load(path=None) -> Any:
    """The shared sections and ``cohorts:``, validated (``.cohorts`` is a :class:`CohortsSettings`)."""
    return load_study(STUDY, CohortsSettings, path)
