"""Clean stage, ageing cohorts: RAND-style wide files -> one validated long person-wave panel.

For every study of ``params.yaml`` ``cohorts.studies`` with a ``path`` (the restricted files users hold)
and for the SYNTHETIC cohort, :func:`build_cohort_panel` reads the needed columns of the wide file
(:mod:`analysis.studies.cohorts.source`), turns it into one row per person and wave in the sample, and derives
the measures (every rule below is also in :mod:`analysis.studies.cohorts.schema` and the data dictionary):

* **Depressive symptoms**: the study's score as published (HRS and ELSA: 8-item CES-D, 0-8, RAND
  ``r{w}cesd``; SHARE: EURO-D 0-12; CHARLS: CES-D 10, 0-30; the scales differ, so the study block names
  its range and caseness cut-off: CES-D 8 >= 4, Steffick 2000, HRS documentation report DR-005; EURO-D >= 4,
  Prince et al. 1999; CES-D 10 >= 10, Andresen et al. 1994). A value outside the range is an error.
* **Social isolation** (Steptoe et al. 2013): ``cohorts.isolation_index``, one point per missing tie
  (not partnered from ``r{w}mstat``; less than monthly contact with children, other family, friends; no
  group participation), built with the project's index machinery (:func:`analysis.core.index.build_index`).
* **Loneliness**: the 3-item UCLA scale (Hughes et al. 2004), sum of items coded 1-3 (3-9).
* **Incident heart disease, stroke, CVD**: the first wave reporting the condition after an earlier
  interview that reported none (RAND ``r{w}hearte``, ``r{w}stroke``: "ever told"). A first-known report of
  yes is prevalent, not incident.
* **Death**: ``radyear``/``radmonth`` as months since January of the study's first wave year.

Survey missing codes are never numbers: Stata extended missing values (``.d``, ``.r``, ``.m``) are read as
missing, and a code outside an item's documented values is an error naming the file, column and value.
Outputs besides the panel: a flow table (persons and person-waves at each step, per study), a study
status table (configured or not, file checksum, persons) and a coverage table (which variable is in which
wave of each file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.core import config, io
from analysis.core.config import validate_index_spec
from analysis.core.contract import CleaningError, finish_table, validate_table
from analysis.core.fetch import sha256_of
from analysis.core.index import at_or_above, build_index, group_index
from analysis.studies.cohorts.schema import (
    cohort_data_dictionary,
    cohort_panel_schema,
    cohort_variables,
)
from analysis.studies.cohorts.source import CohortFileError, check_file, file_columns, read_wide

#: Time-invariant variables (``cohorts.variables`` keys) and the wave-varying ones.
PERSON_VARIABLES = ("id", "sex", "birth_year", "education_years", "death_year", "death_month")
WAVE_VARIABLES = ("interview_status", "interview_year", "interview_month", "age", "marital_status", "depression",
                  "heart", "stroke", "contact_children", "contact_family", "contact_friends", "groups")
#: Needed at every wave of the wave map (the rest: at one wave at least; absent waves are missing).
EVERY_WAVE = ("interview_status", "depression")
BINARY_ITEMS = ("contact_children", "contact_family", "contact_friends", "groups")
SYNTHETIC = "synthetic"
STATUS_COLUMNS = ["study", "label", "status", "restricted", "path", "sha256", "persons", "person_waves_interviewed",
                  "note"]


def is_restricted(key: str, spec: dict[str, Any]) -> bool:
    """A cohort study is restricted (conditions of use: no individual rows, small cells suppressed) unless
    its spec says ``restricted: false``; the SYNTHETIC cohort never is (params.yaml ``disclosure``)."""
    return key != SYNTHETIC and bool(spec.get("restricted", True))


def restricted_studies(status: pd.DataFrame) -> set[str]:
    """Keys and labels of the studies the status table (``cohorts_studies.csv``) marks restricted; the flag
    may come back from CSV as a bool or as text."""
    if "restricted" not in status:
        return set()
    rows = status.loc[status["restricted"].astype(str).str.lower() == "true"]
    return set(rows["study"]) | set(rows["label"])


def study_specs(cohorts: dict[str, Any], synthetic_path: Path | None) -> dict[str, dict[str, Any]]:
    """Every study to consider: the configured ones (path may be null) and the SYNTHETIC cohort."""
    out = {}
    for key, spec in (cohorts.get("studies") or {}).items():
        out[key] = dict(spec or {})
    syn = cohorts.get("synthetic") or {}
    if synthetic_path is not None:
        first = int(syn.get("first_year", 1992))
        out[SYNTHETIC] = {"label": syn.get("label", "SYNTHETIC cohort"), "path": str(synthetic_path),
                          "waves": {w: first + 2 * (w - 1) for w in range(1, int(syn.get("waves", 14)) + 1)},
                          "depression": syn.get("depression"), "variables": {}}
    return out


def _templates(cohorts: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    merged = dict(cohorts.get("variables") or {})
    merged.update(spec.get("variables") or {})
    return merged


def _column_plan(templates: dict[str, Any], waves: list[int], available: set[str]
                 ) -> tuple[dict[str, str], dict[tuple[str, int], str], pd.DataFrame]:
    """Which file columns to read: person-level names, (variable, wave) -> column, and a coverage table."""
    person = {k: str(templates[k]) for k in PERSON_VARIABLES if templates.get(k)}
    wave_cols: dict[tuple[str, int], str] = {}
    coverage = []
    lone = list(templates.get("loneliness_items") or [])
    names = [(k, str(templates[k])) for k in WAVE_VARIABLES if templates.get(k)]
    names += [(f"loneliness_item_{i + 1}", str(t)) for i, t in enumerate(lone)]
    for key, template in names:
        for w in waves:
            column = template.format(w=w)
            present = column.lower() in available
            coverage.append({"variable": key, "template": template, "wave": w, "column": column,
                             "present": present})
            if present:
                wave_cols[(key, w)] = column
    return person, wave_cols, pd.DataFrame(coverage)


def _check_codes(values: pd.Series, allowed: set[float], path: Path, column: str) -> None:
    bad = values.notna() & ~values.isin(list(allowed))
    if bad.any():
        raise CleaningError(f"{path}: column {column} has the value {values[bad].iloc[0]:g}, not one of its "
                            f"documented codes {sorted(allowed)} (missing codes must be Stata missing values)")


def _check_range(values: pd.Series, low: float, high: float, path: Path, column: str, what: str) -> None:
    bad = values.notna() & ((values < low) | (values > high))
    if bad.any():
        raise CleaningError(f"{path}: column {column} has the value {values[bad].iloc[0]:g}, outside the "
                            f"{what} range {low:g}-{high:g}")


def _incident(ever: pd.Series, person: pd.Series) -> pd.Series:
    """1 at the first report after an earlier known 'no', 0 while still 'no' after one, else missing.

    ``ever`` must be sorted by person and wave. The previous known answer is carried over waves where the
    item is missing; a person's first known answer (and every wave after a first 'yes') is missing.
    """
    previous = ever.groupby(person).ffill().groupby(person).shift(1)
    first_yes = ever.eq(1).astype(int).groupby(person).cumsum()
    already = (first_yes - ever.eq(1).astype(int)) > 0  # a yes at an earlier wave
    out = pd.Series(np.nan, index=ever.index)
    known = ever.notna() & previous.eq(0) & ~already
    out[known] = ever[known]
    return out


def _months(year: pd.Series, month: pd.Series, first_year: int) -> pd.Series:
    return (year - first_year) * 12 + month.fillna(6) - 1


def build_study_panel(key: str, spec: dict[str, Any], cohorts: dict[str, Any]
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One study's file -> (long panel rows, flow rows, coverage rows). Raises on a bad file or spec."""
    where = f"params.yaml cohorts.studies.{key}.path" if key != SYNTHETIC else "the synthetic_cohort stage output"
    path = check_file(spec.get("path"), where)
    waves_map = {int(w): int(y) for w, y in (spec.get("waves") or {}).items()}
    if not waves_map:
        raise CleaningError(f"params.yaml cohorts.studies.{key}.waves is empty: map each wave to its year")
    depression = spec.get("depression") or {}
    for k in ("min", "max", "cutoff"):
        if k not in depression:
            raise CleaningError(f"params.yaml cohorts.studies.{key}.depression needs '{k}' (the score's range and "
                                "caseness cut-off)")
    templates = _templates(cohorts, spec)
    waves = sorted(waves_map)
    first_year = waves_map[waves[0]]

    available = {c.lower() for c in file_columns(path)}
    person_cols, wave_cols, coverage = _column_plan(templates, waves, available)
    for k in ("id", "sex", "birth_year", "death_year"):
        if k not in person_cols:
            raise CleaningError(f"params.yaml cohorts.variables.{k} is not set")
    for variable in EVERY_WAVE:
        absent = [w for w in waves if (variable, w) not in wave_cols]
        if absent:
            column = str(templates[variable]).format(w=absent[0])
            raise CohortFileError(f"the file {path} ({key}) lacks the variable {column} "
                                  f"(cohorts.variables.{variable}) needed at every wave; waves without it: {absent}")
    for variable in coverage["variable"].unique():
        if not coverage.loc[coverage["variable"] == variable, "present"].any():
            template = coverage.loc[coverage["variable"] == variable, "template"].iloc[0]
            raise CohortFileError(f"the file {path} ({key}) lacks the variable {template} "
                                  f"(cohorts.variables, '{variable}') at every wave {waves[0]}-{waves[-1]}")
    needed = list(dict.fromkeys([*person_cols.values(), *wave_cols.values()]))
    wide = read_wide(path, needed, id_column=person_cols["id"], study=spec.get("label", key))
    if wide[person_cols["id"]].duplicated().any():
        dup = wide.loc[wide[person_cols["id"]].duplicated(), person_cols["id"]].iloc[0]
        raise CleaningError(f"{path}: the id column {person_cols['id']} repeats the value {dup!r}: one row per person")

    codes = cohorts.get("condition_codes") or {}
    if any(isinstance(k, bool) for k in codes):
        raise CleaningError("params.yaml cohorts.condition_codes: write the keys as 'present' and 'absent' (YAML "
                            "reads a bare yes/no as true/false)")
    yes, no = (set(map(float, codes.get(k, d))) for k, d in (("present", [1]), ("absent", [0])))
    partnered_codes = set(map(float, cohorts.get("partnered_codes", [1, 2, 3])))
    sex = wide[person_cols["sex"]]
    _check_codes(sex, {1.0, 2.0}, path, person_cols["sex"])
    person = pd.DataFrame({
        "person_id": wide[person_cols["id"]].astype(str).str.replace(r"\.0$", "", regex=True),
        "female": (sex == 2).astype(float).where(sex.notna()),
        "birth_year": wide[person_cols["birth_year"]],
        "education_years": wide[person_cols["education_years"]] if "education_years" in person_cols else np.nan,
        "death_year": wide[person_cols["death_year"]],
        "death_month": wide[person_cols["death_month"]] if "death_month" in person_cols else np.nan,
    })
    if "education_years" in person_cols:
        _check_range(person["education_years"], 0, 30, path, person_cols["education_years"], "years of education")
    _check_range(person["death_month"], 1, 12, path, person_cols.get("death_month", "death month"), "month")

    frames = []
    for w in waves:
        def col(variable: str) -> pd.Series:
            column = wave_cols.get((variable, w))
            return wide[column] if column else pd.Series(np.nan, index=wide.index)

        status = col("interview_status")
        _check_codes(status, {0.0, 1.0, 4.0, 5.0, 6.0, 7.0, 9.0}, path, wave_cols[("interview_status", w)])
        frame = person[["person_id"]].copy()
        frame["wave"], frame["year"], frame["interview_status"] = w, waves_map[w], status
        for variable in ("interview_year", "interview_month", "age", "marital_status", "depression", "heart",
                         "stroke", *BINARY_ITEMS):
            frame[variable] = col(variable)
        for i in range(len(templates.get("loneliness_items") or [])):
            frame[f"loneliness_item_{i + 1}"] = col(f"loneliness_item_{i + 1}")
        for variable in ("marital_status", "heart", "stroke", *BINARY_ITEMS):
            allowed = {"marital_status": set(map(float, range(1, 9))), "heart": yes | no, "stroke": yes | no}
            if (variable, w) in wave_cols:
                _check_codes(frame[variable], allowed.get(variable, {0.0, 1.0}), path, wave_cols[(variable, w)])
        for i in range(len(templates.get("loneliness_items") or [])):
            if (f"loneliness_item_{i + 1}", w) in wave_cols:
                _check_codes(frame[f"loneliness_item_{i + 1}"], {1.0, 2.0, 3.0}, path,
                             wave_cols[(f"loneliness_item_{i + 1}", w)])
        if (("depression", w)) in wave_cols:
            _check_range(frame["depression"], depression["min"], depression["max"], path, wave_cols[("depression", w)],
                         f"{depression.get('label', 'depression score')}")
        frames.append(frame.loc[status.fillna(0) != 0])
    long = pd.concat(frames, ignore_index=True).merge(person.drop(columns="person_id").assign(
        person_id=person["person_id"]), on="person_id", how="left")
    long = long.sort_values(["person_id", "wave"], kind="stable").reset_index(drop=True)

    interviewed = long["interview_status"] == 1
    out = pd.DataFrame({"study": key, "person_id": long["person_id"], "wave": long["wave"], "year": long["year"],
                        "interview_status": long["interview_status"], "interviewed": interviewed.astype(float)})
    measured = lambda s: s.where(interviewed)  # noqa: E731 - measures exist only at interviews
    year = long["interview_year"].where(long["interview_year"].notna(), long["year"])
    out["months"] = measured(_months(year, long["interview_month"], first_year))
    age = long["age"].where(long["age"].notna(), long["year"] - long["birth_year"])
    out["age"] = measured(age)
    out["age_baseline"] = out["age"].groupby(out["person_id"]).transform("first")
    out["female"] = long["female"]
    out["education_years"] = long["education_years"]
    out["partnered"] = measured(long["marital_status"].isin(list(partnered_codes)).astype(float)
                                .where(long["marital_status"].notna()))
    for item in BINARY_ITEMS:
        out[item] = measured(long[item])
    index_spec = cohorts["isolation_index"]
    validate_index_spec("cohorts.isolation_index", index_spec)
    out["isolation_index"] = build_index(out, index_spec, "cohorts.isolation_index")
    out["isolation_group"] = group_index(out["isolation_index"], index_spec["groups"])
    items = [c for c in long.columns if c.startswith("loneliness_item_")]
    out["loneliness"] = measured(long[items].sum(axis=1, min_count=len(items))) if items else np.nan
    out["lonely"] = (out["loneliness"] >= float(cohorts.get("loneliness_lonely_cutoff", 6))).astype(float).where(
        out["loneliness"].notna())
    out["depression_score"] = measured(long["depression"])
    out["depressed"] = at_or_above(out["depression_score"], float(depression["cutoff"]))
    code = lambda s: pd.Series(np.where(s.isin(list(yes)), 1.0, np.where(s.isin(list(no)), 0.0, np.nan)),  # noqa: E731
                               index=s.index)
    out["heart_ever"] = measured(code(long["heart"]))
    out["stroke_ever"] = measured(code(long["stroke"]))
    either = out[["heart_ever", "stroke_ever"]]
    out["cvd_ever"] = np.where(either.eq(1).any(axis=1), 1.0, np.where(either.eq(0).all(axis=1), 0.0, np.nan))
    for condition in ("heart", "stroke", "cvd"):
        out[f"incident_{condition}"] = _incident(out[f"{condition}_ever"], out["person_id"])
    out["died"] = long["death_year"].notna().astype(float)
    out["death_months"] = _months(long["death_year"], long["death_month"], first_year)

    persons = out.groupby("person_id")
    flow = pd.DataFrame([
        {"step": "persons in the file", "n": len(wide)},
        {"step": "persons interviewed at least once", "n": int(persons["interviewed"].max().sum())},
        {"step": "person-waves interviewed", "n": int(interviewed.sum())},
        {"step": "person-waves with a depression score", "n": int(out["depression_score"].notna().sum())},
        {"step": "person-waves with the isolation index", "n": int(out["isolation_index"].notna().sum())},
        {"step": "person-waves with loneliness", "n": int(out["loneliness"].notna().sum())},
        {"step": "persons free of CVD at their first report", "n": int(
            out.dropna(subset=["cvd_ever"]).groupby("person_id")["cvd_ever"].first().eq(0).sum())},
        {"step": "new CVD reports", "n": int(out["incident_cvd"].eq(1).sum())},
        {"step": "deaths (any time)", "n": int(persons["died"].first().sum())},
    ])
    flow.insert(0, "study", key)
    coverage.insert(0, "study", key)
    return out, flow, coverage


def build_cohort_panel(cohorts: dict[str, Any], synthetic_path: str | Path | None
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every configured study and the SYNTHETIC cohort -> (panel, flow, study status, coverage).

    A study with ``path: null`` is listed as "not configured" in the status table and skipped. A study
    whose path is set but whose file is missing, is the wrong study's or lacks a variable raises (the
    user asked for it): the error names the file and the variable.
    """
    specs = study_specs(cohorts, Path(synthetic_path) if synthetic_path else None)
    panels, flows, coverages, status = [], [], [], []
    for key, spec in specs.items():
        label = spec.get("label", key)
        if spec.get("path") in (None, ""):
            status.append({"study": key, "label": label, "status": "not configured",
                           "restricted": is_restricted(key, spec), "path": "", "sha256": "",
                           "persons": 0, "person_waves_interviewed": 0,
                           "note": f"restricted file not configured: set params.yaml cohorts.studies.{key}.path"})
            continue
        panel, flow, coverage = build_study_panel(key, spec, cohorts)
        panels.append(panel)
        flows.append(flow)
        coverages.append(coverage)
        path = Path(spec["path"]).expanduser()
        status.append({"study": key, "label": label, "status": "ran", "restricted": is_restricted(key, spec),
                       "path": str(path), "sha256": sha256_of(path), "persons": int(panel["person_id"].nunique()),
                       "person_waves_interviewed": int(panel["interviewed"].sum()),
                       "note": "SYNTHETIC: simulated from params.yaml cohorts.synthetic, not real people"
                       if key == SYNTHETIC else "user's restricted file (not redistributed)"})
    if not panels:
        raise CleaningError("no cohort to clean: the synthetic cohort is missing and no study has a path")
    table = pd.concat(panels, ignore_index=True)
    variables = cohort_variables(tuple(g["label"] for g in cohorts["isolation_index"]["groups"]))
    table = validate_table(finish_table(table, variables), cohort_panel_schema(variables), "cohort panel")
    return (table, pd.concat(flows, ignore_index=True), pd.DataFrame(status, columns=STATUS_COLUMNS),
            pd.concat(coverages, ignore_index=True))


__all__ = ["build_cohort_panel", "build_study_panel", "study_specs", "cohort_panel_schema", "CleaningError",
           "CohortFileError", "is_restricted", "restricted_studies"]


def stage() -> str:
    """DVC stage ``clean_cohorts``: the person-wave panel of every configured study plus the SYNTHETIC one."""
    cohorts = config.load_params()["cohorts"]
    panel, flow, status, coverage = build_cohort_panel(cohorts, config.RAW / "cohorts" / "synthetic_rand.dta")
    io.write_outputs({config.PROCESSED / "cohorts_panel.parquet": panel, config.PROCESSED / "cohorts_flow.csv": flow,
                      config.PROCESSED / "cohorts_studies.csv": status,
                      config.PROCESSED / "cohorts_coverage.csv": coverage,
                      config.PROCESSED / "cohorts_data_dictionary.csv": cohort_data_dictionary(panel)})
    ran = ", ".join(status.loc[status["status"] == "ran", "study"])
    return f"cohort panel: {len(panel):,} person-waves; studies run: {ran}"
