"""The contract of the two GSS analysis tables: columns, types, allowed values, documentation.

``GSS_PANEL_VARIABLES`` defines the person-wave table of the 2006-2010, 2008-2012 and 2010-2014
panels (``studies.gss.clean.build_gss_panel``); ``GSS_2020_VARIABLES`` the one-row-per-baseline-respondent
table of the 2016-2020 panel (``studies.gss.clean.build_gss_2020``). The cleaning code builds exactly these
columns, ``gss_panel_schema()`` / ``gss_2020_schema()`` (pandera) validate them, and
``gss_data_dictionary`` writes name, label, type, source items, rule and % missing from the same
lists. The column types and checks follow ``analysis.studies.nhanes.schema`` (NHANES), whose ``Variable`` is reused.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pandera.pandas as pa

from analysis.core.contract import Variable, data_dictionary, table_schema

PANELS = ("2006-2010", "2008-2012", "2010-2014")
SEX = ("Male", "Female")
RACE = ("White", "Black", "Other")
DEGREE = ("Less than high school", "High school", "Junior college", "Bachelor", "Graduate")
MARITAL = ("Married", "Widowed", "Divorced", "Separated", "Never married")
HEALTH = ("Excellent", "Good", "Fair", "Poor")
HAPPINESS = ("Very happy", "Pretty happy", "Not too happy")
BALLOTS = ("A", "B", "C")
MODES_2020 = ("Web", "Phone")
WORK_STATUS = ("Working full time", "Working part time", "With a job, not at work", "Unemployed",
               "Retired", "In school", "Keeping house", "Other")

# GSS code -> category label of the analysis tables (codes as in studies/gss/source.py CODEBOOK).
CATEGORY_CODES: dict[str, dict[float, str]] = {
    "sex": dict(zip((1.0, 2.0), SEX, strict=False)),
    "race": dict(zip((1.0, 2.0, 3.0), RACE, strict=False)),
    "degree": dict(zip((0.0, 1.0, 2.0, 3.0, 4.0), DEGREE, strict=False)),
    "marital": dict(zip((1.0, 2.0, 3.0, 4.0, 5.0), MARITAL, strict=False)),
    "health": dict(zip((1.0, 2.0, 3.0, 4.0), HEALTH, strict=False)),
    "happy": dict(zip((1.0, 2.0, 3.0), HAPPINESS, strict=False)),
    "wrkstat": dict(zip((1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0), WORK_STATUS, strict=False)),
    "ballot": dict(zip((1.0, 2.0, 3.0), BALLOTS, strict=False)),
    "mode_2020": {4.0: "Web", 2.0: "Phone"},
}

EVENINGS_RULE = ("evenings a year from the card's answer: almost daily 300, once or twice a week 78, several "
                 "times a month 36, about once a month 12, several times a year 3, about once a year 1, never 0")
# Bounds that hold for any evenings-per-year mapping (params gss.evenings_per_year): at most one
# evening a day, so 366 a year and 3 x 366 across relatives, friends and neighbours.
EVENINGS_MAX = 366
CONTACT_MAX = math.log1p(3 * EVENINGS_MAX)

# Measures that exist at every interview: defined once, placed in the panel table as they are and in
# the 2016-2020 table with a _baseline or _2020 suffix.
_TIME_VARYING: tuple[Variable, ...] = (
    Variable("evenings_relatives", "Social evenings with relatives a year", "float", "SOCREL", EVENINGS_RULE,
             (0, EVENINGS_MAX)),
    Variable("evenings_friends", "Social evenings with friends (outside the neighbourhood) a year", "float",
             "SOCFREND", EVENINGS_RULE, (0, EVENINGS_MAX)),
    Variable("evenings_neighbours", "Social evenings with neighbours a year", "float", "SOCOMMUN",
             EVENINGS_RULE, (0, EVENINGS_MAX)),
    Variable("evenings_bar", "Evenings at a bar or tavern a year", "float", "SOCBAR", EVENINGS_RULE, (0, EVENINGS_MAX)),
    Variable("social_contact_index", "Social contact index, log(1 + evenings with relatives, friends, neighbours)",
             "float", "SOCREL, SOCFREND, SOCOMMUN",
             "log1p(evenings_relatives + evenings_friends + evenings_neighbours); missing if any is missing; "
             "range 0-6.80 with the default evenings (params gss.evenings_per_year may change it)", (0, CONTACT_MAX)),
    Variable("partnered", "Married", "binary", "MARITAL",
             "1 married -> 1; widowed, divorced, separated, never married -> 0 (GSS MARITAL has no cohabiting "
             "category)"),
    Variable("marital_status", "Marital status", "category", "MARITAL",
             "1 married, 2 widowed, 3 divorced, 4 separated, 5 never married", MARITAL),
    Variable("religious_attendance", "Religious services attended a year", "float", "ATTEND",
             "never 0, <1/yr 0.5, once or twice a year 1.5, several times a year 3, about once a month 12, "
             "2-3 times a month 30, nearly every week 45, every week 52, several times a week 156", (0, 156)),
    Variable("self_rated_health", "Self-rated health", "category", "HEALTH",
             "1 excellent, 2 good, 3 fair, 4 poor (asked of two of three ballots)", HEALTH),
    Variable("fair_poor_health", "Fair or poor self-rated health", "binary", "HEALTH",
             "3 fair, 4 poor -> 1; 1 excellent, 2 good -> 0"),
    Variable("happiness", "General happiness", "category", "HAPPY", "1 very happy, 2 pretty happy, 3 not too happy",
             HAPPINESS),
    Variable("unhappy", "Not too happy", "binary", "HAPPY", "3 not too happy -> 1; 1 very, 2 pretty happy -> 0"),
    Variable("poor_mental_health_days", "Days of poor mental health, past 30", "float", "MNTLHLTH",
             "as reported, 0-30; in the files only at wave 1 of the 2006-2010 and 2010-2014 panels and at the "
             "2016/2018 baselines", (0, 30)),
    Variable("age", "Age (years)", "float", "AGE", "as published; 89 = 89 or older", (18, 89)),
    Variable("real_income", "Family income, constant 1986 dollars", "float", "REALINC",
             "as published (NORC: category midpoint deflated by the CPI)", (0, None)),
    Variable("log_real_income", "Log family income (1986 dollars)", "float", "REALINC",
             "natural log of REALINC; 0 or less -> missing", (0, None)),
    Variable("employed", "Employed", "binary", "WRKSTAT",
             "1 full time, 2 part time, 3 with a job but not at work -> 1; unemployed, retired, in school, "
             "keeping house, other -> 0"),
    Variable("work_status", "Labour-force status", "category", "WRKSTAT", "WRKSTAT codes 1-8", WORK_STATUS),
)
_CONSTANT: tuple[Variable, ...] = (
    Variable("sex", "Sex", "category", "SEX", "1 male, 2 female", SEX),
    Variable("female", "Female", "binary", "SEX", "2 female -> 1, 1 male -> 0"),
    Variable("race", "Race", "category", "RACE", "1 white, 2 black, 3 other (the GSS's three-category item)", RACE),
    Variable("education_years", "Years of schooling", "float", "EDUC", "highest year completed, 0-20", (0, 20)),
    Variable("degree", "Highest degree", "category", "DEGREE",
             "0 less than high school, 1 high school, 2 junior college, 3 bachelor, 4 graduate", DEGREE),
)
_BY_NAME = {v.name: v for v in _TIME_VARYING + _CONSTANT}

GSS_PANEL_VARIABLES: tuple[Variable, ...] = (
    Variable("person_id", "Person (unique across panels)", "string", "FIRSTID",
             "'<first year of the panel>-<firstid>', e.g. 2006-0009", nullable=False),
    Variable("panel", "GSS panel", "category", "SAMPTYPE / file", "2006-2010, 2008-2012 or 2010-2014", PANELS,
             nullable=False),
    Variable("firstid", "Respondent id within the panel (as published)", "string", "FIRSTID", "as published",
             nullable=False),
    Variable("wave", "Wave", "int", "WAVE", "1 baseline, 2 and 3 re-interviews two and four years later", (1, 3),
             nullable=False),
    Variable("year", "Interview year", "int", "YEAR", "as published; rows exist only for interviews", (2006, 2014),
             nullable=False),
    Variable("n_waves", "Waves the person was interviewed in", "int", "YEAR",
             "count of the person's rows (attrition is monotone: no one misses wave 2 and returns)", (1, 3),
             nullable=False),
    Variable("weight_panel12", "Panel weight, waves 1-2 (non-response adjusted)", "float", "WTPANNR12",
             "as published; a person constant, present for those interviewed at wave 2", (0, None)),
    Variable("weight_panel123", "Panel weight, waves 1-3 (non-response adjusted)", "float", "WTPANNR123",
             "as published; a person constant, present for those interviewed at wave 3", (0, None)),
    Variable("ballot", "Split ballot", "category", "BALLOT",
             "A, B or C as published for the interview (2 persons changed ballot between waves); "
             "HEALTH asked on A and C, the social-evening "
             "items on A and B: only ballot A has both at every wave", BALLOTS),
    Variable("stratum", "Variance stratum", "int", "VSTRAT", "as published; 2006 and 2010 panels only", (1, None)),
    Variable("psu", "Variance primary sampling unit", "int", "VPSU", "as published (1 or 2); 2006 and 2010 panels only",
             (1, 2)),
    *_TIME_VARYING,
    Variable("confidants", "People discussed important matters with (last 6 months)", "float", "NUMGIVEN",
             "count capped 0-6 (6 = top code); -1 not asked -> missing; 2006-2010 panel wave 3 (2010) only", (0, 6)),
    *_CONSTANT,
    Variable("age_baseline", "Age at wave 1 (years)", "float", "AGE (wave 1)",
             "the person's age at the panel's first interview, on every row (a person constant: age itself moves "
             "in step with wave)", (18, 89)),
    Variable("inconsistent_age_sex", "Age or sex inconsistent across the person's waves", "binary",
             "AGE, SEX", "person flag: 1 if at wave 2 or 3 sex differs from wave 1 or age differs from the wave-1 "
             "age + 2 years a wave by more than 2 (89+ not compared); 0 otherwise. Sex and race are kept as "
             "reported at each wave", nullable=False),
)


def _at(name: str, suffix: str, when: str, items: str) -> Variable:
    var = _BY_NAME[name]
    source = ", ".join(f"{s.strip()}{items}" for s in var.source.split(","))
    return replace(var, name=f"{name}{suffix}", label=f"{var.label} ({when})", source=source)


_BASELINE = "2016 or 2018 baseline"
GSS_2020_VARIABLES: tuple[Variable, ...] = (
    Variable("person_id", "Person", "string", "SAMPTYPE, ID_1A / ID_1B",
             "'<baseline year>-<baseline id, 4 digits>', e.g. 2016-0001 (same person as YEARID)", nullable=False),
    Variable("yearid", "Respondent id (as published)", "string", "YEARID", "baseline year and id, e.g. 20160001",
             nullable=False),
    Variable("baseline_year", "Baseline interview year", "int", "SAMPTYPE", "2016 (wave 1a) or 2018 (wave 1b)",
             (2016, 2018), nullable=False),
    Variable("panel_status", "Panel status (as published)", "int", "PANSTAT",
             "1 re-interviewed in 2020; 0 not released for re-interview (a random subsample of 2016 respondents "
             "was released); 2 released, not re-interviewed; 3 and 33 other non-interview codes of NORC's "
             "panel codebook", (0, 33), nullable=False),
    Variable("released_2020", "Released for the 2020 re-interview", "binary", "PANSTAT", "PANSTAT != 0",
             nullable=False),
    Variable("reinterviewed_2020", "Re-interviewed in 2020", "binary", "PANSTAT, YEAR_2",
             "PANSTAT == 1 (checked equal to YEAR_2 == 2020)", nullable=False),
    Variable("weight_baseline", "Baseline cross-section weight (non-response adjusted)", "float",
             "WTSSNR_1A / WTSSNR_1B", "as published for the baseline year", (0, None)),
    Variable("weight_2020", "2020 panel weight (non-response adjusted)", "float", "WTSSNR_2",
             "as published; present for the re-interviewed only", (0, None)),
    Variable("ballot_baseline", "Split ballot at baseline", "category", "BALLOT_1A / BALLOT_1B",
             "A, B or C as published for the baseline year", BALLOTS),
    Variable("mode_2020", "Interview mode 2020", "category", "MODE_2",
             "2 over the phone -> Phone, 4 web -> Web; missing if not re-interviewed (baselines were in person, "
             "7% by phone)", MODES_2020),
    Variable("stratum", "Variance stratum (baseline)", "int", "VSTRAT_1A / VSTRAT_1B", "as published", (1, None)),
    Variable("psu", "Variance primary sampling unit (baseline)", "int", "VPSU_1A / VPSU_1B", "as published", (1, 2)),
    *(replace(v, source=f"{v.source}_1A / _1B", rule=f"{v.rule}; at the baseline interview") for v in _CONSTANT),
    *(_at(v.name, "_baseline", _BASELINE, "_1A / _1B") for v in _TIME_VARYING),
    Variable("left_out_baseline", "Felt left out, past 4 weeks (2018 baseline only)", "float", "LONELY3_1B",
             "1 never, 2 rarely, 3 sometimes, 4 often, 5 very often; not in the file for 2016 (asked of one "
             "2018 ballot)", (1, 5)),
    Variable("lack_companionship_2020", "Felt a lack of companionship, past 4 weeks (2020)", "float", "LONELY1_2",
             "1 never, 2 rarely, 3 sometimes, 4 often, 5 very often", (1, 5)),
    Variable("isolated_2020", "Felt isolated from others, past 4 weeks (2020)", "float", "LONELY2_2",
             "1 never, 2 rarely, 3 sometimes, 4 often, 5 very often", (1, 5)),
    Variable("loneliness_score_2020", "Loneliness score (2020), 2-10", "float", "LONELY1_2, LONELY2_2",
             "lack_companionship_2020 + isolated_2020; missing unless both answered; higher = lonelier", (2, 10)),
    *(_at(v.name, "_2020", "2020", "_2")
      for v in _TIME_VARYING if v.name not in ("religious_attendance", "poor_mental_health_days")),
    Variable("inconsistent_age_sex_2020", "2020 age or sex inconsistent with baseline", "binary",
             "AGE_1A/_1B, AGE_2, SEX_1A/_1B, SEX_2",
             "1 if re-interviewed and sex differs or 2020 age differs from baseline age + years elapsed by more "
             "than 2; 0 if re-interviewed and consistent; missing if not re-interviewed or not comparable"),
)


def gss_panel_schema() -> pa.DataFrameSchema:
    """Pandera schema of the GSS 2006-2014 person-wave table (unique person_id x wave)."""
    return table_schema(GSS_PANEL_VARIABLES, ["person_id", "wave"])


def gss_2020_schema() -> pa.DataFrameSchema:
    """Pandera schema of the GSS 2016-2020 table (one row per baseline respondent)."""
    return table_schema(GSS_2020_VARIABLES, ["person_id"])


def gss_data_dictionary(table: pd.DataFrame, variables: tuple[Variable, ...]) -> pd.DataFrame:
    """Name, label, type, source items, rule and % missing for every column of a GSS table."""
    return data_dictionary(table, variables)


# ---------------------------------------------------------------------------------------------
# Digital connection and social trust (stage reach_gss, studies/gss/reach.py)

HOURS_RULE = ("hours + minutes/60 a week; 0 if the questionnaire skipped the item as not used (COMPUSE and WEBMOB "
              "no; for the Web also USEWWW no); capped at params.yaml gss.reach.hours_top_code")
TRUST_RULE = "trusting answer 1, distrusting 0, 'depends' gss.reach.trust_depends (0.5)"
_REACH_MEASURES: tuple[Variable, ...] = (
    Variable("internet_non_user", "Uses neither a computer nor mobile internet", "binary", "COMPUSE, WEBMOB",
             "COMPUSE 2 and WEBMOB 2 -> 1; COMPUSE 1 or WEBMOB 1 -> 0"),
    Variable("web_hours", "Web hours a week (not e-mail)", "float", "WWWHR, WWWMIN", HOURS_RULE, (0, 168)),
    Variable("email_hours", "E-mail hours a week", "float", "EMAILHR, EMAILMIN", HOURS_RULE, (0, 168)),
    Variable("log_web_hours", "Web hours a week, log(1 + hours)", "float", "WWWHR, WWWMIN",
             "natural log of 1 + web_hours", (0, math.log1p(168))),
    Variable("log_email_hours", "E-mail hours a week, log(1 + hours)", "float", "EMAILHR, EMAILMIN",
             "natural log of 1 + email_hours", (0, math.log1p(168))),
)
_TRUST: tuple[Variable, ...] = (
    Variable("trusts_people", "Most people can be trusted", "float", "TRUST",
             f"1 can be trusted, 2 can't be too careful, 3 depends; {TRUST_RULE}", (0, 1)),
    Variable("people_helpful", "People try to be helpful", "float", "HELPFUL",
             f"1 try to be helpful, 2 looking out for themselves, 3 depends; {TRUST_RULE}", (0, 1)),
    Variable("people_fair", "People would try to be fair", "float", "FAIR",
             f"2 would try to be fair, 1 would take advantage, 3 depends; {TRUST_RULE}", (0, 1)),
    Variable("social_trust_score", "Social trust score (0-1)", "float", "TRUST, HELPFUL, FAIR",
             "mean of trusts_people, people_helpful, people_fair; missing unless all three answered", (0, 1)),
)
REACH_TRUST_VARIABLES: tuple[Variable, ...] = (
    GSS_PANEL_VARIABLES[0], GSS_PANEL_VARIABLES[1], GSS_PANEL_VARIABLES[3],
    next(v for v in GSS_PANEL_VARIABLES if v.name == "ballot"), *_TRUST,
)
REACH_2020_LONG_VARIABLES: tuple[Variable, ...] = (
    Variable("person_id", "Person", "string", "SAMPTYPE, ID_1A / ID_1B", "as in the 2016-2020 table",
             nullable=False),
    Variable("baseline_year", "Baseline interview year", "int", "SAMPTYPE", "2016 or 2018", (2016, 2018),
             nullable=False),
    Variable("age_baseline", "Age at baseline (years)", "float", "AGE_1A / AGE_1B", "as published; 89 = 89 or older",
             (18, 89)),
    _BY_NAME["female"], _BY_NAME["race"], _BY_NAME["education_years"],
    Variable("wave", "Wave", "int", "YEAR", "1 the 2016 or 2018 baseline, 2 the 2020 re-interview", (1, 2),
             nullable=False),
    Variable("year", "Interview year", "int", "YEAR", "2016, 2018 or 2020", (2016, 2020), nullable=False),
    *(_BY_NAME[n] for n in ("fair_poor_health", "unhappy", "social_contact_index", "evenings_relatives",
                            "evenings_friends", "evenings_neighbours", "partnered", "employed", "log_real_income")),
    *_REACH_MEASURES, *_TRUST,
    Variable("self_administered", "Self-administered (web) interview", "binary", "MODE_1A / _1B / _2",
             "4 web -> 1; 1 in person, 2 phone -> 0"),
    Variable("ballot", "Split ballot of the interview", "category", "BALLOT_1A / _1B / _2", "A, B or C", BALLOTS),
)


def reach_trust_schema() -> pa.DataFrameSchema:
    """Pandera schema of the trust items of the 2006-2014 person-waves (unique person_id x wave)."""
    return table_schema(REACH_TRUST_VARIABLES, ["person_id", "wave"])


def reach_2020_long_schema() -> pa.DataFrameSchema:
    """Pandera schema of the 2016-2020 person-wave table (unique person_id x wave)."""
    return table_schema(REACH_2020_LONG_VARIABLES, ["person_id", "wave"])
