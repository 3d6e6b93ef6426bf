"""The NHANES analysis table's contract: columns, types, allowed values, and their documentation.

``NHANES_VARIABLES`` is the single definition of the NHANES analysis table: the cleaning stage
builds exactly these columns, ``nhanes_schema()`` (pandera) validates them, and the data
dictionary (name, label, type, source items, rule, % missing) is generated from the same list,
so the documentation cannot drift from the data.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from analysis.core.contract import Variable, pandera_column
from analysis.core.index import IndexSpec

SEX = ("Male", "Female")
RACE = ("Mexican American", "Other Hispanic", "Non-Hispanic White", "Non-Hispanic Black", "Other/multiracial")
EDUCATION = ("Less than high school", "High school/GED", "Some college", "College graduate")
MARITAL = ("Married", "Widowed", "Divorced", "Separated", "Never married", "Living with partner")
SMOKING = ("Never", "Former", "Current")
SELF_RATED_HEALTH = ("Excellent", "Very good", "Good", "Fair", "Poor")  # HUQ010 codes 1-5, in order
DRINKING_STATUS = ("Lifetime abstainer", "Former", "Current")  # measures.drinking_status (ALQ)

NHANES_VARIABLES: tuple[Variable, ...] = (
    # design
    Variable("seqn", "Respondent sequence number", "int", "DEMO.SEQN", "as published; unique across cycles",
             nullable=False),
    Variable("cycle", "Survey cycle", "category", "DEMO.SDDSRVYR", "1=1999-2000 ... 5=2007-2008",
             ("1999-2000", "2001-2002", "2003-2004", "2005-2006", "2007-2008"), nullable=False),
    Variable("psu", "Masked variance pseudo-PSU", "int", "DEMO.SDMVPSU", "as published", nullable=False),
    Variable("stratum", "Masked variance pseudo-stratum", "int", "DEMO.SDMVSTRA", "as published", nullable=False),
    Variable("cluster", "Variance unit (stratum x PSU)", "int", "DEMO.SDMVSTRA, SDMVPSU",
             "stratum * 10 + psu: PSUs are numbered within strata, so the pair identifies a cluster", nullable=False),
    Variable("weight_interview", "Interview weight, pooled 1999-2008 by SSQ eligibility domain", "float",
             "DEMO.WTINT4YR, WTINT2YR, RIDAGEYR",
             "NCHS rule for combined cycles, per eligibility domain (params nhanes.weight_domains): ages 60+ "
             "(asked 1999-2008) 2/5 x WTINT4YR for 1999-2002, 1/5 x WTINT2YR for 2003-2008; ages 40-59 (asked "
             "2003-2008 only) 1/3 x WTINT2YR", (0, None)),
    Variable("weight_exam", "MEC exam weight, pooled 1999-2008 by SSQ eligibility domain", "float",
             "DEMO.WTMEC4YR, WTMEC2YR, RIDAGEYR",
             "as weight_interview, with the MEC weights; 0 for people interviewed but not examined. The weight "
             "of every model with a MEC measure (MEC_VARIABLES: bmi, phq9_score, depression_phq9)", (0, None)),
    # demographics and covariates
    Variable("age", "Age at screening (years)", "float", "DEMO.RIDAGEYR",
             "as published; top-coded at 85 (1999-2006) and 80 (2007-2008)", (0, 85), nullable=False),
    Variable("sex", "Sex", "category", "DEMO.RIAGENDR", "1 Male, 2 Female", SEX, nullable=False),
    Variable("race_ethnicity", "Race/ethnicity", "category", "DEMO.RIDRETH1",
             "1 Mexican American, 2 Other Hispanic, 3 Non-Hispanic White, 4 Non-Hispanic Black, 5 Other", RACE),
    Variable("education", "Education (adults 20+)", "category", "DEMO.DMDEDUC2",
             "1-2 less than high school, 3 high school/GED, 4 some college/AA, 5 college graduate; 7/9 missing",
             EDUCATION),
    Variable("income_poverty_ratio", "Family income-to-poverty ratio", "float", "DEMO.INDFMPIR",
             "as published, 0-5 (5 = 5 or more)", (0, 5)),
    Variable("marital_status", "Marital status", "category", "DEMO.DMDMARTL",
             "1 married ... 6 living with partner; 77/99 missing", MARITAL),
    Variable("household_size", "People in household", "int", "DEMO.DMDHHSIZ", "1-7 (7 = 7 or more)", (1, 7)),
    Variable("smoking_status", "Smoking status", "category", "SMQ.SMQ020, SMQ040",
             "Never: SMQ020=2 (<100 cigarettes in life); Current: SMQ020=1 and SMQ040 in 1,2 (every/some days); "
             "Former: SMQ020=1 and SMQ040=3; 7/9 missing", SMOKING),
    Variable("bmi", "Body mass index (kg/m2)", "float", "BMX.BMXBMI", "as measured at the exam", (5, 150)),
    Variable("hypertension", "Told by a doctor: high blood pressure", "binary", "BPQ.BPQ020",
             "1 yes -> 1, 2 no -> 0; 7/9 missing"),
    Variable("diabetes", "Told by a doctor: diabetes", "binary", "DIQ.DIQ010",
             "1 yes -> 1; 2 no, 3 borderline -> 0; 7/9 missing"),
    Variable("self_rated_health", "Self-rated general health", "category", "HUQ.HUQ010",
             "codebook HUQ010 'General health condition' (HUQ, HUQ_B-HUQ_E, 1999-2008): 1 Excellent, 2 Very good, "
             "3 Good, 4 Fair, 5 Poor; 7 refused / 9 don't know / . -> missing", SELF_RATED_HEALTH),
    Variable("fair_poor_health", "Fair or poor self-rated health", "binary", "HUQ.HUQ010",
             "HUQ010 4 fair or 5 poor -> 1; 1 excellent, 2 very good, 3 good -> 0; 7/9 missing"),
    # social connection
    Variable("partnered", "Married or living with a partner", "binary", "DEMO.DMDMARTL",
             "1 married or 6 living with partner -> 1; 2-5 -> 0; 77/99 missing"),
    Variable("lives_alone", "Lives alone", "binary", "DEMO.DMDHHSIZ", "household size 1 -> 1, else 0"),
    Variable("emotional_support", "Has someone to count on for emotional support", "binary",
             "SSQ010 (1999-2000), SSD011 (2001-2002), SSQ011 (2003-2008)",
             "1 yes -> 1; 3 does not need help -> 1 (not lacking); 2 no -> 0; 7/9 missing"),
    Variable("financial_support", "Has someone to count on for financial help", "binary",
             "SSQ050 (1999-2000), SSD051 (2001-2002), SSQ051 (2003-2008)",
             "1 yes -> 1; 3 offered help but would not accept -> 1; 2 no -> 0; 7/9 missing"),
    Variable("close_friends", "Number of close friends", "int",
             "SSQ060 (1999-2000), SSD061 (2001-2002), SSQ061 (2003-2008)", "count 0-50; 7777/9999 missing", (0, 50)),
    Variable("needed_more_support", "Could have used more emotional support (past year)", "binary",
             "SSQ030 (1999-2000), SSD031 (2001-2002), SSQ031 (2003-2008)", "1 yes -> 1, 2 no -> 0; 7/9 missing"),
    Variable("religious_attendance", "Religious services attended per year (2005-2008)", "float", "SSQ.SSD044",
             "times per year as reported; 77777/99999 missing; not asked before 2005", (0, 2557)),
    # outcomes
    Variable("mortality_eligible", "Eligible for mortality linkage", "binary", "LMF.ELIGSTAT",
             "1 eligible -> 1; 3 ineligible -> 0"),
    Variable("died", "Died by 31 Dec 2019", "binary", "LMF.MORTSTAT",
             "1 deceased -> 1, 0 assumed alive -> 0; missing if not eligible"),
    Variable("followup_months", "Follow-up (months)", "float",
             "LMF.PERMTH_INT (or PERMTH_EXM: params nhanes.followup_variable)",
             "person-months from interview to death or 31 Dec 2019", (0, 300)),
    Variable("cvd_death", "Cardiovascular death", "binary", "LMF.UCOD_LEADING",
             "died with underlying cause in params nhanes.cvd_death_causes "
             "(001 heart disease, 005 cerebrovascular) -> 1; "
             "alive or other cause -> 0 (cause-specific: other deaths are censored)"),
    Variable("phq9_score", "PHQ-9 score (2005-2008)", "float", "DPQ.DPQ010-DPQ090",
             "sum of the nine items (0-3 each); 7/9 -> missing; score missing if any item missing", (0, 27)),
    Variable("depression_phq9", "Depression (PHQ-9 >= cut-off)", "binary", "DPQ.DPQ010-DPQ090",
             "phq9_score >= params nhanes.phq9_cutoff (10)"),
    Variable("prevalent_cvd", "Prevalent CVD (self-reported)", "binary", "MCQ.MCQ160B-MCQ160F",
             "1 if told any of congestive heart failure, coronary heart disease, angina, heart attack, stroke; "
             "0 if all five answered no; missing otherwise (7/9 are missing)"),
    # further confounders (sensitivity analysis "further_confounders"; codebooks_1999_2008/<table>.md)
    Variable("cancer_history", "Ever told: cancer or malignancy", "binary", "MCQ.MCQ220",
             "1 yes -> 1, 2 no -> 0; 7/9 missing"),
    Variable("copd_history", "Ever told: emphysema or chronic bronchitis", "binary", "MCQ.MCQ160G, MCQ160K",
             "1 if either is yes; 0 if both no; missing otherwise (7/9 are missing)"),
    Variable("insured", "Covered by health insurance", "binary", "HIQ.HID010 (1999-2004), HIQ011 (2005-2008)",
             "1 yes -> 1, 2 no -> 0; 7/9 missing (HIQ_D analytic notes: HIQ011 is comparable to HID010)"),
    Variable("alcohol_use", "Drinking status", "category", "ALQ.ALQ100/ALD100/ALQ101, ALQ110, ALQ120Q",
             "Lifetime abstainer: fewer than 12 drinks in any year (ALQ100/ALD100/ALQ101 = 2) and in life "
             "(ALQ110 = 2); Former: ALQ120Q = 0 (none in the past 12 months); Current: ALQ120Q >= 1; 7/9, 777/999 "
             "missing. MEC interview (ages 20+)", DRINKING_STATUS),
    Variable("leisure_activity", "Any moderate or vigorous leisure-time activity", "binary",
             "PAQ.PAD200, PAD320 (1999-2006); PAQ650, PAQ665 (2007-2008)",
             "1 if vigorous or moderate activity is yes; 0 if both no (PAD 3 'unable to do' counts as no); "
             "missing otherwise. 1999-2006 ask of the past 30 days, 2007-2008 (GPAQ) of a typical week"),
)


#: Columns measured in the mobile examination centre (MEC), so known only for examined participants, whose
#: models need the MEC weight (codebooks_1999_2008, "Eligible Sample" / "Interview Setting"): BMI (BMX: body
#: measures in the MEC exam) and the PHQ-9 (DPQ_D, DPQ_E: "during the MEC private interview") with the
#: depression flag derived from it. Not MEC: hypertension and diabetes (BPQ020, DIQ010: asked in the home
#: interview; the table holds no measured blood pressure, BPX), self-rated health (HUQ010), the SSQ items
#: and demographics (home interview), mortality (linked to every interviewed participant). Alcohol (ALQ) is
#: MEC too ("MEC Interview Room", ALQ*.md); insurance (HIQ), the MCQ items and the physical-activity items of
#: adults (PAQ: "asked in the household interview" for 16+) are not.
MEC_VARIABLES: tuple[str, ...] = ("bmi", "phq9_score", "depression_phq9", "alcohol_use")


def model_weight(columns, interview_weight: str, exam_weight: str) -> str:
    """The survey weight of a model whose outcome and covariates are ``columns``: ``exam_weight`` (the pooled
    MEC weight) when any of them is in :data:`MEC_VARIABLES`, else ``interview_weight``. NCHS's analytic
    guidelines: use the weight of the smallest sample a model's variables come from; the MEC sample is a
    subsample of the interviewed one, and its weight also corrects for non-response to the exam."""
    return exam_weight if any(c in MEC_VARIABLES for c in columns) else interview_weight


def nhanes_schema(indices: dict[str, IndexSpec] | None = None) -> pa.DataFrameSchema:
    """Pandera schema of the NHANES analysis table; index columns (from params) are added by name."""
    columns = {v.name: pandera_column(v) for v in NHANES_VARIABLES}
    for name, spec in (indices or {}).items():
        columns[name] = pa.Column("float64", pa.Check.ge(0), nullable=True)
        for column, groups in spec.groupings_of(name).items():
            labels = [g.label for g in groups]
            columns[column] = pa.Column(None, pa.Check.isin(labels) if labels else [], nullable=True)
    return pa.DataFrameSchema(columns, strict=True, unique=["seqn"])


def data_dictionary(table: pd.DataFrame, indices: dict[str, IndexSpec], reliability: dict[str, str] | None = None
                    ) -> pd.DataFrame:
    """Name, label, type, source items, rule and % missing for every column of the analysis table; with
    ``reliability`` (column name -> text, from the clean stage's reliability records), a ``reliability``
    column saying it for the measures it covers (blank for the others)."""
    rows = [
        {"name": v.name, "label": v.label, "type": v.dtype, "source": v.source, "rule": v.rule}
        for v in NHANES_VARIABLES
    ]
    for name, spec in indices.items():
        items = "; ".join(f"{it.text} [{it.variable} {it.op} {it.value}]" for it in spec.items)
        rows.append({"name": name, "label": spec.label_or(name), "type": "float",
                     "source": ", ".join(it.variable for it in spec.items),
                     "rule": f"1 point each: {items}; missing rule: {spec.missing} "
                             f"(params.yaml nhanes.indices.{name})"})
        for column, grouping in spec.groupings_of(name).items():
            groups = ", ".join(f"{g.label} = {g.min}-{g.max}" for g in grouping)
            rows.append({"name": column, "label": f"{spec.label_or(name)}, grouped", "type": "category",
                         "source": name, "rule": groups})
    out = pd.DataFrame(rows)
    out["pct_missing"] = [round(100 * table[n].isna().mean(), 1) if n in table else float("nan") for n in out["name"]]
    if reliability is not None:
        out["reliability"] = out["name"].map(reliability).fillna("")
    return out
