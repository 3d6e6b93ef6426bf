"""GSS panel measures, each from its codebook items with the rule in its docstring.

Inputs are GSS codes from :func:`analysis.studies.gss.source.recode` (missing answers already NaN); the
codes and the codebook wording are in :data:`analysis.studies.gss.source.CODEBOOK`. Every rule keeps NaN
where the item is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.studies.gss.source import SOCIAL_EVENING_CODES

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
