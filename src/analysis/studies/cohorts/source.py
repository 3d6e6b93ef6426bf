"""Read a RAND-style wide cohort file (RAND HRS, Gateway H_ELSA/H_SHARE/H_CHARLS, or the SYNTHETIC cohort).

The files are wide: one row per respondent, time-invariant variables with an ``ra`` prefix (``ragender``,
``rabyear``, ``radyear``...) and one column per wave for the rest, ``r{w}`` respondent, ``s{w}`` spouse and
``h{w}`` household (``r5cesd`` is the respondent's CES-D at wave 5). The RAND HRS file has over 15,000
columns and weighs about 1.7 GB, so only the columns a study needs are read: their names are checked
against the file's metadata first, and a missing one is reported with the file's name before any data is
read.

Formats: Stata ``.dta`` (as RAND and the Gateway distribute them), SPSS ``.sav``, and ``.parquet``/``.csv``
copies. Stata extended missing values (``.d`` don't know, ``.r`` refused, ``.m`` missing, ...) and SPSS
user-missing values are read as missing, never as numbers. Column names are matched case-insensitively
(RAND's SAS release uses upper case).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.core import io

#: Id column of each harmonised study: a file with another study's id is the wrong file.
STUDY_IDS = {"hhidpn": "HRS", "idauniq": "ELSA", "mergeid": "SHARE", "id": "CHARLS"}
FORMATS = (".dta", ".sav", ".parquet", ".csv")


class CohortFileError(ValueError):
    """A cohort file is missing, unreadable, the wrong study's, or lacks a needed variable."""


def file_columns(path: Path) -> list[str]:
    """The column names of a wide file, read from its metadata only."""
    suffix = path.suffix.lower()
    if suffix in (".dta", ".sav"):
        import pyreadstat

        reader = pyreadstat.read_dta if suffix == ".dta" else pyreadstat.read_sav
        _, meta = reader(str(path), metadataonly=True)
        return list(meta.column_names)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return list(pd.read_csv(path, nrows=0).columns)


def check_file(path: str | Path | None, where: str) -> Path:
    """The path as a Path; a clear error when it is not set, does not exist, or has an unknown format."""
    if path in (None, ""):
        raise CohortFileError(f"no file configured ({where} is null)")
    p = Path(path).expanduser()
    if not p.is_file():
        raise CohortFileError(f"the file {p} ({where}) does not exist or is not a file")
    if p.suffix.lower() not in FORMATS:
        raise CohortFileError(f"the file {p} ({where}) has the extension '{p.suffix}'; read are {list(FORMATS)}")
    return p


def read_wide(path: Path, columns: list[str], *, id_column: str, study: str) -> pd.DataFrame:
    """Read ``columns`` (names as configured, any case) from a wide file; return them under those names.

    Raises :class:`CohortFileError` naming the file when the id column is absent (with the study whose id
    the file has, if any) or when any requested column is absent.
    """
    available = file_columns(path)
    by_lower = {c.lower(): c for c in available}
    if id_column.lower() not in by_lower:
        other = [STUDY_IDS[c.lower()] for c in available if c.lower() in STUDY_IDS]
        hint = f"; it has {other[0]}'s id column, so it looks like the {other[0]} file" if other else ""
        raise CohortFileError(f"the file {path} has no id column '{id_column}': is it the {study} file{hint}? "
                              "Check the study's path and `variables.id` in params.yaml cohorts")
    missing = [c for c in columns if c.lower() not in by_lower]
    if missing:
        shown = ", ".join(missing[:12]) + (f" and {len(missing) - 12} more" if len(missing) > 12 else "")
        raise CohortFileError(f"the file {path} ({study}) lacks the variable(s) {shown}; fix the names in "
                              "params.yaml cohorts.variables (or the study's `variables`) or use a file that has them")
    actual = [by_lower[c.lower()] for c in columns]
    suffix = path.suffix.lower()
    if suffix in (".dta", ".sav"):
        import pyreadstat

        reader = pyreadstat.read_dta if suffix == ".dta" else pyreadstat.read_sav
        frame, _ = reader(str(path), usecols=actual, user_missing=False, apply_value_formats=False)
    elif suffix == ".parquet":
        frame = io.read_parquet(path, columns=actual)
    else:
        frame = pd.read_csv(path, usecols=actual)
    return frame.loc[:, actual].set_axis(columns, axis=1)
