"""Helpers for the ageing-cohort tests: tiny hand-built RAND-layout wide files and study specs.

A hand person is a dict of its time-invariant RAND variables and, per wave, the wave-varying ones. A wave
given as ``{"iwstat": 4}`` (or 0, 5, 6) has no interview: every other variable of that wave is system
missing, as in the RAND file. An interviewed wave (``iwstat`` 1) starts from :data:`INTERVIEWED` and
overrides what it names; ``"d"`` / ``"r"`` are written as Stata extended missing ``.d`` (don't know) /
``.r`` (refused), exactly as :func:`analysis.studies.cohorts.synthetic.write_synthetic` does, and ``None`` is system
missing.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.core.settings import validate
from analysis.studies.cohorts.settings import CohortsSettings

PERSON_COLUMNS = ("hhidpn", "ragender", "rabyear", "raedyrs", "radyear", "radmonth")
WAVE_COLUMNS = ("iwstat", "iwendy", "iwendm", "agey_e", "mstat", "cesd", "hearte", "stroke", "kcntm", "rcntm",
                "fcntm", "socyr", "complac", "leftout", "isolate")
#: A complete interview: married, monthly contact everywhere, groups, not lonely, CES-D 2, no CVD.
INTERVIEWED = {"iwstat": 1, "iwendm": 6, "mstat": 1, "cesd": 2, "hearte": 0, "stroke": 0, "kcntm": 1, "rcntm": 1,
               "fcntm": 1, "socyr": 1, "complac": 1, "leftout": 1, "isolate": 1}
#: The hand files' wave map: wave -> year the wave started.
WAVES = {1: 2000, 2: 2002, 3: 2004}
CESD = {"label": "CES-D (8 items, 0-8)", "min": 0, "max": 8, "cutoff": 4}


def wide_frame(persons: list[dict[str, Any]], waves: dict[int, int] = WAVES) -> pd.DataFrame:
    """The wide RAND-layout frame of hand persons (object columns where a ``"d"``/``"r"`` code occurs)."""
    rows = []
    for person in persons:
        row: dict[str, Any] = {c: person.get(c) for c in PERSON_COLUMNS}
        for w in waves:
            given = dict(person["waves"].get(w, {"iwstat": 0}))
            values = {**INTERVIEWED, "iwendy": waves[w], **given} if given.get("iwstat") == 1 else given
            for name in WAVE_COLUMNS:
                row[f"r{w}{name}"] = values.get(name)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        values = frame[column]
        if values.map(lambda v: isinstance(v, str)).any():  # numbers as floats (pyreadstat writes doubles)
            frame[column] = values.map(lambda v: v if isinstance(v, str) else np.nan if v is None else float(v)
                                       ).astype(object)
        else:
            frame[column] = pd.to_numeric(values.map(lambda v: np.nan if v is None else v), errors="raise"
                                          ).astype(float)
    return frame


def write_dta(frame: pd.DataFrame, path: Path, label: str = "hand-built test file") -> Path:
    """Write ``frame`` as Stata .dta with ``"d"``/``"r"`` as extended missing values (as write_synthetic).

    An object column of floats and codes is stored as double; one of Python ints and codes as int32.
    """
    import pyreadstat

    coded = [c for c in frame.columns if frame[c].dtype == object]
    pyreadstat.write_dta(frame, str(path), file_label=label, missing_user_values={c: ["d", "r"] for c in coded})
    return path


def without_codes(frame: pd.DataFrame, code: float | None = None) -> pd.DataFrame:
    """``frame`` with the ``"d"``/``"r"`` codes as NaN (or as the number ``code``), every column float."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(lambda v: (np.nan if code is None else code) if isinstance(v, str) else v
                                          ).astype(float)
    return out


def study_block(path: Path | str | None, waves: dict[int, int] = WAVES, **extra: Any) -> dict[str, Any]:
    """A study block as written in ``params.yaml`` ``cohorts.studies`` for a hand file (plain YAML values)."""
    return {"label": "HAND test study", "path": None if path is None else str(path), "waves": dict(waves),
            "depression": dict(CESD), "variables": {}, **extra}


def cohorts_params(raw_params: dict[str, Any]) -> dict[str, Any]:
    """A private deep copy of params.yaml's ``cohorts:`` block as plain YAML values (tests may change it)."""
    return copy.deepcopy(raw_params["cohorts"])


def cohorts_settings(cohorts: dict[str, Any]) -> CohortsSettings:
    """A ``cohorts:`` block (plain YAML values, e.g. an edited :func:`cohorts_params`) validated by the schema."""
    return validate(CohortsSettings, cohorts, "cohorts")


def with_study(cohorts: dict[str, Any], key: str, block: dict[str, Any]) -> CohortsSettings:
    """The ``cohorts:`` block with ``studies.<key>`` replaced by ``block``, validated: the study's settings
    (``.studies[key]``) and its index (``.isolation_index_of(key)``) are then those of ``block``, as in the
    pipeline, which builds every study from its own block."""
    return cohorts_settings({**cohorts, "studies": {**cohorts.get("studies", {}), key: block}})
