"""US counties: CDC PLACES (2024 release) and County Health Rankings & Roadmaps (CHR&R) files.

Three kinds of file, each read by one function that returns a tidy frame keyed by ``fips``, the
5-character county FIPS code **as text** (``"01001"`` is Autauga County, Alabama: read as a number it
would lose its leading zero and stop matching):

* ``read_places``: CDC PLACES "County Data (GIS Friendly Format)", one row per county (3,144 in the
  2024 release: 50 states and DC), ``CountyFIPS`` already a 5-digit string; for every measure X the
  columns ``X_CrudePrev``, ``X_AdjPrev`` (age-adjusted), ``X_Crude95CI``, ``X_Adj95CI``, in percent of
  adults. Empty cells are missing (the social-connection measures ISOLATION and EMOTIONSPT exist only
  for the states that fielded the BRFSS 2022 social-determinants module).
* ``read_chr_analytic``: CHR&R ``analytic_data<YEAR>.csv``. **Two header rows**: labels ("Premature
  death raw value"), then codes (``statecode, countycode, fipscode, state, county, year, county_ranked,
  v001_rawvalue, ...``); read on the codes. One row for the nation (fipscode ``00000``), one per state
  (countycode ``000``), then counties: the nation and state rows are dropped here and counted.
* ``read_chr_measure``: CHR&R's per-measure files of the 2025/2026 releases (``v140_r2025.csv`` ...):
  ``statecode``, ``countycode``, ``vNNN_rawvalue`` (+ CI, numerator, flags). Missing values are written
  ``NA`` (R) or left empty; ``v044_r2025.csv`` starts with an unnamed R row-index column, dropped here.
  Nation and state rows are dropped and counted as in the analytic files.

Every reader checks what it relies on and raises ``SourceDataError`` naming the file, column and value:
a FIPS code that is not 5 digits (the usual cause: the file went through a spreadsheet that dropped
the leading zero), a state code that does not match the state's abbreviation, a duplicated county, a
missing column, a non-numeric value where a number belongs. Missing markers are ``""`` and ``"NA"``;
anything else that is not a number is an error, never a silent NaN.

The frames of the CHR readers carry their row counts in ``frame.attrs["row_counts"]`` (rows read,
national rows, state rows, county rows), so the cleaning stage can log the joins without re-reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core.contract import SourceDataError
from analysis.core.fetch import fetch_study

# State FIPS codes (Census Bureau, ANSI INCITS 38) of the 50 states and DC, by USPS abbreviation.
STATE_FIPS: dict[str, str] = {
    "AL": "01", "AK": "02", "AZ": "04", "AR": "05", "CA": "06", "CO": "08", "CT": "09", "DE": "10", "DC": "11",
    "FL": "12", "GA": "13", "HI": "15", "ID": "16", "IL": "17", "IN": "18", "IA": "19", "KS": "20", "KY": "21",
    "LA": "22", "ME": "23", "MD": "24", "MA": "25", "MI": "26", "MN": "27", "MS": "28", "MO": "29", "MT": "30",
    "NE": "31", "NV": "32", "NH": "33", "NJ": "34", "NM": "35", "NY": "36", "NC": "37", "ND": "38", "OH": "39",
    "OK": "40", "OR": "41", "PA": "42", "RI": "44", "SC": "45", "SD": "46", "TN": "47", "TX": "48", "UT": "49",
    "VT": "50", "VA": "51", "WA": "53", "WV": "54", "WI": "55", "WY": "56",
}
STATE_ABBR: dict[str, str] = {code: abbr for abbr, code in STATE_FIPS.items()}

NATIONAL_FIPS = "00000"
STATE_COUNTY_CODE = "000"  # countycode of a state's own row in the CHR files
MISSING_TOKENS = frozenset({"", "NA"})
ROW_COUNTS = "row_counts"  # key of frame.attrs holding the CHR readers' row counts

# Fetched file names (data/sources.yaml ``dest``, under data/raw/places/).
PLACES_STEM = "PLACES_county_2024"
PLACES_ID_COLUMNS = ["StateAbbr", "StateDesc", "CountyName", "CountyFIPS", "TotalPopulation", "TotalPop18plus"]
CHR_ID_COLUMNS = ["statecode", "countycode", "fipscode", "state", "county", "year"]

_FIPS5 = re.compile(r"^\d{5}$")
_DIGITS = {2: re.compile(r"^\d{2}$"), 3: re.compile(r"^\d{3}$")}


# ---------------------------------------------------------------------------------------------
# Shared checks


def _read_text_csv(path: Path, what: str, **kwargs) -> pd.DataFrame:
    """Every cell as text (no type guessing, so no FIPS loses its zeros), ``NA``/empty kept as text."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, **kwargs)
    except FileNotFoundError as err:
        raise SourceDataError(f"{path}: not found; run the fetch stage first "
                              "(python -m analysis places fetch)") from err
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as err:
        raise SourceDataError(f"{path}: cannot be read as a {what} CSV file ({err})") from err


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], path: Path, hint: str = "") -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        shown = ", ".join(list(map(str, frame.columns))[:10])
        raise SourceDataError(f"{path}: column {absent[0]} is missing{hint} (the file's columns begin: {shown} ...)")


def _row_text(i: int, header_rows: int) -> str:
    return f"line {i + header_rows + 1} of the file"


def check_fips(values: pd.Series, path: str | Path, column: str, *, header_rows: int = 1) -> pd.Series:
    """The column as 5-digit FIPS strings; a SourceDataError names the first value that is not one."""
    text = values.astype(str).str.strip()
    bad = ~text.str.match(_FIPS5)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        value = values.iloc[i]
        lost_zero = re.fullmatch(r"\d{4}", str(value).strip()) is not None
        hint = (" It has 4 digits: the leading zero was probably lost (the file was read as numbers or saved "
                "through a spreadsheet); fetch it again and read FIPS codes as text.") if lost_zero else ""
        raise SourceDataError(f"{path}: column {column} has the value {value!r} ({_row_text(i, header_rows)}); a "
                              f"county FIPS code is 5 digits kept as text, e.g. 01001 for Autauga County, AL.{hint}")
    return text


def _check_codes(values: pd.Series, width: int, path: Path, column: str, header_rows: int) -> pd.Series:
    text = values.astype(str).str.strip()
    bad = ~text.str.match(_DIGITS[width])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceDataError(f"{path}: column {column} has the value {values.iloc[i]!r} "
                              f"({_row_text(i, header_rows)}); expected {width} digits kept as text (leading zeros "
                              "included)")
    return text


def _check_unique(fips: pd.Series, path: Path, column: str) -> None:
    dup = fips.duplicated()
    if dup.any():
        raise SourceDataError(f"{path}: column {column} has the county {fips[dup].iloc[0]} twice; one row per "
                              "county is expected")


def _check_state(abbr: pd.Series, fips: pd.Series, path: Path, column: str) -> None:
    """The state abbreviation of each county row agrees with the first two digits of its FIPS code."""
    state_fips = fips.str[:2]
    expected = abbr.map(STATE_FIPS)
    unknown = expected.isna()
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise SourceDataError(f"{path}: column {column} has the value {abbr.iloc[i]!r}, not one of the 50 states "
                              "and DC (territories are not part of this study)")
    wrong = expected != state_fips
    if wrong.any():
        i = int(np.flatnonzero(wrong.to_numpy())[0])
        raise SourceDataError(f"{path}: county {fips.iloc[i]} has the state code {state_fips.iloc[i]} but column "
                              f"{column} says {abbr.iloc[i]!r} (state code {expected.iloc[i]}); the file is misaligned")


def to_number(values: pd.Series, path: str | Path, column: str, keys: pd.Series | None = None) -> pd.Series:
    """Text cells as float64: ``""`` and ``"NA"`` -> NaN; any other non-number is a SourceDataError naming
    the file, column, value and county (``keys``: the FIPS of each row)."""
    text = values.astype(str).str.strip()
    missing = text.isin(MISSING_TOKENS)
    numbers = pd.to_numeric(text.where(~missing), errors="coerce")
    bad = (~missing & numbers.isna()) | np.isinf(numbers.fillna(0))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        who = f"county {keys.iloc[i]}" if keys is not None else f"row {i}"
        raise SourceDataError(f"{path}: column {column} has the non-numeric value {values.iloc[i]!r} ({who}); "
                              f"expected a number, or empty / NA for missing")
    return numbers.astype("float64").rename(column)


# ---------------------------------------------------------------------------------------------
# CDC PLACES


def places_columns(measures: Iterable[str], value: str = "AdjPrev") -> list[str]:
    """Publisher column names of ``measures`` (``"ISOLATION"`` -> ``"ISOLATION_AdjPrev"``)."""
    if value not in ("AdjPrev", "CrudePrev"):
        raise ValueError(f"PLACES value '{value}' unknown; use 'AdjPrev' (age-adjusted) or 'CrudePrev'")
    return [f"{m}_{value}" for m in measures]


def read_places(path: str | Path, measures: Iterable[str], *, value: str = "AdjPrev") -> pd.DataFrame:
    """Read a PLACES county GIS-friendly file (``.csv`` or ``.csv.xz``).

    Returns one row per county: ``fips`` (5-character text), ``state`` (USPS abbreviation),
    ``state_fips`` (2 characters), ``state_name``, ``county_name``, ``population`` (TotalPopulation),
    ``adult_population`` (TotalPop18plus), then one float column per measure named as the publisher does,
    e.g. ``ISOLATION_AdjPrev`` (``value="CrudePrev"`` for crude prevalences). Percent of adults; NaN where
    the cell is empty.
    """
    path = Path(path)
    raw = _read_text_csv(path, "CDC PLACES county")
    wanted = places_columns(list(measures), value)
    _require_columns(raw, PLACES_ID_COLUMNS + wanted, path,
                     " (a PLACES county GIS-friendly file has StateAbbr, CountyFIPS, TotalPopulation and "
                     "<MEASURE>_AdjPrev columns; a different release may have renamed or dropped a measure)")
    fips = check_fips(raw["CountyFIPS"], path, "CountyFIPS")
    _check_unique(fips, path, "CountyFIPS")
    abbr = raw["StateAbbr"].astype(str).str.strip()
    _check_state(abbr, fips, path, "StateAbbr")
    out = pd.DataFrame({
        "fips": fips,
        "state": abbr,
        "state_fips": fips.str[:2],
        "state_name": raw["StateDesc"].astype(str).str.strip(),
        "county_name": raw["CountyName"].astype(str).str.strip(),
        "population": to_number(raw["TotalPopulation"], path, "TotalPopulation", fips),
        "adult_population": to_number(raw["TotalPop18plus"], path, "TotalPop18plus", fips),
    })
    for column in wanted:
        out[column] = to_number(raw[column], path, column, fips)
    return out.reset_index(drop=True)


_INTERVAL = re.compile(r"^\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)$")


def parse_interval(values: pd.Series, path: str | Path, column: str, keys: pd.Series) -> tuple[pd.Series, pd.Series]:
    """PLACES interval cells ``"( 4.9,  6.3)"`` as (low, high) floats; empty -> NaN; anything else is a
    SourceDataError naming the file, column, value and county (``keys``: the FIPS of each row)."""
    text = values.astype(str).str.strip()
    missing = text.isin(MISSING_TOKENS)
    parts = text.str.extract(_INTERVAL)
    bad = ~missing & parts[0].isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceDataError(f"{path}: column {column} has the value {values.iloc[i]!r} (county {keys.iloc[i]}); "
                              "expected an interval written '(low, high)', or empty for missing")
    low, high = parts[0].astype("float64"), parts[1].astype("float64")
    reversed_ = (low > high).fillna(False)
    if reversed_.any():
        i = int(np.flatnonzero(reversed_.to_numpy())[0])
        raise SourceDataError(f"{path}: column {column} has the interval {values.iloc[i]!r} (county {keys.iloc[i]}) "
                              "whose low end exceeds its high end")
    return low.rename(f"{column}_low"), high.rename(f"{column}_high")


def read_places_intervals(path: str | Path, measures: Iterable[str], *, value: str = "AdjPrev") -> pd.DataFrame:
    """The 95% intervals PLACES publishes beside each county estimate (``<MEASURE>_Adj95CI``, or
    ``_Crude95CI`` for ``value="CrudePrev"``): ``fips`` and, per measure, ``<MEASURE>_ci_low`` and
    ``<MEASURE>_ci_high`` in percent. CDC derives them from the small-area model (Monte Carlo simulation of
    the multilevel model's parameters; CDC PLACES methodology), so they describe model uncertainty, not the
    sampling error of a county's own respondents."""
    path = Path(path)
    raw = _read_text_csv(path, "CDC PLACES county")
    suffix = {"AdjPrev": "Adj95CI", "CrudePrev": "Crude95CI"}.get(value)
    if suffix is None:
        raise ValueError(f"PLACES value '{value}' unknown; use 'AdjPrev' (age-adjusted) or 'CrudePrev'")
    measures = list(measures)
    wanted = [f"{m}_{suffix}" for m in measures]
    _require_columns(raw, ["CountyFIPS", *wanted], path, " (a PLACES county GIS-friendly file has <MEASURE>_Adj95CI)")
    fips = check_fips(raw["CountyFIPS"], path, "CountyFIPS")
    _check_unique(fips, path, "CountyFIPS")
    out = pd.DataFrame({"fips": fips})
    for measure, column in zip(measures, wanted, strict=True):
        low, high = parse_interval(raw[column], path, column, fips)
        out[f"{measure}_ci_low"], out[f"{measure}_ci_high"] = low.to_numpy(), high.to_numpy()
    return out.reset_index(drop=True)


def places_path(raw_dir: str | Path) -> Path:
    """The fetched PLACES file in ``raw_dir`` (the mirror's ``.csv.xz`` or the publisher's ``.csv``)."""
    for ext in (".csv.xz", ".csv"):
        candidate = Path(raw_dir) / f"{PLACES_STEM}{ext}"
        if candidate.exists():
            return candidate
    raise SourceDataError(f"{Path(raw_dir) / PLACES_STEM}.csv (or .csv.xz): not found; run the fetch stage first "
                          "(python -m analysis places fetch)")


# ---------------------------------------------------------------------------------------------
# County Health Rankings & Roadmaps


def _split_levels(statecode: pd.Series, countycode: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(national, state, county) row masks from the 2-digit state and 3-digit county codes."""
    national = (statecode == "00") & (countycode == STATE_COUNTY_CODE)
    state = (statecode != "00") & (countycode == STATE_COUNTY_CODE)
    return national, state, ~(national | state)


def _counts(rows_read: int, national: pd.Series, state: pd.Series, county: pd.Series) -> dict[str, int]:
    return {"rows_read": int(rows_read), "national_rows": int(national.sum()), "state_rows": int(state.sum()),
            "county_rows": int(county.sum())}


def read_chr_analytic(path: str | Path, measures: Iterable[str], *, year: int | None = None) -> pd.DataFrame:
    """Read a CHR&R ``analytic_data<YEAR>.csv`` (two header rows) for the ``measures`` codes (``"v040"``).

    Returns the county rows only (nation and states dropped and counted in ``attrs["row_counts"]``):
    ``fips`` (statecode + countycode, text; checked equal to the file's ``fipscode``), ``state_fips``,
    ``state`` (abbreviation), ``county_name``, ``year`` (int; checked equal to ``year`` when given) and one
    float column ``<code>_rawvalue`` per measure, as published (proportions are 0-1, not percent).
    """
    path = Path(path)
    measures = list(measures)
    raw = _read_text_csv(path, "CHR&R analytic", header=1)
    wanted = [f"{m}_rawvalue" for m in measures]
    _require_columns(raw, CHR_ID_COLUMNS, path,
                     " from the second header row; CHR&R analytic files have two header rows (labels, then codes "
                     "statecode, countycode, fipscode, state, county, year, ...)")
    _require_columns(raw, wanted, path, f" (measure {measures} not in this release's analytic file)")
    header_rows = 2
    statecode = _check_codes(raw["statecode"], 2, path, "statecode", header_rows)
    countycode = _check_codes(raw["countycode"], 3, path, "countycode", header_rows)
    fips = statecode + countycode
    published = raw["fipscode"].astype(str).str.strip()
    differs = published != fips
    if differs.any():
        i = int(np.flatnonzero(differs.to_numpy())[0])
        raise SourceDataError(f"{path}: column fipscode has the value {raw['fipscode'].iloc[i]!r} "
                              f"({_row_text(i, header_rows)}) but statecode + countycode give {fips.iloc[i]}; "
                              "FIPS codes must be kept as text (5 digits)")
    national, state, county = _split_levels(statecode, countycode)
    counts = _counts(len(raw), national, state, county)
    years = to_number(raw["year"], path, "year", fips)
    wrong = years.isna() | ((years != year) if year is not None else False)
    if wrong.any():
        i = int(np.flatnonzero(wrong.to_numpy())[0])
        raise SourceDataError(f"{path}: column year has the value {raw['year'].iloc[i]!r} "
                              f"({_row_text(i, header_rows)}); expected {year if year is not None else 'a year'}")
    keep = county.to_numpy()
    fips_c = fips[keep].reset_index(drop=True)
    _check_unique(fips_c, path, "fipscode")
    abbr = raw.loc[keep, "state"].astype(str).str.strip().reset_index(drop=True)
    _check_state(abbr, fips_c, path, "state")
    out = pd.DataFrame({
        "fips": fips_c,
        "state_fips": fips_c.str[:2],
        "state": abbr,
        "county_name": raw.loc[keep, "county"].astype(str).str.strip().reset_index(drop=True),
        "year": years[keep].astype("int64").reset_index(drop=True),
    })
    for column in wanted:
        out[column] = to_number(raw.loc[keep, column].reset_index(drop=True), path, column, fips_c)
    out.attrs[ROW_COUNTS] = counts
    return out


def read_chr_measure(path: str | Path, code: str) -> pd.DataFrame:
    """Read one CHR&R per-measure file (``v140_r2025.csv``) for the measure ``code`` (``"v140"``).

    Returns the county rows (nation and states dropped, counted in ``attrs["row_counts"]``): ``fips``
    (statecode + countycode, text), ``state_fips``, and float columns ``<code>_rawvalue`` and, when the
    file has them, ``<code>_cilow`` and ``<code>_cihigh``, as published (proportions 0-1, rates, years).
    An unnamed first column (the R row index of ``v044_r2025.csv``) is dropped.
    """
    path = Path(path)
    raw = _read_text_csv(path, "CHR&R measure")
    unnamed = [c for c in raw.columns if str(c).strip() == "" or str(c).startswith("Unnamed:")]
    raw = raw.drop(columns=unnamed)
    value = f"{code}_rawvalue"
    _require_columns(raw, ["statecode", "countycode", value], path,
                     f" (a CHR&R measure file has statecode, countycode and {value})")
    statecode = _check_codes(raw["statecode"], 2, path, "statecode", 1)
    countycode = _check_codes(raw["countycode"], 3, path, "countycode", 1)
    fips = statecode + countycode
    national, state, county = _split_levels(statecode, countycode)
    counts = _counts(len(raw), national, state, county)
    keep = county.to_numpy()
    fips_c = fips[keep].reset_index(drop=True)
    _check_unique(fips_c, path, "statecode + countycode")
    unknown = ~fips_c.str[:2].isin(STATE_ABBR)
    if unknown.any():
        raise SourceDataError(f"{path}: column statecode has the value {fips_c[unknown].iloc[0][:2]!r}, not the code "
                              "of one of the 50 states or DC")
    out = pd.DataFrame({"fips": fips_c, "state_fips": fips_c.str[:2]})
    for column in (value, f"{code}_cilow", f"{code}_cihigh"):
        if column in raw.columns:
            out[column] = to_number(raw.loc[keep, column].reset_index(drop=True), path, column, fips_c)
    out.attrs[ROW_COUNTS] = counts
    return out


def chr_analytic_path(raw_dir: str | Path, year: int) -> Path:
    path = Path(raw_dir) / f"analytic_data{year}.csv"
    if not path.exists():
        raise SourceDataError(f"{path}: not found; run the fetch stage first (python -m analysis places fetch)")
    return path


def chr_measure_path(raw_dir: str | Path, code: str, release: str) -> Path:
    """``<raw_dir>/<code>_<release>.csv``, e.g. ``v140_r2025.csv``."""
    path = Path(raw_dir) / f"{code}_{release}.csv"
    if not path.exists():
        raise SourceDataError(f"{path}: not found; run the fetch stage first (python -m analysis places fetch)")
    return path


def stage() -> str:
    """DVC stage ``fetch_places``: the study's public files into ``data/raw/places`` (mirror or publishers)."""
    return fetch_study("places", ["places"])
