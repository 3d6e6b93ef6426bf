"""Derived measures, each from its codebook items with the rule in its docstring.

Inputs are already recoded (``sources.nhanes.recode``): refused / don't know codes are NaN, so
every rule below sees only documented answers. Functions take and return pandas Series aligned on
the same index, and keep NaN where the rule cannot be decided.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.config import validate_index_spec

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


def at_or_above(score: pd.Series, cutoff: float) -> pd.Series:
    """1 if score >= cutoff, 0 if below, missing if the score is missing (e.g. PHQ-9 >= 10)."""
    return (score >= cutoff).astype("float64").where(score.notna())


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


# ---------------------------------------------------------------------------------------------
# Indices defined as data (params.yaml `indices`)

_OPS = {
    "eq": lambda s, v: s == v,
    "ne": lambda s, v: s != v,
    "lt": lambda s, v: s < v,
    "le": lambda s, v: s <= v,
    "gt": lambda s, v: s > v,
    "ge": lambda s, v: s >= v,
    "in": lambda s, v: s.isin(v if isinstance(v, (list, tuple, set)) else [v]),
}


def index_points(table: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """One column per item: 1 where the item's rule holds, 0 where it does not, NaN if missing."""
    points = {}
    for i, item in enumerate(spec["items"]):
        var = item["variable"]
        if var not in table.columns:
            raise KeyError(f"index item {i} uses the column '{var}', which the analysis table lacks "
                           f"(available: {', '.join(sorted(table.columns))})")
        values = table[var]
        hit = _OPS[item["op"]](values, item["value"]).astype("float64")
        points[f"{var}_{item['op']}_{item['value']}"] = hit.where(values.notna())
    return pd.DataFrame(points, index=table.index)


def build_index(table: pd.DataFrame, spec: dict, name: str = "index") -> pd.Series:
    """Sum of item points by the spec's missing rule.

    ``missing: complete``: missing unless every item is answered.
    ``missing: prorate``: with at least ``min_items`` answered, the mean point times the number of
    items (so the scale stays 0..k); fewer answered -> missing.
    """
    validate_index_spec(name, spec)
    points = index_points(table, spec)
    answered = points.notna().sum(axis=1)
    k = points.shape[1]
    if spec.get("missing", "complete") == "complete":
        return points.sum(axis=1).where(answered == k)
    min_items = int(spec.get("min_items", k))
    return (points.mean(axis=1) * k).where(answered >= min_items)


def group_index(score: pd.Series, groups: list[dict]) -> pd.Series:
    """Ordered categories from score ranges; the first group is the reference.

    Group k holds scores from its ``min`` up to (not including) the next group's ``min``; the last group
    holds ``min`` to ``max`` inclusive. With whole-number scores this is the inclusive ranges written in
    params.yaml ([0, 0], [1, 1], [2, 5]); a prorated, fractional score (``missing: prorate``) falls in
    the group whose range it starts in (1.25 -> [1, 1], "Moderate"). Groups must be in increasing order;
    a score below the first ``min`` or above the last ``max`` is an error (the groups must cover the scale).
    """
    labels = [g["label"] for g in groups]
    mins = [float(g["min"]) for g in groups]
    if mins != sorted(mins) or len(set(mins)) != len(mins):
        raise ValueError(f"index groups {labels}: their 'min' values {mins} must increase")
    out = pd.Series(pd.NA, index=score.index, dtype="object")
    for k, g in enumerate(groups):
        upper = (score < groups[k + 1]["min"]) if k + 1 < len(groups) else (score <= g["max"])
        out[(score >= g["min"]) & upper] = g["label"]
    uncovered = score.notna() & out.isna()
    if uncovered.any():
        raise ValueError(f"index score {score[uncovered].iloc[0]:g} falls in none of the groups {labels}")
    return pd.Series(pd.Categorical(out, categories=labels, ordered=True), index=score.index)


# ---------------------------------------------------------------------------------------------
# General Social Survey (GSS) panels
#
# Inputs are GSS codes from ``sources.gss.recode`` (missing answers already NaN); the codes and the
# codebook wording are in ``sources.gss.CODEBOOK``. Every rule keeps NaN where the item is missing.

# Social evenings (SOCREL, SOCOMMUN, SOCFREND, SOCBAR; one show card): GSS code -> evenings a year.
# Rule: take each answer at its plain reading, with "several" = 3 throughout (so the categories sit
# near the geometric middle of their neighbours): almost daily = about 6 evenings a week less weeks
# away (300); once or twice a week = 1.5 x 52 (78); several times a month = 3 x 12 (36); about once a
# month = 12; several times a year = 3; about once a year = 1; never = 0. Code 2 is labelled "Sev Times
# a Week" in the 2006-2014 panel files but "once or twice a week" in NORC's current codebook; we
# follow the codebook (a reading of 2-3 a week would give 130 instead of 78).
EVENINGS_PER_YEAR: dict[int, float] = {1: 300.0, 2: 78.0, 3: 36.0, 4: 12.0, 5: 3.0, 6: 1.0, 7: 0.0}

# ATTEND: GSS code -> services a year, same reading ("several" = 3): never 0; less than once a year
# 0.5; about once or twice a year 1.5; several times a year 3; about once a month 12; 2-3 times a month
# 30 (2.5 x 12); nearly every week 45; every week 52; several times a week 156 (3 x 52).
ATTENDANCE_PER_YEAR: dict[int, float] = {0: 0.0, 1: 0.5, 2: 1.5, 3: 3.0, 4: 12.0, 5: 30.0, 6: 45.0,
                                         7: 52.0, 8: 156.0}


def _codebook_key(key: object) -> int:
    """A mapping key given as a GSS code (1) or its codebook label ("almost daily") -> the code."""
    from analysis.sources.gss import SOCIAL_EVENING_CODES

    if isinstance(key, str) and not key.strip().lstrip("-").isdigit():
        wanted = " ".join(key.split()).casefold()
        for code, label in SOCIAL_EVENING_CODES.items():
            if label == wanted:
                return code
        raise KeyError(f"'{key}' is not a label of the social-evening card ({list(SOCIAL_EVENING_CODES.values())})")
    return int(key)


def evenings_per_year(code: pd.Series, mapping: dict | None = None) -> pd.Series:
    """Social evenings a year from a GSS social-evening item (SOCREL relatives, SOCOMMUN neighbours,
    SOCFREND friends outside the neighbourhood, SOCBAR bar or tavern): code 1 almost daily -> 300,
    2 once or twice a week -> 78, 3 several times a month -> 36, 4 about once a month -> 12, 5 several
    times a year -> 3, 6 about once a year -> 1, 7 never -> 0 (``EVENINGS_PER_YEAR``; ``mapping``
    replaces it, keyed by code or by codebook label, and must cover all seven codes).
    """
    table = EVENINGS_PER_YEAR if mapping is None else {
        _codebook_key(k): float(v) for k, v in mapping.items()}
    if set(table) != set(EVENINGS_PER_YEAR):
        raise ValueError(f"an evenings-per-year mapping needs exactly the codes 1-7, got {sorted(table)}")
    values = list(table.values())
    order = [table[c] for c in sorted(table)]
    if any(a < b for a, b in zip(order, order[1:])) or min(values) < 0:
        raise ValueError(f"evenings per year must not increase from 'almost daily' (1) to 'never' (7): {table}")
    out = code.map({float(k): v for k, v in table.items()}).astype("float64")
    unknown = code.notna() & out.isna()
    if unknown.any():
        raise ValueError(f"social-evening code {code[unknown].iloc[0]:g} is not one of 1-7")
    return out


def social_contact_index(relatives: pd.Series, friends: pd.Series, neighbours: pd.Series) -> pd.Series:
    """Social contact index = log(1 + evenings a year spent with relatives (SOCREL) + with friends
    outside the neighbourhood (SOCFREND) + with neighbours (SOCOMMUN)), each from
    ``evenings_per_year``. Range 0 (never any) to log(901) = 6.80 (almost daily with all three).
    Missing if any of the three is missing (they are asked together, on the same ballots).
    Evenings at a bar (SOCBAR) are left out: a place, not a tie. The log keeps a few "almost daily"
    answers from dominating and makes a coefficient read as a relative change in contact."""
    block = pd.concat([relatives, friends, neighbours], axis=1)
    total = block.sum(axis=1, min_count=3)
    return np.log1p(total).where(block.notna().all(axis=1))


def married(marital: pd.Series) -> pd.Series:
    """Partnered, GSS version: MARITAL 1 married -> 1; 2 widowed, 3 divorced, 4 separated, 5 never
    married -> 0. The GSS MARITAL item has no category for living with a partner, so cohabiting
    respondents are counted by their legal status (mostly never married or divorced)."""
    return marital.map({1.0: 1.0, 2.0: 0.0, 3.0: 0.0, 4.0: 0.0, 5.0: 0.0}).astype("float64")


def attendance_per_year(attend: pd.Series) -> pd.Series:
    """Religious services attended a year from ATTEND (codes 0-8, ``ATTENDANCE_PER_YEAR``): never 0,
    less than once a year 0.5, once or twice a year 1.5, several times a year 3, about once a month 12,
    2-3 times a month 30, nearly every week 45, every week 52, several times a week 156."""
    return attend.map({float(k): v for k, v in ATTENDANCE_PER_YEAR.items()}).astype("float64")


def confidants(numgiven: pd.Series) -> pd.Series:
    """Number of people the respondent discussed important matters with in the last six months
    (NUMGIVEN, the GSS name generator), capped to 0-6 (6 is the item's top code); -1 (not asked) is
    already missing. Asked in the 2006-2010 panel's third wave (2010) only."""
    return numgiven.clip(lower=0, upper=6).astype("float64")


def fair_poor_health(health: pd.Series) -> pd.Series:
    """Self-rated health fair or poor: HEALTH 3 fair, 4 poor -> 1; 1 excellent, 2 good -> 0 (the GSS
    item has four categories, no 'very good')."""
    return health.map({1.0: 0.0, 2.0: 0.0, 3.0: 1.0, 4.0: 1.0}).astype("float64")


def unhappy(happy: pd.Series) -> pd.Series:
    """Not too happy: HAPPY 3 not too happy -> 1; 1 very happy, 2 pretty happy -> 0."""
    return happy.map({1.0: 0.0, 2.0: 0.0, 3.0: 1.0}).astype("float64")


def female(sex: pd.Series) -> pd.Series:
    """SEX 2 female -> 1, 1 male -> 0."""
    return sex.map({1.0: 0.0, 2.0: 1.0}).astype("float64")


def log_income(real_income: pd.Series) -> pd.Series:
    """Natural log of REALINC (family income in constant 1986 dollars); 0 or below -> missing
    (no log; REALINC has no zero in these files)."""
    return np.log(real_income.where(real_income > 0))


def employed(wrkstat: pd.Series) -> pd.Series:
    """Employed, as the labour-force definition: WRKSTAT 1 working full time, 2 working part time, 3
    with a job but not at work (temporary illness, vacation, strike) -> 1; 4 unemployed, 5 retired,
    6 in school, 7 keeping house, 8 other -> 0."""
    return wrkstat.map({1.0: 1.0, 2.0: 1.0, 3.0: 1.0, 4.0: 0.0, 5.0: 0.0, 6.0: 0.0, 7.0: 0.0,
                        8.0: 0.0}).astype("float64")


def loneliness_score(companionship: pd.Series, isolated: pd.Series) -> pd.Series:
    """Loneliness score, 2020 re-interview = LONELY1 (how often in the past 4 weeks felt you lack
    companionship) + LONELY2 (felt isolated from others), each 1 never, 2 rarely, 3 sometimes,
    4 often, 5 very often: range 2-10, higher = lonelier; missing unless both are answered. The third
    item of the set (LONELY3, felt left out) is in the 2020 panel file at the 2018 baseline only, so
    the 2020 score uses the two items asked in 2020 (the UCLA-3 pattern minus 'left out')."""
    block = pd.concat([companionship, isolated], axis=1)
    return block.sum(axis=1, min_count=2).where(block.notna().all(axis=1))
