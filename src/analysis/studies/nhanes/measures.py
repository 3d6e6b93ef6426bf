"""NHANES derived measures, each from its codebook items with the rule in its docstring.

Inputs are already recoded (:func:`analysis.studies.nhanes.source.recode`): refused / don't know codes
are NaN, so every rule below sees only documented answers. Functions take and return pandas Series
aligned on the same index, and keep NaN where the rule cannot be decided.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.core.index import at_or_above  # noqa: F401  (PHQ-9 >= cut-off: caseness, shared with the cohorts)

# ---------------------------------------------------------------------------------------------
# Social connection


def partnered(dmdmartl: pd.Series) -> pd.Series:
    """Married or living with a partner. DEMO.DMDMARTL: 1 married, 6 living with partner -> 1;
    2 widowed, 3 divorced, 4 separated, 5 never married -> 0; 77/99 (already NaN) -> missing."""
    out = pd.Series(np.where(dmdmartl.isin([1, 6]), 1.0, 0.0), index=dmdmartl.index)
    return out.where(dmdmartl.notna())


def lives_alone(household_size: pd.Series) -> pd.Series:
    """Lives alone: DEMO.DMDHHSIZ == 1 (total people in the household, 7 = 7 or more)."""
    return (household_size == 1).astype("float64").where(household_size.notna())


def has_support(answer: pd.Series) -> pd.Series:
    """Anyone to count on for emotional support (SSQ010/SSD011/SSQ011) or financial help
    (SSQ050/SSD051/SSQ051): 1 yes -> 1; 3 ("doesn't need help" / "offered help but wouldn't accept
    it") -> 1, because support is available or not lacking; 2 no -> 0; 7/9 -> missing."""
    mapped = answer.map({1.0: 1.0, 3.0: 1.0, 2.0: 0.0})
    return mapped.astype("float64")


def yes_no(answer: pd.Series) -> pd.Series:
    """Codebook yes/no item: 1 yes -> 1, 2 no -> 0, refused/don't know (NaN) -> missing."""
    return answer.map({1.0: 1.0, 2.0: 0.0}).astype("float64")


# ---------------------------------------------------------------------------------------------
# Covariates


def smoking_status(smq020: pd.Series, smq040: pd.Series) -> pd.Series:
    """Never / Former / Current cigarette smoking.

    SMQ020 "smoked at least 100 cigarettes in life": 2 -> Never.
    SMQ020 = 1 and SMQ040 "do you now smoke": 1 every day or 2 some days -> Current; 3 not at all ->
    Former; SMQ040 missing -> missing. SMQ020 refused/don't know -> missing.
    """
    out = pd.Series(pd.NA, index=smq020.index, dtype="string")
    out[smq020 == 2] = "Never"
    ever = smq020 == 1
    out[ever & smq040.isin([1, 2])] = "Current"
    out[ever & (smq040 == 3)] = "Former"
    return out


def diabetes(diq010: pd.Series) -> pd.Series:
    """DIQ010 "doctor told you have diabetes": 1 yes -> 1; 2 no and 3 borderline -> 0."""
    return diq010.map({1.0: 1.0, 2.0: 0.0, 3.0: 0.0}).astype("float64")


# HUQ010 "General health condition" (HUQ, HUQ_B, HUQ_C, HUQ_D, HUQ_E; codebooks_1999_2008/HUQ*.md): "Would you
# say your health in general is excellent, very good, good, fair, or poor?"; 7 refused / 9 don't know are
# already NaN. The household-interview item, not its MEC twin HSD010 (the codebook notes the two often differ).


def self_rated_health(huq010: pd.Series) -> pd.Series:
    """Self-rated general health from HUQ010: 1 Excellent, 2 Very good, 3 Good, 4 Fair, 5 Poor (the
    codebook's wording; the clean stage makes it a categorical in this order, schema.SELF_RATED_HEALTH);
    7 refused / 9 don't know (already NaN) -> missing."""
    labels = {1.0: "Excellent", 2.0: "Very good", 3.0: "Good", 4.0: "Fair", 5.0: "Poor"}
    return huq010.map(labels).astype("string")


def fair_poor_health(huq010: pd.Series) -> pd.Series:
    """Fair or poor self-rated health, the usual dichotomy of HUQ010 (as in NCHS Health, United States):
    4 fair or 5 poor -> 1; 1 excellent, 2 very good, 3 good -> 0; 7/9 (already NaN) -> missing."""
    return huq010.map({1.0: 0.0, 2.0: 0.0, 3.0: 0.0, 4.0: 1.0, 5.0: 1.0}).astype("float64")


def any_yes(block: pd.DataFrame) -> pd.Series:
    """1 if any yes/no item of ``block`` (1 yes, 2 no, refused/don't know already NaN) is yes; 0 if all are
    no; missing otherwise (an item missing and none yes). Used for "ever told emphysema or chronic
    bronchitis" (MCQ160G, MCQ160K) and for any leisure-time activity (see :func:`leisure_activity`)."""
    out = pd.Series(np.nan, index=block.index)
    out[(block == 2).all(axis=1)] = 0.0
    out[(block == 1).any(axis=1)] = 1.0
    return out


def leisure_activity(vigorous: pd.Series, moderate: pd.Series) -> pd.Series:
    """Any moderate or vigorous leisure-time physical activity (1) or none (0).

    1999-2006 (PAQ, PAQ_B-PAQ_D): PAD200 "vigorous activity over past 30 days" and PAD320 "moderate activity
    over past 30 days", 1 yes, 2 no, 3 unable to do activity (counted as no activity), 7/9 missing.
    2007-2008 (PAQ_E, the Global Physical Activity Questionnaire): PAQ650 "vigorous recreational activities"
    and PAQ665 "moderate recreational activities" (in a typical week), 1 yes, 2 no, 7/9 missing; pass them
    with 3 absent. Either yes -> 1; both no (or unable) -> 0; otherwise missing. The questions changed in
    2007-2008 (typical week instead of the past 30 days), so the share active is not comparable across that
    break; as an adjustment variable it is the closest harmonised measure (codebooks_1999_2008/PAQ*.md).
    """
    block = pd.DataFrame({"vigorous": vigorous.replace({3.0: 2.0}), "moderate": moderate.replace({3.0: 2.0})})
    return any_yes(block)


def drinking_status(ever_12_year: pd.Series, ever_12_life: pd.Series, days_past_year: pd.Series) -> pd.Series:
    """Lifetime abstainer / Former / Current drinker (the NHIS drinking-status groups).

    ALQ (MEC interview, adults 20+): ALQ100 (1999-2000) / ALD100 (2001-2002) / ALQ101 (2003-2008) "had at
    least 12 alcohol drinks in any one year"; no -> ALQ110 "at least 12 drinks in your entire life"; no ->
    end of section (Lifetime abstainer). Otherwise ALQ120Q "how often drink alcohol over past 12 months"
    (0-365 times per unit; 777/999 missing): 0 -> Former, 1 or more -> Current. ``days_past_year`` is
    ALQ120Q; its unit (ALQ120U) does not matter for none vs any.
    """
    out = pd.Series(pd.NA, index=days_past_year.index, dtype="string")
    out[(ever_12_year == 2) & (ever_12_life == 2)] = "Lifetime abstainer"
    out[days_past_year == 0] = "Former"
    out[days_past_year >= 1] = "Current"
    return out


# ---------------------------------------------------------------------------------------------
# Outcomes


def phq9_score(items: pd.DataFrame) -> pd.Series:
    """PHQ-9 = sum of DPQ010-DPQ090 (each 0 not at all ... 3 nearly every day), range 0-27.
    7 refused / 9 don't know are missing; the score is missing if any of the nine items is missing
    (no prorating, as in Kroenke et al. 2001 and the NCHS data briefs)."""
    cols = [f"DPQ0{i}0" for i in range(1, 10)]
    missing = [c for c in cols if c not in items.columns]
    if missing:
        raise KeyError(f"PHQ-9 needs the items {missing}")
    block = items[cols]
    return block.sum(axis=1, min_count=9).where(block.notna().all(axis=1))


def prevalent_cvd(mcq: pd.DataFrame) -> pd.Series:
    """Self-reported CVD: ever told congestive heart failure (MCQ160B), coronary heart disease
    (MCQ160C), angina (MCQ160D), heart attack (MCQ160E) or stroke (MCQ160F).
    1 if any is yes; 0 if all five are no; missing otherwise (a 7/9 or unasked item with no yes)."""
    cols = [f"MCQ160{c}" for c in "BCDEF"]
    block = mcq[cols]
    any_yes = (block == 1).any(axis=1)
    all_no = (block == 2).all(axis=1)
    out = pd.Series(np.nan, index=mcq.index)
    out[all_no] = 0.0
    out[any_yes] = 1.0
    return out


def cause_specific_death(died: pd.Series, ucod: pd.Series, causes: list[str]) -> pd.Series:
    """1 if died with underlying cause (LMF UCOD_LEADING) in ``causes``; 0 if alive or died of
    another cause (censored at death in a cause-specific model); missing if vital status is."""
    hit = ucod.isin([str(c).zfill(3) for c in causes]).fillna(False).astype(bool)
    out = pd.Series(0.0, index=died.index)
    out[(died == 1) & hit] = 1.0
    return out.where(died.notna())
