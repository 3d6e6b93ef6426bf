"""Clean stage, US counties: PLACES 2024 + CHR&R 2025/2026 -> the county table; CHR&R 2010-2011 -> the panel.

``build_county_table``: one row per county of CDC PLACES 2024 (the spine: 3,144 counties of the 50
states and DC), with PLACES' age-adjusted prevalences (social isolation, lack of social and emotional
support, depression, frequent mental distress, coronary heart disease, stroke, and the behavioural and
social-need measures used as covariates), left-joined on the FIPS code with one CHR&R per-measure file
at a time (social associations, premature death, life expectancy, income, unemployment, ...). Every
join is one-to-one (checked) and logged: ``join_log`` counts, for every file, the rows read, the nation
and state rows excluded, the county rows, those matched, those only in the file (not in PLACES) and the
PLACES counties absent from the file, **listing** the unmatched FIPS codes and explaining the known
cases. A county is never dropped: the table keeps every PLACES county, with NaN where a measure is
missing, and the stage fails if the counts do not add up.

Known mismatch, 2024/2025 geography: Connecticut replaced its 8 counties by 9 planning regions as
county-equivalents (Census 2022). PLACES 2024 and most CHR&R 2025 measures use the planning regions
(09110-09190); CHR&R also lists the 8 legacy counties (09001-09015), empty for most measures but holding
the mortality measures (premature death, life expectancy), which are therefore missing for Connecticut.

``build_county_panel``: CHR&R's analytic files of the 2010 and 2011 releases stacked into a county x
year table (inadequate social support, premature death, poor mental health days, fair/poor health,
smoking). Each release pools several earlier data years and the two windows overlap, so a year-on-year
change is a shift of the window, not a change between two separate years.

Options (``params.yaml places.clean``, studies/places/settings.py): ``places_value``: "AdjPrev" (default,
age-adjusted) or "CrudePrev".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core import config, io
from analysis.core.contract import CleaningError, data_dictionaries, finish_table, validate_table
from analysis.studies.places import source as src
from analysis.studies.places.schema import (
    CHR_MEASURES,
    COUNTY_VARIABLES,
    PANEL_MEASURES,
    PANEL_VARIABLES,
    PANEL_YEARS,
    PLACES_MEASURES,
    county_schema,
    panel_schema,
)
from analysis.studies.places.settings import Clean, load

#: Columns of the join log, one row per source file (the PLACES spine first, the final table last).
JOIN_LOG_COLUMNS: list[str] = [
    "source", "file", "measure", "column", "rows_read", "national_rows", "state_rows", "county_rows",
    "county_rows_with_value", "matched", "matched_with_value", "only_in_source", "only_in_places",
    "only_in_source_fips", "only_in_places_fips", "note",
]

# Connecticut's legacy counties, replaced as county-equivalents by planning regions (Census 2022).
CT_LEGACY_COUNTIES = frozenset({"09001", "09003", "09005", "09007", "09009", "09011", "09013", "09015"})
CT_PLANNING_REGIONS = frozenset({"09110", "09120", "09130", "09140", "09150", "09160", "09170", "09180", "09190"})


def _explain(only_source: list[str], only_places: list[str]) -> str:
    notes = []
    if only_source and set(only_source) <= CT_LEGACY_COUNTIES:
        notes.append(f"{len(only_source)} only in the source: Connecticut's legacy counties, replaced by planning "
                     "regions in the 2022 county geography that PLACES 2024 uses")
    elif only_source:
        notes.append(f"{len(only_source)} county rows only in the source: not in PLACES 2024 (check the geography)")
    if only_places and set(only_places) <= CT_PLANNING_REGIONS:
        notes.append(f"{len(only_places)} PLACES counties absent: Connecticut's planning regions")
    elif only_places:
        notes.append(f"{len(only_places)} PLACES counties absent from the source")
    return "; ".join(notes)


def _log_row(source: str, file: Path, measure: str, column: str, counts: dict, values: pd.Series,
             source_fips: pd.Series, spine: pd.Series, matched_values: pd.Series) -> dict:
    in_spine = source_fips.isin(set(spine))
    only_source = sorted(source_fips[~in_spine])
    only_places = sorted(set(spine) - set(source_fips))
    return {
        "source": source, "file": file.name, "measure": measure, "column": column,
        "rows_read": counts["rows_read"], "national_rows": counts["national_rows"],
        "state_rows": counts["state_rows"], "county_rows": counts["county_rows"],
        "county_rows_with_value": int(values.notna().sum()), "matched": int(in_spine.sum()),
        "matched_with_value": int(matched_values.notna().sum()),
        "only_in_source": len(only_source), "only_in_places": len(only_places),
        "only_in_source_fips": " ".join(only_source), "only_in_places_fips": " ".join(only_places),
        "note": _explain(only_source, only_places),
    }


def build_county_table(raw_dir: str | Path, options: Clean = Clean()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The county table (validated, one row per PLACES county, keyed by ``fips``) and the join log.

    Columns: :data:`~analysis.studies.places.schema.COUNTY_VARIABLES`. Join log: :data:`JOIN_LOG_COLUMNS`, one row
    for PLACES, one per CHR&R file, one for the final table.
    """
    raw_dir = Path(raw_dir)
    value = options.places_value
    places_file = src.places_path(raw_dir)
    places = src.read_places(places_file, [m.measure for m in PLACES_MEASURES], value=value)
    keys = ["fips", "state", "state_fips", "state_name", "county_name", "population", "adult_population"]
    table = places[keys].copy()
    for m in PLACES_MEASURES:
        table[m.column] = places[f"{m.measure}_{value}"]
    spine = table["fips"]
    n = len(table)
    isolation = table["isolation_pct"]
    log = [_log_row("CDC PLACES 2024 county (spine)", places_file, f"{len(PLACES_MEASURES)} measures ({value})",
                    "isolation_pct",
                    {"rows_read": n, "national_rows": 0, "state_rows": 0, "county_rows": n}, isolation, spine,
                    spine, isolation)]
    log[0]["note"] = (f"the spine: every PLACES county is kept; isolation_pct present for "
                      f"{int(isolation.notna().sum())} counties in {table.loc[isolation.notna(), 'state'].nunique()} "
                      "states (BRFSS 2022 social determinants module)")

    for m in CHR_MEASURES:
        path = src.chr_measure_path(raw_dir, m.code, m.release)
        chr_frame = src.read_chr_measure(path, m.code)
        values = chr_frame[f"{m.code}_rawvalue"] * m.scale
        right = pd.DataFrame({"fips": chr_frame["fips"], m.column: values})
        before = len(table)
        try:
            table = table.merge(right, on="fips", how="left", validate="one_to_one")
        except pd.errors.MergeError as err:
            raise CleaningError(f"{path}: joining {m.code} on fips is not one-to-one ({err})") from err
        if len(table) != before:
            raise CleaningError(f"{path}: the join changed the number of counties from {before} to {len(table)}")
        log.append(_log_row(f"CHR&R {m.code}_{m.release}: {m.label}", path, m.code, m.column,
                            chr_frame.attrs[src.ROW_COUNTS], values, chr_frame["fips"], spine, table[m.column]))

    income = table["median_household_income"]
    table["log_median_income"] = np.log(income.where(income > 0))
    log.append({"source": "county table", "file": "", "measure": "", "column": "", "rows_read": len(table),
                "national_rows": 0, "state_rows": 0, "county_rows": len(table),
                "county_rows_with_value": int(table["isolation_pct"].notna().sum()), "matched": len(table),
                "matched_with_value": int(table["isolation_pct"].notna().sum()), "only_in_source": 0,
                "only_in_places": 0, "only_in_source_fips": "", "only_in_places_fips": "",
                "note": "one row per PLACES county; counts of isolation_pct present"})
    join_log = pd.DataFrame(log, columns=JOIN_LOG_COLUMNS)
    _check_join_log(join_log, n)
    table = finish_table(table, COUNTY_VARIABLES)
    return validate_table(table, county_schema(), "county table"), join_log


def _check_join_log(log: pd.DataFrame, n_places: int) -> None:
    """Every file's county rows = matched + only in the file; every PLACES county matched or listed absent."""
    for row in log.itertuples():
        if row.county_rows != row.matched + row.only_in_source:
            raise CleaningError(f"join log, {row.source}: {row.county_rows} county rows but {row.matched} matched + "
                                f"{row.only_in_source} unmatched")
        if row.matched + row.only_in_places != n_places:
            raise CleaningError(f"join log, {row.source}: {row.matched} matched + {row.only_in_places} absent != "
                                f"{n_places} PLACES counties")
        if row.rows_read != row.national_rows + row.state_rows + row.county_rows:
            raise CleaningError(f"join log, {row.source}: rows read != nation + state + county rows")


def build_county_panel(raw_dir: str | Path) -> pd.DataFrame:
    """The CHR&R 2010-2011 county x year table (validated; columns
    :data:`~analysis.studies.places.schema.PANEL_VARIABLES`), one row per county and release year."""
    raw_dir = Path(raw_dir)
    frames = []
    for year in PANEL_YEARS:
        path = src.chr_analytic_path(raw_dir, year)
        frame = src.read_chr_analytic(path, list(PANEL_MEASURES), year=year)
        out = frame[["fips", "state", "state_fips", "county_name", "year"]].copy()
        for code, (column, scale, _, _) in PANEL_MEASURES.items():
            out[column] = frame[f"{code}_rawvalue"] * scale
        frames.append(out)
    panel = pd.concat(frames, ignore_index=True).sort_values(["fips", "year"], kind="stable")
    panel = finish_table(panel.reset_index(drop=True), PANEL_VARIABLES)
    return validate_table(panel, panel_schema(), "county panel 2010-2011")


def stage() -> str:
    """DVC stage ``clean_places``: the county table, the county panel, the join log and the dictionary."""
    params = load()
    table, join_log = build_county_table(config.RAW / "places", params.places.clean)
    panel = build_county_panel(config.RAW / "places")
    dictionary = data_dictionaries({"places_county": (table, COUNTY_VARIABLES),
                                    "places_panel": (panel, PANEL_VARIABLES)})
    out = config.PROCESSED
    io.write_outputs({out / "places_county.parquet": table, out / "places_panel.parquet": panel,
                      out / "places_join_log.csv": join_log, out / "places_data_dictionary.csv": dictionary})
    return f"county table: {len(table):,} counties; county panel: {len(panel):,} county-years"
