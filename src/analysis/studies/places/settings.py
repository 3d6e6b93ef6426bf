"""The ``places:`` section of params.yaml, typed: US counties (CDC PLACES 2024, CHR&R). ECOLOGICAL: every
estimate describes counties, not people. Loaded once at each places stage's entry (:func:`load`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from analysis.core.settings import Formula, Label, Probability, Settings, load_study

if TYPE_CHECKING:
    import pandas as pd

STUDY = "places"
CountyDesign = Literal["weighted", "unweighted", "multilevel"]
#: What each county design fits, in the order they are fit and shown (studies/places/models.py fits them; the report
#: reads these names from here, without importing the model code: issue 23, start-up time).
COUNTY_DESIGNS: dict[str, str] = {
    "weighted": "state fixed effects, population-weighted (primary)",
    "unweighted": "state fixed effects, unweighted",
    "multilevel": "counties within states: random state intercept and slope (unweighted)",
}
assert set(COUNTY_DESIGNS) == set(CountyDesign.__args__), "COUNTY_DESIGNS and the schema's designs differ"
#: How the tables and places.json name the county panel fits (record model ``fixed_effects``, design
#: ``unweighted``): :func:`report_designs`.
PANEL_DESIGN = "fixed-effects"


def report_designs(records: pd.DataFrame) -> pd.Series:
    """How the tables and ``places.json`` name each record's fit: its county design ("weighted",
    "unweighted", "multilevel"), or :data:`PANEL_DESIGN` for the county panel (model ``fixed_effects``)."""
    return records["design"].where(records["model"] != "fixed_effects", PANEL_DESIGN)


class Labelled(Settings):
    label: Label


class Clean(Settings):
    places_value: Literal["AdjPrev", "CrudePrev"] = "AdjPrev"
    """PLACES estimate used: age-adjusted (AdjPrev) or crude (CrudePrev) prevalence."""


class CountyModels(Settings):
    """Counties within states; exposures in percent, estimates per 1 percentage point."""

    outcomes: Annotated[dict[str, Labelled], Field(min_length=1)]
    exposures: Annotated[dict[str, Labelled], Field(min_length=1)]
    covariate_sets: Annotated[dict[str, Formula], Field(min_length=1)]
    """Formula right-hand sides; a covariate equal to the outcome is left out."""
    group: str = "state"
    """The upper level (state fixed effects, state random effects, clusters)."""
    weight: str = "population"
    """Weight of the weighted design (the primary one)."""
    designs: Annotated[list[CountyDesign], Field(min_length=1)] = ["weighted", "unweighted", "multilevel"]
    random_slope: bool = True
    """Multilevel model: a state random slope of the exposure beside the intercept."""
    alpha: Probability = 0.05


class CountyPanel(Settings):
    """DESCRIPTIVE ONLY: CHR&R 2010-2011, county and year fixed effects, SE clustered by county."""

    entity: str = "fips"
    time: str = "year"
    outcomes: Annotated[dict[str, Labelled], Field(min_length=1)]
    exposures: Annotated[dict[str, Labelled], Field(min_length=1)]
    covariate_sets: Annotated[dict[str, Formula], Field(min_length=1)] = {"unadjusted": ""}
    alpha: Probability = 0.05


class Report(Settings):
    covariate_set: str | None = None
    """The set of the design comparison and caterpillar plots (null: the last set)."""
    highlight_states: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] | None = None
    """State abbreviations drawn in colour (null: the 4 states with most counties)."""
    caterpillar_outcomes: list[str] | None = None
    """Outcomes of the caterpillar plots (null: all)."""


class Grouping(Settings):
    """Counties cut into ordered groups on one column: ``x < cuts[0]``, ``cuts[0] <= x < cuts[1]``, ...,
    ``x >= cuts[-1]``; a county with the column missing goes to ``missing_label`` (or is left out when null)."""

    column: str
    cuts: Annotated[list[float], Field(min_length=1)]
    labels: Annotated[list[Label], Field(min_length=2)]
    """One template per group, with ``{low}`` and ``{high}`` for the group's bounds (built from ``cuts``)."""
    missing_label: Label | None = None

    @model_validator(mode="after")
    def _sizes(self) -> Grouping:
        if len(self.labels) != len(self.cuts) + 1:
            raise ValueError(f"labels: {len(self.labels)} labels for {len(self.cuts)} cuts; give one label more "
                             "than cuts")
        if any(b <= a for a, b in zip(self.cuts, self.cuts[1:], strict=False)):
            raise ValueError(f"cuts: {self.cuts} must increase")
        return self


class Mediation(Settings):
    """Infrastructure -> mediator -> outcome: product of coefficients, cluster bootstrap by state."""

    exposures: Annotated[list[str], Field(min_length=1)]
    mediators: Annotated[list[str], Field(min_length=1)]
    outcomes: Annotated[list[str], Field(min_length=1)]
    n_boot: Annotated[int, Field(ge=20, le=100_000)] = 200
    seed: int = 20261207


class Infrastructure(Settings):
    """Social infrastructure and community context of counties (CHR&R) against isolation, lack of support and
    health (PLACES, CHR&R). ECOLOGICAL and descriptive of counties: no causal claim."""

    exposures: Annotated[dict[str, Labelled], Field(min_length=1)]
    """County measures (columns of the infrastructure table), each entered per 1 SD across counties."""
    mediators: Annotated[dict[str, Labelled], Field(min_length=1)]
    """Isolation and lack of support: outcomes of the first path, mediators of the second."""
    outcomes: Annotated[list[str], Field(min_length=1)]
    """Health outcomes, keys of county_models.outcomes (their labels are used)."""
    covariate_set: str = "composition"
    """A key of county_models.covariate_sets; an exposure is left out of its own covariates."""
    group: str = "state"
    modifier_exposures: list[str] = []
    """Exposures whose slope is compared across rurality groups (effect modification)."""
    modifier_step: Annotated[float, Field(gt=0)] = 10.0
    """The interaction is reported per this many percentage points more rural."""
    rurality: Grouping
    segregation: Grouping
    prevalence_weight: str = "adult_population"
    """Weight of the group prevalences (PLACES prevalences are of adults)."""
    mediation: Mediation
    map_exposure: str
    """The infrastructure measure drawn on the county maps beside isolation and lack of support."""
    alpha: Probability = 0.05

    @model_validator(mode="after")
    def _names(self) -> Infrastructure:
        for key, names, known in (("modifier_exposures", self.modifier_exposures, self.exposures),
                                  ("mediation.exposures", self.mediation.exposures, self.exposures),
                                  ("mediation.mediators", self.mediation.mediators, self.mediators),
                                  ("map_exposure", [self.map_exposure], self.exposures)):
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ValueError(f"{key}: {unknown} are not among {list(known)}")
        return self


class PlacesSettings(Settings):
    study: Label = "US counties (CDC PLACES 2024, CHR&R)"
    clean: Clean = Clean()
    county_models: CountyModels
    panel_models: CountyPanel | None = None
    report: Report = Report()
    infrastructure: Infrastructure | None = None

    @property
    def report_set(self) -> str:
        """The covariate set the report shows: report.covariate_set, else the last set."""
        return self.report.covariate_set or list(self.county_models.covariate_sets)[-1]

    @model_validator(mode="after")
    def _names(self) -> PlacesSettings:
        sets = self.county_models.covariate_sets
        if self.report.covariate_set is not None and self.report.covariate_set not in sets:
            raise ValueError(f"report.covariate_set: '{self.report.covariate_set}' is not a key of "
                             f"county_models.covariate_sets {list(sets)}")
        unknown = [o for o in self.report.caterpillar_outcomes or [] if o not in self.county_models.outcomes]
        if unknown:
            raise ValueError(f"report.caterpillar_outcomes: {unknown} are not outcomes of county_models "
                             f"{list(self.county_models.outcomes)}")
        if self.infrastructure is not None:
            block = self.infrastructure
            if block.covariate_set not in sets:
                raise ValueError(f"infrastructure.covariate_set: '{block.covariate_set}' is not a key of "
                                 f"county_models.covariate_sets {list(sets)}")
            outcomes = [*block.outcomes, *block.mediation.outcomes]
            unknown = [o for o in outcomes if o not in self.county_models.outcomes]
            if unknown:
                raise ValueError(f"infrastructure: outcomes {unknown} are not outcomes of county_models "
                                 f"{list(self.county_models.outcomes)}")
        return self


def load(path=None) -> Any:
    """The shared sections and ``places:``, validated (``.places`` is a :class:`PlacesSettings`)."""
    return load_study(STUDY, PlacesSettings, path)
