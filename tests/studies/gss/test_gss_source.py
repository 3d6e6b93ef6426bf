"""GSS readers and codebook: every label and code checked against rows read by eye, missing -> NaN,
unknown -> an error naming file, column, value and person; .rda and Parquet read alike."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.studies.gss import source as gss

# ---------------------------------------------------------------------------------------------
# Real rows of the long panels, chosen so that together they hold every value label that occurs in
# the three files for these items. The raw labels were read off the mirror and the codes written
# down from the GSS codebook by hand (not computed by the code under test).

SOCIAL = ["socrel", "socfrend", "socommun", "socbar"]
ITEMS = SOCIAL + ["marital", "attend", "health", "happy", "sex", "race", "degree", "wrkstat", "age"]
N = None  # not answered in that row

HAND_CHECKED = [
    # panel file, firstid, wave, then per item in ITEMS order: (label in the file, GSS code)
    ("gss_panel06_long", "0431", 3, [("Sev Times a Year", 5), ("Never", 7), ("Never", 7), ("Never", 7),
                                     ("Widowed", 2), ("Never", 0), ("Good", 2), ("Pretty Happy", 2),
                                     ("Female", 2), ("White", 1), ("High School", 1), ("Retired", 5),
                                     ("89 or Older", 89)]),
    ("gss_panel06_long", "0143", 2, [("Once a Month", 4), ("Sev Times a Year", 5), ("Sev Times a Year", 5),
                                     ("Once a Month", 4), ("Married", 1), ("Every Week", 7), ("Excellent", 1),
                                     ("Very Happy", 1), ("Male", 1), ("Other", 3), ("Graduate", 4),
                                     ("Working Fulltime", 1), (N, N)]),
    ("gss_panel08_long", "0670", 1, [("Almost Daily", 1), ("Sev Times a Week", 2), ("Almost Daily", 1),
                                     ("Sev Times a Year", 5), ("Never Married", 5), ("2-3x a Month", 5),
                                     ("Fair", 3), ("Not Too Happy", 3), ("Female", 2), ("Black", 2),
                                     ("Lt High School", 0), ("Keeping House", 7), ("41", 41)]),
    ("gss_panel06_long", "0590", 1, [("Sev Times a Week", 2), ("Sev Times a Mnth", 3), ("Sev Times a Week", 2),
                                     ("Sev Times a Mnth", 3), ("Divorced", 3), ("Sevrl Times a Yr", 3), (N, N),
                                     ("Pretty Happy", 2), ("Male", 1), ("Black", 2), ("Bachelor", 3),
                                     ("Unempl, Laid Off", 4), ("53", 53)]),
    ("gss_panel06_long", "0487", 2, [("Sev Times a Mnth", 3), ("Once a Month", 4), ("Sev Times a Mnth", 3),
                                     ("Once a Year", 6), ("Married", 1), ("Once a Year", 2), ("Excellent", 1),
                                     ("Very Happy", 1), ("Female", 2), ("White", 1), ("Junior College", 2),
                                     ("Working Fulltime", 1), ("52", 52)]),
    ("gss_panel06_long", "1049", 3, [("Once a Year", 6), ("Once a Year", 6), ("Once a Year", 6),
                                     ("Sev Times a Year", 5), ("Married", 1), ("Nrly Every Week", 6), (N, N),
                                     ("Pretty Happy", 2), ("Female", 2), ("Black", 2), ("High School", 1),
                                     ("Working Parttime", 2), ("26", 26)]),
    ("gss_panel06_long", "2583", 1, [("Never", 7), ("Almost Daily", 1), ("Almost Daily", 1), ("Once a Year", 6),
                                     ("Never Married", 5), ("Lt Once a Year", 1), ("Poor", 4), ("Very Happy", 1),
                                     ("Female", 2), ("Black", 2), ("High School", 1), ("School", 6), ("30", 30)]),
    ("gss_panel06_long", "0307", 3, [("Once a Month", 4), ("Once a Month", 4), ("Once a Month", 4),
                                     ("Sev Times a Year", 5), ("Married", 1), ("Once a Month", 4), ("Excellent", 1),
                                     ("Very Happy", 1), ("Female", 2), ("Other", 3), ("Graduate", 4), ("Other", 8),
                                     ("35", 35)]),
    ("gss_panel08_long", "0568", 3, [(N, N), (N, N), (N, N), (N, N), ("Separated", 4), ("more Thn Once Wk", 8),
                                     ("Fair", 3), ("Pretty Happy", 2), ("Female", 2), ("White", 1),
                                     ("High School", 1), ("Temp not Working", 3), ("40", 40)]),
    ("gss_panel06_long", "0018", 3, [("Sev Times a Week", 2), ("Sev Times a Week", 2), ("Never", 7),
                                     ("Sev Times a Week", 2), ("Never Married", 5), ("Sevrl Times a Yr", 3), (N, N),
                                     ("Not Too Happy", 3), ("Female", 2), ("Other", 3), ("High School", 1),
                                     ("Keeping House", 7), ("21", 21)]),
    ("gss_panel06_long", "0493", 2, [("Once a Month", 4), ("Never", 7), ("Never", 7), ("Almost Daily", 1),
                                     ("Divorced", 3), ("Never", 0), (N, N), ("Pretty Happy", 2), ("Male", 1),
                                     ("White", 1), ("Lt High School", 0), ("Retired", 5), ("64", 64)]),
]

# Count items of two persons of the 2006-2010 panel, read by eye (numgiven "-1" = not asked).
HAND_CHECKED_COUNTS = [
    # firstid, wave, numgiven (label, value), mntlhlth, educ, realinc
    ("0009", 1, ("-1", N), ("0", 0), ("16", 16), ("25582.5", 25582.5)),
    ("0009", 3, ("1", 1), (N, N), ("16", 16), ("34965", 34965.0)),
    ("0204", 1, ("-1", N), ("10", 10), ("18", 18), ("38373.75", 38373.75)),
    ("0204", 3, ("4", 4), (N, N), ("18", 18), ("42735", 42735.0)),
]


@pytest.fixture(scope="module")
def long_panels(mirror) -> dict[str, pd.DataFrame]:
    cols = ["firstid", "wave"] + ITEMS
    return {stem: gss.read_panel(mirror / f"gss/{stem}.parquet", cols, optional=["numgiven", "mntlhlth", "educ",
                                                                                   "realinc"])
            for stem in gss.LONG_PANELS.values()}


def _same(a, b) -> bool:
    return (a is None and (b is None or (isinstance(b, float) and math.isnan(b)))) or a == b


def test_every_long_panel_label_recodes_as_read_by_eye(long_panels):
    seen = set()
    for stem, firstid, wave, expected in HAND_CHECKED:
        frame = long_panels[stem]
        row = frame.index[(frame["firstid"].astype(str) == firstid) & (frame["wave"] == wave)]
        assert len(row) == 1, (stem, firstid, wave)
        for item, (label, code) in zip(ITEMS, expected, strict=False):
            raw = frame.loc[row[0], item]
            raw = None if pd.isna(raw) else str(raw)
            assert raw == label, f"{stem} {firstid} w{wave} {item}: file has {raw!r}, expected {label!r}"
            got = gss.recode(frame, item, stem, id_column="firstid").loc[row[0]]
            assert _same(code, got), f"{stem} {firstid} w{wave} {item}: {label!r} -> {got}, expected {code}"
            seen.add((item, label))
    # the rows above hold every label that occurs in the files (so every mapping was checked)
    for stem, frame in long_panels.items():
        for item in ITEMS:
            present = {str(v) for v in frame[item].dropna().unique()}
            if item == "age":
                present = {v for v in present if not v.isdigit()}
            missing = {v for v in present if (item, v) not in seen}
            assert not missing, f"{stem}.{item}: labels {missing} not covered by the hand-checked rows"


def test_count_items_as_read_by_eye(long_panels):
    frame = long_panels["gss_panel06_long"]
    for firstid, wave, *cells in HAND_CHECKED_COUNTS:
        i = frame.index[(frame["firstid"].astype(str) == firstid) & (frame["wave"] == wave)][0]
        for item, (label, value) in zip(["numgiven", "mntlhlth", "educ", "realinc"], cells, strict=False):
            raw = frame.loc[i, item]
            assert (None if pd.isna(raw) else str(raw)) == label
            assert _same(value, gss.recode(frame, item, "p06", id_column="firstid").loc[i])


def test_panel20_codes_match_codebook_frequencies(mirror):
    """Independent check of the numeric codes: the 2016 and 2018 baseline columns reproduce the GSS
    codebook's published frequencies for those years (GSS 1972-2024 codebook, via gssrdoc), label by
    label: so code 2 of SOCFREND is 'once or twice a week', code 3 of HEALTH 'fair', and so on."""
    cols = ["socfrend_1b", "health_1a", "attend_1a", "wrkstat_1a", "lonely3_1b"]
    frame = gss.read_panel(mirror / "gss/gss_panel20.parquet", cols)
    codebook_counts = {
        # 2018: almost daily 32, once or twice a week 244, several times a month 338, about once a month
        # 378, several times a year 277, about once a year 131, never 157
        "socfrend_1b": {1: 32, 2: 244, 3: 338, 4: 378, 5: 277, 6: 131, 7: 157},
        # 2016: excellent 418, good 919, fair 430, poor 118
        "health_1a": {1: 418, 2: 919, 3: 430, 4: 118},
        # 2016: never 723, <1/yr 173, 1-2/yr 385, several/yr 312, 1/month 190, 2-3/month 250,
        # nearly every week 126, every week 481, several times a week 210
        "attend_1a": {0: 723, 1: 173, 2: 385, 3: 312, 4: 190, 5: 250, 6: 126, 7: 481, 8: 210},
        # 2016: full time 1321, part time 345, with a job not at work 57, unemployed 118, retired 574,
        # in school 76, keeping house 284, other 89
        "wrkstat_1a": {1: 1321, 2: 345, 3: 57, 4: 118, 5: 574, 6: 76, 7: 284, 8: 89},
        # 2018 left out: never 641, rarely 301, sometimes 152, often 50, very often 26
        "lonely3_1b": {1: 641, 2: 301, 3: 152, 4: 50, 5: 26},
    }
    for col, counts in codebook_counts.items():
        got = gss.recode(frame, col, "gss_panel20").value_counts().to_dict()
        assert got == {float(k): v for k, v in counts.items()}, col


def test_panel20_file_holds_no_numeric_missing_codes(mirror):
    """What the module docstring claims: gssr's NA for NORC's missing codes, so every code is valid."""
    cols = [f"{i}{s}" for i in ("socrel", "health", "happy", "marital", "wrkstat", "age", "realinc")
            for s in ("_1a", "_1b", "_2")] + ["lonely1_2", "lonely2_2", "lonely3_1b", "panstat"]
    frame = gss.read_panel(mirror / "gss/gss_panel20.parquet", cols + ["yearid"])
    for col in cols:
        assert (frame[col].dropna() >= 0).all(), col
        recoded = gss.recode(frame, col, "gss_panel20", id_column="yearid")
        assert recoded.notna().sum() == frame[col].notna().sum(), col


# ---------------------------------------------------------------------------------------------
# Hand-built frames


@pytest.mark.parametrize("label", ["Iap", "Dk", "Na", "IAP", "Don't know", "No answer", "-1", "Skipped on Web",
                                   "Refused", None])
def test_missing_labels_become_nan(label):
    frame = pd.DataFrame({"firstid": ["0001", "0002"], "health": pd.Categorical(["Good", label])})
    out = gss.recode(frame, "health", "t.parquet", id_column="firstid")
    assert out.iloc[0] == 2 and np.isnan(out.iloc[1])


@pytest.mark.parametrize("code", [-100, -99, -98, -97, np.nan])
def test_norc_numeric_missing_codes_become_nan(code):
    frame = pd.DataFrame({"yearid": ["20160001", "20160002"], "happy_2": [3.0, code]})
    out = gss.recode(frame, "happy_2", "t.parquet", id_column="yearid")
    assert out.iloc[0] == 3 and np.isnan(out.iloc[1])


def test_unknown_label_is_an_error_naming_file_column_value_person():
    frame = pd.DataFrame({"firstid": ["0001", "0002"], "health": pd.Categorical(["Good", "Very Good"])})
    with pytest.raises(gss.SourceDataError,
                       match=r"p06\.parquet: column health has the value 'Very Good' \(firstid 0002\)"):
        gss.recode(frame, "health", "p06.parquet", id_column="firstid")


def test_unknown_numeric_code_is_an_error():
    frame = pd.DataFrame({"yearid": ["20160001", "20180002"], "socfrend_1b": [1.0, 8.0]})
    with pytest.raises(gss.SourceDataError, match=r"column socfrend_1b has the value 8 \(yearid 20180002\)"):
        gss.recode(frame, "socfrend_1b", "p20.parquet", id_column="yearid")
    # an old-style missing code (9 = no answer) is not silently missing either
    frame = pd.DataFrame({"yearid": ["20160001"], "health_1a": [9.0]})
    with pytest.raises(gss.SourceDataError, match="health_1a has the value 9"):
        gss.recode(frame, "health_1a", "p20.parquet", id_column="yearid")


@pytest.mark.parametrize("column, label", [("mntlhlth", "98"), ("mntlhlth", "31"), ("educ", "12.5"),
                                           ("age", "17"), ("numgiven", "7"), ("age", "Ninety")])
def test_count_outside_the_codebook_is_an_error(column, label):
    frame = pd.DataFrame({"firstid": ["0001"], column: pd.Categorical([label])})
    with pytest.raises(gss.SourceDataError, match=f"column {column} has the value '{label}'"):
        gss.recode(frame, column, "p.parquet", id_column="firstid")


def test_count_labels_and_top_code():
    frame = pd.DataFrame({"firstid": ["1", "2", "3", "4"],
                          "age": pd.Categorical(["89 or Older", "18", "Iap", None]),
                          "mntlhlth": pd.Categorical(["0", "30", "Dk", "14"])})
    assert gss.recode(frame, "age", "t").tolist()[:2] == [89, 18]
    assert gss.recode(frame, "mntlhlth", "t").fillna(-1).tolist() == [0, 30, -1, 14]


def test_labels_match_case_insensitively_but_exactly():
    frame = pd.DataFrame({"firstid": ["1", "2"], "socrel": ["ALMOST DAILY", "sev times  a week"]})
    assert gss.recode(frame, "socrel", "t").tolist() == [1, 2]
    bad = pd.DataFrame({"firstid": ["1"], "socrel": ["Almost Dailyy"]})
    with pytest.raises(gss.SourceDataError):
        gss.recode(bad, "socrel", "t", id_column="firstid")


def test_missing_column_and_uncoded_column_are_errors():
    with pytest.raises(gss.SourceDataError, match="column happy is missing"):
        gss.recode(pd.DataFrame({"firstid": ["1"]}), "happy", "t.parquet")
    with pytest.raises(gss.SourceDataError, match="no entry in the GSS CODEBOOK"):
        gss.recode(pd.DataFrame({"polviews": ["Liberal"]}), "polviews", "t.parquet")


def test_every_label_maps_to_a_documented_code():
    for item in gss.CODEBOOK.values():
        if item.labels:
            assert set(item.labels.values()) <= set(item.codes), item.name


# ---------------------------------------------------------------------------------------------
# Files


def test_read_panel_keeps_asked_columns_and_fills_optional(mirror):
    frame = gss.read_panel(mirror / "gss/gss_panel08_long.parquet", ["firstid", "wave", "happy"],
                           optional=["numgiven", "mntlhlth"])
    assert list(frame.columns) == ["firstid", "wave", "happy", "numgiven", "mntlhlth"]
    assert len(frame) == 6069 and frame["numgiven"].isna().all()
    with pytest.raises(gss.SourceDataError, match=r"gss_panel08_long\.parquet: column numgiven is missing"):
        gss.read_panel(mirror / "gss/gss_panel08_long.parquet", ["firstid", "numgiven"])


def test_rda_and_parquet_read_to_identical_frames(mirror, tmp_path):
    pyreadr = pytest.importorskip("pyreadr")
    cols = ["firstid", "wave", "year", "socrel", "happy", "age", "numgiven", "wtpannr123"]
    parquet = gss.read_panel(mirror / "gss/gss_panel06_long.parquet", cols).iloc[:60]
    rda = tmp_path / "gss_panel06_long.rda"
    pyreadr.write_rdata(str(rda), parquet, df_name="gss_panel06_long", compress="gzip")
    from_rda = gss.read_panel(rda, cols)
    for col in cols:
        a, b = parquet[col], from_rda[col]
        if isinstance(a.dtype, pd.CategoricalDtype):
            assert a.astype(object).where(a.notna(), None).tolist() == b.astype(object).where(b.notna(), None).tolist()
            if col in gss.CODEBOOK:
                assert gss.recode(parquet, col, "p").equals(gss.recode(from_rda, col, "r"))
        else:
            np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


def test_unreadable_file_names_it(tmp_path):
    bad = tmp_path / "gss_panel20.rda"
    bad.write_bytes(b"<html>not found</html>")
    with pytest.raises(gss.SourceDataError, match=r"gss_panel20\.rda: cannot be read"):
        gss.read_panel(bad, ["yearid"])
    with pytest.raises(gss.SourceDataError, match="run the fetch stage first"):
        gss.panel_path(tmp_path / "nowhere", "gss_panel20")
