"""The contract of the country-year panel (``clean_countries.build_country_panel``) and of its name map.

``COUNTRY_PANEL_VARIABLES`` lists every column of ``data/processed/countries_panel.parquet``: the cleaning
code builds exactly these, ``country_panel_schema()`` (pandera) validates them, and
``country_data_dictionary`` writes name, label, type, source, rule and % missing from the same list.
``NAME_MAP_COLUMNS`` is the column order of the name-map report (``countries_name_map.csv``).
The column types and checks follow ``analysis.studies.nhanes.schema`` (NHANES), whose ``Variable`` is reused.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from analysis.core.contract import Variable, data_dictionary, table_schema

WHR = "WHR 2024 DataForTable2.1"
GALLUP = "national mean of Gallup World Poll respondents (about 1,000 a country-year), as published"

COUNTRY_PANEL_VARIABLES: tuple[Variable, ...] = (
    Variable("iso3", "Country code (ISO 3166-1 alpha-3)", "string", "clean_countries.COUNTRY_ISO3",
             "the WHR country name looked up in the explicit name map; XKX for Kosovo (no ISO code; the EU "
             "and World Bank use XKX); countries without a code are not in the panel (see the name map)",
             nullable=False),
    Variable("country", "Country (as WHR names it)", "string", f"{WHR}: Country name", "as published",
             nullable=False),
    Variable("year", "Year", "int", f"{WHR}: year", "as published; the years of params countries.years",
             (2005, 2100), nullable=False),
    Variable("social_support", "Social support (share with someone to count on)", "float",
             f"{WHR}: Social support",
             "share (0-1) answering yes to 'If you were in trouble, do you have relatives or friends you can "
             f"count on to help you whenever you need them?'; {GALLUP}", (0, 1)),
    Variable("social_support_lag1", "Social support, previous calendar year", "float", f"{WHR}: Social support",
             "social_support of the same country at year - 1, taken from the whole WHR file (also before the "
             "first panel year); missing when WHR has no row (or no value) for year - 1: never carried across a "
             "gap", (0, 1)),
    Variable("log_gdp_per_capita", "Log GDP per capita (PPP, constant 2017 international $)", "float",
             f"{WHR}: Log GDP per capita", "natural log, as published (World Bank WDI, WHR's extrapolations)",
             (0, 15)),
    Variable("healthy_life_expectancy", "Healthy life expectancy at birth (years)", "float",
             f"{WHR}: Healthy life expectancy at birth",
             "as published (WHO GHO, interpolated and extrapolated by WHR); Haiti 2006-2012 reads 6.7-38.6 years "
             "(WHR's extrapolation across the 2010 earthquake): kept as published. Derived from mortality and "
             "morbidity, CVD and depression included: not a model covariate", (0, 100)),
    Variable("life_ladder", "Life evaluation (Cantril ladder, 0-10)", "float", f"{WHR}: Life Ladder",
             f"{GALLUP}", (0, 10)),
    Variable("freedom_to_make_life_choices", "Satisfied with freedom to choose what to do with one's life (share)",
             "float", f"{WHR}: Freedom to make life choices", GALLUP, (0, 1)),
    Variable("generosity", "Generosity (donated to charity, residual on GDP per capita)", "float",
             f"{WHR}: Generosity", "as published: residual of the national donation share regressed on log GDP "
             "per capita", (-1, 1)),
    Variable("perceptions_of_corruption", "Perceived corruption (share)", "float",
             f"{WHR}: Perceptions of corruption", f"mean of two items (government, business); {GALLUP}", (0, 1)),
    Variable("positive_affect", "Positive affect (share)", "float", f"{WHR}: Positive affect",
             f"mean of laughter, enjoyment and doing interesting things the previous day; {GALLUP}", (0, 1)),
    Variable("negative_affect", "Negative affect (share)", "float", f"{WHR}: Negative affect",
             f"mean of worry, sadness and anger the previous day; {GALLUP}", (0, 1)),
    Variable("cvd_death_rate", "Cardiovascular deaths per 100,000 (age-standardised)", "float",
             "OWID cardiovascular-disease-death-rates: Deaths - Cardiovascular diseases - Sex: Both - Age: "
             "Age-standardized (Rate)",
             "IHME GBD 2019 estimate, both sexes, joined on iso3 and year; missing when OWID has no series for "
             "the country", (0, 5000)),
    Variable("depression_prevalence", "Depressive disorders, prevalence % (age-standardised)", "float",
             "OWID prevalence-by-mental-and-substance-use-disorder: Prevalence - Depressive disorders - Sex: "
             "Both - Age: Age-standardized (Percent)",
             "IHME GBD 2019 estimate (major depressive disorder and dysthymia), both sexes, joined on iso3 and "
             "year; missing when OWID has no series for the country", (0, 100)),
)

#: Columns of the name-map report, one row per WHR country name.
NAME_MAP_COLUMNS: list[str] = [
    "whr_name", "iso3", "owid_entity", "status", "whr_years", "panel_rows", "rows_with_cvd",
    "rows_with_depression", "first_year", "last_year", "note",
]


def country_panel_schema() -> pa.DataFrameSchema:
    """Pandera schema of the country-year panel (unique iso3 x year)."""
    return table_schema(COUNTRY_PANEL_VARIABLES, ["iso3", "year"])


def country_data_dictionary(panel: pd.DataFrame) -> pd.DataFrame:
    """Name, label, type, source, rule and % missing for every column of the country-year panel."""
    return data_dictionary(panel, COUNTRY_PANEL_VARIABLES)
