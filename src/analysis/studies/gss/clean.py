"""Clean stage, GSS: the gssr panel files -> two validated analysis tables and an attrition table.

``build_gss_panel``: the 2006-2010, 2008-2012 and 2010-2014 panels stacked into one person-wave
table, one row per interview (a wave at which the person was not interviewed has no row), with the
social-contact measures, health and happiness outcomes, covariates and the panel weights; and a
tidy attrition table (interviewed per panel and wave, and the baseline characteristics of those
interviewed and of those lost at each wave).

``build_gss_2020``: the 2016-2020 panel, one row per 2016 or 2018 baseline respondent, with the
baseline social contact, health and covariates, the 2020 loneliness items and score, 2020 health
and happiness, and flags for release to and completion of the 2020 re-interview.

Options (``params.yaml gss``, studies/gss/settings.py): ``panels``: labels of the long panels to use (default
all three); ``evenings_per_year``: a replacement for ``measures.EVENINGS_PER_YEAR`` keyed by GSS
code or codebook label ("almost daily": 300, ...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core import config, io
from analysis.core.contract import data_dictionaries, finish_table, validate_table
from analysis.core.settings import ReliabilitySettings
from analysis.estimators import reliability
from analysis.studies.gss import measures
from analysis.studies.gss import source as src
from analysis.studies.gss.schema import (
    BALLOTS,
    CATEGORY_CODES,
    GSS_2020_VARIABLES,
    GSS_PANEL_VARIABLES,
    MODES_2020,
    PANELS,
    gss_2020_schema,
    gss_panel_schema,
)
from analysis.studies.gss.settings import GssSettings, load

# Items recoded from every long panel; numgiven (2006-2010), mntlhlth (2006-2010, 2010-2014), vstrat
# and vpsu (2006-2010, 2010-2014) are not in every file.
LONG_ITEMS = ["socrel", "socfrend", "socommun", "socbar", "marital", "attend", "health", "happy", "age", "sex",
              "race", "educ", "degree", "realinc", "wrkstat"]
LONG_OPTIONAL_ITEMS = ["numgiven", "mntlhlth"]
LONG_DESIGN = ["firstid", "wave", "year", "wtpannr12", "wtpannr123", "ballot"]
LONG_OPTIONAL_DESIGN = ["vstrat", "vpsu"]

# Items of the 2016-2020 panel, by the waves that carry them in the file.
ITEMS_2020_BASELINE = ["socrel", "socfrend", "socommun", "socbar", "marital", "attend", "health", "happy",
                       "mntlhlth", "age", "sex", "race", "educ", "degree", "realinc", "wrkstat"]
ITEMS_2020_REINTERVIEW = ["socrel", "socfrend", "socommun", "socbar", "marital", "health", "happy", "age", "sex",
                          "realinc", "wrkstat", "lonely1", "lonely2"]


def _categories(codes: pd.Series, item: str, levels: tuple[str, ...]) -> pd.Categorical:
    return pd.Categorical(codes.map(CATEGORY_CODES[item]), categories=list(levels))


def _measures(codes: pd.DataFrame, evenings: dict | None, *, constant: bool = True) -> pd.DataFrame:
    """The measures from a frame of GSS codes with unsuffixed item names: those of every interview,
    plus (``constant``) sex, race and education. ATTEND, NUMGIVEN and MNTLHLTH are used when present."""
    out = pd.DataFrame(index=codes.index)
    out["evenings_relatives"] = measures.evenings_per_year(codes["socrel"], evenings)
    out["evenings_friends"] = measures.evenings_per_year(codes["socfrend"], evenings)
    out["evenings_neighbours"] = measures.evenings_per_year(codes["socommun"], evenings)
    out["evenings_bar"] = measures.evenings_per_year(codes["socbar"], evenings)
    out["social_contact_index"] = measures.social_contact_index(
        out["evenings_relatives"], out["evenings_friends"], out["evenings_neighbours"])
    out["partnered"] = measures.married(codes["marital"])
    out["marital_status"] = _categories(codes["marital"], "marital", _levels("marital_status"))
    if "attend" in codes:
        out["religious_attendance"] = measures.attendance_per_year(codes["attend"])
    if "numgiven" in codes:
        out["confidants"] = measures.confidants(codes["numgiven"])
    out["self_rated_health"] = _categories(codes["health"], "health", _levels("self_rated_health"))
    out["fair_poor_health"] = measures.fair_poor_health(codes["health"])
    out["happiness"] = _categories(codes["happy"], "happy", _levels("happiness"))
    out["unhappy"] = measures.unhappy(codes["happy"])
    if "mntlhlth" in codes:
        out["poor_mental_health_days"] = codes["mntlhlth"]
    out["age"] = codes["age"]
    out["real_income"] = codes["realinc"]
    out["log_real_income"] = measures.log_income(codes["realinc"])
    out["employed"] = measures.employed(codes["wrkstat"])
    out["work_status"] = _categories(codes["wrkstat"], "wrkstat", _levels("work_status"))
    if constant:
        out["sex"] = _categories(codes["sex"], "sex", _levels("sex"))
        out["female"] = measures.female(codes["sex"])
        out["race"] = _categories(codes["race"], "race", _levels("race"))
        out["education_years"] = codes["educ"]
        out["degree"] = _categories(codes["degree"], "degree", _levels("degree"))
    return out


def _levels(name: str) -> tuple[str, ...]:
    for var in GSS_PANEL_VARIABLES:
        if var.name == name:
            return var.values
    raise KeyError(name)


# ---------------------------------------------------------------------------------------------
# 2006-2014 panels


def _read_long_panel(raw_dir: Path, label: str, evenings: dict | None) -> pd.DataFrame:
    stem = src.LONG_PANELS[label]
    path = src.panel_path(raw_dir, stem)
    raw = src.read_panel(path, LONG_DESIGN + LONG_ITEMS, optional=LONG_OPTIONAL_DESIGN + LONG_OPTIONAL_ITEMS)
    start = int(label[:4])
    firstid = raw["firstid"].astype("object")
    if firstid.isna().any():
        raise src.SourceDataError(f"{path}: column firstid is blank in row {int(np.flatnonzero(firstid.isna())[0])}")
    firstid = firstid.astype(str)
    wave = pd.to_numeric(raw["wave"], errors="coerce")
    if not wave.isin([1, 2, 3]).all():
        bad = raw.loc[~wave.isin([1, 2, 3]), "wave"].iloc[0]
        raise src.SourceDataError(f"{path}: column wave has the value {bad!r}; a GSS panel has waves 1, 2, 3")
    repeated = pd.DataFrame({"firstid": firstid, "wave": wave}).duplicated()
    if repeated.any():
        dup = firstid[repeated].iloc[0]
        raise src.SourceDataError(f"{path}: firstid {dup} has two rows for one wave")
    year = pd.to_numeric(raw["year"].astype("object"), errors="coerce")
    expected = start + 2 * (wave - 1)
    wrong = raw["year"].notna() & (year != expected)
    if wrong.any():
        i = int(np.flatnonzero(wrong.to_numpy())[0])
        raise src.SourceDataError(f"{path}: column year has the value {raw['year'].iloc[i]!r} at wave "
                                  f"{wave.iloc[i]:g} (firstid {firstid.iloc[i]}); "
                                  f"panel {label} expects {expected.iloc[i]:g}")

    raw["firstid"] = firstid
    codes = pd.DataFrame({item: src.recode(raw, item, path, id_column="firstid")
                          for item in LONG_ITEMS + LONG_OPTIONAL_ITEMS})
    table = pd.DataFrame({
        "person_id": f"{start}-" + firstid,
        "panel": label,
        "firstid": firstid,
        "wave": wave.astype("int64"),
        "year": year,
        "weight_panel12": pd.to_numeric(raw["wtpannr12"], errors="coerce"),
        "weight_panel123": pd.to_numeric(raw["wtpannr123"], errors="coerce"),
        "ballot": _categories(src.recode(raw, "ballot", path, id_column="firstid"), "ballot", BALLOTS),
        "stratum": pd.to_numeric(raw["vstrat"], errors="coerce"),
        "psu": pd.to_numeric(raw["vpsu"], errors="coerce"),
    })
    table = pd.concat([table, _measures(codes, evenings)], axis=1)
    # interviewed at a wave = the wave has an interview year; other rows are placeholders of the file
    interviewed = raw["year"].notna().to_numpy()
    if not interviewed[wave.to_numpy() == 1].all():
        raise src.SourceDataError(f"{path}: a wave-1 row has no interview year; every panel member was "
                                  "interviewed at wave 1")
    table = table[interviewed].reset_index(drop=True)
    table["year"] = table["year"].astype("int64")

    table["n_waves"] = table.groupby("person_id")["wave"].transform("size")
    table["age_baseline"] = table["person_id"].map(table[table["wave"] == 1].set_index("person_id")["age"])
    table["inconsistent_age_sex"] = _inconsistent_long(table)
    return table


def _inconsistent_long(table: pd.DataFrame) -> pd.Series:
    """Person flag: 1 if at a later wave the reported sex differs from wave 1, or the age differs from
    the wave-1 age plus two years a wave by more than 2 (ages at the 89 top code not compared)."""
    first = table[table["wave"] == 1].set_index("person_id")
    base_age = table["person_id"].map(first["age"])
    base_sex = table["person_id"].map(first["female"])
    expected = base_age + 2 * (table["wave"] - 1)
    age_off = (table["age"] < 89) & (expected < 89) & ((table["age"] - expected).abs() > 2)
    sex_off = table["female"].notna() & base_sex.notna() & (table["female"] != base_sex)
    off = (age_off | sex_off).astype("float64")
    return off.groupby(table["person_id"]).transform("max")


def build_gss_panel(raw_dir: str | Path, gss: GssSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The GSS 2006-2014 person-wave table (validated) and the attrition table.

    One row per person and wave at which the person was interviewed, from the 2006-2010, 2008-2012
    and 2010-2014 panels; ``person_id`` = "<first year>-<firstid>" is unique across panels.
    """
    labels, evenings = list(gss.panels), gss.evenings_per_year
    frames = [_read_long_panel(Path(raw_dir), label, evenings) for label in labels]
    panel = pd.concat(frames, ignore_index=True)
    panel = finish_table(panel, GSS_PANEL_VARIABLES)
    panel = validate_table(panel, gss_panel_schema(), "GSS 2006-2014 panel table")
    return panel, attrition_table(panel)


def attrition_table(panel: pd.DataFrame) -> pd.DataFrame:
    """Tidy attrition table: per panel (and all panels pooled) and wave, the number interviewed and
    the number lost (baseline respondents not interviewed at that wave), each with the share of the
    baseline sample and baseline (wave-1) characteristics: mean age, % female, % fair/poor health,
    mean social contact index, % married. Wave 3 "interviewed" = retained to the end, "lost" = attrited.
    Unweighted; percentages and means over those with the item answered at baseline.
    """
    base = panel[panel["wave"] == 1].set_index("person_id")
    seen = panel.groupby("person_id")["wave"].apply(set)
    rows = []
    groups = [(label, base[base["panel"] == label]) for label in PANELS if (base["panel"] == label).any()]
    groups.append(("all", base))
    for label, people in groups:
        for wave in (1, 2, 3):
            at_wave = seen.reindex(people.index).map(lambda waves, w=wave: w in waves)
            for group, mask in (("interviewed", at_wave), ("lost", ~at_wave)):
                if wave == 1 and group == "lost":
                    continue
                sub = people[mask.to_numpy()]
                rows.append({
                    "panel": label, "wave": wave, "group": group, "n": len(sub),
                    "pct_of_baseline": round(100 * len(sub) / len(people), 1),
                    "mean_age": sub["age"].mean(),
                    "pct_female": 100 * sub["female"].astype("float64").mean(),
                    "pct_fair_poor_health": 100 * sub["fair_poor_health"].astype("float64").mean(),
                    "mean_social_contact_index": sub["social_contact_index"].mean(),
                    "pct_partnered": 100 * sub["partnered"].astype("float64").mean(),
                })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# 2016-2020 panel


def _wave_codes(raw: pd.DataFrame, items: list[str], suffix: str, path: Path) -> pd.DataFrame:
    return pd.DataFrame({item: src.recode(raw, f"{item}{suffix}", path, id_column="yearid") for item in items})


def build_gss_2020(raw_dir: str | Path, gss: GssSettings) -> pd.DataFrame:
    """The GSS 2016-2020 table (validated): one row per 2016 or 2018 baseline respondent, the
    re-interviewed (``reinterviewed_2020`` = 1, 1,823 people) and the others alike."""
    evenings = gss.evenings_per_year
    path = src.panel_path(raw_dir, src.PANEL_2020)
    columns = ["yearid", "samptype", "panstat", "year_1a", "year_1b", "year_2", "id_1a", "id_1b",
               "wtssnr_1a", "wtssnr_1b", "wtssnr_2", "vstrat_1a", "vstrat_1b", "vpsu_1a", "vpsu_1b", "lonely3_1b",
               "ballot_1a", "ballot_1b", "mode_2"]
    columns += [f"{i}{s}" for i in ITEMS_2020_BASELINE for s in (src.SUFFIX_2016, src.SUFFIX_2018)]
    columns += [f"{i}{src.SUFFIX_2020}" for i in ITEMS_2020_REINTERVIEW]
    raw = src.read_panel(path, list(dict.fromkeys(columns)))
    raw["yearid"] = raw["yearid"].astype(str)
    if raw["yearid"].duplicated().any():
        raise src.SourceDataError(f"{path}: yearid {raw.loc[raw['yearid'].duplicated(), 'yearid'].iloc[0]} "
                                  "is duplicated")

    baseline_year = pd.to_numeric(raw["samptype"], errors="coerce")
    if not baseline_year.isin([2016, 2018]).all():
        bad = raw.loc[~baseline_year.isin([2016, 2018]), "samptype"].iloc[0]
        raise src.SourceDataError(f"{path}: column samptype has the value {bad!r}; expected 2016 or 2018")
    in_2016 = (baseline_year == 2016).to_numpy()
    # the baseline wave's columns are filled for exactly the respondents of that year
    for suffix, year, mask in ((src.SUFFIX_2016, 2016, in_2016), (src.SUFFIX_2018, 2018, ~in_2016)):
        col = f"year{suffix}"
        if not ((raw[col] == year).to_numpy() == mask).all():
            raise src.SourceDataError(f"{path}: column {col} is not {year} exactly for the samptype {year} rows")
    year_text = baseline_year.astype(int).astype(str)
    id_text = raw["id_1a"].where(in_2016, raw["id_1b"]).astype(int).astype(str).str.zfill(4)
    if not (year_text + id_text).equals(raw["yearid"]):
        raise src.SourceDataError(f"{path}: yearid does not equal samptype and the baseline id (id_1a / id_1b)")
    person_id = year_text + "-" + id_text

    status = src.recode(raw, "panstat", path, id_column="yearid")
    reinterviewed = (status == 1).astype("float64")
    if not (reinterviewed.astype(bool) == (raw["year_2"] == 2020)).all():
        raise src.SourceDataError(f"{path}: panstat == 1 (re-interviewed) and year_2 == 2020 disagree")

    def pick(column_2016: pd.Series, column_2018: pd.Series) -> pd.Series:
        return column_2016.where(in_2016, column_2018)

    base_2016 = _wave_codes(raw, ITEMS_2020_BASELINE, src.SUFFIX_2016, path)
    base_2018 = _wave_codes(raw, ITEMS_2020_BASELINE, src.SUFFIX_2018, path)
    baseline_codes = pd.DataFrame({i: pick(base_2016[i], base_2018[i]) for i in ITEMS_2020_BASELINE})
    codes_2020 = _wave_codes(raw, ITEMS_2020_REINTERVIEW, src.SUFFIX_2020, path)
    # only the re-interviewed can have 2020 answers
    stray = codes_2020.notna().any(axis=1) & (reinterviewed == 0)
    if stray.any():
        raise src.SourceDataError(f"{path}: yearid {raw.loc[stray, 'yearid'].iloc[0]} has 2020 answers but "
                                  "panstat says not re-interviewed")

    baseline = _measures(baseline_codes, evenings)
    constant = ["sex", "female", "race", "education_years", "degree"]
    later = _measures(codes_2020.drop(columns=["lonely1", "lonely2"]), evenings, constant=False)

    table = pd.DataFrame({
        "person_id": person_id,
        "yearid": raw["yearid"],
        "baseline_year": baseline_year.astype("int64"),
        "panel_status": status,
        "released_2020": (status != 0).astype("float64"),
        "reinterviewed_2020": reinterviewed,
        "weight_baseline": pick(raw["wtssnr_1a"], raw["wtssnr_1b"]),
        "weight_2020": raw["wtssnr_2"],
        "ballot_baseline": _categories(pick(src.recode(raw, "ballot_1a", path, id_column="yearid"),
                                            src.recode(raw, "ballot_1b", path, id_column="yearid")), "ballot", BALLOTS),
        "mode_2020": _mode_2020(src.recode(raw, "mode_2", path, id_column="yearid"), reinterviewed, path),
        "stratum": pick(raw["vstrat_1a"], raw["vstrat_1b"]),
        "psu": pick(raw["vpsu_1a"], raw["vpsu_1b"]),
    })
    table = pd.concat([table, baseline[constant]], axis=1)
    for col in baseline.columns:
        if col not in constant:
            table[f"{col}_baseline"] = baseline[col]
    table["left_out_baseline"] = src.recode(raw, "lonely3_1b", path, id_column="yearid")
    table["lack_companionship_2020"] = codes_2020["lonely1"]
    table["isolated_2020"] = codes_2020["lonely2"]
    table["loneliness_score_2020"] = measures.loneliness_score(codes_2020["lonely1"], codes_2020["lonely2"])
    for col in later.columns:
        table[f"{col}_2020"] = later[col]
    table["inconsistent_age_sex_2020"] = _inconsistent(baseline_codes, codes_2020, baseline_year, reinterviewed)
    table = finish_table(table, GSS_2020_VARIABLES)
    return validate_table(table, gss_2020_schema(), "GSS 2016-2020 table")


def _mode_2020(mode: pd.Series, reinterviewed: pd.Series, path: Path) -> pd.Categorical:
    """MODE_2 of the 2020 re-interview as Web / Phone; an in-person 2020 interview (code 1) is an error: the
    2020 panel was fielded by web and phone only (COVID-19)."""
    if (mode == 1).any():
        raise src.SourceDataError(f"{path}: column mode_2 has the value 1 (in person); the 2020 re-interview was "
                                  "web or phone only")
    if (mode.notna() & (reinterviewed == 0)).any():
        raise src.SourceDataError(f"{path}: column mode_2 is set for a respondent not re-interviewed in 2020")
    return pd.Categorical(mode.map(CATEGORY_CODES["mode_2020"]), categories=list(MODES_2020))


def _inconsistent(base: pd.DataFrame, later: pd.DataFrame, baseline_year: pd.Series,
                  reinterviewed: pd.Series) -> pd.Series:
    """1 if the 2020 respondent's sex differs from the baseline's, or the 2020 age differs from the
    baseline age plus the years elapsed by more than 2 (age is top-coded at 89: not compared there)."""
    expected_age = base["age"] + (2020 - baseline_year)
    age_known = base["age"].notna() & later["age"].notna() & (later["age"] < 89) & (expected_age < 89)
    sex_known = base["sex"].notna() & later["sex"].notna()
    age_off = age_known & ((later["age"] - expected_age).abs() > 2)
    sex_off = sex_known & (later["sex"] != base["sex"])
    out = (age_off | sex_off).astype("float64")
    return out.where((reinterviewed == 1) & (age_known | sex_known))


# ---------------------------------------------------------------------------------------------
# Reliability


def reliability_records(panel: pd.DataFrame, table_2020: pd.DataFrame,
                        options: ReliabilitySettings = ReliabilitySettings()) -> pd.DataFrame:
    """Reliability of the GSS multi-item and repeated measures, one tidy row each:

    * ``loneliness_score_2020``: Cronbach's alpha of its two items (LONELY1 lack of companionship, LONELY2
      isolated from others; 1-5 each), the 2020 re-interviewed with both answered. The third item
      (LONELY3, left out) was asked at the 2018 baseline only, so it cannot join them.
    * ``social_contact_index``: its intraclass correlation across the three waves of each 2006-2014
      panel and of the three panels pooled (wave 1, 2, 3 of each), persons with the index at every wave
      (``params.yaml reliability.icc_form``, ICC(A,1) by default: see ``estimators.reliability.icc``).
    """
    level, form = options.ci_level, options.icc_form
    labels = {v.name: v.label for v in (*GSS_PANEL_VARIABLES, *GSS_2020_VARIABLES)}
    rows = []
    items = table_2020[["lack_companionship_2020", "isolated_2020"]]
    record = reliability.cronbach_alpha(items, ci=level, what="GSS 2016-2020 panel, 2020 loneliness items")
    rows.append({"study": "gss", "table": "gss_2020", "measure": "loneliness_score_2020",
                 "label": labels["loneliness_score_2020"], "panel": "2016-2020",
                 "sample": "re-interviewed in 2020 with both items answered", **record})
    groups = [(label, panel[panel["panel"] == label]) for label in PANELS if (panel["panel"] == label).any()]
    groups.append(("all", panel))
    for label, rows_of in groups:
        record = reliability.icc(rows_of, "person_id", "wave", "social_contact_index", form=form)
        rows.append({"study": "gss", "table": "gss_panel", "measure": "social_contact_index",
                     "label": labels["social_contact_index"], "panel": label,
                     "sample": ("the three panels pooled, " if label == "all" else "")
                     + "persons with the index at all three waves", **record})
    return pd.DataFrame(rows)


def reliability_notes(records: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(table, column) -> the data dictionary's reliability text: the pooled estimate (or the only one)
    first, then each panel's."""
    notes: dict[tuple[str, str], str] = {}
    for (table, measure), group in records.groupby(["table", "measure"], sort=False):
        ordered = sorted(group.to_dict("records"), key=lambda r: r["panel"] != "all")
        notes[(table, measure)] = "; ".join(
            f"{reliability.describe(r)}, {r['sample']}" + ("" if r["panel"] == "all" else f" ({r['panel']})")
            for r in ordered)
    return notes


def stage() -> str:
    """DVC stage ``clean_gss``: the person-wave panel, the 2016-2020 table, attrition, the dictionary and the
    reliability of the loneliness items and of the social contact index across waves."""
    params = load()
    panel, attrition = build_gss_panel(config.RAW / "gss", params.gss)
    table_2020 = build_gss_2020(config.RAW / "gss", params.gss)
    records = reliability_records(panel, table_2020, params.reliability)
    dictionary = data_dictionaries({"gss_panel": (panel, GSS_PANEL_VARIABLES),
                                    "gss_2020": (table_2020, GSS_2020_VARIABLES)})
    notes = reliability_notes(records)
    dictionary["reliability"] = [notes.get((t, n), "") for t, n in zip(dictionary["table"], dictionary["name"])]
    out = config.PROCESSED
    io.write_outputs({out / "gss_panel.parquet": panel, out / "gss_2020.parquet": table_2020,
                      out / "gss_attrition.csv": attrition, out / "gss_data_dictionary.csv": dictionary,
                      out / "gss_reliability.csv": records})
    return f"GSS person-wave table: {len(panel):,} rows; 2016-2020 table: {len(table_2020):,} rows"
