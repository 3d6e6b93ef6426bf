"""The contract of the two county tables: columns, types, allowed values, documentation.

``COUNTY_VARIABLES`` defines the county table (``clean_places.build_county_table``): one row per county
of CDC PLACES 2024 (50 states and DC), its age-adjusted prevalences, joined with County Health Rankings
& Roadmaps (CHR&R) measures of the 2025/2026 releases. ``PANEL_VARIABLES`` defines the county x year
table of CHR&R's 2010 and 2011 analytic files (``clean_places.build_county_panel``).

The cleaning code builds exactly these columns, ``county_schema()`` / ``panel_schema()`` (pandera)
validate them (FIPS codes as 5-digit text, state codes that agree with them, percentages within
0-100, one row per county or county-year), and ``places_data_dictionary`` writes name, label, type,
source, rule and % missing from the same lists. ``Variable`` and the column checks are those of
``analysis.studies.nhanes.schema`` (NHANES).

Every variable here describes a **county** (a population), not a person: associations between them are
ecological.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from analysis.core.contract import Variable, data_dictionary, table_schema
from analysis.studies.places.source import STATE_FIPS


@dataclass(frozen=True)
class PlacesMeasure:
    """One PLACES measure as the county table carries it: publisher id -> column, label, definition."""

    measure: str  # PLACES measure id, e.g. "ISOLATION"
    column: str
    label: str
    definition: str
    category: str  # the PLACES measure-definition page that defines it (a key of PLACES_DEFINITION_PAGES)
    brfss_year: int = 2022

    @property
    def citation(self) -> str:
        """Where CDC defines the measure: its PLACES measure-definitions page."""
        return f"CDC PLACES measure definitions, {self.category}: {PLACES_DEFINITION_PAGES[self.category]}"


#: CDC's PLACES measure-definition pages, by measure category (https://www.cdc.gov/places/measure-definitions/).
PLACES_DEFINITION_PAGES: dict[str, str] = {
    "health outcomes": "https://www.cdc.gov/places/measure-definitions/health-outcomes/index.html",
    "health status": "https://www.cdc.gov/places/measure-definitions/health-status/index.html",
    "health risk behaviors": "https://www.cdc.gov/places/measure-definitions/health-risk-behaviors/index.html",
    "prevention": "https://www.cdc.gov/places/measure-definitions/prevention/index.html",
    "health-related social needs":
        "https://www.cdc.gov/places/measure-definitions/health-related-social-needs/index.html",
}

#: How PLACES makes a county value (CDC PLACES methodology): not a survey tabulation of the county's own
#: respondents but a small-area model prediction.
PLACES_MODEL_NOTE = ("a model-based small-area estimate: CDC fits multilevel regression to BRFSS respondents "
                     "and post-stratifies to Census/ACS population counts of the county, so a county value is a "
                     "model prediction, not a tabulation of its own respondents")


#: PLACES 2024 measures kept (age-adjusted prevalence, % of adults). Definitions: CDC PLACES measure
#: definitions (https://www.cdc.gov/places/measure-definitions/). BRFSS 2022 except BPHIGH (2021).
PLACES_MEASURES: tuple[PlacesMeasure, ...] = (
    PlacesMeasure("ISOLATION", "isolation_pct", "Feeling socially isolated (%)",
                  "adults who feel socially isolated from others always, usually or sometimes (CDC's case definition; "
                  "BRFSS 2022 Social Determinants and Health Equity module; only the states that fielded it)",
                  "health-related social needs"),
    PlacesMeasure("EMOTIONSPT", "emotional_support_lacking_pct", "Lacking social and emotional support (%)",
                  "adults who sometimes, rarely or never get the social and emotional support they need (BRFSS 2022 "
                  "social determinants module; only the states that fielded it)",
                  "health-related social needs"),
    PlacesMeasure("DEPRESSION", "depression_pct", "Depression (%)",
                  "adults ever told by a health professional that they have a depressive disorder",
                  "health outcomes"),
    PlacesMeasure("MHLTH", "mental_distress_pct", "Frequent mental distress (%)",
                  "adults reporting 14 or more days of poor mental health in the past 30 days",
                  "health status"),
    PlacesMeasure("CHD", "chd_pct", "Coronary heart disease (%)",
                  "adults ever told they had angina or coronary heart disease", "health outcomes"),
    PlacesMeasure("STROKE", "stroke_pct", "Stroke (%)", "adults ever told they had a stroke", "health outcomes"),
    PlacesMeasure("BPHIGH", "high_blood_pressure_pct", "High blood pressure (%)",
                  "adults ever told they have high blood pressure (BRFSS 2021)",
                  "health outcomes", 2021),
    PlacesMeasure("DIABETES", "diabetes_pct", "Diagnosed diabetes (%)",
                  "adults ever told they have diabetes (not gestational or prediabetes)",
                  "health outcomes"),
    PlacesMeasure("GHLTH", "fair_poor_health_pct", "Fair or poor self-rated health (%)",
                  "adults rating their health fair or poor", "health status"),
    PlacesMeasure("CSMOKING", "smoking_pct", "Current smoking (%)",
                  "adults who have smoked 100 cigarettes in their life and smoke every day or some days",
                  "health risk behaviors"),
    PlacesMeasure("OBESITY", "obesity_pct", "Obesity (%)", "adults with BMI 30 or more (self-reported height, weight)",
                  "health outcomes"),
    PlacesMeasure("LPA", "inactivity_pct", "No leisure-time physical activity (%)",
                  "adults with no leisure-time physical activity in the past month",
                  "health risk behaviors"),
    PlacesMeasure("BINGE", "binge_drinking_pct", "Binge drinking (%)",
                  "adults with 5+ (men) or 4+ (women) drinks on an occasion in the past 30 days",
                  "health risk behaviors"),
    PlacesMeasure("SLEEP", "short_sleep_pct", "Short sleep (%)", "adults sleeping less than 7 hours a night",
                  "health risk behaviors"),
    PlacesMeasure("ACCESS2", "uninsured_pct", "No health insurance, ages 18-64 (%)",
                  "adults aged 18-64 without current health insurance", "prevention"),
    PlacesMeasure("FOODINSECU", "food_insecurity_pct", "Food insecurity (%)",
                  "adults whose food did not last or who could not afford balanced meals, past 12 months (SDOH "
                  "module)", "health-related social needs"),
    PlacesMeasure("HOUSINSECU", "housing_insecurity_pct", "Housing insecurity (%)",
                  "adults unable to pay mortgage, rent or utilities, past 12 months (SDOH module)",
                  "health-related social needs"),
    PlacesMeasure("LACKTRPT", "lack_transport_pct", "Lack of reliable transportation (%)",
                  "adults kept from medical care, work or daily living by lack of transportation, past 12 months "
                  "(SDOH module)", "health-related social needs"),
)


@dataclass(frozen=True)
class ChrMeasure:
    """One CHR&R measure file used: code, release, table column, multiplier to the table's unit, label."""

    code: str
    release: str
    column: str
    scale: float
    label: str
    definition: str

    @property
    def citation(self) -> str:
        """Where CHR&R defines the measure: its measure page of the release's documentation."""
        return f"{CHR_DOCUMENTATION}, measure {self.code}, {self.release[1:]} release"


#: CHR&R's measure documentation (each measure's page: definition, source, years of data).
#: The first words of every county record's note: what an association between these variables is.
ECOLOGICAL = ("ECOLOGICAL association between county prevalences (counties, not individuals: it does not show "
              "that isolated people themselves are more often ill)")
#: Every PLACES value is a small-area model prediction (:data:`PLACES_MODEL_NOTE`).
MODEL_BASED = ("PLACES prevalences are small-area model predictions (multilevel regression and post-stratification of "
               "BRFSS), not tabulations of each county's own respondents")
CHR_DOCUMENTATION = ("County Health Rankings & Roadmaps measure documentation "
                     "(https://www.countyhealthrankings.org/health-data/methodology-and-sources/data-documentation)")


#: CHR&R per-measure files of the 2025/2026 releases (``measure_datasets/<code>_<release>.csv``).
#: Proportions are multiplied by 100 so every "_pct" column of the table is in percent.
CHR_MEASURES: tuple[ChrMeasure, ...] = (
    ChrMeasure("v140", "r2025", "social_associations", 1.0, "Social associations per 10,000",
               "membership associations (civic, religious, sports, political, labour, business, professional "
               "organisations) per 10,000 population, County Business Patterns"),
    ChrMeasure("v145", "r2025", "chr_mental_distress_pct", 100.0, "Frequent mental distress, CHR&R 2025 (%)",
               "adults with 14+ poor mental health days a month, age-adjusted (CHR&R from PLACES/BRFSS); equal to "
               "PLACES 2024 MHLTH (mental_distress_pct) for every county, which checks the FIPS join"),
    ChrMeasure("v042", "r2025", "poor_mental_health_days", 1.0, "Poor mental health days (mean, past 30)",
               "average number of mentally unhealthy days reported in the past 30 days, age-adjusted (BRFSS via "
               "PLACES)"),
    ChrMeasure("v001", "r2025", "premature_death_ypll", 1.0, "Premature death (YPLL before 75 per 100,000)",
               "years of potential life lost before age 75 per 100,000 population, age-adjusted, 3 years of deaths "
               "pooled (NCHS); the 2025 release"),
    ChrMeasure("v147", "r2026", "life_expectancy", 1.0, "Life expectancy (years)",
               "average years a person can expect to live at birth, 3 years of deaths pooled (NCHS); the 2026 release"),
    ChrMeasure("v051", "r2025", "population_chr", 1.0, "Population (CHR&R 2025)",
               "resident population, Census Bureau Population Estimates"),
    ChrMeasure("v063", "r2025", "median_household_income", 1.0, "Median household income ($)",
               "Census Bureau Small Area Income and Poverty Estimates (SAIPE)"),
    ChrMeasure("v023", "r2025", "unemployment_pct", 100.0, "Unemployment (%)",
               "population aged 16+ unemployed but seeking work, BLS Local Area Unemployment Statistics"),
    ChrMeasure("v024", "r2025", "child_poverty_pct", 100.0, "Children in poverty (%)",
               "people under 18 in poverty, SAIPE"),
    ChrMeasure("v044", "r2025", "income_inequality", 1.0, "Income inequality (80/20 ratio)",
               "household income at the 80th percentile divided by that at the 20th, ACS 5-year"),
    # County composition (issue 15 item 9): the confounders of an ecological model of health beside income.
    # The race shares follow CHR&R's definitions, checked on the files: v054 and v126 are non-Hispanic, v055,
    # v080 and v081 count everyone of that race alone, Hispanic or not (national values 1.34%, 0.27%, 6.39%,
    # Census's "alone" shares), so the six shares overlap (their county sum reaches 1.06) and never sum to 1.
    ChrMeasure("v052", "r2025", "under18_pct", 100.0, "Population below 18 years (%)",
               "residents younger than 18, Census Bureau Population Estimates"),
    ChrMeasure("v053", "r2025", "age65plus_pct", 100.0, "Population 65 and older (%)",
               "residents aged 65 or older, Census Bureau Population Estimates"),
    ChrMeasure("v054", "r2025", "black_nh_pct", 100.0, "Non-Hispanic Black (%)",
               "residents identifying as non-Hispanic Black or African American, Census Bureau Population Estimates"),
    ChrMeasure("v055", "r2025", "aian_pct", 100.0, "American Indian or Alaska Native (%)",
               "residents identifying as American Indian or Alaska Native alone, Hispanic or not, Census Bureau "
               "Population Estimates"),
    ChrMeasure("v056", "r2025", "hispanic_pct", 100.0, "Hispanic (%)",
               "residents identifying as Hispanic or Latino, Census Bureau Population Estimates"),
    ChrMeasure("v080", "r2025", "nhpi_pct", 100.0, "Native Hawaiian or Other Pacific Islander (%)",
               "residents identifying as Native Hawaiian or Other Pacific Islander alone, Hispanic or not, Census "
               "Bureau Population Estimates"),
    ChrMeasure("v081", "r2025", "asian_pct", 100.0, "Asian (%)",
               "residents identifying as Asian alone, Hispanic or not, Census Bureau Population Estimates"),
    ChrMeasure("v126", "r2025", "white_nh_pct", 100.0, "Non-Hispanic white (%)",
               "residents identifying as non-Hispanic white, Census Bureau Population Estimates"),
    ChrMeasure("v059", "r2025", "limited_english_pct", 100.0, "Not proficient in English (%)",
               "residents aged 5+ who speak English less than 'well', ACS 5-year"),
    ChrMeasure("v085", "r2025", "uninsured_under65_pct", 100.0, "Uninsured, under 65 (%)",
               "residents under 65 without health insurance, Census Bureau Small Area Health Insurance Estimates "
               "(SAHIE)"),
    ChrMeasure("v003", "r2025", "uninsured_adults_pct", 100.0, "Uninsured adults, 18-64 (%)",
               "adults aged 18-64 without health insurance, SAHIE"),
    ChrMeasure("v058", "r2025", "rural_pct", 100.0, "Rural (%)",
               "share of the population living in rural areas, Census 2020"),
)

_PCT = (0, 100)
_CT_NOTE = ("Connecticut's 9 planning regions have the PLACES and CHR&R 2025 values; the CHR&R mortality measures "
            "are published for its 8 legacy counties only, which do not match (see the join log)")


def _places_variable(m: PlacesMeasure) -> Variable:
    return Variable(m.column, m.label, "float", f"PLACES 2024 {m.measure}_AdjPrev",
                    f"age-adjusted prevalence, % of adults 18+, as published: {m.definition}; {PLACES_MODEL_NOTE} "
                    f"({m.citation})", _PCT)


def _chr_variable(m: ChrMeasure, rule: str, values: tuple) -> Variable:
    scaled = f"{m.code}_rawvalue x {m.scale:g}" if m.scale != 1 else f"{m.code}_rawvalue as published"
    return Variable(m.column, m.label, "float", f"CHR&R {m.code}_{m.release}",
                    f"{scaled}: {m.definition}{rule} ({m.citation})", values)


_CHR_RANGES = {
    "social_associations": (0, None), "chr_mental_distress_pct": _PCT, "poor_mental_health_days": (0, 30),
    "premature_death_ypll": (0, None), "life_expectancy": (40, 110), "population_chr": (0, None),
    "median_household_income": (0, None), "unemployment_pct": _PCT, "child_poverty_pct": _PCT,
    "income_inequality": (1, None),
    **{c: _PCT for c in ("under18_pct", "age65plus_pct", "black_nh_pct", "aian_pct", "hispanic_pct", "nhpi_pct",
                         "asian_pct", "white_nh_pct", "limited_english_pct", "uninsured_under65_pct",
                         "uninsured_adults_pct", "rural_pct")},
}
_CHR_RULES = {"premature_death_ypll": f"; {_CT_NOTE}", "life_expectancy": f"; {_CT_NOTE}"}

COUNTY_VARIABLES: tuple[Variable, ...] = (
    Variable("fips", "County FIPS code", "string", "PLACES CountyFIPS",
             "5 digits kept as text (01001 = Autauga County, AL); one row per PLACES county", nullable=False),
    Variable("state", "State (USPS abbreviation)", "string", "PLACES StateAbbr", "checked against the FIPS state code",
             nullable=False),
    Variable("state_fips", "State FIPS code", "string", "PLACES CountyFIPS", "first 2 digits of fips", nullable=False),
    Variable("state_name", "State", "string", "PLACES StateDesc", "as published", nullable=False),
    Variable("county_name", "County", "string", "PLACES CountyName", "as published", nullable=False),
    Variable("population", "Population (PLACES 2024)", "float", "PLACES TotalPopulation",
             "total population as published by PLACES (Census 2020 counts); the weight of the population-weighted "
             "models", (0, None), nullable=False),
    Variable("adult_population", "Adult population (PLACES 2024)", "float", "PLACES TotalPop18plus",
             "population aged 18+, as published", (0, None), nullable=False),
    *(_places_variable(m) for m in PLACES_MEASURES),
    *(_chr_variable(m, _CHR_RULES.get(m.column, ""), _CHR_RANGES[m.column]) for m in CHR_MEASURES),
    Variable("log_median_income", "Log median household income", "float", "CHR&R v063_r2025",
             "natural log of median_household_income (so a coefficient is per 100% more income, roughly); "
             "missing where income is missing", (0, None)),
)

#: CHR&R analytic-file measures of the county x year panel: code -> (column, multiplier, label, rule).
PANEL_MEASURES: dict[str, tuple[str, float, str, str]] = {
    "v040": ("inadequate_support_pct", 100.0, "Inadequate social support (%)",
             "adults who rarely or never get the social and emotional support they need (BRFSS, several years "
             "pooled)"),
    "v001": ("premature_death_ypll", 1.0, "Premature death (YPLL before 75 per 100,000)",
             "years of potential life lost before 75 per 100,000, age-adjusted (NCHS, 3 years pooled)"),
    "v042": ("poor_mental_health_days", 1.0, "Poor mental health days (mean, past 30)",
             "average mentally unhealthy days in the past 30, age-adjusted (BRFSS, several years pooled)"),
    "v002": ("fair_poor_health_pct", 100.0, "Fair or poor health (%)",
             "adults reporting fair or poor health, age-adjusted (BRFSS, several years pooled)"),
    "v009": ("smoking_pct", 100.0, "Adult smoking (%)",
                  "adults who currently smoke (BRFSS, several years pooled)"),
}
PANEL_YEARS = (2010, 2011)
_PANEL_RANGES = {"inadequate_support_pct": _PCT, "premature_death_ypll": (0, None), "poor_mental_health_days": (0, 30),
                 "fair_poor_health_pct": _PCT, "smoking_pct": _PCT}

PANEL_VARIABLES: tuple[Variable, ...] = (
    Variable("fips", "County FIPS code", "string", "CHR&R statecode + countycode",
             "5 digits kept as text; checked equal to the file's fipscode", nullable=False),
    Variable("state", "State (USPS abbreviation)", "string", "CHR&R state", "checked against the FIPS state code",
             nullable=False),
    Variable("state_fips", "State FIPS code", "string", "CHR&R statecode", "as published (2 digits)", nullable=False),
    Variable("county_name", "County", "string", "CHR&R county", "as published", nullable=False),
    Variable("year", "CHR&R release year", "int", "CHR&R year",
             "2010 or 2011; each release pools several earlier data years, and the windows of the two releases "
             "overlap", PANEL_YEARS, nullable=False),
    *(Variable(column, label, "float", f"CHR&R analytic_data<year> {code}_rawvalue",
               (f"{code}_rawvalue x {scale:g}" if scale != 1 else f"{code}_rawvalue as published")
               + f": {rule} ({CHR_DOCUMENTATION}, measure {code}, 2010 and 2011 releases)",
               _PANEL_RANGES[column])
      for code, (column, scale, label, rule) in PANEL_MEASURES.items()),
)

FIPS_PATTERNS = {"fips": r"^\d{5}$", "state_fips": r"^\d{2}$"}


def county_table_schema(variables: tuple[Variable, ...], unique: list[str]) -> pa.DataFrameSchema:
    """The contract's schema plus the geography checks: 5-digit fips, 2-digit state_fips, a known state
    abbreviation, and the abbreviation, state_fips and the start of fips agreeing."""
    extra = {name: [pa.Check.str_matches(pattern)] for name, pattern in FIPS_PATTERNS.items()}
    extra["state"] = [pa.Check.isin(list(STATE_FIPS))]
    consistent = pa.Check(lambda df: df["state"].map(STATE_FIPS) == df["state_fips"],
                          error="state abbreviation and state_fips disagree")
    prefix = pa.Check(lambda df: df["fips"].str[:2] == df["state_fips"], error="state_fips is not the start of fips")
    return table_schema(variables, unique, extra_checks=extra, table_checks=[consistent, prefix])


def county_schema() -> pa.DataFrameSchema:
    """Pandera schema of the county table (unique fips)."""
    return county_table_schema(COUNTY_VARIABLES, ["fips"])


def panel_schema() -> pa.DataFrameSchema:
    """Pandera schema of the county x year panel (unique fips x year)."""
    return county_table_schema(PANEL_VARIABLES, ["fips", "year"])


def places_data_dictionary(table: pd.DataFrame, variables: tuple[Variable, ...]) -> pd.DataFrame:
    """Name, label, type, source, rule and % missing for every column of a county table."""
    return data_dictionary(table, variables)
