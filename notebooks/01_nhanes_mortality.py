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
# # Social isolation and mortality, depression and CVD: NHANES 1999-2008
#
# This notebook walks a reviewer through the NHANES study of **connected-health**: the data, the
# cohort flow, the social-isolation measures, the models and their results. It is executed by the
# pipeline (`dvc repro`, stage `notebook_nhanes`) with its parameters from `params.yaml`; nothing
# here is computed by hand. The library code it calls lives in `src/analysis/`.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import Image, Markdown, display

from analysis.core import io
from analysis.paper.notebooks import readable_p_values
from analysis.core.index import index_points
from analysis.studies.nhanes.settings import load

%matplotlib inline
pd.set_option("display.max_columns", 40, "display.width", 160)
readable_p_values()  # every table shows p-values as <0.001 or 0.042 (three decimals)
nh = load(params_file).nhanes  # params.yaml `nhanes:`, validated (studies/nhanes/settings.py)
table = io.read_parquet("data/processed/nhanes.parquet")
flow = pd.read_csv("data/processed/nhanes_flow.csv")
records = pd.read_csv("reports/metrics/nhanes_models.csv")
ph_tests = pd.read_csv("reports/metrics/nhanes_ph_tests.csv")
metrics = json.loads(Path("reports/metrics/nhanes.json").read_text())
figures = Path("reports/figures/nhanes")

# %% [markdown]
# ## 1. Data
#
# The public files were fetched into `data/raw/nhanes/` and recorded (source, bytes, sha256, time)
# in the provenance manifest:

# %%
manifest = json.loads(Path("data/raw/nhanes.manifest.json").read_text())
prov = pd.DataFrame(manifest["files"])[["table", "cycle", "origin", "format", "bytes", "sha256"]]
prov["sha256"] = prov["sha256"].str[:12] + "..."
display(prov.head(10))
print(f"{len(prov)} files (when each was retrieved: data/raw/nhanes.manifest.json and the reviewer index)")

# %% [markdown]
# The analysis table has one row per adult who answered the social-support questionnaire
# (ages 60+ in 1999-2002, 40+ in 2003-2008). Its data dictionary (generated from the same
# definitions the cleaning code uses):

# %%
dictionary = pd.read_csv("data/processed/nhanes_data_dictionary.csv")
display(dictionary[["name", "label", "source", "pct_missing"]])

# %%
display(table.groupby("cycle", observed=True).agg(
    participants=("seqn", "size"), mean_age=("age", "mean"), deaths=("died", "sum"),
    cvd_deaths=("cvd_death", "sum"), phq9_answered=("phq9_score", "count")).round(1))

# %% [markdown]
# ## 2. Cohort flow

# %%
display(flow)
display(Image(filename=str(figures / "cohort_flow.png")))

# %% [markdown]
# ## 3. Measures: the social isolation index
#
# The index is defined in `params.yaml` as data (items, rules, missing rule, groups):

# %%
index_name = next(iter(nh.indices))
spec = nh.indices[index_name]
print(spec.why)
display(pd.DataFrame([item.model_dump() for item in spec.items]))

# %% [markdown]
# Prevalence of each item and the distribution of the index, by cycle (unweighted):

# %%
points = index_points(table, spec)  # the same function that builds the index
points.columns = [it.text for it in spec.items]
display(points.groupby(table["cycle"], observed=True).mean().mul(100).round(1))

fig, ax = plt.subplots(figsize=(7, 3.5))
counts = table.groupby("cycle", observed=True)[index_name].value_counts(normalize=True).mul(100).rename("percent").reset_index()
sns.barplot(data=counts, x=index_name, y="percent", hue="cycle", ax=ax, palette="viridis")
ax.set_xlabel(spec.label_or(index_name))
ax.set_ylabel("Participants (%)")
ax.set_title("Distribution of the isolation index by cycle")
plt.show()

# %% [markdown]
# ## 4. Table 1

# %%
display(Markdown(Path("reports/tables/nhanes/table1.md").read_text()))

# %% [markdown]
# ## 5. Models
#
# Every estimate is one tidy record (`reports/metrics/nhanes_models.csv`): study, outcome, exposure,
# term, estimate, SE, CI, p, n, events, the estimator (`model`), `design`, the variance (`vcov`), the
# interval (`interval` z or t, with its `df`) and the covariate set (the record contract:
# `src/analysis/estimators/records.py`). Covariate sets are formulas in `params.yaml`:

# %%
for name, rhs in nh.models.covariate_sets.items():
    print(f"{name:>14}: {' '.join(rhs.split())}")
display(records.head())

# %% [markdown]
# ### Design-based estimates (survey weights, Taylor-linearised SEs for PSUs within strata)

# %%
display(Markdown(Path("reports/tables/nhanes/regression_design_based.md").read_text()))
display(Image(filename=str(figures / "forest_design_based.png")))

# %% [markdown]
# ### Multilevel estimates (random intercepts for PSUs within strata)
#
# Shown beside the design-based version so the reader sees both. For Cox models, baseline hazards
# are stratified by PSU (lifelines has no frailty term); strata get no random intercept.

# %%
display(Markdown(Path("reports/tables/nhanes/regression_multilevel.md").read_text()))

# %%
both = records[records["measure"].isin(["HR", "OR"])].pivot_table(
    index=["outcome", "term_label", "covariate_set"], columns="design", values="ratio").round(2)
display(both)

# %% [markdown]
# ### Proportional hazards
#
# Schoenfeld-residual tests; rows flagged when p < `models.ph_test_alpha`.

# %%
display(ph_tests)

# %% [markdown]
# ## 6. Survival by isolation category

# %%
display(Image(filename=str(figures / "km_curves.png")))

# %% [markdown]
# ## 7. Headline numbers
#
# These are the DVC metrics (`dvc metrics show`), which the manuscript reads:

# %%
print(json.dumps(metrics["sample"], indent=2))
headline = pd.DataFrame([
    {"outcome": outcome, "term": term, **est}
    for outcome, terms in metrics["estimates"].items() for term, est in terms.items()])
display(headline)

# %% [markdown]
# ## 8. Cognition and dementia (issue 22)
#
# The Digit Symbol Substitution Test (DSST; CFQ/CFQ_B, CFDRIGHT = symbols drawn correctly in 120 s, 0-133) was
# given at the household interview to non-proxy participants aged 60+ in 1999-2002, the same people who answered
# the social-support questions then; its models use the interview weight. CDC warns that non-completion was high
# and selective, so completion is modelled and the DSST difference is shown complete-case and
# inverse-probability weighted (survey weight / P(complete)). Alzheimer's disease death (UCOD_LEADING 006) is a
# cause-specific Cox outcome beside a Fine-Gray subdistribution hazard, other deaths competing
# (stage `cognition_nhanes`, `src/analysis/studies/nhanes/cognition.py`).

# %%
display(Markdown(Path("reports/tables/nhanes_cognition/dsst_completion.md").read_text()))
display(Markdown(Path("reports/tables/nhanes_cognition/cognition_models.md").read_text()))
display(Image(filename="reports/figures/nhanes_cognition/dsst_by_isolation.png"))
display(Image(filename="reports/figures/nhanes_cognition/alzheimer_cif.png"))

# %% [markdown]
# ## 9. Who is left out (issue 22)
#
# The weighted prevalence of isolation (the index's top group), of each of its items and so of having no one to
# count on for emotional support, by age group, sex, race and ethnicity, income-to-poverty ratio and education,
# with design-based 95% CIs (logit, t on the design df); beside it, the design-based Wald tests of isolation x
# the same characteristic on mortality from the sensitivity stage. Descriptive: who lacks connection, not why
# (stage `reach_nhanes`, `src/analysis/studies/nhanes/reach.py`).

# %%
display(Markdown(Path("reports/tables/nhanes_reach/prevalence.md").read_text()))
display(Markdown(Path("reports/tables/nhanes_reach/interactions.md").read_text()))
display(Image(filename="reports/figures/nhanes_reach/prevalence_gaps.png"))
