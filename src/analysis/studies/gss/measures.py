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


# ---------------------------------------------------------------------------------------------
# Digital connection and social trust (issue 22)

#: Weekly hours above this are set to it before the log (params.yaml ``gss.reach.hours_top_code``): 84 hours is
#: 12 hours every day of the week; WWWHR and EMAILHR run to 168 (every hour of the week).
HOURS_TOP_CODE = 84.0


def weekly_hours(hours: pd.Series, minutes: pd.Series, *, not_asked_zero: pd.Series | None = None,
                 top_code: float = HOURS_TOP_CODE) -> pd.Series:
    """Weekly hours from a GSS hours-and-minutes item (WWWHR + WWWMIN, EMAILHR + EMAILMIN; "about how many
    minutes or hours per week ..."): hours + minutes / 60, a missing minutes part counting 0 when the hours
    part is answered (and the reverse); missing when neither is. ``not_asked_zero`` (0/1) marks respondents the
    questionnaire's skip routed past the item because they do not use it (no computer and no mobile internet;
    for the Web, also "no" to USEWWW): they get 0 hours, not missing. Then capped at ``top_code``."""
    block = pd.concat([hours, minutes / 60.0], axis=1)
    total = block.sum(axis=1, min_count=1)
    if not_asked_zero is not None:
        total = total.where(~(total.isna() & (not_asked_zero == 1)), 0.0)
    return total.clip(upper=top_code)


def log_hours(hours: pd.Series) -> pd.Series:
    """log(1 + weekly hours): the hours are right-skewed (2016-2020 panel: median 8 Web hours a week, 75th
    percentile 15-20, a few near the cap); on the log scale one unit is an e-fold (2.7 times) change in
    1 + hours, so a within-person coefficient reads as the change in the outcome when a person's time online
    grows 2.7-fold, and 0 hours (non-users) stays 0."""
    return np.log1p(hours)


def non_user(compuse: pd.Series, webmob: pd.Series) -> pd.Series:
    """1 if the respondent uses neither a computer (COMPUSE 2 no) nor mobile internet at home (WEBMOB 2 no): the
    GSS skips the e-mail and Web time items for them, so their time is 0 (not missing); 0 if either is yes;
    missing otherwise."""
    out = pd.Series(np.nan, index=compuse.index)
    out[(compuse == 1) | (webmob == 1)] = 0.0
    out[(compuse == 2) & (webmob == 2)] = 1.0
    return out


def web_not_used(non_user_flag: pd.Series, usewww: pd.Series) -> pd.Series:
    """1 if the GSS skipped the Web time item because the respondent does not use the Web: a non-user
    (:func:`non_user`) or USEWWW 2 ("Other than for e-mail, do you ever use the Internet?" no; asked when e-mail
    time is 0); else 0."""
    return ((non_user_flag == 1) | (usewww == 2)).astype("float64")


#: Trust items -> (code of the trusting answer, code of the distrusting answer); code 3 is "depends" for all
#: three. FAIR runs the other way round: 2 would try to be fair, 1 would take advantage.
TRUST_ITEMS: dict[str, tuple[float, float]] = {"trust": (1.0, 2.0), "helpful": (1.0, 2.0), "fair": (2.0, 1.0)}
DEPENDS = 3.0


def trust_item(code: pd.Series, item: str, depends: float = 0.5) -> pd.Series:
    """One social-trust item as 0-1, higher = more trusting: TRUST 1 can be trusted -> 1, 2 can't be too careful
    -> 0; HELPFUL 1 try to be helpful -> 1, 2 looking out for themselves -> 0; FAIR 2 would try to be fair -> 1,
    1 would take advantage -> 0; 3 depends (volunteered) -> ``depends`` (params.yaml ``gss.reach.trust_depends``,
    0.5 by default: between the two answers); don't know / no answer already missing."""
    trusting, distrusting = TRUST_ITEMS[item]
    return code.map({trusting: 1.0, distrusting: 0.0, DEPENDS: float(depends)}).astype("float64")


def social_trust_score(trust: pd.Series, helpful: pd.Series, fair: pd.Series) -> pd.Series:
    """Social trust score = mean of the three items of :func:`trust_item` (TRUST, HELPFUL, FAIR; Rosenberg's
    faith-in-people items as the GSS asks them), 0 (distrusting on all three) to 1 (trusting on all three);
    missing unless all three are answered (they are asked together, on the same ballots)."""
    block = pd.concat([trust, helpful, fair], axis=1)
    return block.mean(axis=1).where(block.notna().all(axis=1))
