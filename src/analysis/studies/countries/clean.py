"""Clean stage, countries: WHR 2024 social support joined to IHME GBD 2019 outcomes (via OWID), country-years.

``build_country_panel(raw_dir, years)`` returns two tables:

* **the panel** (validated against ``schema_countries``): one row per WHR country-year within
  ``params.yaml countries.years`` (default 2005-2019; GBD 2019 ends in 2019) whose country has an ISO code:
  WHR social support (also lagged one calendar year), log GDP per capita, healthy life expectancy and the
  other WHR indicators, joined on ISO code and year to the age-standardised CVD death rate and depression
  prevalence. A country-year OWID lacks keeps its row with the outcome missing.
* **the name map report**: one row per WHR country name, with the ISO code it maps to, OWID's name for that
  code, a status (:data:`STATUSES`), and how many country-years it has in the window, in the panel and with
  each outcome. Nothing is dropped without a row here saying so.

WHR identifies countries by name only. :data:`COUNTRY_ISO3` is the explicit map from every WHR 2024 name to
its ISO 3166-1 alpha-3 code (``None``: the name has no code). The 156 names that OWID spells the same way
were matched to OWID's code and each code checked by hand; the 9 others are written out with a note
(:data:`NAME_NOTES`).
A WHR name that is not in the map stops the stage with a list of such names (a new release, a renamed
country): add it by hand; the map is never guessed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.core import config, io
from analysis.core.contract import CleaningError, finish_table, validate_table
from analysis.studies.countries import source as src
from analysis.studies.countries.schema import (
    COUNTRY_PANEL_VARIABLES,
    NAME_MAP_COLUMNS,
    country_data_dictionary,
    country_panel_schema,
)
from analysis.studies.countries.settings import load

#: Years of the panel when params.yaml gives none: WHR starts in 2005; the GBD 2019 series end in 2019.
DEFAULT_YEARS: tuple[int, int] = (2005, 2019)

# Every country name of the WHR 2024 table (DataForTable2.1) -> ISO 3166-1 alpha-3 code. Names that
# differ from OWID's spelling, or have no OWID series, are grouped first, each with the reason.
COUNTRY_ISO3: dict[str, str | None] = {
    # WHR spelling differs from OWID's (OWID name in the comment)
    "Congo (Brazzaville)": "COG",  # Congo (Republic of the Congo)
    "Congo (Kinshasa)": "COD",  # Democratic Republic of Congo
    "Ivory Coast": "CIV",  # Cote d'Ivoire
    "State of Palestine": "PSE",  # Palestine
    "Taiwan Province of China": "TWN",  # Taiwan
    "Türkiye": "TUR",  # Turkey
    # in WHR, without a series in OWID's GBD 2019 files
    "Hong Kong S.A.R. of China": "HKG",
    "Kosovo": "XKX",  # no ISO 3166-1 code: XKX is the EU's and World Bank's; OWID uses OWID_KOS
    # no ISO code at all
    "Somaliland region": None,
    # the same name in WHR and OWID, code checked by hand
    "Afghanistan": "AFG", "Albania": "ALB", "Algeria": "DZA", "Angola": "AGO", "Argentina": "ARG",
    "Armenia": "ARM", "Australia": "AUS", "Austria": "AUT", "Azerbaijan": "AZE", "Bahrain": "BHR",
    "Bangladesh": "BGD", "Belarus": "BLR", "Belgium": "BEL", "Belize": "BLZ", "Benin": "BEN", "Bhutan": "BTN",
    "Bolivia": "BOL", "Bosnia and Herzegovina": "BIH", "Botswana": "BWA", "Brazil": "BRA", "Bulgaria": "BGR",
    "Burkina Faso": "BFA", "Burundi": "BDI", "Cambodia": "KHM", "Cameroon": "CMR", "Canada": "CAN",
    "Central African Republic": "CAF", "Chad": "TCD", "Chile": "CHL", "China": "CHN", "Colombia": "COL",
    "Comoros": "COM", "Costa Rica": "CRI", "Croatia": "HRV", "Cuba": "CUB", "Cyprus": "CYP", "Czechia": "CZE",
    "Denmark": "DNK", "Djibouti": "DJI", "Dominican Republic": "DOM", "Ecuador": "ECU", "Egypt": "EGY",
    "El Salvador": "SLV", "Estonia": "EST", "Eswatini": "SWZ", "Ethiopia": "ETH", "Finland": "FIN",
    "France": "FRA", "Gabon": "GAB", "Gambia": "GMB", "Georgia": "GEO", "Germany": "DEU", "Ghana": "GHA",
    "Greece": "GRC", "Guatemala": "GTM", "Guinea": "GIN", "Guyana": "GUY", "Haiti": "HTI", "Honduras": "HND",
    "Hungary": "HUN", "Iceland": "ISL", "India": "IND", "Indonesia": "IDN", "Iran": "IRN", "Iraq": "IRQ",
    "Ireland": "IRL", "Israel": "ISR", "Italy": "ITA", "Jamaica": "JAM", "Japan": "JPN", "Jordan": "JOR",
    "Kazakhstan": "KAZ", "Kenya": "KEN", "Kuwait": "KWT", "Kyrgyzstan": "KGZ", "Laos": "LAO", "Latvia": "LVA",
    "Lebanon": "LBN", "Lesotho": "LSO", "Liberia": "LBR", "Libya": "LBY", "Lithuania": "LTU",
    "Luxembourg": "LUX", "Madagascar": "MDG", "Malawi": "MWI", "Malaysia": "MYS", "Maldives": "MDV",
    "Mali": "MLI", "Malta": "MLT", "Mauritania": "MRT", "Mauritius": "MUS", "Mexico": "MEX", "Moldova": "MDA",
    "Mongolia": "MNG", "Montenegro": "MNE", "Morocco": "MAR", "Mozambique": "MOZ", "Myanmar": "MMR",
    "Namibia": "NAM", "Nepal": "NPL", "Netherlands": "NLD", "New Zealand": "NZL", "Nicaragua": "NIC",
    "Niger": "NER", "Nigeria": "NGA", "North Macedonia": "MKD", "Norway": "NOR", "Oman": "OMN",
    "Pakistan": "PAK", "Panama": "PAN", "Paraguay": "PRY", "Peru": "PER", "Philippines": "PHL", "Poland": "POL",
    "Portugal": "PRT", "Qatar": "QAT", "Romania": "ROU", "Russia": "RUS", "Rwanda": "RWA",
    "Saudi Arabia": "SAU", "Senegal": "SEN", "Serbia": "SRB", "Sierra Leone": "SLE", "Singapore": "SGP",
    "Slovakia": "SVK", "Slovenia": "SVN", "Somalia": "SOM", "South Africa": "ZAF", "South Korea": "KOR",
    "South Sudan": "SSD", "Spain": "ESP", "Sri Lanka": "LKA", "Sudan": "SDN", "Suriname": "SUR",
    "Sweden": "SWE", "Switzerland": "CHE", "Syria": "SYR", "Tajikistan": "TJK", "Tanzania": "TZA",
    "Thailand": "THA", "Togo": "TGO", "Trinidad and Tobago": "TTO", "Tunisia": "TUN", "Turkmenistan": "TKM",
    "Uganda": "UGA", "Ukraine": "UKR", "United Arab Emirates": "ARE", "United Kingdom": "GBR",
    "United States": "USA", "Uruguay": "URY", "Uzbekistan": "UZB", "Venezuela": "VEN", "Vietnam": "VNM",
    "Yemen": "YEM", "Zambia": "ZMB", "Zimbabwe": "ZWE",
}

#: Why a name needs a word in the report (shown in its ``note`` column).
NAME_NOTES: dict[str, str] = {
    "Congo (Brazzaville)": "Republic of the Congo; OWID: Congo",
    "Congo (Kinshasa)": "Democratic Republic of the Congo; OWID: Democratic Republic of Congo",
    "Ivory Coast": "OWID: Cote d'Ivoire",
    "State of Palestine": "OWID: Palestine",
    "Taiwan Province of China": "OWID: Taiwan",
    "Türkiye": "OWID: Turkey (the name before 2022)",
    "Hong Kong S.A.R. of China": "GBD 2019 reports Hong Kong within China: no OWID series",
    "Kosovo": "no ISO 3166-1 code (XKX: EU and World Bank); GBD 2019 reports Kosovo within Serbia: no OWID series",
    "Somaliland region": "self-declared state within Somalia, no ISO code; GBD counts it within Somalia, so its "
                         "rows cannot be joined (Somalia's own WHR rows are)",
}

STATUS_JOINED = "joined"
STATUS_ONE_SERIES = "one OWID series only"
STATUS_NO_OWID = "no OWID data"
STATUS_NO_CODE = "no ISO3 code"
STATUS_NO_YEARS = "no WHR years in window"
#: Every status of the name map, from fully joined to not in the panel at all.
STATUSES = (STATUS_JOINED, STATUS_ONE_SERIES, STATUS_NO_OWID, STATUS_NO_CODE, STATUS_NO_YEARS)

OUTCOMES = ("cvd_death_rate", "depression_prevalence")


def country_codes(names: pd.Series, mapping: dict[str, str | None] | None = None,
                  source: str | Path = "the WHR table") -> pd.Series:
    """ISO3 code of each WHR country name (``None`` where the map says it has none).

    Raises CleaningError listing every name the map lacks, and for two names mapped to the same code
    (their country-years would collide in the join).
    """
    mapping = COUNTRY_ISO3 if mapping is None else mapping
    distinct = list(dict.fromkeys(names))
    unknown = [n for n in distinct if n not in mapping]
    if unknown:
        raise CleaningError(
            f"{source}: {len(unknown)} country name(s) not in the name map COUNTRY_ISO3 "
            f"(src/analysis/studies/countries/clean.py): {', '.join(repr(n) for n in unknown)}. Add each with its ISO "
            "3166-1 alpha-3 code (or None if it has none) after checking which country WHR means; "
            "the map is never guessed")
    codes = {n: mapping[n] for n in distinct}
    shared = pd.Series(codes).dropna()
    shared = shared[shared.duplicated(keep=False)]
    if not shared.empty:
        code = shared.iloc[0]
        both = sorted(shared[shared == code].index)
        raise CleaningError(f"{source}: the names {' and '.join(repr(n) for n in both)} both map to {code} in "
                            "COUNTRY_ISO3; a code can stand for one WHR name only")
    return names.map(codes).astype("object")


def lag_by_year(frame: pd.DataFrame, column: str, by: str = "country", time: str = "year") -> pd.Series:
    """``column`` of the same ``by`` at ``time - 1`` (calendar lag): NaN when that year has no row, so a
    value is never carried across a gap year (2011 after 2009 has no lag)."""
    previous = frame[[by, time, column]].assign(**{time: frame[time] + 1})
    looked_up = frame[[by, time]].merge(previous, on=[by, time], how="left", validate="one_to_one")
    return pd.Series(looked_up[column].to_numpy(), index=frame.index, name=f"{column}_lag1")


def name_map_report(whr: pd.DataFrame, panel: pd.DataFrame, owid: dict[str, pd.DataFrame], first: int,
                    last: int, mapping: dict[str, str | None] | None = None) -> pd.DataFrame:
    """One row per WHR country name: code, OWID name, status and counts (:data:`NAME_MAP_COLUMNS`)."""
    mapping = COUNTRY_ISO3 if mapping is None else mapping
    owid_names: dict[str, str] = {}
    for frame in owid.values():
        owid_names.update(frame.drop_duplicates("iso3").set_index("iso3")["entity"].to_dict())
    in_series = {name: set(frame["iso3"]) for name, frame in owid.items()}
    window = whr[whr["year"].between(first, last)]
    rows = []
    for name in sorted(whr["country"].unique()):
        code = mapping[name]
        mine = panel[panel["country"] == name]
        years = window.loc[window["country"] == name, "year"]
        found = [s for s in OUTCOMES if code is not None and code in in_series[s]]
        if code is None:
            status = STATUS_NO_CODE
        elif years.empty:
            status = STATUS_NO_YEARS
        elif not found:
            status = STATUS_NO_OWID
        elif len(found) < len(OUTCOMES):
            status = STATUS_ONE_SERIES
        else:
            status = STATUS_JOINED
        rows.append({
            "whr_name": name, "iso3": code, "owid_entity": owid_names.get(code) if code else None,
            "status": status, "whr_years": int(len(years)), "panel_rows": int(len(mine)),
            "rows_with_cvd": int(mine["cvd_death_rate"].notna().sum()),
            "rows_with_depression": int(mine["depression_prevalence"].notna().sum()),
            "first_year": int(years.min()) if len(years) else None,
            "last_year": int(years.max()) if len(years) else None,
            "note": NAME_NOTES.get(name, ""),
        })
    report = pd.DataFrame(rows, columns=NAME_MAP_COLUMNS)
    for column in ("first_year", "last_year"):
        report[column] = report[column].astype("Int64")
    order = {s: i for i, s in enumerate(reversed(STATUSES))}  # problems first, then the joined
    report = report.sort_values(["status", "whr_name"], key=lambda s: s.map(order) if s.name == "status" else s,
                                kind="stable")
    return report.reset_index(drop=True)


def build_country_panel(raw_dir: str | Path, years: tuple[int, int] = DEFAULT_YEARS
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The country-year panel (validated) and the name map report (see the module docstring).

    ``raw_dir`` holds the fetched files (``data/raw/countries``): the WHR table (``.xls``, or a ``.csv`` of its
    sheet) and the two OWID CSVs. Rows are counted at each join: the panel has exactly the WHR country-years
    in the window whose name has a code (a join that added or lost a row would be a CleaningError).
    """
    raw_dir = Path(raw_dir)
    first, last = years
    whr_file = src.whr_path(raw_dir)
    whr = src.read_whr(whr_file)
    whr["iso3"] = country_codes(whr["country"], source=whr_file)
    whr["social_support_lag1"] = lag_by_year(whr, "social_support")
    owid = {"cvd_death_rate": src.read_owid_cvd_deaths(src.owid_path(raw_dir, "cvd_death_rate")),
            "depression_prevalence": src.read_owid_depression(src.owid_path(raw_dir, "depression_prevalence"))}

    in_window = whr[whr["year"].between(first, last)]
    panel = in_window[in_window["iso3"].notna()].reset_index(drop=True)
    expected = len(panel)
    for column, frame in owid.items():
        panel = panel.merge(frame[["iso3", "year", column]], on=["iso3", "year"], how="left",
                            validate="one_to_one")
        if len(panel) != expected:  # pragma: no cover - validate="one_to_one" raises first
            raise CleaningError(f"joining {column} changed the panel from {expected} to {len(panel)} rows")
    report = name_map_report(whr, panel, owid, first, last)
    accounted = int(report["panel_rows"].sum()) + int(report.loc[report["status"] == STATUS_NO_CODE, "whr_years"].sum())
    if accounted != len(in_window):  # pragma: no cover - a bookkeeping check
        raise CleaningError(f"the name map accounts for {accounted} of the {len(in_window)} WHR country-years")
    panel = finish_table(panel, COUNTRY_PANEL_VARIABLES)
    panel = validate_table(panel, country_panel_schema(), "country-year panel")
    return panel, report


def stage() -> str:
    """DVC stage ``clean_countries``: the country-year panel, the name map and the dictionary."""
    params = load()
    panel, name_map = build_country_panel(config.RAW / "countries", tuple(params.countries.years))
    io.write_outputs({config.PROCESSED / "countries_panel.parquet": panel,
                      config.PROCESSED / "countries_name_map.csv": name_map,
                      config.PROCESSED / "countries_data_dictionary.csv": country_data_dictionary(panel)})
    return f"country-year panel: {len(panel):,} rows, {panel['iso3'].nunique()} countries"
