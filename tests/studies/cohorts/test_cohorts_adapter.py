"""Cohort adapter (studies/cohorts: source + clean): tiny hand-built RAND-layout wide files -> the long panel.

Every expected value below is worked out by hand from the rules in the docstrings (RAND HRS Longitudinal
File codebook conventions): one row per person-wave in the sample (``r{w}iwstat`` != 0), measures only at
interviews (``iwstat`` 1), months since January of the first wave year with a missing month read as June,
age falling back to year - rabyear, the Steptoe index (one point per missing tie, mstat 1-3 partnered),
the 3-item UCLA sum, the study's depression range, incident conditions from the "ever told" items (the
previous known answer carried, dispute codes 3/4), and the death date.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re

import numpy as np
import pandas as pd
import pytest

from analysis.core.config import ConfigError
from analysis.studies.cohorts.clean import (
    CleaningError,
    build_cohort_panel,
    build_study_panel,
    capability_table,
)
from analysis.studies.cohorts.source import CohortFileError, read_wide
from analysis.studies.cohorts.synthetic import simulate_cohort, write_synthetic
from support.cohorts_fixtures import (
    WAVES,
    cohorts_params,
    cohorts_settings,
    study_block,
    wide_frame,
    with_study,
    without_codes,
    write_dta,
)

NAN = math.nan

# ---------------------------------------------------------------------------------------------
# The hand persons (waves 1-3 = 2000, 2002, 2004). Unlisted wave variables of an interview take
# cohorts_fixtures.INTERVIEWED: iwendy = the wave's year, iwendm 6, married, all ties, items 1, CES-D 2, no CVD.

A = {"hhidpn": 1010, "ragender": 2, "rabyear": 1940, "raedyrs": 12, "waves": {
    1: {"iwstat": 1, "iwendm": 3, "agey_e": 60},
    # month missing -> June; age missing -> 2002 - 1940; widowed + no monthly contact with friends = 2;
    # items 2, 2, 2 = 6 (lonely); CES-D don't know (.d)
    2: {"iwstat": 1, "iwendm": None, "agey_e": None, "mstat": 7, "fcntm": 0, "complac": 2, "leftout": 2,
        "isolate": 2, "cesd": "d"},
    # children contact refused (.r) -> index missing; one loneliness item .d -> score missing; heart 0, 0, 1
    3: {"iwstat": 1, "iwendm": 11, "agey_e": 64, "mstat": 3, "kcntm": "r", "complac": 3, "leftout": "d",
        "isolate": 3, "cesd": 5, "hearte": 1}}}
B = {"hhidpn": 2020, "ragender": 1, "rabyear": 1935, "raedyrs": 8, "radyear": 2003, "radmonth": 4, "waves": {
    # divorced, all ties = 1; heart disease at the first report: prevalent
    1: {"iwstat": 1, "agey_e": 65, "mstat": 5, "leftout": 2, "cesd": 4, "hearte": 1},
    2: {"iwstat": 4},   # alive, no interview
    3: {"iwstat": 5}}}  # died this wave (April 2003)
C = {"hhidpn": 3030, "ragender": 2, "rabyear": 1945, "raedyrs": 16, "waves": {
    1: {"iwstat": 0},   # not yet in the sample: no row
    # married spouse absent (2) is partnered; no family contact, no groups = 2; stroke 0 (dispute code 4 in
    # test_dispute_codes_*)
    2: {"iwstat": 1, "iwendm": 2, "agey_e": 57, "mstat": 2, "rcntm": 0, "socyr": 0, "cesd": 0, "stroke": 0},
    # no interview date at all -> June of the wave's year; age 2004 - 1945; never married and no ties = 5;
    # heart .d; stroke 1 (dispute code 3 in test_dispute_codes_*) -> new stroke
    3: {"iwstat": 1, "iwendy": None, "iwendm": None, "agey_e": None, "mstat": 8, "kcntm": 0, "rcntm": 0,
        "fcntm": 0, "socyr": 0, "hearte": "d", "stroke": 1}}}
D = {"hhidpn": 4040, "ragender": 1, "rabyear": 1930, "raedyrs": 10, "radyear": 2005, "radmonth": None, "waves": {
    1: {"iwstat": 1, "iwendm": 1, "agey_e": 70},
    2: {"iwstat": 1, "agey_e": 72, "hearte": "r"},                      # heart refused: 0, missing, 1
    3: {"iwstat": 1, "iwendy": 2005, "iwendm": 2, "agey_e": 75, "hearte": 1}}}  # interviewed in 2005
E = {"hhidpn": 5050, "ragender": 1, "rabyear": 1938, "raedyrs": 12, "waves": {
    1: {"iwstat": 1, "agey_e": 62, "mstat": 4, "complac": 2, "leftout": 2, "cesd": 3},          # separated
    2: {"iwstat": 1, "agey_e": 64, "mstat": 6, "complac": 3, "leftout": 3, "isolate": 3, "hearte": 1},
    3: {"iwstat": 1, "agey_e": 66, "mstat": 1, "cesd": 8, "hearte": 1, "stroke": 1}}}
PERSONS = [A, B, C, D, E]

# Expected panel rows, by hand: (person, wave) -> values.
COLUMNS = ("interview_status", "interviewed", "months", "age", "age_baseline", "female", "education_years",
           "partnered", "isolation_index", "loneliness", "lonely", "depression_score", "depressed",
           "heart_ever", "stroke_ever", "cvd_ever", "incident_heart", "incident_stroke", "incident_cvd", "died",
           "death_months")
EXPECTED = {
    #            st  iw  months age  base fem edu part  iso  lone lon  dep  dpd  hrt  str  cvd  iH   iS   iC   died dm
    ("1010", 1): (1, 1, 2, 60, 60, 1, 12, 1, 0, 3, 0, 2, 0, 0, 0, 0, NAN, NAN, NAN, 0, NAN),
    ("1010", 2): (1, 1, 29, 62, 60, 1, 12, 0, 2, 6, 1, NAN, NAN, 0, 0, 0, 0, 0, 0, 0, NAN),
    ("1010", 3): (1, 1, 58, 64, 60, 1, 12, 1, NAN, NAN, NAN, 5, 1, 1, 0, 1, 1, 0, 1, 0, NAN),
    ("2020", 1): (1, 1, 5, 65, 65, 0, 8, 0, 1, 4, 0, 4, 1, 1, 0, 1, NAN, NAN, NAN, 1, 39),
    ("2020", 2): (4, 0, NAN, NAN, 65, 0, 8, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 1, 39),
    ("2020", 3): (5, 0, NAN, NAN, 65, 0, 8, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 1, 39),
    ("3030", 2): (1, 1, 25, 57, 57, 1, 16, 1, 2, 3, 0, 0, 0, 0, 0, 0, NAN, NAN, NAN, 0, NAN),
    ("3030", 3): (1, 1, 53, 59, 57, 1, 16, 0, 5, 3, 0, 2, 0, NAN, 1, 1, NAN, 1, 1, 0, NAN),
    ("4040", 1): (1, 1, 0, 70, 70, 0, 10, 1, 0, 3, 0, 2, 0, 0, 0, 0, NAN, NAN, NAN, 1, 65),
    ("4040", 2): (1, 1, 29, 72, 70, 0, 10, 1, 0, 3, 0, 2, 0, NAN, 0, NAN, NAN, 0, NAN, 1, 65),
    ("4040", 3): (1, 1, 61, 75, 70, 0, 10, 1, 0, 3, 0, 2, 0, 1, 0, 1, 1, 0, 1, 1, 65),
    ("5050", 1): (1, 1, 5, 62, 62, 0, 12, 0, 1, 5, 0, 3, 0, 0, 0, 0, NAN, NAN, NAN, 0, NAN),
    ("5050", 2): (1, 1, 29, 64, 62, 0, 12, 0, 1, 9, 1, 2, 0, 1, 0, 1, 1, 0, 1, 0, NAN),
    ("5050", 3): (1, 1, 53, 66, 62, 0, 12, 1, 0, 3, 0, 8, 1, 1, 1, 1, NAN, 1, NAN, 0, NAN),
}


def expected_frame() -> pd.DataFrame:
    rows = [dict(person_id=p, wave=w, **dict(zip(COLUMNS, values))) for (p, w), values in EXPECTED.items()]
    return pd.DataFrame(rows).astype({c: float for c in COLUMNS})


def _float(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").astype(float).to_numpy()


@pytest.fixture(scope="module")
def cohorts(raw_params) -> dict:
    """params.yaml's ``cohorts:`` block as plain YAML values (each test validates its edited copy)."""
    return cohorts_params(raw_params)


@pytest.fixture(scope="module")
def hand_frame() -> pd.DataFrame:
    return wide_frame(PERSONS)


@pytest.fixture(scope="module")
def hand_dta(hand_frame, tmp_path_factory):
    return write_dta(hand_frame, tmp_path_factory.mktemp("hand") / "hand_rand.dta")


def _study_panel(cohorts: dict, path, **spec):
    """build_study_panel of the hand file as study "hrs", its block (:func:`study_block`) in the validated
    ``cohorts`` settings, as the clean stage calls it."""
    settings = with_study(cohorts, "hrs", study_block(path, **spec))
    return build_study_panel("hrs", settings.studies["hrs"], settings)


@pytest.fixture(scope="module")
def hand_panel(hand_dta, cohorts) -> pd.DataFrame:
    panel, _, _ = _study_panel(cohorts, hand_dta)
    return panel


def _build(cohorts, frame: pd.DataFrame, tmp_path, name: str = "variant.dta", **spec):
    path = write_dta(frame, tmp_path / name)
    return _study_panel(cohorts, path, **spec), path


# ---------------------------------------------------------------------------------------------
# Long layout and every derived measure, against the hand table


def test_one_row_per_person_wave_in_the_sample(hand_panel):
    """iwstat 0 (C at wave 1) gives no row; iwstat 4 and 5 (B) give rows without an interview."""
    got = list(zip(hand_panel["person_id"], hand_panel["wave"]))
    assert got == list(EXPECTED)
    assert (hand_panel["study"] == "hrs").all()
    assert hand_panel["year"].tolist() == [WAVES[w] for _, w in EXPECTED]


@pytest.mark.parametrize("column", COLUMNS)
def test_every_value_equals_the_hand_table(hand_panel, column):
    expected = expected_frame()
    np.testing.assert_array_equal(_float(hand_panel, column), expected[column].to_numpy(), err_msg=column)


def test_measures_only_at_interviews(hand_panel):
    not_interviewed = hand_panel["interviewed"] == 0
    assert not_interviewed.sum() == 2  # B at waves 2 (alive, no interview) and 3 (died)
    measures = ["months", "age", "partnered", "contact_children", "contact_family", "contact_friends", "groups",
                "isolation_index", "loneliness", "depression_score", "heart_ever", "stroke_ever", "cvd_ever"]
    assert hand_panel.loc[not_interviewed, measures].isna().all().all()


def test_isolation_group_from_the_index(hand_panel):
    groups = hand_panel.set_index(["person_id", "wave"])["isolation_group"]
    assert groups[("1010", 1)] == "Connected (0-1)" and groups[("2020", 1)] == "Connected (0-1)"
    assert groups[("1010", 2)] == "Isolated (2+)" and groups[("3030", 3)] == "Isolated (2+)"
    assert pd.isna(groups[("1010", 3)])


@pytest.mark.parametrize("mstat, partnered", [(1, 1), (2, 1), (3, 1), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0)])
def test_partnered_codes(hand_panel, hand_frame, mstat, partnered):
    """RAND r{w}mstat 1 married, 2 married spouse absent, 3 partnered; 4-8 separated ... never married."""
    interviewed = [(p["hhidpn"], w) for p in PERSONS for w, v in p["waves"].items() if v.get("iwstat") == 1]
    where = [(i, w) for i, w in interviewed
             if hand_frame.loc[hand_frame["hhidpn"] == i, f"r{w}mstat"].iloc[0] == mstat]
    assert where, f"the hand file has no mstat {mstat}"
    rows = hand_panel.set_index(["person_id", "wave"])
    for i, w in where:
        assert rows.loc[(str(i), w), "partnered"] == partnered


def test_extended_missing_read_as_missing_never_a_number(hand_dta):
    """Stata .d/.r (stored as numbers above the largest double Stata allows) must come back as NaN."""
    wide = read_wide(hand_dta, ["hhidpn", "r2cesd", "r3kcntm", "r3leftout", "r2hearte"], id_column="hhidpn",
                     study="HRS")
    by_id = wide.set_index("hhidpn")
    assert math.isnan(by_id.at[1010, "r2cesd"]) and math.isnan(by_id.at[1010, "r3kcntm"])
    assert math.isnan(by_id.at[1010, "r3leftout"]) and math.isnan(by_id.at[4040, "r2hearte"])
    assert by_id.at[2020, "r2cesd"] != by_id.at[2020, "r2cesd"]  # system missing too
    assert by_id.at[1010, "r2hearte"] == 0


def test_flow_counts_by_hand(hand_dta, cohorts):
    _, flow, coverage = _study_panel(cohorts, hand_dta)
    n = dict(zip(flow["step"], flow["n"]))
    assert n == {"persons in the file": 5, "persons interviewed at least once": 5, "person-waves interviewed": 12,
                 "person-waves with a depression score": 11, "person-waves with the isolation index": 11,
                 "person-waves with loneliness": 11, "persons free of CVD at their first report": 4,
                 "new CVD reports": 4, "person-waves with a cognition score": 0,
                 "new dementia classifications": 0, "deaths (any time)": 2}
    assert coverage["present"].all() and len(coverage) == 3 * 15  # 12 wave variables + 3 loneliness items


def test_dead_persons_rows_and_death_date(hand_panel):
    rows = hand_panel.set_index(["person_id", "wave"])
    assert rows.loc[("2020", 3), "interview_status"] == 5
    assert set(_float(hand_panel.loc[hand_panel["person_id"] == "2020"], "death_months")) == {39.0}  # Apr 2003
    assert set(_float(hand_panel.loc[hand_panel["person_id"] == "4040"], "death_months")) == {65.0}  # 2005, June


# ---------------------------------------------------------------------------------------------
# Codes and ranges: errors name the file, the column and the value


def test_depression_above_the_study_max_is_an_error(cohorts, hand_frame, tmp_path):
    frame = hand_frame.copy()
    frame.loc[frame["hhidpn"] == 5050, "r2cesd"] = 9.0  # CES-D 8 runs 0-8
    with pytest.raises(CleaningError) as err:
        _build(cohorts, frame, tmp_path, "cesd9.dta")
    message = str(err.value)
    assert "cesd9.dta" in message and "r2cesd" in message and re.search(r"value (np\.float64\()?9(\.0)?\b", message)


def test_depression_range_is_the_studys(cohorts, hand_frame, tmp_path):
    """The same 9 is valid on a 0-12 scale (EURO-D): the range comes from the study block."""
    frame = hand_frame.copy()
    frame.loc[frame["hhidpn"] == 5050, "r2cesd"] = 9.0
    (panel, _, _), _ = _build(cohorts, frame, tmp_path, "eurod.dta",
                              depression={"label": "EURO-D (0-12)", "min": 0, "max": 12, "cutoff": 4})
    assert panel.set_index(["person_id", "wave"]).loc[("5050", 2), "depression_score"] == 9


@pytest.mark.parametrize("column, value", [("r2hearte", 2), ("r3stroke", 7), ("r1mstat", 9), ("r2kcntm", 2),
                                           ("r1complac", 4), ("r2iwstat", 3), ("ragender", 3)])
def test_undocumented_code_is_an_error(cohorts, hand_frame, tmp_path, column, value):
    frame = hand_frame.copy()
    frame.loc[frame["hhidpn"] == 5050, column] = float(value)
    with pytest.raises(CleaningError) as err:
        _build(cohorts, frame, tmp_path, "badcode.dta")
    message = str(err.value)
    assert "badcode.dta" in message and column in message
    assert re.search(rf"value (np\.float64\()?{value}(\.0)?\b", message)


# ---------------------------------------------------------------------------------------------
# Incident conditions: hand sequences (heart, stroke, either)

INCIDENT_CASES = {  # person, condition -> incident at waves 1-3 (missing rows dropped)
    ("1010", "heart"): [NAN, 0, 1],          # 0, 0, 1: new at wave 3
    ("2020", "heart"): [NAN, NAN, NAN],      # 1 at the first report: prevalent, never incident
    ("4040", "heart"): [NAN, NAN, 1],        # 0, missing, 1: the 0 of wave 1 is carried
    ("5050", "heart"): [NAN, 1, NAN],        # 0, 1, 1: missing after the first yes
    ("3030", "stroke"): [NAN, 1],
    ("5050", "stroke"): [NAN, 0, 1],
    ("5050", "cvd"): [NAN, 1, NAN],          # heart at 2 makes CVD new at 2; the stroke at 3 is not new CVD
    ("3030", "cvd"): [NAN, 1],               # heart .d at 3 but stroke yes: CVD yes
}


@pytest.mark.parametrize("person, condition", list(INCIDENT_CASES))
def test_incident_sequences(hand_panel, person, condition):
    rows = hand_panel.loc[hand_panel["person_id"] == person]
    np.testing.assert_array_equal(_float(rows, f"incident_{condition}"), INCIDENT_CASES[(person, condition)])


# RAND dispute codes 3 "disputes previous record, has" (yes), 4 "disputes, does not have" (no) belong to the
# wave-specific items (r{w}heart, r{w}strok), not the 0/1 "ever" items: with params.yaml's codes a 3 or 4 is an
# error; a user reading other items maps them in cohorts.condition_codes (then C's stroke 4, 3 reads 0, 1).


def _disputing(hand_frame: pd.DataFrame) -> pd.DataFrame:
    frame = hand_frame.copy()
    frame.loc[frame["hhidpn"] == 3030, ["r2stroke", "r3stroke"]] = [4.0, 3.0]
    return frame


def test_dispute_codes_with_the_codes_given(cohorts, hand_frame, hand_panel, tmp_path):
    """With condition_codes given as {"present": [1, 3], "absent": [0, 4]} the codes map to yes/no."""
    specs = copy.deepcopy(cohorts)
    specs["condition_codes"] = {"present": [1, 3], "absent": [0, 4]}
    (panel, _, _), _ = _build(specs, _disputing(hand_frame), tmp_path, "dispute.dta")
    pd.testing.assert_frame_equal(panel, hand_panel)


def test_dispute_codes_in_the_ever_items_are_refused_with_params_yaml(cohorts, hand_frame, tmp_path):
    """params.yaml condition_codes are the 0/1 of r{w}hearte/r{w}stroke: a 4 names the file, column, value."""
    with pytest.raises(CleaningError) as err:
        _build(cohorts, _disputing(hand_frame), tmp_path, "dispute.dta")
    assert "dispute.dta" in str(err.value) and "r2stroke" in str(err.value) and "value 4" in str(err.value)


def test_condition_codes_written_as_yaml_booleans_are_refused(cohorts, hand_frame, tmp_path):
    """YAML reads bare yes/no keys as True/False: a clear error instead of silently using 0/1 only (the schema
    refuses the keys, before any file is read, and names the keys allowed)."""
    specs = copy.deepcopy(cohorts)
    specs["condition_codes"] = {True: [1, 3], False: [0, 4]}
    with pytest.raises(ConfigError, match=r"condition_codes: write the keys as 'present' and 'absent'"):
        _build(specs, _disputing(hand_frame), tmp_path, "dispute.dta")


# ---------------------------------------------------------------------------------------------
# File errors


def test_missing_file_names_the_path(cohorts, tmp_path):
    path = tmp_path / "nowhere" / "randhrs1992_2020v2.dta"
    with pytest.raises(CohortFileError, match="randhrs1992_2020v2.dta"):
        _study_panel(cohorts, path)


def test_unknown_format_is_an_error(cohorts, tmp_path):
    path = tmp_path / "cohort.xlsx"
    path.write_bytes(b"not a cohort")
    with pytest.raises(CohortFileError, match=r"cohort\.xlsx.*\.xlsx"):
        _study_panel(cohorts, path)


def test_wrong_study_file_says_which_study_it_looks_like(cohorts, hand_frame, tmp_path):
    frame = hand_frame.rename(columns={"hhidpn": "idauniq"})
    with pytest.raises(CohortFileError) as err:
        _build(cohorts, frame, tmp_path, "h_elsa_g3.dta")
    message = str(err.value)
    assert "h_elsa_g3.dta" in message and "hhidpn" in message and "ELSA" in message


def test_variable_absent_at_every_wave_is_named(cohorts, hand_frame, tmp_path):
    frame = hand_frame.drop(columns=[f"r{w}fcntm" for w in WAVES])
    with pytest.raises(CohortFileError) as err:
        _build(cohorts, frame, tmp_path, "nofriends.dta")
    assert "nofriends.dta" in str(err.value) and "r{w}fcntm" in str(err.value)


def test_variable_absent_at_some_waves_is_missing_there(cohorts, hand_frame, tmp_path):
    """An item asked at some waves only (not interview status or depression) is missing where absent."""
    frame = hand_frame.drop(columns=["r1socyr"])
    (panel, _, coverage), _ = _build(cohorts, frame, tmp_path, "nosocyr1.dta")
    assert panel.loc[panel["wave"] == 1, ["groups", "isolation_index"]].isna().all().all()
    assert not coverage.set_index(["variable", "wave"]).loc[("groups", 1), "present"]


def test_person_variable_absent_is_named(cohorts, hand_frame, tmp_path):
    frame = hand_frame.drop(columns=["raedyrs"])
    with pytest.raises(CohortFileError) as err:
        _build(cohorts, frame, tmp_path, "noedu.dta")
    assert "noedu.dta" in str(err.value) and "raedyrs" in str(err.value)


def test_depression_absent_at_one_wave_is_missing_there(cohorts, hand_frame, tmp_path):
    """A measure a file lacks at one wave (HRS: no CES-D at wave 1) is missing at that wave, not an error;
    the other waves keep their scores and the capability table shows share 0 at that wave."""
    frame = hand_frame.drop(columns=["r2cesd"])
    (panel, _, coverage), _ = _build(cohorts, frame, tmp_path, "nocesd2.dta")
    assert panel.loc[panel["wave"] == 2, "depression_score"].isna().all()
    expected = expected_frame()
    at = (panel["wave"] != 2).to_numpy()
    np.testing.assert_array_equal(_float(panel, "depression_score")[at], expected["depression_score"].to_numpy()[at])
    row = coverage.loc[(coverage["variable"] == "depression") & (coverage["wave"] == 2)]
    assert not row["present"].any()
    capability = capability_table(panel, "hrs")
    cell = capability.loc[(capability["measure"] == "depression_score") & (capability["wave"] == 2)]
    assert cell["observed"].tolist() == [0] and cell["share_observed"].tolist() == [0.0]


def test_duplicated_id_is_an_error(cohorts, hand_frame, tmp_path):
    frame = pd.concat([hand_frame, hand_frame.iloc[[2]]], ignore_index=True)
    with pytest.raises(CleaningError) as err:
        _build(cohorts, frame, tmp_path, "dup.dta")
    assert "dup.dta" in str(err.value) and "hhidpn" in str(err.value) and "3030" in str(err.value)


# ---------------------------------------------------------------------------------------------
# Formats and names


def test_other_formats_read_the_same(cohorts, hand_frame, hand_panel, tmp_path):
    """SPSS .sav with the codes as user-missing values, parquet and csv with them as NaN: the same panel."""
    import pyreadstat

    sav = tmp_path / "hand.sav"
    coded = [c for c in hand_frame.columns if hand_frame[c].dtype == object]
    pyreadstat.write_sav(without_codes(hand_frame, -8.0), str(sav), missing_ranges={c: [-8.0] for c in coded})
    parquet = tmp_path / "hand.parquet"
    without_codes(hand_frame).to_parquet(parquet)
    csv = tmp_path / "hand.csv"
    without_codes(hand_frame).to_csv(csv, index=False)
    for path in (sav, parquet, csv):
        panel, _, _ = _study_panel(cohorts, path)
        pd.testing.assert_frame_equal(panel, hand_panel, obj=path.suffix)


def test_integer_stored_columns_read_the_same(cohorts, hand_frame, hand_panel, tmp_path):
    """RAND stores most items as Stata integers with extended missing values: the same panel values."""
    frame = hand_frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: v if isinstance(v, str) or v != v else int(v))
    (panel, _, _), path = _build(cohorts, frame, tmp_path, "ints.dta")
    import pyreadstat

    _, meta = pyreadstat.read_dta(str(path), metadataonly=True)
    assert meta.readstat_variable_types["r2cesd"].startswith("int")
    for column in COLUMNS:
        np.testing.assert_array_equal(_float(panel, column), _float(hand_panel, column), err_msg=column)


def test_upper_case_names_read_the_same(cohorts, hand_frame, hand_panel, tmp_path):
    """RAND's SAS release spells every name in upper case."""
    (panel, _, _), _ = _build(cohorts, hand_frame.rename(columns=str.upper), tmp_path, "upper.dta")
    pd.testing.assert_frame_equal(panel, hand_panel)


# ---------------------------------------------------------------------------------------------
# The whole stage: restricted studies not configured, synthetic always; a configured study runs


@pytest.fixture(scope="module")
def tiny_synthetic(params, tmp_path_factory):
    frame, _ = simulate_cohort(params.cohorts.synthetic, persons=150)
    path = tmp_path_factory.mktemp("syn") / "synthetic_rand.dta"
    write_synthetic(frame, path)
    return path


def test_restricted_studies_not_configured_synthetic_ran(cohorts, tiny_synthetic):
    specs = copy.deepcopy(cohorts)
    for spec in specs["studies"].values():
        spec["path"] = None
    panel, flow, status, coverage = build_cohort_panel(cohorts_settings(specs), tiny_synthetic)
    by_study = status.set_index("study")
    for key in ("hrs", "elsa", "share", "charls"):
        assert by_study.at[key, "status"] == "not configured"
        assert f"cohorts.studies.{key}.path" in by_study.at[key, "note"]
    assert by_study.at["synthetic", "status"] == "ran" and by_study.at["synthetic", "persons"] == 150
    assert "SYNTHETIC" in by_study.at["synthetic", "note"]
    assert set(panel["study"]) == {"synthetic"} and set(flow["study"]) == {"synthetic"}


def test_configured_study_runs_beside_the_synthetic(cohorts, tiny_synthetic, hand_dta, hand_panel):
    specs = copy.deepcopy(cohorts)
    for spec in specs["studies"].values():
        spec["path"] = None
    # the hand file is in the base (SYNTHETIC/RAND) layout, one file: the study block of a hand file
    specs["studies"]["hrs"] = {**study_block(hand_dta), "restricted": True}
    panel, flow, status, _ = build_cohort_panel(cohorts_settings(specs), tiny_synthetic)
    by_study = status.set_index("study")
    assert by_study.at["hrs", "status"] == "ran" and by_study.at["hrs", "persons"] == 5
    assert by_study.at["hrs", "person_waves_interviewed"] == 12
    assert by_study.at["hrs", "sha256"] == hashlib.sha256(hand_dta.read_bytes()).hexdigest()
    assert by_study.at["elsa", "status"] == "not configured"
    assert set(panel["study"]) == {"hrs", "synthetic"} and set(flow["study"]) == {"hrs", "synthetic"}
    hrs = panel.loc[panel["study"] == "hrs"].reset_index(drop=True)
    assert list(zip(hrs["person_id"], hrs["wave"])) == list(EXPECTED)
    for column in COLUMNS:
        np.testing.assert_array_equal(_float(hrs, column), expected_frame()[column].to_numpy(), err_msg=column)


def test_configured_path_that_does_not_exist_raises(cohorts, tiny_synthetic, tmp_path):
    specs = copy.deepcopy(cohorts)
    specs["studies"]["elsa"]["path"] = str(tmp_path / "h_elsa_missing.dta")
    with pytest.raises(CohortFileError, match="h_elsa_missing.dta"):
        build_cohort_panel(cohorts_settings(specs), tiny_synthetic)


# ---------------------------------------------------------------------------------------------
# Cognition (the HRS Langa-Weir items) read from a hand file


def _with_cognition(hand_frame: pd.DataFrame) -> pd.DataFrame:
    """The hand frame with the four RAND cognition items at every wave: 5, 4, 3, 1 (score 13) where the person
    was interviewed, except person 5050 at wave 2: 2, 1, 2, 1 (score 6, dementia by Langa-Weir)."""
    frame = hand_frame.copy()
    interviewed = {w: frame[f"r{w}iwstat"].eq(1) for w in WAVES}
    for w in WAVES:
        for name, value in (("imrc", 5.0), ("dlrc", 4.0), ("ser7", 3.0), ("bwc20", 1.0)):
            frame[f"r{w}{name}"] = np.where(interviewed[w], value, np.nan)
    frame.loc[frame["hhidpn"] == 5050, ["r2imrc", "r2dlrc", "r2ser7", "r2bwc20"]] = [2.0, 1.0, 2.0, 1.0]
    return frame


HRS_COGNITION = {"items": {"r{w}imrc": 10, "r{w}dlrc": 10, "r{w}ser7": 5, "r{w}bwc20": 2}}


def test_cognition_score_and_dementia_from_a_file(cohorts, hand_frame, tmp_path):
    (panel, flow, _), _ = _build(cohorts, _with_cognition(hand_frame), tmp_path, "cognition.dta",
                                 cognition=HRS_COGNITION)
    person = panel.set_index(["person_id", "wave"])
    assert person.loc[("1010", 1), "cognition_score"] == 13 and person.loc[("1010", 1), "dementia"] == 0
    assert person.loc[("5050", 2), "cognition_score"] == 6 and person.loc[("5050", 2), "dementia"] == 1
    assert person.loc[("5050", 2), "incident_dementia"] == 1  # 13 at wave 1, 6 at wave 2: new
    assert flow.set_index("step").loc["new dementia classifications", "n"] == 1


def test_cognition_item_above_its_maximum_is_an_error(cohorts, hand_frame, tmp_path):
    frame = _with_cognition(hand_frame)
    frame.loc[frame["hhidpn"] == 1010, "r1bwc20"] = 3.0  # backwards counting scores 0-2
    with pytest.raises(CleaningError) as err:
        _build(cohorts, frame, tmp_path, "badcog.dta", cognition=HRS_COGNITION)
    message = str(err.value)
    assert "badcog.dta" in message and "r1bwc20" in message and "3" in message


def test_study_without_cognition_has_no_score(hand_panel):
    assert hand_panel["cognition_score"].isna().all() and hand_panel["incident_dementia"].isna().all()
