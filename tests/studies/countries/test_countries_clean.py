"""Country panel: the explicit WHR name -> ISO3 map (hand-checked pairs, every name of the file mapped or
listed), joins that neither add nor lose a country-year (counted), the calendar lag (no lag across a gap),
the year window, and the schema."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from analysis.core.config import ConfigError
from analysis.core.settings import validate
from analysis.params import Params
from analysis.studies.countries import clean as cc
from analysis.studies.countries import source as src
from analysis.studies.countries.schema import (
    COUNTRY_PANEL_VARIABLES,
    NAME_MAP_COLUMNS,
    country_data_dictionary,
)

# Pairs checked by hand against ISO 3166-1 (and, for Kosovo, the EU/World Bank code).
HAND_CHECKED = {
    "Congo (Brazzaville)": "COG", "Congo (Kinshasa)": "COD", "Ivory Coast": "CIV", "Türkiye": "TUR",
    "Hong Kong S.A.R. of China": "HKG", "Taiwan Province of China": "TWN", "State of Palestine": "PSE",
    "Kosovo": "XKX", "Somaliland region": None, "Niger": "NER", "Nigeria": "NGA", "Guinea": "GIN",
    "Gambia": "GMB", "Georgia": "GEO", "Austria": "AUT", "Australia": "AUS", "Slovakia": "SVK",
    "Slovenia": "SVN", "Sudan": "SDN", "South Sudan": "SSD", "South Korea": "KOR", "Switzerland": "CHE",
    "Germany": "DEU", "Algeria": "DZA", "Lebanon": "LBN", "Libya": "LBY", "Iran": "IRN", "Iraq": "IRQ",
    "Eswatini": "SWZ", "Laos": "LAO", "Myanmar": "MMR", "North Macedonia": "MKD", "Montenegro": "MNE",
    "United Kingdom": "GBR", "United States": "USA", "Dominican Republic": "DOM",
}
# WHR names that OWID spells differently, with OWID's spelling (read off the OWID files).
OWID_SPELLING = {
    "Congo (Brazzaville)": "Congo", "Congo (Kinshasa)": "Democratic Republic of Congo",
    "Ivory Coast": "Cote d'Ivoire", "State of Palestine": "Palestine", "Taiwan Province of China": "Taiwan",
    "Türkiye": "Turkey",
}
SOMALILAND_ROWS = 4  # Somaliland region, 2009-2012: the only WHR country-years 2005-2019 without a code


@pytest.fixture(scope="module")
def raw_dir(mirror, tmp_path_factory):
    """The three files as the fetch stage lays them out in data/raw/countries."""
    folder = tmp_path_factory.mktemp("raw") / "countries"
    folder.mkdir()
    shutil.copy(mirror / "world_happiness_report/WHR2024_DataForTable2.1.xls", folder)
    for name in ("cardiovascular-disease-death-rates.csv", "prevalence-by-mental-and-substance-use-disorder.csv"):
        shutil.copy(mirror / "owid" / name, folder)
    return folder


@pytest.fixture(scope="module")
def built(raw_dir):
    return cc.build_country_panel(raw_dir)


@pytest.fixture(scope="module")
def whr(mirror) -> pd.DataFrame:
    """The WHR sheet read independently of the code under test (pandas on the CSV copy)."""
    return pd.read_csv(mirror / "world_happiness_report/WHR2024_DataForTable2.1.csv", float_precision="round_trip")


# ---------------------------------------------------------------------------------------------
# The name map


def test_hand_checked_pairs():
    for name, code in HAND_CHECKED.items():
        assert cc.COUNTRY_ISO3[name] == code, name


def test_map_codes_are_well_formed_and_distinct():
    codes = [c for c in cc.COUNTRY_ISO3.values() if c is not None]
    assert all(len(c) == 3 and c.isalpha() and c.isupper() for c in codes)
    assert len(codes) == len(set(codes))
    assert set(cc.NAME_NOTES) <= set(cc.COUNTRY_ISO3)


def test_every_whr_name_is_mapped_and_every_mapped_code_is_owids_country(whr, mirror):
    """The map covers the file exactly; where OWID has the code, OWID's name for it is the WHR name or the
    hand-listed spelling: a wrong code (Niger -> NGA, say) would show up as a different country here."""
    names = set(whr["Country name"])
    assert names == set(cc.COUNTRY_ISO3)
    owid = pd.read_csv(mirror / "owid/cardiovascular-disease-death-rates.csv").dropna(subset=["Code"])
    owid_name = owid.drop_duplicates("Code").set_index("Code")["Entity"]
    for name in names:
        code = cc.COUNTRY_ISO3[name]
        if code in owid_name.index:
            assert owid_name[code] == OWID_SPELLING.get(name, name), (name, code)
        else:
            assert name in {"Hong Kong S.A.R. of China", "Kosovo", "Somaliland region"}, name


def test_name_map_report_lists_every_name_and_why(built, whr):
    _, report = built
    assert list(report.columns) == NAME_MAP_COLUMNS
    assert sorted(report["whr_name"]) == sorted(set(whr["Country name"]))
    status = report.set_index("whr_name")["status"]
    assert status["Somaliland region"] == cc.STATUS_NO_CODE
    assert status["Kosovo"] == status["Hong Kong S.A.R. of China"] == cc.STATUS_NO_OWID
    assert (status.drop(["Somaliland region", "Kosovo", "Hong Kong S.A.R. of China"]) == cc.STATUS_JOINED).all()
    assert list(report["whr_name"][:3]) == ["Somaliland region", "Hong Kong S.A.R. of China", "Kosovo"]  # first
    row = report.set_index("whr_name").loc["Congo (Kinshasa)"]
    assert (row["iso3"], row["owid_entity"]) == ("COD", "Democratic Republic of Congo")
    assert row["note"] and report.set_index("whr_name").loc["Chad", "note"] == ""


def test_unknown_name_is_an_error_listing_all_of_them():
    names = pd.Series(["Chad", "Narnia", "Atlantis", "Narnia"])
    with pytest.raises(cc.CleaningError, match=r"w\.csv: 2 country name\(s\) not in the name map COUNTRY_ISO3 "
                                                r"\(src/analysis/studies/countries/clean\.py\): 'Narnia', 'Atlantis'"):
        cc.country_codes(names, source="w.csv")


def test_two_names_with_one_code_is_an_error():
    mapping = {"Somalia": "SOM", "Somaliland region": "SOM"}
    with pytest.raises(cc.CleaningError, match="'Somalia' and 'Somaliland region' both map to SOM"):
        cc.country_codes(pd.Series(["Somalia", "Somaliland region"]), mapping)


# ---------------------------------------------------------------------------------------------
# The joins


def test_panel_has_exactly_the_coded_whr_country_years(built, whr):
    panel, report = built
    window = whr[whr["year"].between(2005, 2019)]
    assert len(window) == 1847  # counted on the CSV
    assert len(panel) == len(window) - SOMALILAND_ROWS == 1843
    assert not panel.duplicated(["iso3", "year"]).any()
    # every panel row is a WHR row with the same values (nothing added, nothing shifted)
    merged = panel.merge(window, left_on=["country", "year"], right_on=["Country name", "year"], how="left",
                         validate="one_to_one")
    assert merged["Country name"].notna().all()
    np.testing.assert_array_equal(merged["social_support"], merged["Social support"])
    # the report accounts for every window row
    assert report["panel_rows"].sum() + report.loc[report["status"] == cc.STATUS_NO_CODE, "whr_years"].sum() == 1847


def test_outcomes_are_owids_values_for_the_same_country_year(built, mirror):
    panel, _ = built
    cvd = pd.read_csv(mirror / "owid/cardiovascular-disease-death-rates.csv")
    dep = pd.read_csv(mirror / "owid/prevalence-by-mental-and-substance-use-disorder.csv")
    for code, year in [("USA", 2010), ("CIV", 2015), ("TUR", 2019), ("COD", 2011), ("TWN", 2006)]:
        row = panel[(panel["iso3"] == code) & (panel["year"] == year)].iloc[0]
        expected_cvd = cvd[(cvd["Code"] == code) & (cvd["Year"] == year)].iloc[0, 3]
        expected_dep = dep.loc[(dep["Code"] == code) & (dep["Year"] == year),
                               "Prevalence - Depressive disorders - Sex: Both - Age: Age-standardized (Percent)"]
        assert row["cvd_death_rate"] == expected_cvd and row["depression_prevalence"] == expected_dep.iloc[0]
    # Kosovo and Hong Kong keep their rows, outcomes missing; 23 such rows = the panel's missing outcomes
    no_owid = panel["iso3"].isin(["XKX", "HKG"])
    assert no_owid.sum() == 23 and panel.loc[no_owid, ["cvd_death_rate", "depression_prevalence"]].isna().all().all()
    assert panel.loc[~no_owid, ["cvd_death_rate", "depression_prevalence"]].notna().all().all()


def test_panel_matches_its_schema_and_dictionary(built):
    panel, _ = built
    assert list(panel.columns) == [v.name for v in COUNTRY_PANEL_VARIABLES]
    dictionary = country_data_dictionary(panel)
    assert list(dictionary["name"]) == list(panel.columns) and dictionary["pct_missing"].notna().all()


# ---------------------------------------------------------------------------------------------
# The lag


def test_lag_is_a_calendar_lag_never_across_a_gap():
    frame = pd.DataFrame({"country": ["A", "A", "A", "A", "B", "B"], "year": [2005, 2006, 2008, 2009, 2006, 2007],
                          "social_support": [0.5, 0.6, 0.7, np.nan, 0.9, 0.8]})
    lag = cc.lag_by_year(frame, "social_support")
    # A 2005: no 2004; 2006: 2005's 0.5; 2008: 2007 missing (a gap) -> NaN; 2009: 2008's 0.7; B 2007: 0.9
    np.testing.assert_array_equal(lag.to_numpy(), [np.nan, 0.5, np.nan, 0.7, np.nan, 0.9])
    assert lag.name == "social_support_lag1"


def test_lag_on_the_mirror_rows_read_by_eye(built):
    """Albania: WHR has 2007, then 2009-2019 (no 2008). Values from the CSV."""
    panel, _ = built
    albania = panel[panel["iso3"] == "ALB"].set_index("year")
    assert np.isnan(albania.loc[2007, "social_support_lag1"])  # no 2006 row
    assert np.isnan(albania.loc[2009, "social_support_lag1"])  # 2008 missing: not the 2007 value
    assert albania.loc[2010, "social_support_lag1"] == albania.loc[2009, "social_support"]
    assert albania.loc[2010, "social_support_lag1"] == pytest.approx(0.833047, abs=1e-6)


def test_year_window_and_lag_from_before_it(raw_dir, built):
    panel, report = cc.build_country_panel(raw_dir, (2010, 2015))
    assert (panel["year"].min(), panel["year"].max()) == (2010, 2015)
    full, _ = built
    # the 2010 lag is the 2009 value, although 2009 is outside the window
    keys = ["iso3", "year"]
    same = panel.merge(full, on=keys, suffixes=("", "_full"))
    np.testing.assert_array_equal(same["social_support_lag1"], same["social_support_lag1_full"])
    assert panel.loc[panel["year"] == 2010, "social_support_lag1"].notna().sum() > 100
    assert report.set_index("whr_name").loc["Somaliland region", "whr_years"] == 3  # 2010-2012


@pytest.mark.parametrize("years, problem", [
    ([2019, 2005], r"countries\.years: \[2019, 2005\] must be \[first, last\]"),
    ([2005], r"countries\.years: List should have at least 2 items"),
    ("2005-2019", r"countries\.years = '2005-2019': Input should be a valid list"),
    ([2005.5, 2019], r"countries\.years\[0\] = 2005\.5: Input should be a valid integer"),
    ([True, 2019], r"countries\.years\[0\] = True: Input should be a valid integer")])
def test_bad_years_param_is_an_error(years, problem, raw_params):
    """params.yaml countries.years must be [first, last] whole years: the schema says so before any stage runs."""
    with pytest.raises(ConfigError, match=problem):
        validate(Params, {**raw_params, "countries": {**raw_params["countries"], "years": years}}, "params.yaml")


# ---------------------------------------------------------------------------------------------
# End to end on small files


def _small_raw(tmp_path, whr_rows: list[str]) -> None:
    header = ",".join(src.WHR_COLUMNS)
    (tmp_path / "WHR2024_DataForTable2.1.csv").write_text("\n".join([header, *whr_rows]) + "\n", encoding="utf-8")
    (tmp_path / "cardiovascular-disease-death-rates.csv").write_text(
        "Entity,Code,Year,Deaths - Cardiovascular diseases - Sex: Both - Age: Age-standardized (Rate)\n"
        "Chad,TCD,2010,500\nChad,TCD,2011,490\nWorld,OWID_WRL,2010,300\n", encoding="utf-8")
    (tmp_path / "prevalence-by-mental-and-substance-use-disorder.csv").write_text(
        "Entity,Code,Year,Prevalence - Depressive disorders - Sex: Both - Age: Age-standardized (Percent)\n"
        "Chad,TCD,2010,4.5\n", encoding="utf-8")


def test_small_files_end_to_end(tmp_path):
    _small_raw(tmp_path, ["Chad,2010,4.1,7.3,0.62,48.1,0.6,-0.05,0.8,0.55,0.35",
                          "Chad,2011,4.2,7.4,0.64,48.3,0.6,-0.05,0.8,0.55,0.35",
                          "Chad,2012,4.2,7.4,0.66,48.3,0.6,-0.05,0.8,0.55,0.35",
                          "Somaliland region,2011,5.0,,0.8,,0.6,,0.8,0.55,0.35"])
    panel, report = cc.build_country_panel(tmp_path)
    assert panel["year"].tolist() == [2010, 2011, 2012]
    assert panel["cvd_death_rate"].tolist()[:2] == [500, 490] and np.isnan(panel["cvd_death_rate"].iloc[2])
    assert panel["depression_prevalence"].notna().tolist() == [True, False, False]
    np.testing.assert_allclose(panel["social_support_lag1"], [np.nan, 0.62, 0.64])
    assert report.set_index("whr_name")["status"].to_dict() == {"Somaliland region": cc.STATUS_NO_CODE,
                                                                 "Chad": cc.STATUS_JOINED}
    chad = report.set_index("whr_name").loc["Chad"]
    assert (chad["panel_rows"], chad["rows_with_cvd"], chad["rows_with_depression"]) == (3, 2, 1)


def test_small_files_with_a_new_name_stop_the_stage(tmp_path):
    _small_raw(tmp_path, ["Chad,2010,4.1,7.3,0.62,48.1,0.6,-0.05,0.8,0.55,0.35",
                          "Republic of Chad,2011,4.2,7.4,0.64,48.3,0.6,-0.05,0.8,0.55,0.35"])
    with pytest.raises(cc.CleaningError, match=r"WHR2024_DataForTable2\.1\.csv: 1 country name\(s\) not in the "
                                                r"name map .*'Republic of Chad'"):
        cc.build_country_panel(tmp_path)
