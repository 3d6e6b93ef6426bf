"""The GSS analysis tables on the real mirror: counts from the data README, identifiers, measures on
real rows read by eye, the attrition table, the data dictionary, and bad inputs."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.core import fetch
from analysis.core.config import ConfigError
from analysis.core.contract import CleaningError, validate_table
from analysis.core.settings import ReliabilitySettings, validate
from analysis.studies.gss import clean as clean_gss
from analysis.studies.gss.schema import (
    GSS_2020_VARIABLES,
    GSS_PANEL_VARIABLES,
    gss_data_dictionary,
    gss_panel_schema,
)
from analysis.studies.gss.settings import GssSettings
from analysis.studies.gss.source import SourceDataError
from support.config import edited


@pytest.fixture(scope="module")
def raw_dir(mirror, root, tmp_path_factory) -> Path:
    raw = tmp_path_factory.mktemp("raw")
    fetch.fetch_sources(root / "data/sources.yaml", raw, mirror, studies=["gss"])
    return raw / "gss"


@pytest.fixture(scope="module")
def built(raw_dir, params):
    return clean_gss.build_gss_panel(raw_dir, params.gss)


@pytest.fixture(scope="module")
def table_2020(raw_dir, params):
    return clean_gss.build_gss_2020(raw_dir, params.gss)


# ---------------------------------------------------------------------------------------------
# 2006-2014 panels

# data/gss/README.md: respondents at waves 1, 2, 3 of each panel
README_COUNTS = {"2006-2010": (2000, 1536, 1276), "2008-2012": (2023, 1581, 1295), "2010-2014": (2044, 1551, 1304)}


def test_rows_per_panel_and_wave_match_the_readme(built):
    panel, _ = built
    counts = panel.groupby(["panel", "wave"], observed=True).size()
    for label, per_wave in README_COUNTS.items():
        assert tuple(counts[label].tolist()) == per_wave, label
    assert len(panel) == sum(sum(v) for v in README_COUNTS.values()) == 14_610
    years = panel.groupby(["panel", "wave"], observed=True)["year"].unique()
    assert years[("2006-2010", 1)].tolist() == [2006] and years[("2010-2014", 3)].tolist() == [2014]


def test_person_id_is_unique_across_panels(built):
    panel, _ = built
    assert not panel.duplicated(["person_id", "wave"]).any()
    per_person = panel.groupby("person_id")["panel"].nunique()
    assert (per_person == 1).all()
    assert panel["person_id"].nunique() == 2000 + 2023 + 2044
    # the same firstid exists in several panels but names different people
    assert panel.loc[panel["firstid"] == "0010", "panel"].nunique() == 3
    assert panel.loc[panel["firstid"] == "0010", "person_id"].nunique() == 3
    assert (panel["person_id"] == panel["panel"].astype(str).str[:4] + "-" + panel["firstid"]).all()


def test_waves_weights_and_attrition_are_consistent(built):
    panel, attrition = built
    assert (panel.groupby("person_id")["wave"].transform("size") == panel["n_waves"]).all()
    # monotone attrition: someone seen at wave 3 was seen at wave 2
    assert set(panel.loc[panel["wave"] == 3, "person_id"]) <= set(panel.loc[panel["wave"] == 2, "person_id"])
    # panel weights are person constants, present exactly for those retained to wave 2 / wave 3
    assert (panel["weight_panel12"].notna() == (panel["n_waves"] >= 2)).all()
    assert (panel["weight_panel123"].notna() == (panel["n_waves"] == 3)).all()
    assert (panel.groupby("person_id")["weight_panel123"].nunique(dropna=False) == 1).all()
    for label, (w1, w2, w3) in README_COUNTS.items():
        rows = attrition[attrition["panel"] == label].set_index(["wave", "group"])
        assert rows.loc[(1, "interviewed"), "n"] == w1
        assert rows.loc[(2, "interviewed"), "n"] == w2 and rows.loc[(2, "lost"), "n"] == w1 - w2
        assert rows.loc[(3, "interviewed"), "n"] == w3 and rows.loc[(3, "lost"), "n"] == w1 - w3
    pooled = attrition[attrition["panel"] == "all"].set_index(["wave", "group"])
    assert pooled.loc[(3, "interviewed"), "n"] == 1276 + 1295 + 1304
    base = panel[panel["wave"] == 1]
    assert pooled.loc[(1, "interviewed"), "mean_age"] == pytest.approx(base["age"].mean())
    assert pooled.loc[(1, "interviewed"), "pct_female"] == pytest.approx(100 * base["female"].astype(float).mean())
    assert list(attrition.columns) == ["panel", "wave", "group", "n", "pct_of_baseline", "mean_age", "pct_female",
                                       "pct_fair_poor_health", "mean_social_contact_index", "pct_partnered"]


def test_real_rows_measured_as_computed_by_hand(built):
    panel, _ = built
    row = panel.set_index(["person_id", "wave"])
    # 2006-0009, 2010: relatives "Sev Times a Week" (78), friends "Sev Times a Mnth" (36), neighbours
    # "Never" (0), bar "Sev Times a Year" (3); Married; attend "Once a Year" (1.5); numgiven 1; Fair
    r = row.loc[("2006-0009", 3)]
    assert (r["evenings_relatives"], r["evenings_friends"], r["evenings_neighbours"],
            r["evenings_bar"]) == (78, 36, 0, 3)
    assert r["social_contact_index"] == pytest.approx(math.log(1 + 78 + 36 + 0))
    assert r["partnered"] == 1 and r["marital_status"] == "Married" and r["religious_attendance"] == 1.5
    assert r["confidants"] == 1 and r["fair_poor_health"] == 1 and r["self_rated_health"] == "Fair"
    assert r["year"] == 2010 and r["age"] == 27 and r["age_baseline"] == 23 and r["employed"] == 1
    assert r["log_real_income"] == pytest.approx(math.log(34965))
    # 2006-0009, 2008: Never Married, "Not Too Happy"; 2006: mntlhlth 0, health Good
    assert row.loc[("2006-0009", 2), "partnered"] == 0 and row.loc[("2006-0009", 2), "unhappy"] == 1
    assert row.loc[("2006-0009", 1), "poor_mental_health_days"] == 0
    assert row.loc[("2006-0009", 1), "fair_poor_health"] == 0
    # 2006-0204, 2006: relatives "Sev Times a Year" (3), friends "Once a Month" (12), neighbours
    # "Once a Year" (1): log(17); mntlhlth 10; numgiven not asked ("-1") in 2006, 4 in 2010
    r = row.loc[("2006-0204", 1)]
    assert r["social_contact_index"] == pytest.approx(math.log(17))
    assert r["poor_mental_health_days"] == 10 and pd.isna(r["confidants"])
    assert row.loc[("2006-0204", 3), "confidants"] == 4
    # 2008-0670, 2008: relatives and neighbours "Almost Daily" (300), friends "Sev Times a Week" (78):
    # log(679); Never Married; Fair; Not Too Happy; Keeping House (not employed)
    r = row.loc[("2008-0670", 1)]
    assert r["social_contact_index"] == pytest.approx(math.log(679))
    assert (r["partnered"], r["fair_poor_health"], r["unhappy"], r["employed"]) == (0, 1, 1, 0)
    assert r["work_status"] == "Keeping house" and r["race"] == "Black" and r["degree"] == "Less than high school"
    # 2008-0568, 2012: "Temp not Working" counts as employed; attend "more Thn Once Wk" (156)
    r = row.loc[("2008-0568", 3)]
    assert r["employed"] == 1 and r["religious_attendance"] == 156 and r["marital_status"] == "Separated"
    assert pd.isna(r["social_contact_index"])
    # 2006-0431, 2010: "89 or Older" -> 89
    assert row.loc[("2006-0431", 3), "age"] == 89


def test_items_only_where_asked(built):
    panel, _ = built
    in_2010 = (panel["panel"] == "2006-2010") & (panel["wave"] == 3)
    assert panel.loc[in_2010, "confidants"].notna().sum() == 1272  # NUMGIVEN: 2010 re-interview only
    assert panel["confidants"].notna().sum() == 1272
    assert panel.loc[panel["panel"] == "2008-2012", "poor_mental_health_days"].isna().all()
    assert panel.loc[panel["wave"] > 1, "poor_mental_health_days"].isna().all()
    assert panel.loc[panel["panel"] == "2008-2012", "stratum"].isna().all()
    assert panel["evenings_relatives"].max() == 300 and panel["religious_attendance"].max() == 156


def test_panel_options_select_panels(raw_dir, params, raw_params):
    panel, attrition = clean_gss.build_gss_panel(raw_dir, edited(params.gss, panels=["2010-2014"]))
    assert set(panel["panel"].astype(str)) == {"2010-2014"} and len(panel) == 2044 + 1551 + 1304
    # a panel that is not a GSS long panel: the schema rejects it, naming the key and the allowed panels
    with pytest.raises(ConfigError, match=r"panels\[0\] = '2012-2016': Input should be '2006-2010', "
                                          r"'2008-2012' or '2010-2014'"):
        validate(GssSettings, {**raw_params["gss"], "panels": ["2012-2016"]}, "gss")


def test_evenings_mapping_from_params(raw_dir, params, raw_params):
    mapping = {"almost daily": 365, "once or twice a week": 104, "several times a month": 36,
               "about once a month": 12, "several times a year": 4, "about once a year": 1, "never": 0}
    # validated as params.yaml would be (label keys, integer evenings)
    gss = validate(GssSettings, {**raw_params["gss"], "panels": ["2006-2010"], "evenings_per_year": mapping}, "gss")
    panel, _ = clean_gss.build_gss_panel(raw_dir, gss)
    r = panel.set_index(["person_id", "wave"]).loc[("2006-0009", 3)]
    assert r["evenings_relatives"] == 104 and r["social_contact_index"] == pytest.approx(math.log(1 + 104 + 36))


# ---------------------------------------------------------------------------------------------
# 2016-2020 panel


def test_2020_table_counts(table_2020):
    t = table_2020
    assert len(t) == 5215 and t["person_id"].is_unique
    assert int(t["reinterviewed_2020"].sum()) == 1823
    assert t["baseline_year"].value_counts().to_dict() == {2016: 2867, 2018: 2348}
    assert t.groupby("baseline_year")["reinterviewed_2020"].sum().to_dict() == {2016: 809, 2018: 1014}
    assert int((t["released_2020"] == 0).sum()) == 721
    assert (t.loc[t["released_2020"] == 0, "baseline_year"] == 2016).all()
    assert t["weight_2020"].notna().sum() == 1823 and t["weight_baseline"].notna().all()
    # 2020 answers only for the re-interviewed; loneliness for nearly all of them
    not_re = t["reinterviewed_2020"] == 0
    later = [c for c in t.columns if c.endswith("_2020") and c not in ("released_2020", "reinterviewed_2020")]
    assert t.loc[not_re, later].isna().all().all()
    assert t["loneliness_score_2020"].notna().sum() == 1775
    both = t["lack_companionship_2020"] + t["isolated_2020"]
    assert (t["loneliness_score_2020"].dropna() == both.dropna()).all()
    assert t["loneliness_score_2020"].dropna().between(2, 10).all()
    assert t.loc[t["baseline_year"] == 2016, "left_out_baseline"].isna().all()


def test_2020_real_rows_as_computed_by_hand(table_2020):
    t = table_2020.set_index("person_id")
    # 2016-1440: socrel_1a 4 (12), socfrend_1a 3 (36), socommun_1a 4 (12) -> log(61); attend_1a 5 (30);
    # 2020: lonely1 1 + lonely2 2 = 3; health_2 3 fair; socrel_2 3 (36), socfrend_2 5 (3), socommun_2 7 (0)
    r = t.loc["2016-1440"]
    assert r["social_contact_index_baseline"] == pytest.approx(math.log(61))
    assert r["religious_attendance_baseline"] == 30 and r["age_baseline"] == 54 and r["age_2020"] == 58
    assert (r["lack_companionship_2020"], r["isolated_2020"], r["loneliness_score_2020"]) == (1, 2, 3)
    assert r["fair_poor_health_2020"] == 1 and r["self_rated_health_2020"] == "Fair"
    assert r["social_contact_index_2020"] == pytest.approx(math.log(40))
    assert r["inconsistent_age_sex_2020"] == 0 and r["sex"] == "Male" and r["degree"] == "Graduate"
    # 2018-0004: socrel_1b 1 (300), socfrend_1b 4 (12), socommun_1b 7 (0) -> log(313); lonely3_1b 2;
    # 2020: 2 + 2 = 4; wrkstat_2 5 retired
    r = t.loc["2018-0004"]
    assert r["social_contact_index_baseline"] == pytest.approx(math.log(313))
    assert r["left_out_baseline"] == 2 and r["loneliness_score_2020"] == 4
    assert r["employed_baseline"] == 1 and r["employed_2020"] == 0 and r["work_status_2020"] == "Retired"
    # 2016-0003: not released for 2020 (panstat 0); baseline health 2 good, attend 7 (52)
    r = t.loc["2016-0003"]
    assert (r["panel_status"], r["released_2020"], r["reinterviewed_2020"]) == (0, 0, 0)
    assert r["fair_poor_health_baseline"] == 0 and r["religious_attendance_baseline"] == 52
    assert pd.isna(r["weight_2020"]) and pd.isna(r["inconsistent_age_sex_2020"])


# ---------------------------------------------------------------------------------------------
# Data dictionary and contract


def test_data_dictionaries_document_every_column(built, table_2020):
    panel, _ = built
    for table, variables in ((panel, GSS_PANEL_VARIABLES), (table_2020, GSS_2020_VARIABLES)):
        d = gss_data_dictionary(table, variables)
        assert d["name"].tolist() == list(table.columns)
        assert d[["label", "type", "source", "rule"]].notna().all().all() and (d["rule"].str.len() > 0).all()
        assert d["pct_missing"].between(0, 100).all()
    d = gss_data_dictionary(panel, GSS_PANEL_VARIABLES).set_index("name")
    assert d.loc["person_id", "pct_missing"] == 0 and d.loc["confidants", "pct_missing"] > 90


# ---------------------------------------------------------------------------------------------
# Bad inputs: a clear error naming file, column, value and person


def _small_copy(raw_dir: Path, dest: Path, edit) -> Path:
    """A copy of the 2006-2010 panel with only the columns the cleaning reads, edited."""
    cols = clean_gss.LONG_DESIGN + clean_gss.LONG_ITEMS + clean_gss.LONG_OPTIONAL_DESIGN + clean_gss.LONG_OPTIONAL_ITEMS
    frame = pd.read_parquet(raw_dir / "gss_panel06_long.parquet", columns=cols)
    frame = edit(frame)
    dest.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), dest / "gss_panel06_long.parquet")
    return dest


def test_reliability_of_loneliness_items_and_contact_index(built, table_2020):
    panel, _ = built
    records = clean_gss.reliability_records(panel, table_2020, ReliabilitySettings(icc_form="ICC(A,1)"))
    lonely = records[records["measure"] == "loneliness_score_2020"].iloc[0]
    # two items: alpha = 2 (1 - (var1 + var2) / var(sum)) on the rows with both answered
    both = table_2020[["lack_companionship_2020", "isolated_2020"]].dropna()
    by_hand = 2 * (1 - both.var().sum() / both.sum(axis=1).var())
    assert lonely["statistic"] == "Cronbach's alpha" and lonely["k"] == 2 and lonely["n"] == len(both)
    assert lonely["estimate"] == pytest.approx(by_hand, abs=1e-12)
    icc = records[records["measure"] == "social_contact_index"].set_index("panel")
    assert list(icc.index) == ["2006-2010", "2008-2012", "2010-2014", "all"]
    assert (icc["statistic"] == "ICC(A,1)").all() and (icc["k"] == 3).all()
    # n: persons with the index at all three waves, per panel and pooled
    seen = panel.dropna(subset=["social_contact_index"]).groupby(["panel", "person_id"], observed=True).size()
    complete = (seen == 3).groupby(level="panel", observed=True).sum()
    for label in ("2006-2010", "2008-2012", "2010-2014"):
        assert icc.loc[label, "n"] == complete[label]
    assert icc.loc["all", "n"] == complete.sum()
    assert ((icc["estimate"] > 0) & (icc["estimate"] < 1) & (icc["ci_low"] < icc["estimate"])).all()
    notes = clean_gss.reliability_notes(records)
    assert notes[("gss_panel", "social_contact_index")].startswith("ICC(A,1) ")
    assert "the three panels pooled" in notes[("gss_panel", "social_contact_index")].split("occasions = 3)")[1]
    assert notes[("gss_2020", "loneliness_score_2020")].startswith("Cronbach's alpha ")


def test_unknown_label_names_file_column_value_person(raw_dir, tmp_path, params):
    def edit(frame):
        frame["health"] = frame["health"].cat.add_categories(["Very Good"])
        frame.loc[(frame["firstid"] == "0010") & (frame["wave"] == 2), "health"] = "Very Good"
        return frame

    small = _small_copy(raw_dir, tmp_path / "raw", edit)
    with pytest.raises(SourceDataError, match=r"gss_panel06_long\.parquet: column health has the value "
                                              r"'Very Good' \(firstid 0010\)"):
        clean_gss.build_gss_panel(small, edited(params.gss, panels=["2006-2010"]))


def test_missing_column_and_inconsistent_year_are_errors(raw_dir, tmp_path, params):
    small = _small_copy(raw_dir, tmp_path / "a", lambda f: f.drop(columns=["socfrend"]))
    with pytest.raises(SourceDataError, match="column socfrend is missing"):
        clean_gss.build_gss_panel(small, edited(params.gss, panels=["2006-2010"]))

    def edit(frame):
        frame.loc[(frame["firstid"] == "0010") & (frame["wave"] == 2), "year"] = "2010"
        return frame

    small = _small_copy(raw_dir, tmp_path / "b", edit)
    with pytest.raises(SourceDataError, match=r"column year has the value '2010' at wave 2 \(firstid 0010\)"):
        clean_gss.build_gss_panel(small, edited(params.gss, panels=["2006-2010"]))


def test_schema_violation_is_a_cleaning_error(built):
    panel, _ = built
    bad = panel.copy()
    bad.loc[0, "social_contact_index"] = 9.5
    with pytest.raises(CleaningError, match="social_contact_index"):
        validate_table(bad, gss_panel_schema(), "panel")


# ---------------------------------------------------------------------------------------------
# Split ballot and the 2020 interview mode


def test_ballot_as_published_and_where_each_item_was_asked(built):
    panel, _ = built
    assert panel["ballot"].dtype == "category" and list(panel["ballot"].cat.categories) == ["A", "B", "C"]
    assert panel["ballot"].notna().all()
    assert panel["ballot"].value_counts().to_dict() == {"A": 4802, "B": 4968, "C": 4840}
    # a panel member keeps the ballot at the re-interviews, but for 2 persons of the 2010-2014 panel
    changed = panel.groupby("person_id", observed=True)["ballot"].nunique()
    assert int((changed > 1).sum()) == 2 and set(panel.loc[panel["person_id"].isin(changed[changed > 1].index),
                                                           "panel"].astype(str)) == {"2010-2014"}
    # gss_panel06_long.parquet, firstid 0009: "Ballot c" at all three waves; 2008-0670 wave 1 ballot A
    row = panel.set_index(["person_id", "wave"])
    assert [row.loc[("2006-0009", w), "ballot"] for w in (1, 2, 3)] == ["C", "C", "C"]
    assert row.loc[("2008-0670", 1), "ballot"] == "A" and row.loc[("2006-0204", 1), "ballot"] == "B"
    # HEALTH on A and C only; the social-evening items on A and B (and on C at the 2006 panel's 2010 wave)
    asked = panel.groupby("ballot", observed=True)[["fair_poor_health", "social_contact_index"]].count()
    assert asked.loc["B", "fair_poor_health"] == 0 and asked.loc["A", "fair_poor_health"] > 0
    on_c = panel[(panel["ballot"] == "C") & panel["social_contact_index"].notna()]
    assert set(zip(on_c["panel"].astype(str), on_c["wave"])) == {("2006-2010", 3)}


def test_mode_2020_web_or_phone_for_the_reinterviewed_only(table_2020):
    t = table_2020
    assert list(t["mode_2020"].cat.categories) == ["Web", "Phone"]
    assert t["mode_2020"].value_counts().to_dict() == {"Web": 1281, "Phone": 542}
    assert (t["mode_2020"].notna() == (t["reinterviewed_2020"] == 1)).all()
    # gss_panel20.parquet: 20161440 mode_2 4 (web), ballot_1a 2; 20160043 mode_2 2 (phone);
    # 20180004 ballot_1b 2; 20160003 not re-interviewed (mode_2 missing), ballot_1a 3
    r = t.set_index("person_id")
    assert (r.loc["2016-1440", "mode_2020"], r.loc["2016-1440", "ballot_baseline"]) == ("Web", "B")
    assert r.loc["2016-0043", "mode_2020"] == "Phone" and r.loc["2018-0004", "ballot_baseline"] == "B"
    assert pd.isna(r.loc["2016-0003", "mode_2020"]) and r.loc["2016-0003", "ballot_baseline"] == "C"
    assert t["ballot_baseline"].notna().all()
    assert t["ballot_baseline"].value_counts().to_dict() == {"A": 1696, "B": 1751, "C": 1768}


def test_in_person_2020_mode_is_an_error(raw_dir, tmp_path, params):
    """The 2020 re-interview was web or phone only: an in-person code (1) in MODE_2 names file and column."""
    frame = pd.read_parquet(raw_dir / "gss_panel20.parquet")
    frame.loc[frame.index[frame["mode_2"] == 4][0], "mode_2"] = 1  # one web respondent recorded in person
    dest = tmp_path / "gss"
    dest.mkdir()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), dest / "gss_panel20.parquet")
    with pytest.raises(SourceDataError, match=r"gss_panel20.parquet: column mode_2 has the value 1"):
        clean_gss.build_gss_2020(dest, params.gss)
