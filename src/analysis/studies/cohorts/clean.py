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
from analysis.core.contract import CleaningError, finish_table, validate_table
from analysis.core.fetch import sha256_of
from analysis.core.index import at_or_above, build_index, group_index
from analysis.core.settings import validate
from analysis.studies.cohorts.inputs import wave_problems
from analysis.studies.cohorts.schema import (
    cohort_data_dictionary,
    cohort_panel_schema,
    cohort_variables,
)
from analysis.studies.cohorts.settings import (
    PERSON_VARIABLES,
    SYNTHETIC,
    WAVE_VARIABLES,
    Cognition,
    CohortsSettings,
    CohortStudy,
    LonelinessItems,
    LonelinessScore,
    load,
)
from analysis.studies.cohorts.source import CohortFileError, check_file, file_columns, read_wide

#: Needed at every wave of the wave map (the rest: at one wave at least; a wave without them is missing there:
#: HRS has no CES-D at wave 1, the Leave-Behind loneliness score starts at wave 8).
EVERY_WAVE = ("interview_status",)
BINARY_ITEMS = ("contact_children", "contact_family", "contact_friends", "contact_family_friends", "groups")
#: The measures of the capability table (share of interviews at which each is observed, per study and wave).
CAPABILITY_MEASURES = ("depression_score", "loneliness", "isolation_index", "partnered", "contact_children",
                       "contact_family", "contact_friends", "contact_family_friends", "groups", "heart_ever",
                       "stroke_ever", "age", "cognition_score", "dementia")
CAPABILITY_COLUMNS = ["study", "measure", "wave", "interviews", "observed", "share_observed", "definition"]
#: How loneliness is read: 3 UCLA items coded 1 hardly ever - 3 often (Hughes et al. 2004) unless a study
#: block's ``loneliness`` says otherwise.
DEFAULT_ITEM_CODES = {1: 1, 2: 2, 3: 3}
STATUS_COLUMNS = ["study", "label", "status", "restricted", "path", "sha256", "persons", "person_waves_interviewed",
                  "note"]


def is_restricted(key: str, spec: CohortStudy) -> bool:
    """A cohort study is restricted (conditions of use: no individual rows, small cells suppressed) unless
    its spec says ``restricted: false``; the SYNTHETIC cohort never is (params.yaml ``disclosure``)."""
    return key != SYNTHETIC and spec.restricted


def restricted_studies(status: pd.DataFrame) -> set[str]:
    """Keys and labels of the studies the status table (``cohorts_studies.csv``) marks restricted; the flag
    may come back from CSV as a bool or as text."""
    if "restricted" not in status:
        return set()
    rows = status.loc[status["restricted"].astype(str).str.lower() == "true"]
    return set(rows["study"]) | set(rows["label"])


def synthetic_study(cohorts: CohortsSettings, synthetic_path: Path) -> CohortStudy:
    """The SYNTHETIC cohort as a study block: the base (RAND) layout, a wave every two years."""
    syn = cohorts.synthetic
    return validate(CohortStudy, {"label": syn.label, "path": str(synthetic_path), "restricted": False,
                                  "waves": syn.wave_years(), "depression": syn.depression.model_dump(),
                                  "cognition": syn.cognition.model_dump()},
                    "cohorts.synthetic", root="cohorts.synthetic")


def study_specs(cohorts: CohortsSettings, synthetic_path: Path | None) -> dict[str, CohortStudy]:
    """Every study to consider: the configured ones (path may be null) and the SYNTHETIC cohort."""
    out = dict(cohorts.studies)
    if synthetic_path is not None:
        out[SYNTHETIC] = synthetic_study(cohorts, synthetic_path)
    return out


def _templates(cohorts: CohortsSettings, spec: CohortStudy) -> dict[str, Any]:
    """The study's variable names: ``cohorts.variables`` overridden by the study's ``variables`` (a null
    removes a variable: the study does not have it). A study ``loneliness`` block replaces the item list."""
    merged: dict[str, Any] = dict(cohorts.variables)
    merged.update(spec.variables)
    lone = loneliness_spec(spec, merged)
    merged["loneliness_items"] = list(lone.items) if isinstance(lone, LonelinessItems) else []
    merged["loneliness_score"] = lone.score if isinstance(lone, LonelinessScore) else None
    merged["cognition_items"] = list(spec.cognition.items) if spec.cognition else []
    merged["dementia_item"] = spec.cognition.dementia_item if spec.cognition else None
    return {k: v for k, v in merged.items() if v not in (None, "", [])}


def loneliness_spec(spec: CohortStudy, templates: dict[str, Any] | None = None
                    ) -> LonelinessItems | LonelinessScore | None:
    """How the study measures loneliness: UCLA items with their codes (3 items, each recoded to 1 hardly
    ever - 3 often; HRS's Harmonized items run 1 often - 3 hardly ever and need ``codes: {1: 3, 2: 2, 3: 1}``),
    a precomputed score (RAND ``r{w}lblonely3``, Gateway ``r{w}lnlys3``, both the mean of 3 items, 1-3), or
    None when the study has no loneliness measure (``loneliness: null``). A study block without the key takes
    the base layout's ``loneliness_items`` with the codes 1-3."""
    if "loneliness" in spec.model_fields_set:
        return spec.loneliness
    items = list((templates or {}).get("loneliness_items") or [])
    return LonelinessItems(items=items, codes=dict(DEFAULT_ITEM_CODES)) if items else None


def loneliness_definition(spec: CohortStudy, templates: dict[str, Any] | None = None) -> str:
    """One line saying how the study's loneliness score was built (tables, capability table, notes)."""
    lone = loneliness_spec(spec, templates)
    if lone is None:
        return "not measured in this study's files"
    if isinstance(lone, LonelinessScore):
        times = f" x {lone.n_items} (mean of items -> 3-9 sum scale)" if lone.scale == "mean" else ""
        return f"precomputed score {lone.score} ({lone.min:g}-{lone.max:g}, {lone.scale}){times}"
    codes = {int(k): int(v) for k, v in lone.codes.items()}
    if all(k == v for k, v in codes.items()):
        coding = "each item as coded: 1 hardly ever, 2 some of the time, 3 often"
    else:  # e.g. the Harmonized HRS items, 1 often ... 3 hardly ever: reversed
        low, high = min(codes), max(codes)
        how = "reversed" if all(v == low + high - k for k, v in codes.items()) else "recoded"
        coding = (f"each item {how}, " + ", ".join(f"{k} read as {v}" for k, v in sorted(codes.items()))
                  + ", to 1 hardly ever ... 3 often")
    return f"sum of {', '.join(lone.items)} ({coding})"


def _column_plan(templates: dict[str, Any], waves: list[int], available: set[str]
                 ) -> tuple[dict[str, str], dict[tuple[str, int], str], pd.DataFrame]:
    """Which file columns to read: person-level names, (variable, wave) -> column, and a coverage table."""
    person = {k: str(templates[k]) for k in PERSON_VARIABLES if templates.get(k)}
    wave_cols: dict[tuple[str, int], str] = {}
    coverage = []
    lone = list(templates.get("loneliness_items") or [])
    names = [(k, str(templates[k])) for k in WAVE_VARIABLES if templates.get(k)]
    names += [(f"loneliness_item_{i + 1}", str(t)) for i, t in enumerate(lone)]
    if templates.get("loneliness_score"):
        names.append(("loneliness_score", str(templates["loneliness_score"])))
    names += [(f"cognition_item_{i + 1}", str(t)) for i, t in enumerate(templates.get("cognition_items") or [])]
    if templates.get("dementia_item"):
        names.append(("dementia_item", str(templates["dementia_item"])))
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


def incident_reports(ever: pd.Series, person: pd.Series) -> pd.Series:
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


def build_study_panel(key: str, spec: CohortStudy, cohorts: CohortsSettings
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One study's file -> (long panel rows, flow rows, coverage rows). Raises on a bad file or spec."""
    where = f"params.yaml cohorts.studies.{key}.path" if key != SYNTHETIC else "the synthetic_cohort stage output"
    path = check_file(spec.path, where)
    waves_map = dict(spec.waves)
    depression = spec.depression
    templates = _templates(cohorts, spec)
    lone = loneliness_spec(spec, templates)
    waves = sorted(waves_map)
    first_year = waves_map[waves[0]]

    # The study's files: the main one and any joined on the id (HRS: RAND core + Harmonized HRS on hhidpn).
    files = [path]
    for i, extra in enumerate(spec.join):
        files.append(check_file(extra.path, f"params.yaml cohorts.studies.{key}.join[{i}].path "
                                f"({extra.label}; set it, or remove the join and set "
                                "the variables that come from it to null)"))
    file_cols = [{c.lower() for c in file_columns(f)} for f in files]
    id_column = str(templates.get("id", ""))
    for f, cols in zip(files, file_cols):
        if id_column and id_column.lower() not in cols:  # the wrong study's file: say whose it looks like
            read_wide(f, [id_column], id_column=id_column, study=spec.label)
    available = set().union(*file_cols)
    named = " + ".join(str(f) for f in files)
    if templates.get("interview_status"):
        disagree = wave_problems(key, str(templates["interview_status"]), sorted(available), waves, named)
        if disagree:
            raise CohortFileError("; ".join(disagree))
    person_cols, wave_cols, coverage = _column_plan(templates, waves, available)
    for k in ("id", "sex", "birth_year", "death_year"):
        if k not in person_cols:
            raise CleaningError(f"params.yaml cohorts.variables.{k} is not set")
    for variable in EVERY_WAVE:
        absent = [w for w in waves if (variable, w) not in wave_cols]
        if absent:
            column = str(templates[variable]).format(w=absent[0])
            raise CohortFileError(f"the file {named} ({key}) lacks the variable {column} "
                                  f"(cohorts.variables.{variable}) needed at every wave; waves without it: {absent}")
    for variable in coverage["variable"].unique():
        if not coverage.loc[coverage["variable"] == variable, "present"].any():
            template = coverage.loc[coverage["variable"] == variable, "template"].iloc[0]
            raise CohortFileError(f"the file {named} ({key}) lacks the variable {template} "
                                  f"(cohorts.variables or cohorts.studies.{key}.variables, '{variable}') at every "
                                  f"wave {waves[0]}-{waves[-1]}: misnamed? Set it to null if the study lacks it")
    needed = list(dict.fromkeys([*person_cols.values(), *wave_cols.values()]))
    wide = _read_joined(files, file_cols, needed, person_cols["id"], spec.label)
    # taken off the frame: pandas deep-copies ``attrs`` into every derived frame (a second of CPU per study)
    sources = wide.attrs.pop("sources", {})

    def file_of(column: str) -> Path:
        """The file a column was read from (an error about its values names that file)."""
        return sources.get(str(column).lower(), path)

    yes, no = set(map(float, cohorts.condition_codes.present)), set(map(float, cohorts.condition_codes.absent))
    partnered_codes = set(map(float, cohorts.partnered_codes))
    sex = wide[person_cols["sex"]]
    _check_codes(sex, {1.0, 2.0}, file_of(person_cols["sex"]), person_cols["sex"])
    person = pd.DataFrame({
        "person_id": wide[person_cols["id"]].astype(str).str.replace(r"\.0$", "", regex=True),
        "female": (sex == 2).astype(float).where(sex.notna()),
        "birth_year": wide[person_cols["birth_year"]],
        "education_years": wide[person_cols["education_years"]] if "education_years" in person_cols else np.nan,
        "death_year": wide[person_cols["death_year"]],
        "death_month": wide[person_cols["death_month"]] if "death_month" in person_cols else np.nan,
    })
    if "education_years" in person_cols and not spec.education_codes:
        _check_range(person["education_years"], 0, 30, file_of(person_cols["education_years"]),
                     person_cols["education_years"], "years of education")
    _check_range(person["death_month"], 1, 12, file_of(person_cols.get("death_month", "")),
                 person_cols.get("death_month", "death month"), "month")
    education_codes = spec.education_codes
    if education_codes and "education_years" in person_cols:
        # a categorical education item (H_CHARLS raeduc_c) -> approximate years, params.yaml education_codes
        column = person_cols["education_years"]
        codes = {float(k): float(v) for k, v in education_codes.items()}
        _check_codes(wide[column], set(codes), file_of(column), column)
        person["education_years"] = wide[column].map(codes)

    frames = []
    for w in waves:
        def col(variable: str, w=w) -> pd.Series:
            column = wave_cols.get((variable, w))
            return wide[column] if column else pd.Series(np.nan, index=wide.index)

        status = col("interview_status")
        _check_codes(status, {0.0, 1.0, 4.0, 5.0, 6.0, 7.0, 9.0}, file_of(wave_cols[("interview_status", w)]),
                     wave_cols[("interview_status", w)])
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
                _check_codes(frame[variable], allowed.get(variable, {0.0, 1.0}), file_of(wave_cols[(variable, w)]),
                             wave_cols[(variable, w)])
        item_codes = {float(k): float(v) for k, v in (lone.codes if isinstance(lone, LonelinessItems)
                                                      else DEFAULT_ITEM_CODES).items()}
        for i in range(len(templates.get("loneliness_items") or [])):
            item = f"loneliness_item_{i + 1}"
            if (item, w) in wave_cols:
                _check_codes(frame[item], set(item_codes), file_of(wave_cols[(item, w)]), wave_cols[(item, w)])
                frame[item] = frame[item].map(item_codes)
        frame["loneliness_score"] = col("loneliness_score")
        if ("loneliness_score", w) in wave_cols:
            _check_range(frame["loneliness_score"], float(lone.min), float(lone.max),
                         file_of(wave_cols[("loneliness_score", w)]), wave_cols[("loneliness_score", w)],
                         "loneliness score")
        cognition_items = list((spec.cognition.items if spec.cognition else {}).items())
        for i, (template, points) in enumerate(cognition_items):
            item = f"cognition_item_{i + 1}"
            frame[item] = col(item)
            if (item, w) in wave_cols:
                _check_range(frame[item], 0, points, file_of(wave_cols[(item, w)]), wave_cols[(item, w)],
                             f"cognition item ({template}, 0-{points} points)")
        frame["dementia_item"] = col("dementia_item")
        if ("dementia_item", w) in wave_cols:
            _check_codes(frame["dementia_item"], {0.0, 1.0}, file_of(wave_cols[("dementia_item", w)]),
                         wave_cols[("dementia_item", w)])
        if (("depression", w)) in wave_cols:
            _check_range(frame["depression"], depression.min, depression.max, file_of(wave_cols[("depression", w)]),
                         wave_cols[("depression", w)], depression.label)
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
    index_spec = cohorts.isolation_index_of(key, spec)
    unknown = [i.variable for i in index_spec.items if i.variable not in out]
    if unknown:
        raise CleaningError(f"params.yaml {index_spec.key()}: items {unknown} are not panel columns; "
                            f"use any of {['partnered', *BINARY_ITEMS]}")
    out["isolation_index"] = build_index(out, index_spec)
    out["isolation_group"] = group_index(out["isolation_index"], index_spec.groups)
    items = [c for c in long.columns if c.startswith("loneliness_item_")]
    if items:
        out["loneliness"] = measured(long[items].sum(axis=1, min_count=len(items)))
    elif isinstance(lone, LonelinessScore):
        factor = float(lone.n_items) if lone.scale == "mean" else 1.0
        out["loneliness"] = measured(long["loneliness_score"] * factor)
    else:
        out["loneliness"] = np.nan
    out["lonely"] = (out["loneliness"] >= float(cohorts.loneliness_lonely_cutoff)).astype(float).where(
        out["loneliness"].notna())
    out["depression_score"] = measured(long["depression"])
    out["depressed"] = at_or_above(out["depression_score"], float(depression.cutoff))
    code = lambda s: pd.Series(np.where(s.isin(list(yes)), 1.0, np.where(s.isin(list(no)), 0.0, np.nan)),  # noqa: E731
                               index=s.index)
    out["heart_ever"] = measured(code(long["heart"]))
    out["stroke_ever"] = measured(code(long["stroke"]))
    either = out[["heart_ever", "stroke_ever"]]
    out["cvd_ever"] = np.where(either.eq(1).any(axis=1), 1.0, np.where(either.eq(0).all(axis=1), 0.0, np.nan))
    for condition in ("heart", "stroke", "cvd"):
        out[f"incident_{condition}"] = incident_reports(out[f"{condition}_ever"], out["person_id"])
    out["cognition_score"], out["dementia"] = cognition_measures(long, spec.cognition, measured)
    out["incident_dementia"] = incident_reports(out["dementia"], out["person_id"])
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
        {"step": "person-waves with a cognition score", "n": int(out["cognition_score"].notna().sum())},
        {"step": "new dementia classifications", "n": int(out["incident_dementia"].eq(1).sum())},
        {"step": "deaths (any time)", "n": int(persons["died"].first().sum())},
    ])
    flow.insert(0, "study", key)
    coverage.insert(0, "study", key)
    return out, flow, coverage


def cognition_measures(long: pd.DataFrame, cognition: Cognition | None, measured) -> tuple[pd.Series, pd.Series]:
    """The cognition score and the dementia classification of each person-wave (``cohorts.studies.<study>.
    cognition``; both missing for a study without the block).

    Score: the sum of the items (``cognition_item_1``...; HRS: RAND r{w}imrc + r{w}dlrc + r{w}ser7 + r{w}bwc20,
    the 27-point Langa-Weir score, RAND's r{w}cogtot), missing when any item is (RAND leaves proxy interviews
    without items). Dementia: the study's classification item when it has one (``dementia_item``, 0/1), else
    a score at or below ``dementia_max`` (Langa-Weir: 0-6 of 27; Crimmins et al. 2011), missing when the score is.
    """
    nan = pd.Series(np.nan, index=long.index)
    if cognition is None:
        return nan, nan.copy()
    items = [f"cognition_item_{i + 1}" for i in range(len(cognition.items))]
    score = measured(long[items].sum(axis=1, min_count=len(items)))
    if cognition.dementia_item:
        dementia = measured(long["dementia_item"])
    else:
        dementia = (score <= cognition.dementia_max).astype(float).where(score.notna())
    return score, dementia


def study_definitions(key: str, spec: CohortStudy, cohorts: CohortsSettings) -> dict[str, str]:
    """How the study built its loneliness score, isolation index and depression score, in words."""
    index_spec = cohorts.isolation_index_of(key, spec)
    return {"loneliness": loneliness_definition(spec, _templates(cohorts, spec)),
            "isolation_index": " ".join((index_spec.contact or index_spec.why).split()),
            "depression_score": spec.depression.label,
            "cognition_score": (f"{spec.cognition.label}: sum of {', '.join(spec.cognition.items)}"
                                if spec.cognition else "not harmonised for this study"),
            "dementia": (("the study's classification item " + spec.cognition.dementia_item
                          if spec.cognition.dementia_item else
                          f"score 0-{spec.cognition.dementia_max} (Langa-Weir)") if spec.cognition
                         else "not harmonised for this study")}


def cohort_capability(panel: pd.DataFrame, cohorts: CohortsSettings, synthetic_path: str | Path | None
                      ) -> pd.DataFrame:
    """The capability table of every study in the panel (:func:`capability_table`), with its definitions."""
    specs = study_specs(cohorts, Path(synthetic_path) if synthetic_path else None)
    tables = [capability_table(panel.loc[panel["study"] == key], key, study_definitions(key, spec, cohorts))
              for key, spec in specs.items() if (panel["study"] == key).any()]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=CAPABILITY_COLUMNS)


def _read_joined(files: list[Path], file_cols: list[set[str]], needed: list[str], id_column: str,
                 study: str) -> pd.DataFrame:
    """The needed columns from the study's files, each column from the first file that has it, joined on the
    id (left join on the first file: a person only in a joined file has no interview record there)."""
    for path, cols in zip(files, file_cols):
        if id_column.lower() not in cols:  # the wrong study's file: read_wide names the study it looks like
            read_wide(path, [id_column], id_column=id_column, study=study)
    every = set().union(*file_cols)
    missing = [c for c in needed if c.lower() not in every]
    if missing:
        names = " + ".join(str(f) for f in files)
        raise CohortFileError(f"the file {names} ({study}) lacks the variable(s) {', '.join(missing)}; fix the names "
                              "in params.yaml cohorts.variables (or the study's `variables`; null if the study has "
                              "none) or use a file that has them")
    frames, taken, sources = [], {id_column.lower()}, {id_column.lower(): files[0]}
    for path, cols in zip(files, file_cols):
        mine = [c for c in needed if c.lower() in cols and c.lower() not in taken]
        taken |= {c.lower() for c in mine}
        if frames and not mine:
            continue
        frame = read_wide(path, [id_column, *mine], id_column=id_column, study=study)
        sources.update({c.lower(): path for c in mine})
        if frame[id_column].duplicated().any():
            dup = frame.loc[frame[id_column].duplicated(), id_column].iloc[0]
            raise CleaningError(f"{path}: the id column {id_column} repeats the value {dup!r}: one row per person")
        frames.append(frame)
    wide = frames[0]
    for frame in frames[1:]:
        wide = wide.merge(frame, on=id_column, how="left", validate="one_to_one")
    wide.attrs["sources"] = sources  # column (lower case) -> the file it came from
    return wide


def capability_table(panel: pd.DataFrame, study: str, definitions: dict[str, str] | None = None) -> pd.DataFrame:
    """Measure x wave for one study: interviews, interviews with the measure observed, and the share.

    A measure the study's files lack at a wave has share 0 there (missing, not an error); the
    ``definition`` column says how the study built loneliness, the isolation index and the depression score.
    """
    interviewed = panel.loc[panel["interviewed"] == 1]
    rows = []
    for measure in CAPABILITY_MEASURES:
        observed = interviewed[measure].notna().groupby(interviewed["wave"]).agg(["size", "sum"])
        for wave, (n, k) in observed.iterrows():
            rows.append({"study": study, "measure": measure, "wave": int(wave), "interviews": int(n),
                         "observed": int(k), "share_observed": float(k) / n if n else np.nan,
                         "definition": (definitions or {}).get(measure, "")})
    return pd.DataFrame(rows, columns=CAPABILITY_COLUMNS)


def build_cohort_panel(cohorts: CohortsSettings, synthetic_path: str | Path | None
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every configured study and the SYNTHETIC cohort -> (panel, flow, study status, coverage).

    A study with ``path: null`` is listed as "not configured" in the status table and skipped. A study
    whose path is set but whose file is missing, is the wrong study's or lacks a variable raises (the
    user asked for it): the error names the file and the variable.
    """
    specs = study_specs(cohorts, Path(synthetic_path) if synthetic_path else None)
    panels, flows, coverages, status = [], [], [], []
    for key, spec in specs.items():
        label = spec.label
        if spec.path in (None, ""):
            status.append({"study": key, "label": label, "status": "not configured",
                           "restricted": is_restricted(key, spec), "path": "", "sha256": "",
                           "persons": 0, "person_waves_interviewed": 0,
                           "note": f"restricted file not configured: set params.yaml cohorts.studies.{key}.path"})
            continue
        panel, flow, coverage = build_study_panel(key, spec, cohorts)
        panels.append(panel)
        flows.append(flow)
        coverages.append(coverage)
        path = Path(spec.path).expanduser()
        status.append({"study": key, "label": label, "status": "ran", "restricted": is_restricted(key, spec),
                       "path": str(path), "sha256": sha256_of(path), "persons": int(panel["person_id"].nunique()),
                       "person_waves_interviewed": int(panel["interviewed"].sum()),
                       "note": "SYNTHETIC: simulated from params.yaml cohorts.synthetic, not real people"
                       if key == SYNTHETIC else "user's restricted file (not redistributed)"})
    if not panels:
        raise CleaningError("no cohort to clean: the synthetic cohort is missing and no study has a path")
    table = pd.concat(panels, ignore_index=True)
    variables = cohort_variables(tuple(g.label for g in cohorts.isolation_index.groups))
    table = validate_table(finish_table(table, variables), cohort_panel_schema(variables), "cohort panel")
    return (table, pd.concat(flows, ignore_index=True), pd.DataFrame(status, columns=STATUS_COLUMNS),
            pd.concat(coverages, ignore_index=True))


__all__ = ["build_cohort_panel", "build_study_panel", "study_specs", "cohort_panel_schema", "CleaningError",
           "CohortFileError", "is_restricted", "restricted_studies", "capability_table", "cohort_capability",
           "study_definitions", "loneliness_spec", "loneliness_definition"]


def stage() -> str:
    """DVC stage ``clean_cohorts``: the person-wave panel of every configured study plus the SYNTHETIC one."""
    cohorts = load().cohorts
    synthetic = config.RAW / "cohorts" / "synthetic_rand.dta"
    panel, flow, status, coverage = build_cohort_panel(cohorts, synthetic)
    io.write_outputs({config.PROCESSED / "cohorts_panel.parquet": panel, config.PROCESSED / "cohorts_flow.csv": flow,
                      config.PROCESSED / "cohorts_studies.csv": status,
                      config.PROCESSED / "cohorts_coverage.csv": coverage,
                      config.PROCESSED / "cohorts_capability.csv": cohort_capability(panel, cohorts, synthetic),
                      config.PROCESSED / "cohorts_data_dictionary.csv": cohort_data_dictionary(panel)})
    ran = ", ".join(status.loc[status["status"] == "ran", "study"])
    return f"cohort panel: {len(panel):,} person-waves; studies run: {ran}"
