"""Clean stage: the public tables -> one validated analysis table per study.

NHANES 1999-2008: one row per adult who answered the social-support questionnaire (SSQ: asked of
ages 60+ in 1999-2002 and 40+ in 2003-2008), with design variables, covariates, social-connection
measures, the indices defined in ``params.yaml`` and the outcomes from the linked mortality file,
the PHQ-9, the medical-conditions questionnaire and self-rated health (HUQ010). Also the cohort flow (counts at
each step) and the data dictionary.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors

from analysis.core import config, io
from analysis.core.contract import CleaningError
from analysis.core.index import IndexSpec, build_index, group_index, index_points
from analysis.estimators import reliability
from analysis.studies.nhanes import measures
from analysis.studies.nhanes import source as src
from analysis.studies.nhanes.schema import (
    DRINKING_STATUS,
    EDUCATION,
    MARITAL,
    NHANES_VARIABLES,
    RACE,
    SELF_RATED_HEALTH,
    SEX,
    data_dictionary,
    nhanes_schema,
)
from analysis.studies.nhanes.settings import FOUR_YEAR_CYCLES, NhanesSettings, WeightDomain, load

CYCLE_CODE = {1: "1999-2000", 2: "2001-2002", 3: "2003-2004", 4: "2005-2006", 5: "2007-2008"}
PHQ9_ITEMS = [f"DPQ0{i}0" for i in range(1, 10)]  # DPQ_D, DPQ_E: asked in 2005-2008 only
PHQ9_CYCLES = ("2005-2006", "2007-2008")


def _load(raw_dir: Path, table: str, cycle: str, columns: list[str]) -> tuple[pd.DataFrame, Path]:
    path = src.table_path(raw_dir, table, cycle)
    frame = src.read_table(path)
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise src.SourceDataError(f"{path}: column {absent[0]} is missing (needed: {', '.join(columns)})")
    out = pd.DataFrame({"SEQN": frame["SEQN"]})
    for col in columns:
        out[col] = src.recode(frame, col, path)
    return out, path


def _demographics(raw_dir: Path, cycle: str) -> pd.DataFrame:
    four_year = cycle in ("1999-2000", "2001-2002")
    cols = ["SDDSRVYR", "RIAGENDR", "RIDAGEYR", "RIDRETH1", "DMDEDUC2", "DMDMARTL", "DMDHHSIZ",
            "INDFMPIR", "SDMVPSU", "SDMVSTRA", "WTINT2YR", "WTMEC2YR"]
    if four_year:
        cols += ["WTINT4YR", "WTMEC4YR"]
    demo, _ = _load(raw_dir, "DEMO", cycle, cols)
    demo["cycle"] = cycle
    # The cycle's own weights: the 4-year weights for 1999-2002 (NCHS: 1999-2000 and 2001-2002 must be
    # combined with WTINT4YR/WTMEC4YR, their 2-year weights rest on different census bases), else the 2-year
    # ones. They are pooled over the eligibility domains by pooled_weights() once every cycle is read.
    demo["cycle_weight_interview"] = demo["WTINT4YR"] if four_year else demo["WTINT2YR"]
    demo["cycle_weight_exam"] = demo["WTMEC4YR"] if four_year else demo["WTMEC2YR"]
    return demo


def weight_domain_factors(domains: list[WeightDomain]) -> dict[tuple[str, str], float]:
    """The pooling factor of every (domain label, cycle) in which the domain was eligible.

    NCHS's rule for combined cycles (NHANES tutorial, Module 3 "Weighting", Task 2, "When and how to construct
    weights when combining survey cycles", https://wwwn.cdc.gov/nchs/nhanes/tutorials/module3.aspx): a
    combined weight is the cycle's weight times the share of the combined period that the cycle's weight
    stands for, so that the weights sum to the population at the midpoint of the period; 1999-2002 use the
    4-year weights, which stand for two 2-year cycles. The period is that of the *domain*: a population
    questioned in k of the pooled 2-year cycles is represented by k cycles, so its factor is (2-year cycles
    the weight stands for) / k. For the SSQ (age 60+ asked in 1999-2008, 40-59 only in 2003-2008): 60+ ->
    2/5 x WTINT4YR (1999-2002) and 1/5 x WTINT2YR (2003-2008); 40-59 -> 1/3 x WTINT2YR (2003-2008).
    Scaling the 40-59-year-olds by 1/5 instead, as if they had been asked in all five cycles, represents
    them 3/5 of the way (their weighted share of the SSQ population 51% instead of 64%).

    ``domains`` is ``params.yaml nhanes.weight_domains`` (label, min_age, max_age, cycles), checked by the
    schema (settings.py): every domain's cycles are pooled, a 4-year pair is named whole, the ages disjoint.
    """
    factors: dict[tuple[str, str], float] = {}
    for domain in domains:
        for cycle in domain.cycles:
            factors[(domain.label, cycle)] = (2 if cycle in FOUR_YEAR_CYCLES else 1) / len(domain.cycles)
    return factors


def weight_domain(age: pd.Series, domains: list[WeightDomain]) -> pd.Series:
    """The label of the eligibility domain (``params.yaml nhanes.weight_domains``) of each age at screening
    (RIDAGEYR), ``min_age <= age <= max_age`` (``max_age`` null: no upper bound); None outside every domain.
    The schema keeps the domains disjoint (a person belongs to one at most)."""
    labels = pd.Series(None, index=age.index, dtype="object")
    for domain in domains:
        high = domain.max_age
        inside = age.ge(domain.min_age) & (age.le(high) if high is not None else True)
        labels[inside.fillna(False)] = domain.label
    return labels


def pooled_weights(frame: pd.DataFrame, domains: list[WeightDomain]) -> pd.DataFrame:
    """``frame`` with the pooled interview and MEC weights (``weight_interview``, ``weight_exam``) and the
    eligibility domain (``weight_domain``) of every row: cycle weight (WTINT4YR/WTMEC4YR for 1999-2002,
    WTINT2YR/WTMEC2YR after) x the factor of :func:`weight_domain_factors` for the row's (domain, cycle).
    A row outside every domain, or in a cycle in which its domain was not asked the SSQ, gets missing
    weights: such a person is not in the SSQ population (the clean stage checks none answered the SSQ).
    ``weight_exam`` is 0 for people interviewed but not examined (WTMEC = 0 in DEMO)."""
    factors = weight_domain_factors(domains)
    out = frame.copy()
    out["weight_domain"] = weight_domain(out["RIDAGEYR"], domains)
    factor = pd.Series([factors.get((d, c), np.nan) for d, c in zip(out["weight_domain"], out["cycle"])],
                       index=out.index, dtype=float)
    out["weight_interview"] = out["cycle_weight_interview"] * factor
    out["weight_exam"] = out["cycle_weight_exam"] * factor
    return out


def _social_support(raw_dir: Path, cycle: str) -> pd.DataFrame:
    names = src.SSQ_NAMES[cycle]
    ssq, _ = _load(raw_dir, "SSQ", cycle, list(names.values()))
    out = pd.DataFrame({"SEQN": ssq["SEQN"]})
    out["emotional_support"] = measures.has_support(ssq[names["emotional"]])
    out["financial_support"] = measures.has_support(ssq[names["financial"]])
    out["needed_more_support"] = measures.yes_no(ssq[names["needed_more"]])
    out["close_friends"] = ssq[names["friends"]]
    out["religious_attendance"] = ssq[names["religious"]] if "religious" in names else np.nan
    core = ["emotional_support", "financial_support", "needed_more_support", "close_friends"]
    out["answered_ssq"] = out[core].notna().any(axis=1)
    return out


def _further_confounders(raw_dir: Path, cycle: str) -> pd.DataFrame:
    """Health insurance (HIQ), drinking status (ALQ) and leisure-time activity (PAQ) of one cycle, one row
    per SEQN of any of the three tables (the confounders of the sensitivity analysis; measures.py rules)."""
    insurance = src.INSURANCE[cycle]
    hiq, _ = _load(raw_dir, "HIQ", cycle, [insurance])
    alq, _ = _load(raw_dir, "ALQ", cycle, [src.ALCOHOL_12_YEAR[cycle], "ALQ110", "ALQ120Q"])
    vigorous, moderate = src.LEISURE_ACTIVITY[cycle]
    paq, _ = _load(raw_dir, "PAQ", cycle, [vigorous, moderate])
    out = pd.DataFrame({"SEQN": hiq["SEQN"], "insured": measures.yes_no(hiq[insurance])})
    out = out.merge(pd.DataFrame({"SEQN": alq["SEQN"], "alcohol_use": measures.drinking_status(
        alq[src.ALCOHOL_12_YEAR[cycle]], alq["ALQ110"], alq["ALQ120Q"])}), on="SEQN", how="outer",
        validate="one_to_one")
    return out.merge(pd.DataFrame({"SEQN": paq["SEQN"], "leisure_activity": measures.leisure_activity(
        paq[vigorous], paq[moderate])}), on="SEQN", how="outer", validate="one_to_one")


def _merge_optional(base: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Left join on SEQN that must not add or drop rows (checked)."""
    merged = base.merge(other, on="SEQN", how="left", validate="one_to_one")
    if len(merged) != len(base):
        raise CleaningError(f"join changed the row count from {len(base)} to {len(merged)}")
    return merged


def _cycle_table(raw_dir: Path, cycle: str, nh: NhanesSettings) -> pd.DataFrame:
    demo = _demographics(raw_dir, cycle)
    ssq = _social_support(raw_dir, cycle)
    frame = _merge_optional(demo, ssq)

    smq, _ = _load(raw_dir, "SMQ", cycle, ["SMQ020", "SMQ040"])
    smq["smoking_status"] = measures.smoking_status(smq["SMQ020"], smq["SMQ040"])
    frame = _merge_optional(frame, smq[["SEQN", "smoking_status"]])

    bmx, _ = _load(raw_dir, "BMX", cycle, ["BMXBMI"])
    frame = _merge_optional(frame, bmx.rename(columns={"BMXBMI": "bmi"}))

    bpq, _ = _load(raw_dir, "BPQ", cycle, ["BPQ020"])
    frame = _merge_optional(frame, pd.DataFrame({"SEQN": bpq["SEQN"], "hypertension": measures.yes_no(bpq["BPQ020"])}))

    diq, _ = _load(raw_dir, "DIQ", cycle, ["DIQ010"])
    frame = _merge_optional(frame, pd.DataFrame({"SEQN": diq["SEQN"], "diabetes": measures.diabetes(diq["DIQ010"])}))

    # self-rated health, HUQ010 (every cycle's HUQ table; codebooks_1999_2008/HUQ*.md)
    huq, _ = _load(raw_dir, "HUQ", cycle, ["HUQ010"])
    frame = _merge_optional(frame, huq[["SEQN", "HUQ010"]])

    mcq, _ = _load(raw_dir, "MCQ", cycle, [f"MCQ160{c}" for c in "BCDEFGK"] + ["MCQ220"])
    frame = _merge_optional(frame, pd.DataFrame({
        "SEQN": mcq["SEQN"], "prevalent_cvd": measures.prevalent_cvd(mcq),
        "cancer_history": measures.yes_no(mcq["MCQ220"]),
        "copd_history": measures.any_yes(mcq[["MCQ160G", "MCQ160K"]])}))

    frame = _merge_optional(frame, _further_confounders(raw_dir, cycle))

    if cycle in PHQ9_CYCLES:
        dpq, _ = _load(raw_dir, "DPQ", cycle, PHQ9_ITEMS)
        score = measures.phq9_score(dpq)
        frame = _merge_optional(frame, pd.DataFrame({
            "SEQN": dpq["SEQN"], "phq9_score": score,
            "depression_phq9": measures.at_or_above(score, nh.phq9_cutoff),
            **{item: dpq[item] for item in PHQ9_ITEMS}}))  # the items, for their reliability
    else:
        frame["phq9_score"] = np.nan
        frame["depression_phq9"] = np.nan
        for item in PHQ9_ITEMS:
            frame[item] = np.nan

    lmf = src.read_lmf(src.lmf_path(raw_dir, cycle))
    followup = nh.followup_variable
    mort = pd.DataFrame({"SEQN": lmf["SEQN"]})
    mort["mortality_eligible"] = lmf["ELIGSTAT"].map({1.0: 1.0, 2.0: 0.0, 3.0: 0.0})
    eligible = lmf["ELIGSTAT"] == 1
    mort["died"] = lmf["MORTSTAT"].where(eligible)
    mort["followup_months"] = lmf[followup].where(eligible)
    mort["cvd_death"] = measures.cause_specific_death(mort["died"], lmf["UCOD_LEADING"], nh.cvd_death_causes)
    frame = _merge_optional(frame, mort)
    return frame


def build_nhanes(raw_dir: str | Path, nh: NhanesSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assemble, derive and validate the NHANES analysis table; return it and the cohort flow."""
    table, flow, _ = build_nhanes_with_items(raw_dir, nh)
    return table, flow


def build_nhanes_with_items(raw_dir: str | Path, nh: NhanesSettings
                            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`build_nhanes`, plus the recoded PHQ-9 items (DPQ010-DPQ090; 7/9 missing) of the table's rows,
    row for row (``seqn`` and the nine items), which the table itself keeps only as their sum."""
    raw_dir = Path(raw_dir)
    frames = [_cycle_table(raw_dir, cycle, nh) for cycle in nh.cycles]
    everyone = pooled_weights(pd.concat(frames, ignore_index=True), nh.weight_domains)
    flow = [{"step": 0, "label": f"NHANES {nh.cycles[0][:4]}-{nh.cycles[-1][-4:]} participants",
             "n": len(everyone), "excluded": 0, "reason": ""}]

    def step(mask: pd.Series, label: str, reason: str, frame: pd.DataFrame) -> pd.DataFrame:
        kept = frame[mask.to_numpy()]
        flow.append({"step": len(flow), "label": label, "n": len(kept),
                     "excluded": len(frame) - len(kept), "reason": reason})
        return kept

    frame = step(everyone["answered_ssq"].eq(True), "Answered the social-support questionnaire",
                 "Outside the SSQ target ages (under 60 in 1999-2002, under 40 in 2003-2008) or no SSQ answer",
                 everyone)
    outside = frame[frame["weight_interview"].isna()]
    if len(outside):
        first = outside.iloc[0]
        raise CleaningError(f"SSQ respondent SEQN {int(first['SEQN'])} (age {first['RIDAGEYR']:g}, cycle "
                            f"{first['cycle']}) is in no eligibility domain of params.yaml nhanes.weight_domains "
                            f"asked in that cycle ({len(outside)} such rows): add the domain or correct its ages")
    table = _finish(frame, nh.indices)
    phq9_items = frame[["SEQN", *PHQ9_ITEMS]].rename(columns={"SEQN": "seqn"}).reset_index(drop=True)

    first_index = next(iter(nh.indices))
    analytic = step(table[first_index].notna(), "Isolation index complete", "Missing an index item", table)
    analytic = step(analytic["mortality_eligible"] == 1, "Linked to mortality follow-up",
                    "Ineligible for linkage (insufficient identifying data)", analytic)
    covariate_cols = _formula_columns(nh.models.covariate_sets)
    analytic = step(analytic[covariate_cols].notna().all(axis=1) & analytic["weight_interview"].notna(),
                    "Complete covariates (fullest set)", "Missing a covariate of the fullest set", analytic)
    return table, pd.DataFrame(flow), phq9_items


def reliability_records(table: pd.DataFrame, phq9_items: pd.DataFrame, indices: dict[str, IndexSpec],
                        level: float) -> pd.DataFrame:
    """Internal consistency of the table's multi-item measures, one tidy row each (all rows of the analysis
    table, i.e. the SSQ respondents, with every item of the measure answered):

    * ``phq9_score``: Cronbach's alpha of the nine PHQ-9 items DPQ010-DPQ090 (0-3 each), 2005-2008 rows;
    * every index of ``params.yaml nhanes.indices`` (``isolation_index``, ...): KR-20 of its 0/1 item points
      (``core.index.index_points``, the points the index sums).

    ``level`` is the confidence level of the intervals (``reliability.ci_level``).
    """
    if not np.array_equal(phq9_items["seqn"].to_numpy(), table["seqn"].to_numpy()):
        raise CleaningError("the PHQ-9 items are not aligned with the analysis table's rows (seqn differs)")
    rows = []
    asked = table["cycle"].isin(PHQ9_CYCLES).to_numpy()
    record = reliability.cronbach_alpha(phq9_items.loc[asked, PHQ9_ITEMS], ci=level, what="NHANES DPQ_D/DPQ_E")
    rows.append({"study": "nhanes", "measure": "phq9_score",
                 "label": next(v.label for v in NHANES_VARIABLES if v.name == "phq9_score"),
                 "sample": "SSQ respondents 2005-2008 (ages 40+) with all nine items answered", **record})
    for name, spec in indices.items():
        points = index_points(table, spec)
        record = reliability.cronbach_alpha(points, ci=level, what=f"NHANES index {name}")
        record["items"] = ", ".join(it.variable for it in spec.items)
        rows.append({"study": "nhanes", "measure": name, "label": spec.label_or(name),
                     "sample": "SSQ respondents with every item of the index answered", **record})
    return pd.DataFrame(rows)


def _formula_columns(covariate_sets: dict[str, str]) -> list[str]:
    """Column names used across the covariate-set formulas (C(x) -> x), in order of first use."""
    cols: list[str] = []
    for rhs in covariate_sets.values():
        for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", rhs):
            if token not in ("C", "Treatment") and token not in cols:
                cols.append(token)
    return cols


def _finish(frame: pd.DataFrame, indices: dict[str, IndexSpec]) -> pd.DataFrame:
    """Name, label and type the columns; add the indices; validate against the schema."""
    out = pd.DataFrame({
        "seqn": frame["SEQN"].astype("int64"),
        "cycle": frame["cycle"],
        "psu": frame["SDMVPSU"],
        "stratum": frame["SDMVSTRA"],
        "cluster": frame["SDMVSTRA"] * 10 + frame["SDMVPSU"],
        "weight_interview": frame["weight_interview"],
        "weight_exam": frame["weight_exam"],
        "age": frame["RIDAGEYR"],
        "sex": frame["RIAGENDR"].map(dict(zip([1.0, 2.0], SEX))),
        "race_ethnicity": frame["RIDRETH1"].map(dict(zip([1.0, 2.0, 3.0, 4.0, 5.0], RACE))),
        "education": frame["DMDEDUC2"].map({1.0: EDUCATION[0], 2.0: EDUCATION[0], 3.0: EDUCATION[1],
                                            4.0: EDUCATION[2], 5.0: EDUCATION[3]}),
        "income_poverty_ratio": frame["INDFMPIR"],
        "marital_status": frame["DMDMARTL"].map(dict(zip([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], MARITAL))),
        "household_size": frame["DMDHHSIZ"],
        "smoking_status": frame["smoking_status"],
        "bmi": frame["bmi"],
        "hypertension": frame["hypertension"],
        "diabetes": frame["diabetes"],
        "self_rated_health": measures.self_rated_health(frame["HUQ010"]),
        "fair_poor_health": measures.fair_poor_health(frame["HUQ010"]),
        "partnered": measures.partnered(frame["DMDMARTL"]),
        "lives_alone": measures.lives_alone(frame["DMDHHSIZ"]),
        "emotional_support": frame["emotional_support"],
        "financial_support": frame["financial_support"],
        "close_friends": frame["close_friends"],
        "needed_more_support": frame["needed_more_support"],
        "religious_attendance": frame["religious_attendance"],
        "mortality_eligible": frame["mortality_eligible"],
        "died": frame["died"],
        "followup_months": frame["followup_months"],
        "cvd_death": frame["cvd_death"],
        "phq9_score": frame["phq9_score"],
        "depression_phq9": frame["depression_phq9"],
        "prevalent_cvd": frame["prevalent_cvd"],
        "cancer_history": frame["cancer_history"],
        "copd_history": frame["copd_history"],
        "insured": frame["insured"],
        "alcohol_use": frame["alcohol_use"],
        "leisure_activity": frame["leisure_activity"],
    }).reset_index(drop=True)
    for name, spec in indices.items():
        out[name] = build_index(out, spec)
        for column, groups in spec.groupings_of(name).items():
            out[column] = group_index(out[name], groups)
    out = out.astype({c: "Int8" for c in ("hypertension", "diabetes", "fair_poor_health", "partnered", "lives_alone",
                                           "emotional_support", "financial_support", "needed_more_support",
                                           "mortality_eligible", "died", "cvd_death", "depression_phq9",
                                           "prevalent_cvd", "cancer_history", "copd_history", "insured",
                                           "leisure_activity")})
    out = out.astype({"household_size": "Int64", "close_friends": "Int64", "psu": "Int64",
                      "stratum": "Int64", "cluster": "Int64"})
    cats = {"cycle": list(CYCLE_CODE.values()), "sex": list(SEX), "race_ethnicity": list(RACE),
            "education": list(EDUCATION), "marital_status": list(MARITAL),
            "smoking_status": ["Never", "Former", "Current"], "self_rated_health": list(SELF_RATED_HEALTH),
            "alcohol_use": list(DRINKING_STATUS)}
    for col, levels in cats.items():
        out[col] = pd.Categorical(out[col].astype("object").where(out[col].notna(), None), categories=levels)
    return validate(out, indices)


def validate(table: pd.DataFrame, indices: dict[str, IndexSpec]) -> pd.DataFrame:
    """Check the analysis table against its schema; a failure names the column and the value."""
    try:
        return nhanes_schema(indices).validate(table, lazy=True)
    except pandera.errors.SchemaErrors as err:
        cases = err.failure_cases.head(5)
        detail = "; ".join(f"column {r.column}: {r.check} failed for value {r.failure_case!r}"
                           for r in cases.itertuples())
        raise CleaningError(f"the NHANES analysis table breaks its schema: {detail}") from err


def stage() -> str:
    """DVC stage ``clean_nhanes``: the analysis table, its cohort flow, its data dictionary and the reliability
    (alpha / KR-20) of its multi-item measures."""
    params = load()
    nh = params.nhanes
    table, flow, phq9_items = build_nhanes_with_items(config.RAW / "nhanes", nh)
    alphas = reliability_records(table, phq9_items, nh.indices, params.reliability.ci_level)
    notes = {r["measure"]: f"{reliability.describe(r)}; {r['sample']}" for r in alphas.to_dict("records")}
    dictionary = data_dictionary(table, nh.indices, notes)
    io.write_outputs({config.PROCESSED / "nhanes.parquet": table, config.PROCESSED / "nhanes_flow.csv": flow,
                      config.PROCESSED / "nhanes_reliability.csv": alphas,
                      config.PROCESSED / "nhanes_data_dictionary.csv": dictionary,
                      config.PROCESSED / "nhanes_data_dictionary.md": dictionary.to_markdown(index=False) + "\n"})
    return f"NHANES analysis table: {len(table):,} rows x {table.shape[1]} columns"
