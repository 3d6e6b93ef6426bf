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
# contact measures, attrition, the panel estimators side by side, and the 2016-2020 panel's
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

from analysis.studies.gss import measures

pd.set_option("display.max_columns", 40, "display.width", 160)
params = yaml.safe_load(Path(params_file).read_text())
gss = params["gss"]
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
print(yaml.safe_dump(gss["panel_models"], sort_keys=False))
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
# ## 6. The 2016-2020 panel: loneliness
#
# Loneliness in 2020 is the sum of two items (lack of companionship, feeling isolated; each 1 never
# to 5 very often; range 2-10). Baseline (2016/2018) social contact predicts 2020 loneliness and
# 2020 health (adjusted for baseline health: a lagged dependent variable), and 2020 loneliness is
# related to 2020 health cross-sectionally.

# %%
display(table_2020.groupby("baseline_year").agg(
    respondents=("person_id", "size"), reinterviewed=("reinterviewed_2020", "sum"),
    loneliness_answered=("loneliness_score_2020", "count")))
display(table_2020["loneliness_score_2020"].value_counts().sort_index().rename("respondents").to_frame())
display(Markdown((tables / "loneliness_2020.md").read_text()))

# %% [markdown]
# ## 7. Headline numbers (DVC metrics, read by the manuscript)

# %%
print(json.dumps(metrics["sample"], indent=2))
display(records[["outcome", "model", "term_label", "estimate", "ci_low", "ci_high", "ratio", "n", "note"]])
