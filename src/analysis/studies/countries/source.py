"""Country-year files: the World Happiness Report 2024 panel and two Our World in Data (IHME GBD 2019) series.

Files (data/sources.yaml, study ``countries``):

* ``DataForTable2.1.xls`` of the World Happiness Report 2024 (statistical appendix; one sheet, one row per
  country-year 2005-2023, Gallup World Poll national means): :func:`read_whr`. The publisher's file is an
  Excel 97 (.xls) workbook, read with xlrd; a CSV of the same sheet (our mirror has one) reads to the same
  frame to the last bit (``float_precision="round_trip"``; the default CSV parser rounds the last digit).
  Countries are identified by **name only** (no ISO code): ``clean_countries.COUNTRY_ISO3`` reconciles them.
* OWID grapher CSVs ``cardiovascular-disease-death-rates.csv`` (age-standardised CVD deaths per 100,000,
  both sexes) and ``prevalence-by-mental-and-substance-use-disorder.csv`` (age-standardised prevalence, %,
  of seven disorders; we keep depressive disorders): :func:`read_owid_cvd_deaths`,
  :func:`read_owid_depression`. Keys ``Entity``, ``Code`` (ISO 3166-1 alpha-3), ``Year``.

How values arrive, checked on the files (not assumed):

* WHR: headers exactly as :data:`WHR_COLUMNS` lists them; ``year`` an integer; every indicator a float,
  missing cells empty (log GDP 28, social support 13, healthy life expectancy 63 of 2,363 rows). Social
  support is a national *share* (0-1) answering yes to "If you were in trouble, do you have relatives or
  friends you can count on to help you whenever you need them?". One oddity is kept as published: Haiti's
  healthy life expectancy reads 6.7 (2006) to 38.6 (2012) years, WHR's extrapolation of WHO values across
  the 2010 earthquake.
* OWID: the value column's header names the measure in full ("Deaths - Cardiovascular diseases - Sex:
  Both - Age: Age-standardized (Rate)"); it is found by the phrases in :data:`OWID_SERIES`, so a later
  download whose header differs only in wording around them still reads. Regions, income groups, WHO/World
  Bank regions and the UK nations have an empty ``Code``; the world is ``OWID_WRL``. Both are aggregates and
  are dropped (listed in ``frame.attrs["aggregates"]``). OWID also gives a few countries without an ISO
  code codes of its own (``OWID_KOS`` Kosovo): :data:`OWID_COUNTRY_CODES` keeps those, recoded to the code
  used in this project (``XKX``, the code the EU and World Bank use for Kosovo). Neither file here has
  Kosovo or Hong Kong (GBD 2019 reports them within Serbia and China).

Every reader returns a tidy frame with snake_case columns and raises ``SourceDataError`` naming the file,
the column, the value and the row (country and year) for a missing column, a non-numeric or out-of-range
value, a blank key or a repeated country-year.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core.contract import SourceDataError
from analysis.core.fetch import fetch_study

#: WHR header -> column name used here (the order of the published sheet).
WHR_COLUMNS: dict[str, str] = {
    "Country name": "country",
    "year": "year",
    "Life Ladder": "life_ladder",
    "Log GDP per capita": "log_gdp_per_capita",
    "Social support": "social_support",
    "Healthy life expectancy at birth": "healthy_life_expectancy",
    "Freedom to make life choices": "freedom_to_make_life_choices",
    "Generosity": "generosity",
    "Perceptions of corruption": "perceptions_of_corruption",
    "Positive affect": "positive_affect",
    "Negative affect": "negative_affect",
}
#: Plausible ranges of the WHR indicators (a value outside is an error, not a missing value): the
#: ladder is 0-10; shares 0-1; generosity is a regression residual (about -0.35 to 0.7 here).
WHR_RANGES: dict[str, tuple[float, float]] = {
    "year": (2005, 2100),
    "life_ladder": (0, 10),
    "log_gdp_per_capita": (0, 15),
    "social_support": (0, 1),
    "healthy_life_expectancy": (0, 100),
    "freedom_to_make_life_choices": (0, 1),
    "generosity": (-1, 1),
    "perceptions_of_corruption": (0, 1),
    "positive_affect": (0, 1),
    "negative_affect": (0, 1),
}
#: The WHR files we read, in the order tried: the publisher's workbook, then a CSV of its sheet.
WHR_STEM = "WHR2024_DataForTable2.1"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # start of every Excel 97-2003 (.xls) workbook

OWID_KEYS: dict[str, str] = {"Entity": "entity", "Code": "iso3", "Year": "year"}
#: Our column -> (phrases the OWID value header must contain, plausible range, the OWID file stem).
OWID_SERIES: dict[str, tuple[tuple[str, ...], tuple[float, float], str]] = {
    "cvd_death_rate": (("Cardiovascular diseases", "Age-standardized", "Rate"), (0, 5000),
                       "cardiovascular-disease-death-rates"),
    "depression_prevalence": (("Depressive disorders", "Age-standardized", "Percent"), (0, 100),
                              "prevalence-by-mental-and-substance-use-disorder"),
}
#: OWID's own codes for countries that have no ISO 3166-1 code -> the code used in this project.
OWID_COUNTRY_CODES: dict[str, str] = {"OWID_KOS": "XKX"}


# ---------------------------------------------------------------------------------------------
# World Happiness Report


def whr_path(raw_dir: str | Path) -> Path:
    """The fetched WHR file in ``raw_dir``: the publisher's ``.xls``, else a ``.csv`` of its sheet."""
    for ext in (".xls", ".csv"):
        candidate = Path(raw_dir) / f"{WHR_STEM}{ext}"
        if candidate.exists():
            return candidate
    raise SourceDataError(f"{Path(raw_dir) / WHR_STEM}.xls (or .csv): not found; run the fetch stage first "
                          "(python -m analysis countries fetch)")


def _read_table(path: Path, what: str) -> pd.DataFrame:
    """A .xls workbook's first sheet or a .csv, every value exactly as stored."""
    if not path.exists():
        raise SourceDataError(f"{path}: not found; run the fetch stage first "
                              "(python -m analysis countries fetch)")
    suffix = path.suffix.lower()
    try:
        if suffix == ".xls":
            with open(path, "rb") as fh:
                head = fh.read(8)
            if head != OLE2_MAGIC:
                raise SourceDataError(f"{path}: not an Excel 97-2003 workbook (it starts {head!r}); the server "
                                      "may have sent an error page")
            try:
                import xlrd  # noqa: F401  (pandas' engine for .xls)
            except ImportError as err:  # pragma: no cover - pinned in requirements.txt
                raise SourceDataError(f"{path}: reading .xls needs the package xlrd (pip install xlrd)") from err
            return pd.read_excel(path, sheet_name=0, engine="xlrd")
        if suffix == ".csv":
            return pd.read_csv(path, float_precision="round_trip")
    except SourceDataError:
        raise
    except Exception as err:  # pandas, xlrd and the csv parser raise many types
        raise SourceDataError(f"{path}: cannot be read as the {what} ({type(err).__name__}: {err})") from err
    raise SourceDataError(f"{path}: unknown file type for the {what} (expected .xls or .csv)")


def _shown(value: object) -> str:
    """A cell as an error message shows it: numbers plainly (2010.5, nan), text quoted."""
    if isinstance(value, (int, float, np.number)):
        return f"{float(value):g}"
    return repr(value)


def _normalised(header: object) -> str:
    return " ".join(str(header).split()).casefold()


def _numeric(raw: pd.Series, bounds: tuple[float, float], path: Path, header: str, rows: list[str]) -> pd.Series:
    """``raw`` as float64 (empty -> NaN); a non-numeric value or one outside ``bounds`` is an error naming
    the file, the column ``header``, the value and the row (``rows[i]``: "<country> <year>")."""
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = raw.notna() & values.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceDataError(f"{path}: column '{header}' has the non-numeric value {_shown(raw.iloc[i])} "
                              f"({rows[i]}); expected a number")
    lo, hi = bounds
    out = values.notna() & ~values.between(lo, hi)
    if out.any():
        i = int(np.flatnonzero(out.to_numpy())[0])
        raise SourceDataError(f"{path}: column '{header}' has the value {values.iloc[i]:g} ({rows[i]}), "
                              f"outside {lo:g}-{hi:g}; check the file (a different release or unit?)")
    return values


def read_whr(path: str | Path) -> pd.DataFrame:
    """The WHR 2024 country-year table with :data:`WHR_COLUMNS` renamed to snake_case.

    One row per country and year (``country`` as WHR spells it, ``year`` int64); indicators float64,
    missing as NaN. Raises SourceDataError for a missing column, a blank country, a non-integer year, a
    non-numeric or implausible value (:data:`WHR_RANGES`) or a repeated country-year, naming the file,
    column, value, country and year.
    """
    path = Path(path)
    raw = _read_table(path, "World Happiness Report table (DataForTable2.1)")
    by_name = {_normalised(c): c for c in raw.columns}
    missing = [h for h in WHR_COLUMNS if _normalised(h) not in by_name]
    if missing:
        raise SourceDataError(f"{path}: column '{missing[0]}' is missing (WHR 2024 DataForTable2.1 has "
                              f"{', '.join(WHR_COLUMNS)}; found {', '.join(map(str, raw.columns))})")
    frame = raw[[by_name[_normalised(h)] for h in WHR_COLUMNS]].copy()
    frame.columns = list(WHR_COLUMNS.values())
    headers = {v: k for k, v in WHR_COLUMNS.items()}

    country = frame["country"].astype("object")
    blank = country.isna() | (country.astype(str).str.strip() == "")
    if blank.any():
        i = int(np.flatnonzero(blank.to_numpy())[0])
        raise SourceDataError(f"{path}: column 'Country name' is blank in row {i + 2} (year {frame['year'].iloc[i]!s})")
    frame["country"] = country.astype(str).str.strip()
    rows = [f"{c} {y!s}" for c, y in zip(frame["country"], frame["year"], strict=True)]

    out = pd.DataFrame({"country": frame["country"]})
    for column in WHR_COLUMNS.values():
        if column == "country":
            continue
        values = _numeric(frame[column], WHR_RANGES[column], path, headers[column], rows)
        if column == "year":
            unusable = values.isna() | (values % 1 != 0)
            if unusable.any():
                i = int(np.flatnonzero(unusable.to_numpy())[0])
                raise SourceDataError(f"{path}: column 'year' has the value {_shown(frame['year'].iloc[i])} for "
                                      f"{frame['country'].iloc[i]}; expected a whole year")
            values = values.astype("int64")
        out[column] = values
    repeated = out.duplicated(["country", "year"], keep=False)
    if repeated.any():
        first = out[repeated].iloc[0]
        raise SourceDataError(f"{path}: {first['country']} {first['year']} has {int(repeated.sum())} rows; "
                              "expected one row per country and year")
    return out.sort_values(["country", "year"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Our World in Data


def owid_path(raw_dir: str | Path, column: str) -> Path:
    """The fetched OWID file holding ``column`` (a key of :data:`OWID_SERIES`)."""
    return Path(raw_dir) / f"{OWID_SERIES[column][2]}.csv"


def _value_header(columns: list[str], phrases: tuple[str, ...], path: Path) -> str:
    hits = [c for c in columns if all(p.casefold() in str(c).casefold() for p in phrases)]
    if len(hits) != 1:
        found = "none" if not hits else ", ".join(hits)
        raise SourceDataError(f"{path}: expected exactly one column whose header contains "
                              f"{' + '.join(repr(p) for p in phrases)}, found {found} (columns: {', '.join(columns)})")
    return hits[0]


def read_owid(path: str | Path, column: str) -> pd.DataFrame:
    """One OWID grapher CSV as ``entity, iso3, year, <column>``, countries only.

    ``column`` is a key of :data:`OWID_SERIES` (``cvd_death_rate`` or ``depression_prevalence``).
    Aggregates (empty code or ``OWID_*``, except the country codes of :data:`OWID_COUNTRY_CODES`) are
    dropped and their names kept in ``attrs["aggregates"]``; a country-year with an empty value is left out
    (to a join it is the same as a missing row). Raises SourceDataError naming the file, column,
    value, entity and year for a missing column, a non-numeric or out-of-range value, a non-integer year, a
    malformed code, a code used by two entities or a repeated country-year.
    """
    path = Path(path)
    phrases, bounds, _ = OWID_SERIES[column]
    raw = _read_table(path, f"Our World in Data file for {column}")
    absent = [k for k in OWID_KEYS if k not in raw.columns]
    if absent:
        raise SourceDataError(f"{path}: column '{absent[0]}' is missing (an OWID grapher CSV has Entity, Code, "
                              f"Year and the value columns; found {', '.join(map(str, raw.columns))})")
    header = _value_header([str(c) for c in raw.columns], phrases, path)
    frame = pd.DataFrame({"entity": raw["Entity"].astype("object"), "iso3": raw["Code"].astype("object")})
    code = frame["iso3"].where(frame["iso3"].notna(), "").astype(str).str.strip()
    aggregate = (code == "") | (code.str.startswith("OWID_") & ~code.isin(list(OWID_COUNTRY_CODES)))
    where = [f"{e} {y!s}" for e, y in zip(frame["entity"], raw["Year"], strict=True)]

    year = pd.to_numeric(raw["Year"], errors="coerce")
    unusable = year.isna() | (year % 1 != 0)
    if unusable.any():
        i = int(np.flatnonzero(unusable.to_numpy())[0])
        raise SourceDataError(f"{path}: column 'Year' has the value {_shown(raw['Year'].iloc[i])} ({where[i]}); "
                              "expected a whole year")
    values = _numeric(raw[header], bounds, path, header, where)
    frame["year"] = year.astype("int64")
    frame[column] = values

    aggregates = sorted(set(frame.loc[aggregate.to_numpy(), "entity"].astype(str)))
    frame = frame[~aggregate.to_numpy()].copy()
    frame["iso3"] = code[~aggregate].replace(OWID_COUNTRY_CODES).to_numpy()
    malformed = ~frame["iso3"].str.fullmatch(r"[A-Z]{3}")
    if malformed.any():
        first = frame[malformed].iloc[0]
        raise SourceDataError(f"{path}: column 'Code' has the value {first['iso3']!r} ({first['entity']}); "
                              "expected an ISO 3166-1 alpha-3 code, empty, or OWID_* for an aggregate")
    names = frame.groupby("iso3")["entity"].nunique()
    if (names > 1).any():
        iso3 = names[names > 1].index[0]
        both = sorted(frame.loc[frame["iso3"] == iso3, "entity"].astype(str).unique())
        raise SourceDataError(f"{path}: column 'Code' has the value {iso3!r} for two entities ({' and '.join(both)})")
    repeated = frame.duplicated(["iso3", "year"], keep=False)
    if repeated.any():
        first = frame[repeated].iloc[0]
        raise SourceDataError(f"{path}: {first['entity']} ({first['iso3']}) {first['year']} has "
                              f"{int(repeated.sum())} rows; expected one row per country and year")
    frame = frame.dropna(subset=[column]).sort_values(["iso3", "year"], kind="stable").reset_index(drop=True)
    frame["entity"] = frame["entity"].astype(str)
    frame.attrs["aggregates"] = aggregates
    frame.attrs["value_header"] = header
    return frame


def read_owid_cvd_deaths(path: str | Path) -> pd.DataFrame:
    """OWID ``cardiovascular-disease-death-rates.csv``: ``entity, iso3, year, cvd_death_rate``
    (IHME GBD 2019 age-standardised cardiovascular deaths per 100,000 population, both sexes)."""
    return read_owid(path, "cvd_death_rate")


def read_owid_depression(path: str | Path) -> pd.DataFrame:
    """OWID ``prevalence-by-mental-and-substance-use-disorder.csv``: ``entity, iso3, year,
    depression_prevalence`` (IHME GBD 2019 age-standardised prevalence of depressive disorders, %, both sexes)."""
    return read_owid(path, "depression_prevalence")


def stage() -> str:
    """DVC stage ``fetch_countries``: the study's public files into ``data/raw/countries`` (mirror or publishers)."""
    return fetch_study("countries", ["countries"])
