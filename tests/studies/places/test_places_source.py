"""Readers of the county sources: FIPS codes kept as text, nation and state rows excluded, and errors that
name the file, column and value. Small hand-written files, then the real ones on the mirror."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.studies.nhanes.source import SourceDataError
from analysis.studies.places import source as src

PLACES_HEADER = ("StateAbbr,StateDesc,CountyName,CountyFIPS,TotalPopulation,TotalPop18plus,ISOLATION_AdjPrev,"
                 "ISOLATION_Adj95CI")


def _places(tmp_path: Path, rows: list[str], header: str = PLACES_HEADER) -> Path:
    path = tmp_path / "PLACES_county_2024.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


GOOD_PLACES = [
    'AL,Alabama,Autauga,01001,58805,45000,33.1,"(30.0, 36.0)"',
    'AK,Alaska,Aleutians East,02013,3420,2900,,',
    'WY,Wyoming,Albany,56001,37066,30000,30.5,"(28.0, 33.0)"',
]


def test_places_keeps_leading_zeros_and_reads_numbers(tmp_path):
    frame = src.read_places(_places(tmp_path, GOOD_PLACES), ["ISOLATION"])
    assert list(frame["fips"]) == ["01001", "02013", "56001"]
    assert list(frame["state_fips"]) == ["01", "02", "56"]
    assert frame.loc[0, "state"] == "AL" and frame.loc[0, "county_name"] == "Autauga"
    assert frame["ISOLATION_AdjPrev"].tolist()[0] == 33.1 and pd.isna(frame["ISOLATION_AdjPrev"].iloc[1])
    assert frame["population"].dtype == "float64"


def test_places_four_digit_fips_names_file_column_value_and_the_lost_zero(tmp_path):
    path = _places(tmp_path, ['AL,Alabama,Autauga,1001,58805,45000,33.1,""'])
    with pytest.raises(SourceDataError) as err:
        src.read_places(path, ["ISOLATION"])
    text = str(err.value)
    assert str(path) in text and "CountyFIPS" in text and "'1001'" in text and "leading zero" in text


def test_places_non_numeric_value_names_column_value_and_county(tmp_path):
    path = _places(tmp_path, ['AL,Alabama,Autauga,01001,58805,45000,n/a,""'])
    with pytest.raises(SourceDataError, match=r"ISOLATION_AdjPrev has the non-numeric value 'n/a' \(county 01001\)"):
        src.read_places(path, ["ISOLATION"])


def test_places_missing_column_is_named(tmp_path):
    path = _places(tmp_path, GOOD_PLACES)
    with pytest.raises(SourceDataError, match="column EMOTIONSPT_AdjPrev is missing"):
        src.read_places(path, ["ISOLATION", "EMOTIONSPT"])


def test_places_state_that_disagrees_with_the_fips_code(tmp_path):
    path = _places(tmp_path, ['GA,Georgia,Autauga,01001,58805,45000,33.1,""'])
    with pytest.raises(SourceDataError, match=r"county 01001 has the state code 01 but column StateAbbr says 'GA'"):
        src.read_places(path, ["ISOLATION"])


def test_places_duplicated_county(tmp_path):
    path = _places(tmp_path, GOOD_PLACES + [GOOD_PLACES[0]])
    with pytest.raises(SourceDataError, match="county 01001 twice"):
        src.read_places(path, ["ISOLATION"])


# ---------------------------------------------------------------------------------------------
# CHR&R analytic files: two header rows

ANALYTIC_LABELS = ("State FIPS Code,County FIPS Code,5-digit FIPS Code,State Abbreviation,Name,Release Year,"
                   "County Ranked (Yes=1/No=0),Inadequate social support raw value,Premature death raw value")
ANALYTIC_CODES = "statecode,countycode,fipscode,state,county,year,county_ranked,v040_rawvalue,v001_rawvalue"
ANALYTIC_ROWS = [
    "00,000,00000,US,United States,2010,,0.19,7261.2",
    "01,000,01000,AL,Alabama,2010,,0.21,10150.4",
    "01,001,01001,AL,Autauga County,2010,1,0.2761,9778.1",
    "01,003,01003,AL,Baldwin County,2010,1,,8221.7",
    "02,000,02000,AK,Alaska,2010,,0.18,8000",
    "02,013,02013,AK,Aleutians East Borough,2010,1,0.15,",
]


def _analytic(tmp_path: Path, rows: list[str], labels: bool = True) -> Path:
    path = tmp_path / "analytic_data2010.csv"
    path.write_text("\n".join(([ANALYTIC_LABELS] if labels else []) + [ANALYTIC_CODES, *rows]) + "\n")
    return path


def test_analytic_drops_nation_and_states_and_counts_them(tmp_path):
    frame = src.read_chr_analytic(_analytic(tmp_path, ANALYTIC_ROWS), ["v040", "v001"], year=2010)
    assert list(frame["fips"]) == ["01001", "01003", "02013"]
    assert frame.attrs[src.ROW_COUNTS] == {"rows_read": 6, "national_rows": 1, "state_rows": 2, "county_rows": 3}
    assert frame["v040_rawvalue"].iloc[0] == pytest.approx(0.2761) and pd.isna(frame["v040_rawvalue"].iloc[1])
    assert frame["year"].tolist() == [2010, 2010, 2010]
    assert not frame["fips"].str.endswith("000").any()


def test_analytic_with_one_header_row_says_there_should_be_two(tmp_path):
    path = _analytic(tmp_path, ANALYTIC_ROWS, labels=False)
    with pytest.raises(SourceDataError, match="two header rows"):
        src.read_chr_analytic(path, ["v040"])


def test_analytic_fipscode_that_lost_its_zero(tmp_path):
    rows = ANALYTIC_ROWS[:2] + ["01,001,1001,AL,Autauga County,2010,1,0.2761,9778.1"]
    with pytest.raises(SourceDataError, match=r"column fipscode has the value '1001' \(line 5 of the file\)"):
        src.read_chr_analytic(_analytic(tmp_path, rows), ["v040"])


def test_analytic_wrong_year_and_non_numeric_value(tmp_path):
    with pytest.raises(SourceDataError, match="column year has the value '2010'.*expected 2011"):
        src.read_chr_analytic(_analytic(tmp_path, ANALYTIC_ROWS), ["v040"], year=2011)
    rows = ANALYTIC_ROWS[:2] + ["01,001,01001,AL,Autauga County,2010,1,27.6%,9778.1"]
    with pytest.raises(SourceDataError, match=r"v040_rawvalue has the non-numeric value '27.6%' \(county 01001\)"):
        src.read_chr_analytic(_analytic(tmp_path, rows), ["v040"])


def test_analytic_missing_measure_is_named(tmp_path):
    with pytest.raises(SourceDataError, match="column v145_rawvalue is missing"):
        src.read_chr_analytic(_analytic(tmp_path, ANALYTIC_ROWS), ["v145"])


# ---------------------------------------------------------------------------------------------
# CHR&R per-measure files


def test_measure_file_with_r_row_index_and_na(tmp_path):
    path = tmp_path / "v044_r2025.csv"
    path.write_text('"","statecode","countycode","v044_numerator","v044_denominator","v044_rawvalue","v044_cilow","v044_cihigh"\n'
                    '"1","00","000",157573,32232,4.88,4.87,4.90\n'
                    '"2","01","000",126785,24536,5.16,5.09,5.23\n'
                    '"3","01","001",132562,31018,4.27,3.74,4.80\n'
                    '"4","09","001",NA,NA,NA,NA,NA\n')
    frame = src.read_chr_measure(path, "v044")
    assert list(frame.columns) == ["fips", "state_fips", "v044_rawvalue", "v044_cilow", "v044_cihigh"]
    assert list(frame["fips"]) == ["01001", "09001"]
    assert frame["v044_rawvalue"].iloc[0] == pytest.approx(4.27) and pd.isna(frame["v044_rawvalue"].iloc[1])
    assert frame.attrs[src.ROW_COUNTS] == {"rows_read": 4, "national_rows": 1, "state_rows": 1, "county_rows": 2}


@pytest.mark.parametrize("row, message", [
    ("01,1,9.5", r"column countycode has the value '1' \(line 2 of the file\); expected 3 digits"),
    ("01,001,high", r"column v140_rawvalue has the non-numeric value 'high' \(county 01001\)"),
    ("72,001,9.5", "statecode has the value '72', not the code of one of the 50 states or DC"),
])
def test_measure_file_errors_name_column_and_value(tmp_path, row, message):
    path = tmp_path / "v140_r2025.csv"
    path.write_text(f"statecode,countycode,v140_rawvalue\n{row}\n")
    with pytest.raises(SourceDataError, match=message):
        src.read_chr_measure(path, "v140")


def test_measure_file_without_the_measure_column(tmp_path):
    path = tmp_path / "v140_r2025.csv"
    path.write_text("statecode,countycode,v141_rawvalue\n01,001,9.5\n")
    with pytest.raises(SourceDataError, match="column v140_rawvalue is missing"):
        src.read_chr_measure(path, "v140")


def test_missing_fetched_file_says_to_fetch(tmp_path):
    with pytest.raises(SourceDataError, match="run the fetch stage first"):
        src.places_path(tmp_path)
    with pytest.raises(SourceDataError, match="v140_r2025.csv: not found"):
        src.chr_measure_path(tmp_path, "v140", "r2025")


# ---------------------------------------------------------------------------------------------
# The real files


def test_real_places_file(mirror):
    path = mirror / "cdc_places" / "PLACES__County_Data__GIS_Friendly_Format___2024_release_20250107.csv.xz"
    frame = src.read_places(path, ["ISOLATION", "EMOTIONSPT", "DEPRESSION"])
    assert len(frame) == 3144 and frame["fips"].is_unique and frame["fips"].str.fullmatch(r"\d{5}").all()
    assert set(frame["state"]) == set(src.STATE_FIPS)  # 50 states and DC
    autauga = frame.set_index("fips").loc["01001"]
    assert autauga["state"] == "AL" and autauga["county_name"] == "Autauga"
    assert frame["ISOLATION_AdjPrev"].notna().sum() == 2417


def test_real_chr_files(mirror):
    chr_dir = mirror / "county_health_rankings"
    analytic = src.read_chr_analytic(chr_dir / "analytic_data2010.csv", ["v040", "v001"], year=2010)
    assert analytic.attrs[src.ROW_COUNTS] == {"rows_read": 3193, "national_rows": 1, "state_rows": 51,
                                              "county_rows": 3141}
    assert "01001" in set(analytic["fips"]) and not analytic["fips"].str.endswith("000").any()
    measure = src.read_chr_measure(chr_dir / "measure_datasets_r2025_r2026" / "v044_r2025.csv", "v044")
    assert measure.attrs[src.ROW_COUNTS]["county_rows"] == 3152 and measure["fips"].is_unique
