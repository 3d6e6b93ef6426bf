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


class Primary(Settings):
    """The one estimate named before the results were read (issue 21): outcome, exposure contrast, adjustment
    set and design. Every headline companion (E-values, imputation, sensitivity, subgroups, triangulation) is
    computed for this covariate set first; every other estimate is secondary."""

    outcome: str = "all_cause_death"
    """A key of models.survival or models.regression."""
    exposure: str = "isolation_category"
    """A categorical key of models.exposures: its last group against its reference."""
    covariate_set: str
    """A key of models.covariate_sets: the adjustment set the causal diagram gives for the total effect."""
    design: Literal["design-based"] = "design-based"
    """Survey-weighted, Taylor-linearised variance (the population-average estimate)."""


class Family(Settings):
    """A family of secondary estimates, within which the false discovery rate is controlled."""

    label: Label
    source: Literal["models", "exposures", "sensitivity", "interactions"]
    """Which records: models = every design-based estimate of nhanes_models.csv except the primary;
    exposures = nhanes_exposures.csv; sensitivity = nhanes_sensitivity.csv (analyses other than the main);
    interactions = the interaction tests of nhanes_subgroups.csv."""


class Multiplicity(Settings):
    """False-discovery-rate control within each family of secondary estimates (Benjamini & Hochberg 1995)."""

    method: Literal["fdr_bh"] = "fdr_bh"
    """statsmodels multipletests method: Benjamini-Hochberg step-up."""
    q: Probability = 0.05
    """The false discovery rate controlled within each family."""
    families: dict[str, Family] = {}


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
    primary: Primary
    """The primary estimate, named in advance."""
    multiplicity: Multiplicity = Multiplicity()
    """The families of secondary estimates and their FDR control."""

    @property
    def headline_set(self) -> str:
        """The primary estimate's covariate set: the default of the blocks that use one set (headline tables,
        E-values, imputation, sensitivity, subgroups, triangulation)."""
        return self.primary.covariate_set

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
    """A key of models.covariate_sets; null: the primary estimate's."""
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
    """A key of models.covariate_sets; null: the primary estimate's."""
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

    covariate_set: str | None = None
    """The main analysis's covariate set (a key of models.covariate_sets); null: the primary estimate's."""
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


class Cognition(Settings):
    """Cognition and dementia (issue 22): the Digit Symbol Substitution Test (CFQ, 1999-2002, ages 60+) by
    isolation, its completion, and Alzheimer's disease death with other deaths competing
    (stages clean_nhanes_cognition and cognition_nhanes, studies/nhanes/cognition*.py)."""

    cycles: Annotated[list[Cycle], Field(min_length=1)] = ["1999-2000", "2001-2002"]
    """Cycles with the CFQ (the DSST was given in 1999-2000 and 2001-2002 only)."""
    exposures: Annotated[list[str], Field(min_length=1)] = ["isolation_category", "isolation_index"]
    """Keys of models.exposures fitted against every cognition outcome."""
    dsst_covariates: Formula = "age + C(sex) + C(race_ethnicity) + C(education)"
    """Adjustment of the DSST model (right-hand side after the exposure)."""
    completion_predictors: Formula = ("isolation_index + age + C(sex) + C(race_ethnicity) + C(education) "
                                      "+ fair_poor_health")
    """Right-hand side of the design-weighted logistic model of DSST completion; its fitted probability p gives
    the inverse-probability weight (survey weight / p)."""
    alzheimer_cause: Annotated[str, Field(pattern=r"^0(0[1-9]|10)$")] = "006"
    """UCOD_LEADING code of Alzheimer's disease as the underlying cause of death."""
    alzheimer_covariate_set: str = "socioeconomic"
    """A key of models.covariate_sets: adjustment of the Alzheimer's death models (cause-specific Cox, Fine-Gray)."""
    cif_exposure: str = "isolation_category"
    """The categorical exposure whose groups the cumulative-incidence curves draw."""
    cif_horizon_months: bounded(gt=0, le=600) = 240
    """Cumulative incidence reported (and drawn) up to this follow-up time."""


class ReachGrouping(Settings):
    """A population group for the prevalence table: the levels of a categorical ``column``, or, with ``cuts``,
    the intervals [cut_k, cut_k+1) of a numeric one (the last open above)."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    label: Label
    column: str
    cuts: Annotated[list[Number], Field(min_length=2)] | None = None
    modifier: str | None = None
    """The name of the sensitivity.subgroups effect modifier on the same characteristic, whose interaction test
    is reported beside the prevalences (null: none tested)."""

    @model_validator(mode="after")
    def _increasing(self) -> ReachGrouping:
        if self.cuts is not None and any(b <= a for a, b in zip(self.cuts, self.cuts[1:])):
            raise ValueError(f"cuts {self.cuts} must increase")
        return self


class Reach(Settings):
    """Who is left out (issue 22, item 6): the weighted prevalence of isolation, of each of its items and of no
    emotional support, with design-based CIs, by population group (stage reach_nhanes, studies/nhanes/reach.py)."""

    index: str = "isolation_index"
    """The index (a key of nhanes.indices) whose items and top group are the indicators."""
    weight: str = "weight_interview"
    """The survey weight of the prevalences (the SSQ is part of the household interview)."""
    groupings: Annotated[list[ReachGrouping], Field(min_length=1)]
    interaction_outcomes: list[str] = ["all_cause_death", "cvd_death"]
    """Outcomes (models.survival / models.regression keys) whose interaction tests are shown beside."""
    interaction_exposure: str = "isolation_category"


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
    cognition: Cognition = Cognition()
    reach: Reach | None = None

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
        """A covariate set by name (null: the primary estimate's, ``models.primary.covariate_set``)."""
        return self.models.headline_set if name is None else name

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
        primary = models.primary
        if primary.outcome not in models.outcome_names():
            problems.append(f"models.primary.outcome: '{primary.outcome}' is not an outcome of models.survival or "
                            f"models.regression {models.outcome_names()}")
        if getattr(models.exposures.get(primary.exposure), "type", None) != "categorical":
            problems.append(f"models.primary.exposure: '{primary.exposure}' is not a categorical exposure of "
                            f"models.exposures {list(models.exposures)}")
        if primary.covariate_set not in models.covariate_sets:
            problems.append(f"models.primary.covariate_set: '{primary.covariate_set}' is not a key of "
                            f"models.covariate_sets {list(models.covariate_sets)}")
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
        problems += self._reach_problems(check_columns)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _reach_problems(self, check_columns) -> list[str]:
        """Cross-checks of the cognition and reach blocks (issue 22)."""
        problems: list[str] = []
        cog, models = self.cognition, self.models
        unknown = [e for e in [*cog.exposures, cog.cif_exposure] if e not in models.exposures]
        if unknown:
            problems.append(f"cognition: exposures {unknown} are not keys of models.exposures {list(models.exposures)}")
        elif models.exposures[cog.cif_exposure].type != "categorical":
            problems.append(f"cognition.cif_exposure: '{cog.cif_exposure}' is not a categorical exposure")
        if cog.alzheimer_covariate_set not in models.covariate_sets:
            problems.append(f"cognition.alzheimer_covariate_set: '{cog.alzheimer_covariate_set}' is not a key of "
                            f"models.covariate_sets {list(models.covariate_sets)}")
        outside = [c for c in cog.cycles if c not in self.cycles]
        if outside:
            problems.append(f"cognition.cycles: {outside} not among cycles {self.cycles}")
        check_columns(formula_variables(cog.dsst_covariates), "cognition.dsst_covariates")
        check_columns(formula_variables(cog.completion_predictors), "cognition.completion_predictors")
        reach = self.reach
        if reach is None:
            return problems
        if reach.index not in self.indices:
            problems.append(f"reach.index: '{reach.index}' is not an index of nhanes.indices {list(self.indices)}")
        check_columns([reach.weight, reach.interaction_exposure], "reach.weight / reach.interaction_exposure")
        check_columns([g.column for g in reach.groupings], "reach.groupings")
        modifiers = {s.name for s in self.sensitivity.subgroups}
        for i, g in enumerate(reach.groupings):
            if g.modifier is not None and g.modifier not in modifiers:
                problems.append(f"reach.groupings[{i}].modifier: '{g.modifier}' is not a sensitivity.subgroups name "
                                f"{sorted(modifiers)}")
        unknown = [o for o in reach.interaction_outcomes if o not in models.outcome_names()]
        if unknown:
            problems.append(f"reach.interaction_outcomes: {unknown} are not outcomes {models.outcome_names()}")
        return problems


def load(path=None) -> Any:
    """The shared sections and ``nhanes:``, validated (``.nhanes`` is a :class:`NhanesSettings`)."""
    return load_study(STUDY, NhanesSettings, path)
