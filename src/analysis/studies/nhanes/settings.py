"""The ``nhanes:`` section of params.yaml, typed: every NHANES knob, its default, its meaning and its source.

Loaded once at each NHANES stage's entry (:func:`load`); functions below the entry receive these objects.
Cross-field rules are checked here, before any work: a weight domain's cycle must be pooled, every column a
model, an index or the diagram names must be a column of the analysis table (schema.py) or an index, every
covariate set a sensitivity or imputation block names must exist, and so on.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from analysis.core.index import IndexSpec
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
)
from analysis.estimators.formula import formula_variables
from analysis.studies.nhanes.schema import NHANES_VARIABLES
from analysis.studies.nhanes.source import CYCLE_SUFFIX

STUDY = "nhanes"
Cycle = Literal["1999-2000", "2001-2002", "2003-2004", "2005-2006", "2007-2008"]
#: The 4-year weights (WTINT4YR, WTMEC4YR) of these two cycles cover both: a domain names both or neither.
FOUR_YEAR_CYCLES = ("1999-2000", "2001-2002")
TABLE_COLUMNS = frozenset(v.name for v in NHANES_VARIABLES)
assert set(Cycle.__args__) == set(CYCLE_SUFFIX), "the cycles of the schema and of source.py differ"


class WeightDomain(Settings):
    """An SSQ eligibility domain: the ages asked, and the cycles in which they were asked."""

    label: Label
    min_age: Annotated[int, Field(ge=0, le=85)]
    """Youngest age at screening (RIDAGEYR) in the domain."""
    max_age: Annotated[int, Field(ge=0, le=85)] | None = None
    """Oldest age (null: no upper bound)."""
    cycles: Annotated[list[Cycle], Field(min_length=1)]
    """Cycles in which this age range was asked the SSQ."""

    @model_validator(mode="after")
    def _checks(self) -> WeightDomain:
        if self.max_age is not None and self.max_age < self.min_age:
            raise ValueError(f"max_age {self.max_age} is below min_age {self.min_age}")
        four = [c for c in self.cycles if c in FOUR_YEAR_CYCLES]
        if len(four) == 1:
            raise ValueError(f"names {four[0]} without its pair; the 4-year weights of "
                             f"{' and '.join(FOUR_YEAR_CYCLES)} cover both cycles, so name both or neither")
        return self


class Exposure(Settings):
    label: Label
    type: Literal["categorical", "continuous"]
    """categorical: one term per non-reference group; continuous: one term per unit."""


class SurvivalOutcome(Settings):
    """A time-to-event outcome (Cox proportional hazards, Efron ties)."""

    label: Label
    duration: str
    """Follow-up column (months)."""
    event: str
    """0/1 event column."""


class RegressionOutcome(Settings):
    """A cross-sectional outcome: binomial (logistic, odds ratios) or gaussian (linear)."""

    label: Label
    """May state the PHQ-9 cut-off as ``{phq9_cutoff}``."""
    outcome: str
    family: Literal["binomial", "gaussian"]


class Models(Settings):
    """The NHANES models: exposures x nested covariate sets x outcomes x designs."""

    exposures: Annotated[dict[str, Exposure], Field(min_length=1)]
    """Columns of the analysis table (an index or its group column)."""
    covariate_sets: Annotated[dict[str, Formula], Field(min_length=1)]
    """Nested sets, as formula right-hand sides; the last is the fullest."""
    survival: dict[str, SurvivalOutcome] = {}
    regression: dict[str, RegressionOutcome] = {}
    weight: str = "weight_interview"
    """Pooled interview weight (design-based fits)."""
    common_sample: bool = True
    """One analytic sample per table row: the nested covariate sets of an exposure and outcome share the
    complete cases of the fullest and that sample's weight; false: each model its own."""
    exam_weight: str = "weight_exam"
    """Pooled MEC weight, for models holding a MEC measure (schema.MEC_VARIABLES)."""
    lonely_psu: Literal["adjust", "remove", "certainty", "fail"] = "adjust"
    """Strata left with a single PSU (R survey.lonely.psu)."""
    alpha: Probability = 0.05
    """1 - confidence level of every interval."""
    ph_test_alpha: Probability = 0.01
    """Schoenfeld-test p below this is flagged in the tables."""

    @property
    def fullest_set(self) -> str:
        """The last (fullest) covariate set: the default of the blocks that use one set."""
        return list(self.covariate_sets)[-1]

    def outcome_names(self) -> list[str]:
        return [*self.survival, *self.regression]


class Dag(Settings):
    """The causal diagram behind the covariate sets (pgmpy back-door criterion)."""

    exposure: str = "isolation"
    outcome: str = "death"
    edges: Annotated[list[Annotated[list[str], Field(min_length=2, max_length=2)]], Field(min_length=1)]
    """Directed edges [cause, effect]; nodes are analysis-table columns, the exposure and outcome nodes, or
    latent nodes."""
    latent: list[str] = []
    """Unmeasured nodes."""
    latent_edges: list[Annotated[list[str], Field(min_length=2, max_length=2)]] = []
    """Edges of the unmeasured nodes (fitted once without and once with them)."""


class ExposureAnalysis(Settings):
    """One alternative definition of the exposure: the items of an index (``items_of``), scores entered
    jointly (``joint``), or another exposure column (``exposure`` with its ``type``)."""

    label: Label
    items_of: str | None = None
    joint: list[str] | None = None
    exposure: str | None = None
    type: Literal["categorical", "continuous"] | None = None
    exposure_label: Label | None = None
    """The exposure's label in tables (default: the analysis label)."""

    @model_validator(mode="after")
    def _one_kind(self) -> ExposureAnalysis:
        kinds = [k for k in ("items_of", "joint", "exposure") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"give exactly one of items_of, joint or exposure (found {kinds or 'none'})")
        if self.exposure is not None and self.type is None:
            raise ValueError("an 'exposure' analysis needs its 'type' (categorical or continuous)")
        return self


class ExposureDefinitions(Settings):
    covariate_set: str | None = None
    """A key of models.covariate_sets; null: the fullest."""
    analyses: dict[str, ExposureAnalysis] = {}


class Imputation(Settings):
    """Multiple imputation of the missing covariates (chained equations, predictive mean matching)."""

    m: Annotated[int, Field(ge=2, le=1000)] = 20
    """Imputations (White, Royston & Wood 2011: at least the % of incomplete cases)."""
    seed: Annotated[int, Field(ge=0)] = 20261201
    burn_in: Annotated[int, Field(ge=1, le=1000)] = 10
    """MICE cycles per chain before its imputation is taken."""
    k_pmm: Annotated[int, Field(ge=1, le=1000)] = 20
    """Donors for predictive mean matching."""
    covariate_set: str | None = None
    """A key of models.covariate_sets; null: the fullest."""
    auxiliary: list[str] = []
    """Further columns in the imputation model (not imputed for the analysis)."""
    design_strata: bool = True
    """An indicator per masked variance stratum in the imputation model, with the log survey weight."""


class PrevalentDisease(Settings):
    column: str
    """0/1 column: 1 = the disease at the interview."""
    outcomes: list[str]
    """Outcomes whose models are restricted to rows with column = 0."""
    label: Label


class AgeTimeScale(Settings):
    """Cox model with age as the time scale, left-truncated at the age at interview."""

    age: str = "age"
    followup: str = "followup_months"
    followup_units_per_year: bounded(gt=0) = 12
    entry_offset_years: bounded(ge=0, le=1) = 0.5
    """Added to the age in completed years (RIDAGEYR) to estimate the exact age at interview."""


class SubgroupSpec(Settings):
    """An effect modifier: ``rule: levels`` makes one subgroup per category of ``column``; ``rule: cut`` two,
    ``column`` < ``cut`` and >= ``cut``, named by ``labels``."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    label: Label
    column: str
    rule: Literal["levels", "cut"]
    cut: Number | None = None
    labels: Annotated[list[Label], Field(min_length=2, max_length=2)] | None = None

    @property
    def modifier_column(self) -> str:
        """The derived column of subgroup labels that the interaction model uses."""
        return f"subgroup_{self.name}"

    @model_validator(mode="before")
    @classmethod
    def _labels_state_the_cut(cls, data: Any) -> Any:
        """The two subgroups' labels may state the cut as ``{cut}`` ("< {cut}", ">= {cut}")."""
        if (isinstance(data, dict) and isinstance(data.get("labels"), list)
                and isinstance(data.get("cut"), (int, float))):
            cut = number_text(data["cut"])
            data = {**data, "labels": [formatted(x, "labels", cut=cut) if isinstance(x, str) else x
                                       for x in data["labels"]]}
        return data

    @model_validator(mode="after")
    def _cut_rule(self) -> SubgroupSpec:
        if self.rule == "cut":
            if self.cut is None or self.labels is None:
                raise ValueError("rule 'cut' needs 'cut' (a number) and 'labels' (below, at or above)")
            if self.labels[0] == self.labels[1]:
                raise ValueError(f"labels {self.labels} must differ")
        elif self.cut is not None or self.labels is not None:
            raise ValueError("rule 'levels' takes no 'cut' or 'labels'")
        return self


class Sensitivity(Settings):
    """Sensitivity analyses and effect modification of the main design-based model."""

    covariate_set: str
    """The main analysis's covariate set (a key of models.covariate_sets)."""
    exclude_early_death_years: bounded(ge=0, le=20) = 2
    """Follow-up starts this many years after the interview (reverse causation)."""
    prevalent_disease: PrevalentDisease
    self_rated_health: Formula
    """Term added to every model (baseline health)."""
    further_confounders: Formula
    """Terms added to every model (omitted confounders)."""
    age_time_scale: AgeTimeScale = AgeTimeScale()
    splines: dict[str, Formula] = {}
    """Column -> spline term replacing it (analysis "splines")."""
    subgroups: list[SubgroupSpec] = []

    @model_validator(mode="after")
    def _unique(self) -> Sensitivity:
        names = [s.name for s in self.subgroups]
        if len(set(names)) != len(names):
            raise ValueError(f"subgroups repeat a name: {names}")
        for field in ("self_rated_health", "further_confounders"):
            if not getattr(self, field).strip():
                raise ValueError(f"{field} is empty: give the term(s) to add")
        for column, term in self.splines.items():
            if column not in term:
                raise ValueError(f"splines.{column}: the term {term!r} must be a spline of {column}, e.g. "
                                 f"\"cr({column}, df=4, constraints='center')\"")
        return self


class CurveExposure(Settings):
    """One option of the specification curve's exposure choice: an exposure column of the analysis table
    (``column``), or an index built for the curve (``index``: its items, cut-offs, missing rule and groups,
    the syntax of ``nhanes.indices``)."""

    label: Label
    column: str | None = None
    index: IndexSpec | None = None
    type: Literal["categorical", "continuous"]
    """categorical: the groups (an index's ``groups``), the curve shows ``contrast`` vs the first group;
    continuous: per point of the column or of the index's score."""
    contrast: str | None = None
    """Categorical: the level compared with the reference (first) level; null: the last level."""

    @model_validator(mode="after")
    def _one_source(self) -> CurveExposure:
        if (self.column is None) == (self.index is None):
            raise ValueError("give exactly one of 'column' (a table column) or 'index' (an index built here)")
        if self.index is not None and self.type == "categorical" and not self.index.groups:
            raise ValueError("a categorical 'index' option needs its 'groups'")
        return self


Clock = Literal["PERMTH_INT", "PERMTH_EXM"]
MissingRule = Literal["complete_case", "multiple_imputation"]
CurveDesign = Literal["design-based", "unweighted", "multilevel"]


class SpecificationCurve(Settings):
    """The choices of the NHANES mortality specification curve and their options: every combination is one
    Cox model (stage specifications_nhanes, src/analysis/studies/nhanes/specifications.py)."""

    exposures: Annotated[dict[str, CurveExposure], Field(min_length=1)]
    covariate_sets: Annotated[list[str], Field(min_length=1)]
    """Keys of models.covariate_sets."""
    designs: Annotated[list[CurveDesign], Field(min_length=1)]
    clocks: Annotated[list[Clock], Field(min_length=1)]
    """Follow-up clock of the linked mortality file: months from interview (PERMTH_INT) or from exam."""
    exclude_early_death_years: Annotated[list[bounded(ge=0, le=20)], Field(min_length=1)]
    """Follow-up starts this many years after baseline (0: nobody excluded); rows with less follow-up leave."""
    missing: Annotated[list[MissingRule], Field(min_length=1)]
    outcomes: Annotated[list[str], Field(min_length=1)]
    """Keys of models.survival."""
    imputations: Annotated[int, Field(ge=2, le=1000)] = 3
    """Completed tables of the multiple-imputation options: the first chains of ``nhanes.imputation`` (same
    seed, so the same imputations as the mi_nhanes stage's first ones)."""
    bootstrap_draws: Annotated[int, Field(ge=100, le=100000)] = 2000
    """Draws of the joint test under the null."""
    seed: Annotated[int, Field(ge=0)] = 20261207
    """Seed of the null bootstrap."""
    cache_dir: str = ".cache/specifications"
    """Content-addressed cache of the fits (not a DVC output; README "The specification curve")."""
    chunk_size: Annotated[int, Field(ge=1, le=10000)] = 24
    """Specifications per task sent to a worker."""

    @model_validator(mode="after")
    def _unique_options(self) -> SpecificationCurve:
        for name in ("covariate_sets", "designs", "clocks", "exclude_early_death_years", "missing", "outcomes"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} repeats an option: {values}")
        return self

    def n_specifications(self) -> int:
        return (len(self.exposures) * len(self.covariate_sets) * len(self.designs) * len(self.clocks)
                * len(self.exclude_early_death_years) * len(self.missing) * len(self.outcomes))


class Reports(Settings):
    km_horizon_months: bounded(gt=0, le=600) = 240
    """Kaplan-Meier curves: horizon in months."""
    km_exposure: str = "isolation_category"
    """The categorical exposure whose groups the curves draw."""


class NhanesSettings(Settings):
    """Everything NHANES: cycles, weights, indices, models, causal diagram, alternatives, imputation,
    sensitivity analyses and the report's choices."""

    study: Label = "NHANES 1999-2008"
    """The study's name in records and tables."""
    cycles: Annotated[list[Cycle], Field(min_length=1)]
    followup_variable: Literal["PERMTH_INT", "PERMTH_EXM"] = "PERMTH_INT"
    """Follow-up clock of the linked mortality file: from interview or from exam."""
    cvd_death_causes: Annotated[list[Annotated[str, Field(pattern=r"^0(0[1-9]|10)$")]], Field(min_length=1)] = [
        "001", "005"]
    """Underlying causes (UCOD_LEADING, 001-010) counted as cardiovascular death: 001 heart disease,
    005 cerebrovascular."""
    phq9_cutoff: Annotated[int, Field(ge=1, le=27)] = 10
    """PHQ-9 score (0-27) at or above this is depression (Kroenke et al. 2001: >= 10 moderate or worse)."""
    weight_domains: Annotated[list[WeightDomain], Field(min_length=1)]
    indices: Annotated[dict[str, IndexSpec], Field(min_length=1)]
    models: Models
    dag: Dag
    exposure_definitions: ExposureDefinitions = ExposureDefinitions()
    imputation: Imputation = Imputation()
    sensitivity: Sensitivity
    specification_curve: SpecificationCurve | None = None
    reports: Reports = Reports()

    @model_validator(mode="before")
    @classmethod
    def _labels_from_values(cls, data: Any) -> Any:
        """Outcome labels state the PHQ-9 cut-off from its value (``{phq9_cutoff}``), never by hand."""
        if not isinstance(data, dict):
            return data
        cutoff = data.get("phq9_cutoff", 10)
        values = {"phq9_cutoff": number_text(cutoff) if isinstance(cutoff, (int, float)) else str(cutoff)}
        models = data.get("models")
        if isinstance(models, dict) and isinstance(models.get("regression"), dict):
            regression = {}
            for name, spec in models["regression"].items():
                if isinstance(spec, dict) and isinstance(spec.get("label"), str):
                    spec = {**spec, "label": formatted(spec["label"], f"models.regression.{name}.label", **values)}
                regression[name] = spec
            data = {**data, "models": {**models, "regression": regression}}
        return data

    def index_columns(self) -> dict[str, str]:
        """Every column the indices add to the analysis table -> the index it comes from."""
        out = {}
        for name, spec in self.indices.items():
            out[name] = name
            for column in spec.groupings_of(name):
                out[column] = name
        return out

    def table_columns(self) -> frozenset[str]:
        """The analysis table's columns: schema.py's variables and the index columns."""
        return TABLE_COLUMNS | set(self.index_columns())

    def covariate_set(self, name: str | None) -> str:
        """A covariate set by name (null: the fullest)."""
        return self.models.fullest_set if name is None else name

    @model_validator(mode="after")
    def _cross_checks(self) -> NhanesSettings:
        for spec in self.models.regression.values():
            spec.derived_from("label", f"{STUDY}.phq9_cutoff")
        problems = []
        for i, domain in enumerate(self.weight_domains):
            outside = [c for c in domain.cycles if c not in self.cycles]
            if outside:
                problems.append(f"weight_domains[{i}].cycles: {outside} not among cycles {self.cycles}")
        spans = sorted((d.min_age, d.max_age if d.max_age is not None else 10**6, d.label) for d in self.weight_domains)
        for (_, hi, a), (lo, _, b) in zip(spans, spans[1:]):
            if lo <= hi:
                problems.append(f"weight_domains: '{a}' and '{b}' overlap; the age ranges must be disjoint")
        columns = self.table_columns()

        def check_columns(names, where):
            for name in names:
                if name not in columns:
                    problems.append(f"{where}: '{name}' is not a column of the NHANES analysis table "
                                    "(schema.py NHANES_VARIABLES) or an index (nhanes.indices)")

        models = self.models
        for name, spec in self.indices.items():
            check_columns([item.variable for item in spec.items], f"indices.{name}.items")
        check_columns(models.exposures, "models.exposures")
        check_columns([models.weight, models.exam_weight], "models.weight / models.exam_weight")
        for name, rhs in models.covariate_sets.items():
            check_columns(formula_variables(rhs), f"models.covariate_sets.{name}")
        for name, s in models.survival.items():
            check_columns([s.duration, s.event], f"models.survival.{name}")
        for name, s in models.regression.items():
            check_columns([s.outcome], f"models.regression.{name}")
        latent = set(self.dag.latent)
        nodes = {n for edge in [*self.dag.edges, *self.dag.latent_edges] for n in edge}
        check_columns(sorted(nodes - latent - {self.dag.exposure, self.dag.outcome}), "dag.edges")
        named_sets = {"exposure_definitions": self.exposure_definitions.covariate_set,
                      "imputation": self.imputation.covariate_set, "sensitivity": self.sensitivity.covariate_set}
        for block, name in named_sets.items():
            if name is not None and name not in models.covariate_sets:
                problems.append(f"{block}.covariate_set: '{name}' is not a key of models.covariate_sets "
                                f"{list(models.covariate_sets)}")
        for name, analysis in self.exposure_definitions.analyses.items():
            where = f"exposure_definitions.analyses.{name}"
            if analysis.items_of is not None and analysis.items_of not in self.indices:
                problems.append(f"{where}.items_of: '{analysis.items_of}' is not an index of nhanes.indices "
                                f"{list(self.indices)}")
            check_columns(analysis.joint or [], f"{where}.joint")
            check_columns([analysis.exposure] if analysis.exposure else [], f"{where}.exposure")
        check_columns(self.imputation.auxiliary, "imputation.auxiliary")
        sens = self.sensitivity
        check_columns([sens.prevalent_disease.column], "sensitivity.prevalent_disease.column")
        unknown = [o for o in sens.prevalent_disease.outcomes if o not in models.outcome_names()]
        if unknown:
            problems.append(f"sensitivity.prevalent_disease.outcomes: {unknown} are not outcomes of models.survival "
                            f"or models.regression {models.outcome_names()}")
        check_columns(formula_variables(sens.self_rated_health), "sensitivity.self_rated_health")
        check_columns(formula_variables(sens.further_confounders), "sensitivity.further_confounders")
        check_columns(list(sens.splines), "sensitivity.splines")
        check_columns([sens.age_time_scale.age, sens.age_time_scale.followup], "sensitivity.age_time_scale")
        for i, s in enumerate(sens.subgroups):
            check_columns([s.column], f"sensitivity.subgroups[{i}].column")
            if s.modifier_column in columns:
                problems.append(f"sensitivity.subgroups[{i}]: the name '{s.name}' makes the column "
                                f"'{s.modifier_column}', which the analysis table already has; rename it")
        curve = self.specification_curve
        if curve is not None:
            for name in curve.covariate_sets:
                if name not in models.covariate_sets:
                    problems.append(f"specification_curve.covariate_sets: '{name}' is not a key of "
                                    f"models.covariate_sets {list(models.covariate_sets)}")
            for name in curve.outcomes:
                if name not in models.survival:
                    problems.append(f"specification_curve.outcomes: '{name}' is not a key of models.survival "
                                    f"{list(models.survival)}")
            for name, option in curve.exposures.items():
                where = f"specification_curve.exposures.{name}"
                check_columns([option.column] if option.column else [], f"{where}.column")
                check_columns([i.variable for i in option.index.items] if option.index else [], f"{where}.index")
        exposure = models.exposures.get(self.reports.km_exposure)
        if exposure is None or exposure.type != "categorical":
            problems.append(f"reports.km_exposure: '{self.reports.km_exposure}' is not a categorical exposure of "
                            f"models.exposures {[k for k, e in models.exposures.items() if e.type == 'categorical']}")
        durations = {s.duration for s in models.survival.values()}
        if len(durations) > 1:
            problems.append(f"models.survival: the curves need one follow-up clock, found {sorted(durations)}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


def load(path=None) -> Any:
    """The shared sections and ``nhanes:``, validated (``.nhanes`` is a :class:`NhanesSettings`)."""
    return load_study(STUDY, NhanesSettings, path)
