"""NHANES readers: fixed-width LMF by position, XPT == csv.xz, missing codes, undocumented codes."""

from __future__ import annotations

import lzma

import numpy as np
import pandas as pd
import pytest

from analysis.studies.nhanes import source as src

# Three hand-made LMF lines in the public layout (1-based: SEQN 1-14, ELIGSTAT 15, MORTSTAT 16,
# UCOD_LEADING 17-19, DIABETES 20, HYPERTEN 21, blanks 22-42, PERMTH_INT 43-45, PERMTH_EXM 46-48).
# Line 1: under 18, not released; trailing blanks trimmed as in the real files.
# Line 2: died of heart disease (001) after 77 months from interview, 76 from exam.
# Line 3: alive, 240 / 239 months.
LMF_LINES = [
    "00001         2.   ..                     .  .",
    "00002         1100110" + " " * 21 + " 77 76",
    "00003         10   ..                     240239",
]


def test_lmf_reads_by_position(tmp_path):
    path = tmp_path / "lmf.dat"
    path.write_text("\n".join(LMF_LINES) + "\n")
    lmf = src.read_lmf(path)
    assert lmf["SEQN"].tolist() == [1, 2, 3]
    assert lmf["ELIGSTAT"].tolist() == [2, 1, 1]
    assert np.isnan(lmf.loc[0, "MORTSTAT"]) and lmf.loc[1, "MORTSTAT"] == 1 and lmf.loc[2, "MORTSTAT"] == 0
    assert lmf.loc[1, "UCOD_LEADING"] == "001" and pd.isna(lmf.loc[2, "UCOD_LEADING"])
    assert lmf.loc[1, "DIABETES"] == 1 and lmf.loc[1, "HYPERTEN"] == 0
    assert lmf["PERMTH_INT"].tolist()[1:] == [77, 240]
    assert lmf["PERMTH_EXM"].tolist()[1:] == [76, 239]


def test_lmf_undocumented_value_names_file_line_column(tmp_path):
    path = tmp_path / "bad.dat"
    path.write_text(LMF_LINES[1] + "\n" + "00004         17" + "\n")  # MORTSTAT 7: not a code
    with pytest.raises(src.SourceDataError, match=r"bad\.dat, line 2: column MORTSTAT .*'7'"):
        src.read_lmf(path)


def test_lmf_real_file_matches_documented_death_count(mirror):
    """README of the mirror (from NCHS): 1,675 deaths among eligible 1999-2000 participants."""
    lmf = src.read_lmf(mirror / "nhanes/linked_mortality_2019/NHANES_1999_2000_MORT_2019_PUBLIC.dat")
    assert len(lmf) == 9965
    assert int(((lmf["ELIGSTAT"] == 1) & (lmf["MORTSTAT"] == 1)).sum()) == 1675


def test_xpt_and_csv_xz_read_to_identical_frames(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = pd.DataFrame({
        "SEQN": [1.0, 2.0, 3.0],
        "SSQ011": [1.0, 9.0, np.nan],
        "SSQ061": [3.0, 9999.0, 0.0],
        "BMXBMI": [22.4, np.nan, 31.07],
    })
    xpt = tmp_path / "SSQ_D.XPT"
    pyreadstat.write_xport(frame, str(xpt), table_name="SSQ_D", file_format_version=5)
    csv = tmp_path / "SSQ_D.csv.xz"
    with lzma.open(csv, "wt") as fh:
        frame.astype({"SEQN": int}).to_csv(fh, index=False, na_rep="NA")
    a, b = src.read_table(xpt), src.read_table(csv)
    pd.testing.assert_frame_equal(a, b)
    assert a["SEQN"].dtype == "int64" and a["SSQ061"].dtype == "float64"


def test_sas_zero_stand_in_becomes_zero():
    frame = src.normalise_table(pd.DataFrame({"SEQN": [1, 2], "X": [5.397605346934028e-79, 2.0]}))
    assert frame["X"].tolist() == [0.0, 2.0]


@pytest.mark.parametrize(
    "column, raw, expected",
    [
        ("SSQ011", [1, 2, 3, 7, 9], [1, 2, 3, np.nan, np.nan]),
        ("DMDMARTL", [1, 6, 77, 99], [1, 6, np.nan, np.nan]),
        ("SSQ061", [0, 50, 7777, 9999], [0, 50, np.nan, np.nan]),
        ("SSD044", [0, 52, 77777, 99999], [0, 52, np.nan, np.nan]),
        ("DPQ010", [0, 3, 7, 9], [0, 3, np.nan, np.nan]),
    ],
)
def test_missing_codes_become_missing(column, raw, expected):
    frame = pd.DataFrame({"SEQN": range(len(raw)), column: raw})
    out = src.recode(frame, column, "TEST.csv")
    np.testing.assert_array_equal(out.to_numpy(), np.array(expected, dtype=float))


def test_undocumented_code_is_an_error_naming_file_column_value():
    frame = pd.DataFrame({"SEQN": [10, 11], "SSQ011": [1, 5]})
    with pytest.raises(src.SourceDataError, match=r"SSQ_D\.csv\.xz: column SSQ011 has the value 5 \(SEQN 11\)"):
        src.recode(frame, "SSQ011", "SSQ_D.csv.xz")


def test_missing_column_and_duplicate_seqn_are_errors():
    with pytest.raises(src.SourceDataError, match="column SSQ011 is missing"):
        src.recode(pd.DataFrame({"SEQN": [1]}), "SSQ011", "x.csv")
    with pytest.raises(src.SourceDataError, match="duplicated value 1"):
        src.normalise_table(pd.DataFrame({"SEQN": [1, 1]}), "x.csv")
