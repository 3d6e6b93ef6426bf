# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Social contact and health within persons: the General Social Survey panels
#
# This notebook walks a reviewer through the GSS panel study of **connected-health**: the three
# 3-wave panels (2006-2010, 2008-2012, 2010-2014) stacked into one person-wave table, the social
# contact measures, attrition, the panel estimators side by side, the split ballots, the panel weights,
# a lagged-exposure model, the attenuation that measurement error implies, and the 2016-2020 panel's
# loneliness items. It is executed by the pipeline (`dvc repro`, stage `notebook_gss`) with its
# parameters from `params.yaml`; nothing here is computed by hand. Library code: `src/analysis/studies/gss/`
# (`source.py`, `measures.py`, `clean.py`, `models.py`, `report.py`) and `src/analysis/estimators/panel.py`.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
import json
from pathlib import Path

import pandas as pd
import yaml
from IPython.display import Image, Markdown, display

from analysis.core import io
from analysis.paper.notebooks import readable_p_values

from analysis.studies.gss import measures
from analysis.studies.gss.settings import load

pd.set_option("display.max_columns", 40, "display.width", 160)
readable_p_values()  # every table shows p-values as <0.001 or 0.042 (three decimals)
gss = load(params_file).gss  # params.yaml `gss:`, validated (studies/gss/settings.py)
panel = io.read_parquet("data/processed/gss_panel.parquet")
table_2020 = io.read_parquet("data/processed/gss_2020.parquet")
attrition = pd.read_csv("data/processed/gss_attrition.csv")
dictionary = pd.read_csv("data/processed/gss_data_dictionary.csv")
records = pd.read_csv("reports/metrics/gss_panel_models.csv")
tests = pd.read_csv("reports/metrics/gss_panel_tests.csv")
records_2020 = pd.read_csv("reports/metrics/gss_2020_models.csv")
metrics = json.loads(Path("reports/metrics/gss.json").read_text())
figures, tables = Path("reports/figures/gss"), Path("reports/tables/gss")

# %% [markdown]
# ## 1. Data
#
# The public panel files (NORC, via the `gssr` package) were fetched into `data/raw/gss/` with
# their provenance:

# %%
manifest = json.loads(Path("data/raw/gss.manifest.json").read_text())
prov = pd.DataFrame(manifest["files"])
display(prov[[c for c in ("name", "origin", "format", "bytes", "sha256") if c in prov]])

# %% [markdown]
# One row per interview: persons (unique across panels), waves, and the data dictionary.

# %%
display(panel.groupby(["panel", "wave"], observed=True).agg(
    interviews=("person_id", "size"), year=("year", "first"),
    contact_index=("social_contact_index", "mean"), fair_poor_health=("fair_poor_health", "mean"),
    unhappy=("unhappy", "mean")).round(3))
display(dictionary[["table", "name", "label", "source", "pct_missing"]])

# %% [markdown]
# ## 2. Measures: social evenings and the contact index
#
# Social evenings (SOCREL, SOCFREND, SOCOMMUN, SOCBAR) are converted to evenings a year, then the
# contact index is log(1 + evenings with relatives, friends and neighbours). The conversion:

# %%
display(pd.Series(measures.EVENINGS_PER_YEAR, name="evenings a year").to_frame())
display(panel[["evenings_relatives", "evenings_friends", "evenings_neighbours", "evenings_bar",
               "social_contact_index"]].describe().round(2))

# %% [markdown]
# ## 3. Attrition
#
# Baseline characteristics of those interviewed again and of those lost, by panel and wave:

# %%
display(attrition)

# %% [markdown]
# ## 4. Outcomes by contact level across waves

# %%
display(Image(filename=str(figures / "outcome_by_contact.png")))

# %% [markdown]
# ## 5. Panel models: how much of the pooled association survives within persons?
#
# Each estimator answers a different mix of *between-person* and *within-person* comparison.
# Formulas and estimators are in `params.yaml` (`gss.panel_models`):

# %%
print(yaml.safe_dump(gss.panel_models.model_dump(exclude_unset=True), sort_keys=False))
display(Markdown((tables / "panel_estimators.md").read_text()))
display(Image(filename=str(figures / "panel_coefficients.png")))

# %% [markdown]
# Specification tests: the classical Hausman test (fixed vs random effects) and its cluster-robust
# alternative, the Mundlak test that between- and within-person coefficients are equal: jointly over every
# time-varying regressor (contact, partnership, employment, income), and for social contact alone. Only the
# second says whether contact's between- and within-person associations differ.

# %%
display(tests)

# %% [markdown]
# ## 6. Who informs which model: the split ballots
#
# The GSS gives each respondent one of three random ballots, and asks some items on some ballots only:
# self-rated health on A and C, the social-evening items on A and B. So only ballot A carries exposure and
# health at every wave, and the health models use ballot A alone; the happiness models use A and B
# (`gss.panel_models.ballots`). Person-waves by ballot, and those that end up in the models:

# %%
print(yaml.safe_dump({"ballots": dict(gss.panel_models.ballots)}, sort_keys=False))
display(Markdown((tables / "ballot_flow.md").read_text()))

# %% [markdown]
# ## 7. Attrition and the panel weights
#
# Those lost by wave 3 had more often been in fair or poor health at baseline (section 3, and the pooled
# rows below). The completers (interviewed at all three waves) are refitted twice: unweighted, and weighted by
# NORC's non-response-adjusted panel weight WTPANNR123 (`gss.panel_weighted`). Comparing "all persons" with
# "completers, unweighted" shows what selection into completion changes; "completers, weighted" against
# "unweighted" (same persons) what the weights change. The weighted SEs treat the weights as fixed.

# %%
lost = attrition[(attrition["panel"] == "all") & (attrition["wave"] == attrition["wave"].max())]
display(lost.set_index("group")[["n", "pct_of_baseline", "pct_fair_poor_health"]])
display(Markdown((tables / "panel_weighted.md").read_text()))

# %% [markdown]
# ## 8. Lagged exposure
#
# Contact at the previous wave (two years earlier) against the outcome now (`gss.panel_lagged`): the exposure
# precedes the outcome, at the cost of the first wave and, for fixed effects, of everyone not seen three times.

# %%
lagged_table = tables / "panel_lagged.md"
if lagged_table.exists():
    display(Markdown(lagged_table.read_text()))
else:
    print("no lagged-exposure model configured (gss.panel_lagged)")

# %% [markdown]
# ## 9. Measurement error and the within-person estimates
#
# Fixed effects remove the stable part of each person's contact, but not the measurement error, so the
# within-person estimates are attenuated more than the pooled ones. The table gives the index's
# within-person share of variance and its wave-to-wave correlations, and, for an assumed reliability (not
# estimable from the panel), the factor by which FE and first-difference slopes shrink towards zero
# (`gss.assumed_reliability`; formulas in `analysis.estimators.panel.attenuation_table`).

# %%
display(Markdown((tables / "attenuation.md").read_text()))
print(json.dumps({k: v for k, v in metrics["attenuation"].items() if ":all:" in k}, indent=1))

# %% [markdown]
# ## 10. The 2016-2020 panel: loneliness
#
# Loneliness in 2020 is the sum of two items (lack of companionship, feeling isolated; each 1 never
# to 5 very often; range 2-10). Baseline (2016/2018) social contact predicts 2020 loneliness and
# 2020 health (adjusted for baseline health: a lagged dependent variable), and 2020 loneliness is
# related to 2020 health cross-sectionally. Baseline loneliness exists only as LONELY3 (felt left out), asked
# at the 2018 baseline: one model adjusts for it, in the 2018 cohort. The 2020 re-interview was by web or
# phone (COVID-19), the baselines mostly in person, so the change between waves mixes time with interview
# mode; the models with 2020 contact or LONELY3 adjust for the 2020 mode.

# %%
display(table_2020.groupby("baseline_year").agg(
    respondents=("person_id", "size"), reinterviewed=("reinterviewed_2020", "sum"),
    loneliness_answered=("loneliness_score_2020", "count"), left_out_answered=("left_out_baseline", "count")))
display(pd.crosstab(table_2020["baseline_year"], table_2020["mode_2020"], margins=True).rename_axis(
    index="baseline year", columns="2020 interview mode"))
display(table_2020["loneliness_score_2020"].value_counts().sort_index().rename("respondents").to_frame())
display(Markdown((tables / "loneliness_2020.md").read_text()))

# %% [markdown]
# ## 11. Headline numbers (DVC metrics, read by the manuscript)

# %%
print(json.dumps(metrics["sample"], indent=2))
display(records[["outcome", "model", "design", "vcov", "term_label", "estimate", "ci_low", "ci_high", "ratio", "n",
                 "note"]])

# %% [markdown]
# ## 12. Digital and in-person connection, and social trust
#
# Stage `reach_gss` (`src/analysis/studies/gss/reach.py`, `reach_report.py`; params `gss.reach`). Item wording and
# codes are in `studies/gss/source.py` CODEBOOK, from the GSS codebook.
#
# **Which panel carries what.** Web and e-mail hours (WWWHR/WWWMIN, EMAILHR/EMAILMIN) are in the 2006 and 2010
# panels at wave 1 only, so they have no within-person change there; the 2016-2020 panel asks them at the
# 2016/2018 baseline and again in 2020 (ballots A and B), beside the social evenings (A, B), HEALTH (A, C) and
# HAPPY (all). The digital models therefore use the 2016-2020 panel as person-waves, with year effects and the
# interview mode (2020 by web or phone) as a time-varying covariate. Hours are hours + minutes/60, 0 for
# non-users the questionnaire routes past the items (no computer and no mobile internet; "no" to USEWWW for
# the Web), capped at `gss.reach.hours_top_code` and taken as log(1 + hours): the hours are right-skewed, and a
# one-unit change is an e-fold change in 1 + hours. Social trust (TRUST, HELPFUL, FAIR) is asked at every wave of
# the three 2006-2014 panels on ballots B and C, so its models use the stacked long panels. Facebook use is
# asked in 2016 only and loneliness in 2020 only: that association is prospective, not within-person.

# %%
reach_tables, reach_figures = Path("reports/tables/gss_reach"), Path("reports/figures/gss_reach")
reach_metrics = json.loads(Path("reports/metrics/gss_reach.json").read_text())
display(pd.Series(gss.reach.model_dump(include={"hours_top_code", "trust_depends"}), name="setting").to_frame())
display(Markdown((reach_tables / "digital_hours.md").read_text()))

# %% [markdown]
# ### Web and e-mail hours beside social evenings, within persons
#
# Each exposure alone, then the three in one model. Health models use ballot A, happiness ballots A and B
# (the ballot flow tables follow). The displacement check asks whether, within persons, more time online goes
# with fewer social evenings.

# %%
display(Markdown((reach_tables / "digital_estimators.md").read_text()))
display(Markdown((reach_tables / "digital_beside.md").read_text()))
display(Markdown((reach_tables / "displacement.md").read_text()))
display(Image(filename=str(reach_figures / "digital_vs_in_person.png")))

# %% [markdown]
# ### Social trust: score, reliability, within- and between-person estimates
#
# Each item is scored 1 for the trusting answer and 0 for the distrusting one (FAIR's codes run the other way
# round), the volunteered "depends" `gss.reach.trust_depends`; the score is the mean of the three (0-1, all three
# answered). Internal consistency: Cronbach's alpha of the scored items, and KR-20 with "depends" left out.

# %%
display(Markdown((reach_tables / "trust_reliability.md").read_text()))
display(Markdown((reach_tables / "trust_estimators.md").read_text()))

# %% [markdown]
# ### Facebook in 2016 and loneliness in 2020

# %%
display(Markdown((reach_tables / "facebook_loneliness.md").read_text()))
for name in ("digital", "displacement", "trust"):
    display(Markdown((reach_tables / f"ballot_flow_{name}.md").read_text()))
