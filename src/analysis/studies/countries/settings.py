"""The ``countries:`` section of params.yaml, typed: the country-year panel (WHR x GBD). ECOLOGICAL: every
estimate describes countries, not people. Loaded once at each countries stage's entry (:func:`load`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from analysis.core.settings import Formula, Label, Probability, Settings, bounded, load_study

STUDY = "countries"
CountryEstimator = Literal["pooled_ols", "random_effects", "within_between", "two_way_fe_clustered",
                           "two_way_fe_driscoll_kraay"]
#: linearmodels' Driscoll-Kraay kernels (the library's ``KERNELS``: studies/countries/models.py checks they agree;
#: spelt out here so that loading the settings never imports the estimator library).
Kernel = Literal["bartlett", "newey-west", "parzen", "gallant", "qs", "quadratic-spectral", "andrews"]


class CountryOutcome(Settings):
    label: Label
    column: str | None = None
    """Column of the panel (default: the outcome's name)."""


class CountryExposure(Settings):
    label: Label
    scale: bounded(gt=0) = 1
    """Coefficients per ``scale`` units of the exposure (0.1: per 0.1 of a share)."""
    term_label: Label | None = None
    """How a coefficient's unit is named (default: "per <scale>")."""
    sensitivity: str = ""
    """Non-empty marks a sensitivity analysis, and says which."""


class DriscollKraay(Settings):
    kernel: Kernel = "bartlett"
    bandwidth: bounded(ge=0) | None = None
    """null: the rule of thumb floor(4 (T/100)^(2/9))."""


class CountryModels(Settings):
    study: Label = "Countries: WHR 2024 x IHME GBD 2019, 2005-2019"
    entity: str = "iso3"
    time: str = "year"
    outcomes: Annotated[dict[str, CountryOutcome], Field(min_length=1)]
    exposures: Annotated[dict[str, CountryExposure], Field(min_length=1)]
    covariate_sets: Annotated[dict[str, Formula], Field(min_length=1)] = {"unadjusted": ""}
    """Formula right-hand sides; year effects are in every model."""
    common_sample: bool = True
    """Adjusted and unadjusted fits on the same country-years (complete on every covariate set)."""
    estimators: Annotated[list[CountryEstimator], Field(min_length=1)] = list(CountryEstimator.__args__)
    driscoll_kraay: DriscollKraay = DriscollKraay()
    alpha: Probability = 0.05


class CountryReport(Settings):
    highlight: list[Annotated[str, Field(pattern=r"^[A-Z]{3}$")]] = ["RUS", "EGY", "IND", "BRA", "USA", "JPN"]
    """ISO codes drawn in colour in the trajectory and country-mean figures."""
    covariate_set: str | None = None
    """The covariate set of the coefficient figure (null: the last set)."""
    covariate_set_labels: dict[str, Label] = {}
    """How the tables name the sets (default: the set's formula)."""


class CountriesSettings(Settings):
    years: Annotated[list[Annotated[int, Field(ge=1990, le=2030)]], Field(min_length=2, max_length=2)] = [2005, 2019]
    """[first, last] year of the panel: WHR starts in 2005; the GBD 2019 series end in 2019."""
    models: CountryModels
    report: CountryReport = CountryReport()

    @property
    def report_set(self) -> str:
        return self.report.covariate_set or list(self.models.covariate_sets)[-1]

    @model_validator(mode="after")
    def _checks(self) -> CountriesSettings:
        if self.years[0] > self.years[1]:
            raise ValueError(f"years: {self.years} must be [first, last]")
        sets = self.models.covariate_sets
        for key in [self.report.covariate_set, *self.report.covariate_set_labels]:
            if key is not None and key not in sets:
                raise ValueError(f"report: '{key}' is not a key of models.covariate_sets {list(sets)}")
        return self


def load(path=None) -> Any:
    """The shared sections and ``countries:``, validated (``.countries`` is a :class:`CountriesSettings`)."""
    return load_study(STUDY, CountriesSettings, path)
