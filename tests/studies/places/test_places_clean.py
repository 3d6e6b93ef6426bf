"""The county table and the county panel, built from the mirror's files: one row per county (or county-year),
FIPS codes with their leading zeros, joins that neither duplicate nor drop counties (checked against the join
log), and a cross-source check that the join lines counties up."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.studies.nhanes.source import SourceDataError
from analysis.studies.places.clean import (
    CT_LEGACY_COUNTIES,
    JOIN_LOG_COLUMNS,
    CleaningError,
    build_county_panel,
    build_county_table,
)
from analysis.studies.places.schema import (
    CHR_MEASURES,
    COUNTY_VARIABLES,
    PANEL_VARIABLES,
    PLACES_MEASURES,
    places_data_dictionary,
)

PLACES_FILE = "PLACES__County_Data__GIS_Friendly_Format___2024_release_20250107.csv.xz"


def _raw_dir(mirror: Path, dest: Path) -> Path:
    """The mirror's county files laid out as the fetch stage writes them (data/raw/places)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mirror / "cdc_places" / PLACES_FILE, dest / "PLACES_county_2024.csv.xz")
    for year in (2010, 2011):
        name = f"analytic_data{year}.csv"
        shutil.copyfile(mirror / "county_health_rankings" / name, dest / name)
    for m in CHR_MEASURES:
        name = f"{m.code}_{m.release}.csv"
        shutil.copyfile(mirror / "county_health_rankings" / "measure_datasets_r2025_r2026" / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def raw(mirror, tmp_path_factory) -> Path:
    return _raw_dir(mirror, tmp_path_factory.mktemp("places_raw"))


@pytest.fixture(scope="module")
def built(raw):
    return build_county_table(raw)


def test_one_row_per_county_with_text_fips(built):
    table, _ = built
    assert len(table) == 3144 and table["fips"].is_unique
    assert list(table.columns) == [v.name for v in COUNTY_VARIABLES]
    assert table["fips"].str.fullmatch(r"\d{5}").all()
    autauga = table.set_index("fips").loc["01001"]
    assert (autauga["state"], autauga["state_fips"], autauga["county_name"]) == ("AL", "01", "Autauga")
    # no national (00000) or state (xx000) rows
    assert not table["fips"].str.endswith("000").any()


def test_join_log_accounts_for_every_row(built):
    table, log = built
    assert list(log.columns) == JOIN_LOG_COLUMNS
    assert len(log) == 2 + len(CHR_MEASURES)
    chr_rows = log.iloc[1:-1]
    assert (chr_rows["national_rows"] == 1).all() and (chr_rows["state_rows"] == 51).all()
    assert (log["county_rows"] == log["matched"] + log["only_in_source"]).all()
    assert (log["matched"] + log["only_in_places"] == len(table)).all()
    assert (log["rows_read"] == log["national_rows"] + log["state_rows"] + log["county_rows"]).all()
    # the only unmatched rows are Connecticut's legacy counties, listed, with the reason
    for row in chr_rows.itertuples():
        assert set(row.only_in_source_fips.split()) == CT_LEGACY_COUNTIES
        assert "Connecticut" in row.note and row.only_in_places == 0
    # each measure's non-missing values in the table = the log's matched_with_value
    for m, row in zip(CHR_MEASURES, chr_rows.itertuples()):
        assert table[m.column].notna().sum() == row.matched_with_value, m.column


def test_join_lines_up_counties_across_sources(built):
    """CHR&R's v145 (frequent mental distress) is PLACES 2024's MHLTH: equal for every county only if the
    FIPS join is right; the two population figures (Census 2020 vs 2023 estimates) agree closely."""
    table, _ = built
    assert np.allclose(table["chr_mental_distress_pct"], table["mental_distress_pct"], atol=1e-9)
    assert np.corrcoef(np.log(table["population"]), np.log(table["population_chr"]))[0, 1] > 0.99


def test_connecticut_mortality_is_missing_not_misassigned(built):
    table, _ = built
    ct = table[table["state"] == "CT"]
    assert sorted(ct["fips"]) == [f"09{c}" for c in range(110, 200, 10)]
    assert ct["premature_death_ypll"].isna().all() and ct["social_associations"].notna().all()


def test_a_county_missing_from_a_chr_file_is_kept_and_listed(raw, tmp_path):
    edited = tmp_path / "raw"
    shutil.copytree(raw, edited)
    path = edited / "v140_r2025.csv"
    lines = path.read_text().splitlines()
    kept = [line for line in lines if not line.startswith("01,001,")]
    path.write_text("\n".join(kept + ["48,999,1,1,5.0,,,,"]) + "\n")
    table, log = build_county_table(edited)
    assert len(table) == 3144
    assert pd.isna(table.set_index("fips").loc["01001", "social_associations"])
    row = log[log["measure"] == "v140"].iloc[0]
    assert row["only_in_places"] == 1 and row["only_in_places_fips"] == "01001"
    assert "48999" in row["only_in_source_fips"].split() and row["only_in_source"] == 9


def test_a_duplicated_county_in_a_chr_file_stops_the_stage(raw, tmp_path):
    edited = tmp_path / "raw"
    shutil.copytree(raw, edited)
    path = edited / "v051_r2025.csv"
    path.write_text(path.read_text() + "01,001,60342,NA\n")
    with pytest.raises(SourceDataError, match=r"v051_r2025.csv: column statecode \+ countycode has the county 01001"):
        build_county_table(edited)


def test_a_prevalence_out_of_range_breaks_the_schema(raw, tmp_path):
    """Also reads the publisher's plain .csv (the mirror's is .csv.xz)."""
    edited = tmp_path / "raw"
    shutil.copytree(raw, edited)
    path = edited / "PLACES_county_2024.csv.xz"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[frame["CountyFIPS"] == "01001", "DEPRESSION_AdjPrev"] = "130.5"
    path.unlink()
    (edited / "PLACES_county_2024.csv").write_bytes(frame.to_csv(index=False).encode())
    with pytest.raises(CleaningError, match=r"column depression_pct: less_than_or_equal_to\(100\) failed for value 13"):
        build_county_table(edited)


def test_panel_is_county_by_year(raw):
    panel = build_county_panel(raw)
    assert list(panel.columns) == [v.name for v in PANEL_VARIABLES]
    assert not panel.duplicated(["fips", "year"]).any()
    assert panel.groupby("year").size().to_dict() == {2010: 3141, 2011: 3141}
    autauga = panel[panel["fips"] == "01001"].set_index("year")
    assert autauga.loc[2010, "inadequate_support_pct"] == pytest.approx(27.61)  # 0.2761 in the file
    assert autauga.loc[2010, "premature_death_ypll"] == pytest.approx(9778.1)


def test_data_dictionary_covers_every_column(built):
    table, _ = built
    dictionary = places_data_dictionary(table, COUNTY_VARIABLES)
    assert list(dictionary["name"]) == list(table.columns)
    isolation = dictionary.set_index("name").loc["isolation_pct"]
    assert isolation["pct_missing"] == pytest.approx(round(100 * 727 / 3144, 1))
    assert "ISOLATION_AdjPrev" in isolation["source"]


def test_measure_definitions_follow_cdc_and_cite_their_source():
    """CDC defines "feeling socially isolated" as always, usually or sometimes (PLACES measure definitions,
    health-related social needs); every PLACES and CHR&R variable cites where its definition comes from and
    says that PLACES values are model predictions."""
    rules = {v.name: v.rule for v in COUNTY_VARIABLES}
    assert "always, usually or sometimes" in rules["isolation_pct"]
    assert "always or usually" not in rules["isolation_pct"]
    for m in PLACES_MEASURES:
        assert "https://www.cdc.gov/places/measure-definitions/" in rules[m.column], m.column
        assert "model prediction" in rules[m.column], m.column
    for m in CHR_MEASURES:
        assert f"measure {m.code}" in rules[m.column] and "countyhealthrankings.org" in rules[m.column]
    for v in PANEL_VARIABLES:
        if v.source.startswith("CHR&R analytic_data"):
            assert "countyhealthrankings.org" in v.rule, v.name
