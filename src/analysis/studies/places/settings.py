"""The ``places:`` section of params.yaml, typed: US counties (CDC PLACES 2024, CHR&R). ECOLOGICAL: every
estimate describes counties, not people. Loaded once at each places stage's entry (:func:`load`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from analysis.core.settings import Formula, Label, Probability, Settings, load_study

STUDY = "places"
CountyDesign = Literal["weighted", "unweighted", "multilevel"]


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


class PlacesSettings(Settings):
    study: Label = "US counties (CDC PLACES 2024, CHR&R)"
    clean: Clean = Clean()
    county_models: CountyModels
    panel_models: CountyPanel | None = None
    report: Report = Report()

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
        return self


def load(path=None) -> Any:
    """The shared sections and ``places:``, validated (``.places`` is a :class:`PlacesSettings`)."""
    return load_study(STUDY, PlacesSettings, path)
