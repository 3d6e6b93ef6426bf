"""The contract of the ageing-cohort person-wave panel (``clean_cohorts.build_cohort_panel``).

One row per person and wave at which the person was in the sample (RAND ``r{w}iwstat`` 1-9); measures are
present only at interviewed waves (``interviewed`` 1). Every harmonised study configured in ``params.yaml``
``cohorts`` and the SYNTHETIC cohort are stacked, ``study`` telling them apart. ``COHORT_VARIABLES``
lists every column: the cleaning code builds exactly these, ``cohort_panel_schema()`` validates them and
``cohort_data_dictionary`` documents them. Codebooks: RAND HRS Longitudinal File 2020 (V2) documentation
(Bugliari et al., RAND 2023) and the Gateway to Global Aging Harmonized ELSA/SHARE/CHARLS codebooks.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pandera.pandas as pa

from analysis.core.contract import Variable, data_dictionary, table_schema

RAND = "RAND/Gateway"
ISOLATION_GROUPS = ("Connected (0-1)", "Isolated (2+)")

COHORT_VARIABLES: tuple[Variable, ...] = (
    Variable("study", "Study", "string", "params.yaml cohorts", "the study's key (hrs, elsa, share, charls) or "
             "'synthetic'", nullable=False),
    Variable("person_id", "Person id", "string", f"{RAND} id (hhidpn, idauniq, mergeid, ID)", "as published",
             nullable=False),
    Variable("wave", "Wave", "int", "wave number of r{w} variables", "as published", (1, 40), nullable=False),
    Variable("year", "Year the wave started", "int", "params.yaml cohorts.studies.<study>.waves", "the wave map",
             (1900, 2100), nullable=False),
    Variable("interview_status", "Wave status", "int", "r{w}iwstat",
             "RAND codes: 1 responded, 4 alive non-response, 5 died this wave, 6 died earlier, 7 dropped, 9 unknown; "
             "rows with 0 (not in sample) are left out", (1, 9), nullable=False),
    Variable("interviewed", "Interviewed this wave", "binary", "r{w}iwstat", "1 when r{w}iwstat = 1",
             nullable=False),
    Variable("months", "Interview date, months since January of the study's first wave year", "float",
             "r{w}iwendy, r{w}iwendm",
             "(iwendy - first year) x 12 + iwendm - 1; month missing -> 6 (mid-year); date missing -> the wave "
             "map's year, June", (0, 1200)),
    Variable("age", "Age at interview (years)", "float", "r{w}agey_e", "as published; missing -> year - rabyear",
             (18, 120)),
    Variable("age_baseline", "Age at the first interview (years)", "float", "r{w}agey_e",
             "age at the person's first interviewed wave", (18, 120)),
    Variable("female", "Female", "binary", "ragender", "1 female (2), 0 male (1)"),
    Variable("education_years", "Years of education", "float", "raedyrs", "as published", (0, 30)),
    Variable("partnered", "Married or partnered", "binary", "r{w}mstat",
             "1 when r{w}mstat is in cohorts.partnered_codes (1 married, 2 married spouse absent, 3 partnered), "
             "0 for 4-8"),
    Variable("contact_children", "Contact with children at the study's frequency", "binary",
             "SYNTHETIC r{w}kcntm (monthly); H_HRS, H_ELSA r{w}kcnt (weekly); H_SHARE, H_CHARLS h{w}kcnt (weekly, "
             "household)", "as published, 1 = contact; the study's definition is in cohorts_capability.csv"),
    Variable("contact_family", "Contact with other family at the study's frequency", "binary",
             "SYNTHETIC r{w}rcntm (monthly); H_ELSA r{w}rcnt (weekly)", "as published, 1 = contact"),
    Variable("contact_friends", "Contact with friends at the study's frequency", "binary",
             "SYNTHETIC r{w}fcntm (monthly); H_ELSA r{w}fcnt (weekly)", "as published, 1 = contact"),
    Variable("contact_family_friends", "Contact with relatives or friends (one item) at the study's frequency",
             "binary", "H_HRS r{w}rfcnt (weekly, relatives and friends together)", "as published, 1 = contact"),
    Variable("groups", "Takes part in groups, organisations or social activities", "binary",
             "SYNTHETIC, H_ELSA, H_SHARE r{w}socyr (yearly); H_HRS r{w}socmn (monthly); H_CHARLS r{w}socwk",
             "as published, 1 = takes part"),
    Variable("isolation_index", "Social isolation index (Steptoe, study-specific items)", "float",
             "r{w}mstat and the study's contact and participation items",
             "one point per missing tie among the items the study has (params.yaml cohorts.isolation_index, "
             "overridden by cohorts.studies.<study>.isolation_index); range 0 to the number of items", (0, 5)),
    Variable("isolation_group", "Social isolation group", "category", "isolation_index",
             "groups of cohorts.isolation_index.groups", ISOLATION_GROUPS),
    Variable("loneliness", "Loneliness, 3-item UCLA score (3-9)", "float",
             "r{w}complac, r{w}leftout, r{w}isolate (items) or RAND r{w}lblonely3 / Gateway r{w}lnlys3 (mean score)",
             "items: sum of the three, each recoded to 1 hardly ever - 3 often (per-study codes), missing if any is "
             "missing; a mean score (1-3): x 3; the study's rule is in cohorts_capability.csv", (3, 9)),
    Variable("lonely", "Lonely (UCLA score at or above the cut-off)", "binary", "loneliness",
             "score >= cohorts.loneliness_lonely_cutoff"),
    Variable("depression_score", "Depressive symptoms score (study scale)", "float",
             "r{w}cesd (HRS, ELSA: CES-D 8), r{w}eurod (SHARE), r{w}cesd10 (CHARLS)",
             "as published; checked against the study's depression.min/max", (0, 60)),
    Variable("depressed", "Depression caseness (score at or above the study's cut-off)", "binary",
             "depression_score", "score >= cohorts.studies.<study>.depression.cutoff"),
    Variable("heart_ever", "Ever had heart disease (reported)", "binary", "r{w}hearte",
             "cohorts.condition_codes: present [1, 3], absent [0, 4]"),
    Variable("stroke_ever", "Ever had stroke (reported)", "binary", "r{w}stroke", "cohorts.condition_codes"),
    Variable("cvd_ever", "Ever had heart disease or stroke", "binary", "r{w}hearte, r{w}stroke",
             "1 if either is 1, 0 if both are 0, else missing"),
    Variable("incident_heart", "New heart disease reported this wave", "binary", "r{w}hearte",
             "1 at the first wave reporting it after an earlier interview that reported none; 0 when still none; "
             "missing at the first report-known wave and after the first report"),
    Variable("incident_stroke", "New stroke reported this wave", "binary", "r{w}stroke", "as incident_heart"),
    Variable("incident_cvd", "New heart disease or stroke reported this wave", "binary", "r{w}hearte, r{w}stroke",
             "as incident_heart, on cvd_ever"),
    Variable("cognition_score", "Cognition score (study scale; HRS: Langa-Weir 0-27)", "float",
             "r{w}imrc, r{w}dlrc, r{w}ser7, r{w}bwc20 (RAND; their sum is r{w}cogtot)",
             "sum of cohorts.studies.<study>.cognition.items, missing if any item is missing; each item checked "
             "against its maximum points", (0, 100)),
    Variable("dementia", "Dementia (classified)", "binary", "cognition_score, or the study's dementia item",
             "the study's cognition.dementia_item (0/1) when it has one, else cognition_score <= "
             "cognition.dementia_max (Langa-Weir: 0-6 of 27, Crimmins et al. 2011)"),
    Variable("incident_dementia", "New dementia classification this wave", "binary", "dementia",
             "as incident_heart, on dementia (absorbing: every wave after the first classification is missing)"),
    Variable("died", "Died during follow-up", "binary", "radyear", "1 when radyear is present", nullable=False),
    Variable("death_months", "Death date, months since January of the study's first wave year", "float",
             "radyear, radmonth", "(radyear - first year) x 12 + radmonth - 1; month missing -> 6", (0, 1200)),
)


def cohort_variables(isolation_groups: tuple[str, ...] = ISOLATION_GROUPS) -> tuple[Variable, ...]:
    """The contract with the isolation groups of params.yaml (``cohorts.isolation_index.groups`` labels)."""
    return tuple(replace(v, values=isolation_groups) if v.name == "isolation_group" else v for v in COHORT_VARIABLES)


def cohort_panel_schema(variables: tuple[Variable, ...] = COHORT_VARIABLES) -> pa.DataFrameSchema:
    """Pandera schema of the cohort panel (unique study x person x wave)."""
    return table_schema(variables, ["study", "person_id", "wave"])


#: The data dictionary's ``reliability`` column. Item-level reliability (Cronbach's alpha of the CES-D items)
#: needs the items; the RAND/Gateway harmonised layouts and the SYNTHETIC cohort carry the score only.
RELIABILITY_NOTES = {
    "depression_score": "not computed: item-level reliability (Cronbach's alpha) needs the CES-D/EURO-D items, and "
                        "the harmonised RAND/Gateway files and the SYNTHETIC cohort carry only the score "
                        "(r{w}cesd, r{w}eurod, r{w}cesd10), not its items",
}


def cohort_data_dictionary(panel: pd.DataFrame) -> pd.DataFrame:
    """Name, label, type, source, rule and % missing for every column of the cohort panel, and a ``reliability``
    note (``RELIABILITY_NOTES``, blank for the other columns)."""
    out = data_dictionary(panel, COHORT_VARIABLES)
    out["reliability"] = out["name"].map(RELIABILITY_NOTES).fillna("")
    return out
