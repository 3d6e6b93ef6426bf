"""NHANES 1999-2008 tables and the NCHS public-use Linked Mortality Files (2019 linkage).

Readers return one frame per table with the publisher's column names and raw numeric codes, so the
codebook applies unchanged. ``recode`` then turns codes into values using ``CODEBOOK``: for every
item we use, the codes the CDC codebook documents as valid and the ones that mean refused / don't
know (7/9, 77/99, 7777/9999, 77777/99999). Missing codes become NaN, never numbers; a code the
codebook does not document is an error naming the file, column and value.

Formats: CDC publishes SAS transport files (``.XPT``); our mirror holds CSV conversions
(``.csv.xz``, read by nhanesA, untranslated). Both read to identical frames: all columns float64
except SEQN (int64), empty strings as missing, and SAS's tiny stand-ins for zero (5.4e-79) as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core.contract import SourceDataError
from analysis.core.fetch import fetch_study

CYCLE_SUFFIX = {"1999-2000": "", "2001-2002": "_B", "2003-2004": "_C", "2005-2006": "_D", "2007-2008": "_E"}


# ---------------------------------------------------------------------------------------------
# Codebook items we use: valid codes (a set) or valid range (lo, hi), and missing codes.
# Reference: CDC "Data Documentation, Codebook, and Frequencies" for each table (copies in the
# mirror's nhanes/codebooks_1999_2008/).


@dataclass(frozen=True)
class Item:
    valid: frozenset | tuple  # a set of codes, or an inclusive (lo, hi) range
    missing: tuple = ()

    def is_valid(self, values: pd.Series) -> pd.Series:
        if isinstance(self.valid, tuple):
            lo, hi = self.valid
            return values.between(lo, hi)
        return values.isin(self.valid)


YES_NO = Item(frozenset({1, 2}), (7, 9))
YES_NO_3 = Item(frozenset({1, 2, 3}), (7, 9))

CODEBOOK: dict[str, Item] = {
    # DEMO
    "SDDSRVYR": Item(frozenset({1, 2, 3, 4, 5})),
    "RIAGENDR": Item(frozenset({1, 2})),
    "RIDAGEYR": Item((0, 85)),
    "RIDRETH1": Item(frozenset({1, 2, 3, 4, 5})),
    "DMDEDUC2": Item(frozenset({1, 2, 3, 4, 5}), (7, 9)),
    "DMDMARTL": Item(frozenset({1, 2, 3, 4, 5, 6}), (77, 99)),
    "DMDHHSIZ": Item((1, 7)),
    "INDFMPIR": Item((0, 5)),
    "SDMVPSU": Item((1, 3)),
    "SDMVSTRA": Item((1, 100)),
    "WTINT2YR": Item((0, 1e7)),
    "WTINT4YR": Item((0, 1e7)),
    "WTMEC2YR": Item((0, 1e7)),
    "WTMEC4YR": Item((0, 1e7)),
    # SSQ (names differ by cycle; see SSQ_NAMES)
    "SSQ010": YES_NO_3, "SSD011": YES_NO_3, "SSQ011": YES_NO_3,  # 3 = doesn't need help
    "SSQ030": YES_NO, "SSD031": YES_NO, "SSQ031": YES_NO,
    "SSQ050": YES_NO_3, "SSD051": YES_NO_3, "SSQ051": YES_NO_3,  # 3 = offered help, wouldn't accept
    "SSQ060": Item((0, 50), (7777, 9999)), "SSD061": Item((0, 50), (7777, 9999)),
    "SSQ061": Item((0, 50), (7777, 9999)),
    "SSD044": Item((0, 2557), (77777, 99999)),
    # smoking, BMI, hypertension, diabetes
    "SMQ020": YES_NO,
    "SMQ040": Item(frozenset({1, 2, 3}), (7, 9)),
    "BMXBMI": Item((5, 150)),  # codebook ranges 7.99-130.21 across cycles
    "BPQ020": YES_NO,
    "DIQ010": Item(frozenset({1, 2, 3}), (7, 9)),  # 3 = borderline
    # MCQ: ever told congestive heart failure, CHD, angina, heart attack, stroke
    **{f"MCQ160{c}": YES_NO for c in "BCDEF"},
    # PHQ-9 items: 0 not at all ... 3 nearly every day
    **{f"DPQ0{i}0": Item(frozenset({0, 1, 2, 3}), (7, 9)) for i in range(1, 10)},
    # HUQ (Hospital Utilization & Access to Care), same item and codes in HUQ, HUQ_B, HUQ_C, HUQ_D, HUQ_E
    # (codebooks_1999_2008/HUQ*.md, "HUQ010 - General health condition"): 1 excellent, 2 very good,
    # 3 good, 4 fair, 5 poor; 7 refused, 9 don't know; "." missing.
    "HUQ010": Item(frozenset({1, 2, 3, 4, 5}), (7, 9)),
    # Further confounders (sensitivity analysis), codebooks_1999_2008/<table>.md:
    # HIQ "Covered by health insurance": HID010 (HIQ, HIQ_B, HIQ_C), HIQ011 (HIQ_D, HIQ_E; "comparable to
    # HID010"), 1 yes 2 no 7/9.
    "HID010": YES_NO, "HIQ011": YES_NO,
    # MCQ220 ever told cancer or malignancy; MCQ160G emphysema; MCQ160K chronic bronchitis (all cycles).
    "MCQ220": YES_NO, "MCQ160G": YES_NO, "MCQ160K": YES_NO,
    # ALQ: at least 12 drinks in any one year (ALQ100 1999-2000, ALD100 2001-2002, ALQ101 2003-2008), in the
    # whole life (ALQ110), 1 yes 2 no 7/9; ALQ120Q how often in the past 12 months, 0-365, 777/999.
    "ALQ100": YES_NO, "ALD100": YES_NO, "ALQ101": YES_NO, "ALQ110": YES_NO,
    "ALQ120Q": Item((0, 365), (777, 999)),
    # PAQ: PAD200 vigorous / PAD320 moderate activity over the past 30 days (1999-2006; 1 yes, 2 no, 3 unable
    # to do activity, 7/9); PAQ650 vigorous / PAQ665 moderate recreational activities (2007-2008, 1 yes 2 no 7/9).
    "PAD200": YES_NO_3, "PAD320": YES_NO_3, "PAQ650": YES_NO, "PAQ665": YES_NO,
}

# Items of the further confounders whose names changed between cycles.
ALCOHOL_12_YEAR = {"1999-2000": "ALQ100", "2001-2002": "ALD100", "2003-2004": "ALQ101", "2005-2006": "ALQ101",
                   "2007-2008": "ALQ101"}
INSURANCE = {"1999-2000": "HID010", "2001-2002": "HID010", "2003-2004": "HID010", "2005-2006": "HIQ011",
             "2007-2008": "HIQ011"}
#: (vigorous, moderate) leisure-time activity items: past 30 days to 2005-2006, the GPAQ in 2007-2008.
LEISURE_ACTIVITY = {"1999-2000": ("PAD200", "PAD320"), "2001-2002": ("PAD200", "PAD320"),
                    "2003-2004": ("PAD200", "PAD320"), "2005-2006": ("PAD200", "PAD320"),
                    "2007-2008": ("PAQ650", "PAQ665")}

# Social-support items by cycle: the concept is the same, the variable name changed.
SSQ_NAMES = {
    "1999-2000": {"emotional": "SSQ010", "needed_more": "SSQ030", "financial": "SSQ050", "friends": "SSQ060"},
    "2001-2002": {"emotional": "SSD011", "needed_more": "SSD031", "financial": "SSD051", "friends": "SSD061"},
    "2003-2004": {"emotional": "SSQ011", "needed_more": "SSQ031", "financial": "SSQ051", "friends": "SSQ061"},
    "2005-2006": {"emotional": "SSQ011", "needed_more": "SSQ031", "financial": "SSQ051", "friends": "SSQ061",
                  "religious": "SSD044"},
    "2007-2008": {"emotional": "SSQ011", "needed_more": "SSQ031", "financial": "SSQ051", "friends": "SSQ061",
                  "religious": "SSD044"},
}


# ---------------------------------------------------------------------------------------------
# Readers


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one NHANES table from ``.XPT`` (CDC) or ``.csv``/``.csv.xz`` (mirror) to one layout."""
    path = Path(path)
    name = path.name.lower()
    try:
        if name.endswith(".xpt"):
            frame = pd.read_sas(path, format="xport", encoding="latin-1")
        elif name.endswith(".csv") or name.endswith(".csv.xz"):
            frame = pd.read_csv(path, low_memory=False)
        else:
            raise SourceDataError(f"{path}: unknown NHANES file type (expected .XPT, .csv or .csv.xz)")
    except (ValueError, OSError, EOFError) as err:
        if isinstance(err, SourceDataError):
            raise
        raise SourceDataError(f"{path}: cannot be read as an NHANES table ({err})") from err
    return normalise_table(frame, path)


def normalise_table(frame: pd.DataFrame, path: str | Path = "<table>") -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [str(c).upper() for c in frame.columns]
    if "SEQN" not in frame.columns:
        raise SourceDataError(f"{path}: column SEQN is missing (found {list(frame.columns)[:8]}...)")
    for col in frame.columns:
        s = frame[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            s = s.astype("string").str.strip().replace("", pd.NA)
            numeric = pd.to_numeric(s, errors="coerce")
            # a text column stays text; a numeric column that came as text becomes numbers
            frame[col] = numeric.astype("float64") if numeric.notna().sum() == s.notna().sum() else s
        else:
            values = s.astype("float64")
            values = values.mask(values.abs() < 1e-70, 0.0)  # SAS XPT writes 0 as 5.4e-79
            frame[col] = values
    seqn = frame["SEQN"]
    if seqn.isna().any() or (seqn % 1 != 0).any():
        bad = seqn[seqn.isna() | (seqn % 1 != 0)].iloc[0]
        raise SourceDataError(f"{path}: column SEQN has a non-integer value {bad!r}")
    frame["SEQN"] = seqn.astype("int64")
    if frame["SEQN"].duplicated().any():
        dup = frame.loc[frame["SEQN"].duplicated(), "SEQN"].iloc[0]
        raise SourceDataError(f"{path}: column SEQN has a duplicated value {dup}")
    return frame.reset_index(drop=True)


# Public-use LMF layout (NCHS "Public-use Linked Mortality Files data dictionary"), 1-based columns.
LMF_LAYOUT = (
    ("SEQN", 1, 14),
    ("ELIGSTAT", 15, 15),
    ("MORTSTAT", 16, 16),
    ("UCOD_LEADING", 17, 19),
    ("DIABETES", 20, 20),
    ("HYPERTEN", 21, 21),
    ("PERMTH_INT", 43, 45),
    ("PERMTH_EXM", 46, 48),
)
LMF_VALID = {
    "ELIGSTAT": {"1", "2", "3"},
    "MORTSTAT": {"0", "1"},
    "UCOD_LEADING": {f"{i:03d}" for i in range(1, 11)},
    "DIABETES": {"0", "1"},
    "HYPERTEN": {"0", "1"},
}


def read_lmf(path: str | Path) -> pd.DataFrame:
    """Read a public-use Linked Mortality File by column position (values are left-justified and
    trailing blanks trimmed, so splitting on spaces would misplace fields).

    "." or blank -> missing. Returns SEQN (int), ELIGSTAT, MORTSTAT (float codes), UCOD_LEADING
    (3-character string), DIABETES, HYPERTEN, PERMTH_INT, PERMTH_EXM (float months).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (UnicodeDecodeError, OSError) as err:
        raise SourceDataError(f"{path}: not a readable ASCII linked mortality file ({err})") from err
    if not lines:
        raise SourceDataError(f"{path}: the file is empty")
    rows = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) > 48:
            raise SourceDataError(f"{path}, line {lineno}: {len(line)} characters; the LMF layout has 48")
        padded = line.ljust(48)
        rows.append([padded[a - 1:b].strip() for _, a, b in LMF_LAYOUT])
    raw = pd.DataFrame(rows, columns=[n for n, _, _ in LMF_LAYOUT])
    out = pd.DataFrame(index=raw.index)
    for col in raw.columns:
        vals = raw[col].replace({"": None, ".": None})
        if col in LMF_VALID:
            bad = vals.notna() & ~vals.isin(LMF_VALID[col])
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise SourceDataError(f"{path}, line {i + 1}: column {col} has the undocumented value {vals[i]!r}")
        if col == "UCOD_LEADING":
            out[col] = vals.astype("string")
            continue
        num = pd.to_numeric(vals, errors="coerce")
        bad = vals.notna() & num.isna()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SourceDataError(f"{path}, line {i + 1}: column {col} has the non-numeric value {vals[i]!r}")
        out[col] = num.astype("float64")
    if out["SEQN"].isna().any():
        i = int(np.flatnonzero(out["SEQN"].isna())[0])
        raise SourceDataError(f"{path}, line {i + 1}: column SEQN is blank")
    out["SEQN"] = out["SEQN"].astype("int64")
    return out


# ---------------------------------------------------------------------------------------------
# Recoding


def recode(frame: pd.DataFrame, column: str, source: str | Path = "<table>") -> pd.Series:
    """The column's values with the codebook's missing codes as NaN.

    Raises SourceDataError naming the file, column and value for any code the codebook does not
    document (a new release, a misread file, or a shifted column).
    """
    if column not in frame.columns:
        raise SourceDataError(f"{source}: column {column} is missing")
    item = CODEBOOK.get(column)
    values = frame[column].astype("float64")
    if item is None:
        return values
    values = values.mask(values.isin(item.missing))
    bad = values.notna() & ~item.is_valid(values)
    if bad.any():
        value = values[bad].iloc[0]
        seqn = frame.loc[bad, "SEQN"].iloc[0] if "SEQN" in frame else "?"
        raise SourceDataError(
            f"{source}: column {column} has the value {value:g} (SEQN {seqn}), which the NHANES "
            f"codebook does not document for {column}"
        )
    return values


def table_path(raw_dir: str | Path, table: str, cycle: str) -> Path:
    """The fetched file of one table and cycle in ``raw_dir`` (XPT or csv.xz, whichever is there)."""
    stem = f"{table}{CYCLE_SUFFIX[cycle]}"
    for ext in (".XPT", ".xpt", ".csv.xz", ".csv"):
        candidate = Path(raw_dir) / f"{stem}{ext}"
        if candidate.exists():
            return candidate
    raise SourceDataError(f"{Path(raw_dir) / stem}.XPT (or .csv.xz): not found; run the fetch stage first")


def lmf_path(raw_dir: str | Path, cycle: str) -> Path:
    path = Path(raw_dir) / f"NHANES_{cycle.replace('-', '_')}_MORT_2019_PUBLIC.dat"
    if not path.exists():
        raise SourceDataError(f"{path}: not found; run the fetch stage first")
    return path


def stage() -> str:
    """DVC stage ``fetch_nhanes``: the study's public files into ``data/raw/nhanes`` (mirror or publishers)."""
    return fetch_study("nhanes", ["nhanes", "nhanes_mortality"])
