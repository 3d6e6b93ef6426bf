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
# # Social connection as a property of places: US counties and countries
#
# This notebook walks a reviewer through the two **ecological** studies of **connected-health**:
# counties within states (CDC PLACES 2024, County Health Rankings & Roadmaps) and a country-year
# panel (World Happiness Report social support, GBD outcomes via Our World in Data). Every estimate
# here describes places, not people (ecological associations). It is executed by the pipeline
# (`dvc repro`, stage `notebook_places`) with its parameters from `params.yaml`. Library code:
# `src/analysis/studies/places/` and `src/analysis/studies/countries/` (`source.py`, `clean.py`, `models.py`,
# `report.py` in each).

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
from pathlib import Path

import pandas as pd
import yaml
from IPython.display import Image, Markdown, display

from analysis.core import io
from analysis.paper.notebooks import readable_p_values
from analysis.studies.places.settings import load

pd.set_option("display.max_columns", 40, "display.width", 160)
readable_p_values()  # every table shows p-values as <0.001 or 0.042 (three decimals)
places = load(params_file).places  # params.yaml `places:`, validated (studies/places/settings.py)
county = io.read_parquet("data/processed/places_county.parquet")
join_log = pd.read_csv("data/processed/places_join_log.csv")
county_records = pd.read_csv("reports/metrics/places_models.csv")
countries = io.read_parquet("data/processed/countries_panel.parquet")
name_map = pd.read_csv("data/processed/countries_name_map.csv")
country_records = pd.read_csv("reports/metrics/countries_models.csv")
tables, figures = Path("reports/tables"), Path("reports/figures")

# %% [markdown]
# ## 1. Counties: the table and its joins
#
# One row per county (5-digit FIPS kept as text, so Alabama's 01001 keeps its leading zero). Every
# join is counted: rows read, national and state rows dropped, counties matched and unmatched on
# each side (nothing is dropped silently).

# %%
display(county.head())
display(join_log)

# %%
display(Markdown((tables / "places" / "county_summary.md").read_text()))

# %% [markdown]
# ## 2. Counties within states
#
# The primary model is OLS with state fixed effects weighted by county population, adjusted for
# socioeconomic conditions and county composition (age structure, race and ethnicity, English
# proficiency, insurance, rurality; set `composition`). Obesity and diabetes, co-outcomes of the same
# small-area model, are not covariates. Unweighted fixed effects and the multilevel model (state random
# intercept and slope, unweighted) are sensitivity analyses. PLACES values are small-area model
# predictions (multilevel regression and post-stratification of BRFSS), not tabulations of each
# county's respondents. Specification: `params.yaml` `places.county_models`.

# %%
print(yaml.safe_dump(places.county_models.model_dump(exclude_unset=True), sort_keys=False))
exposure = next(iter(places.county_models.exposures))
display(Image(filename=str(figures / "places" / f"scatter_{exposure}.png")))
display(Markdown((tables / "places" / "designs_compared.md").read_text()))
display(Markdown((tables / "places" / "models_weighted.md").read_text()))
display(Markdown((tables / "places" / "variance_components.md").read_text()))
display(Image(filename=str(figures / "places" / f"state_intercepts_{exposure}.png")))
display(Image(filename=str(figures / "places" / f"state_slopes_{exposure}.png")))

# %% [markdown]
# ## 3. The county panel, 2010-2011
#
# **Descriptive only.** How inadequate social support and the outcomes moved between the 2010 and 2011
# County Health Rankings releases (county and year fixed effects, SE clustered by county). Each release
# pools several overlapping BRFSS years, so a county's change is mostly a shift of the window, and the
# exposure and the BRFSS outcomes come from the same respondents: these numbers describe the data and
# are not evidence of an effect.

# %%
display(Markdown((tables / "places" / "models_fixed_effects.md").read_text()))

# %% [markdown]
# ## 3a. Counties: social infrastructure (ecological, descriptive)
#
# Libraries, social associations, broadband and child care, and community context (homeownership, single-parent
# households, rurality, Black/white segregation; CHR&R 2025) against isolation and lack of support (PLACES) and
# the health outcomes: counties within states, random state intercept, per 1 SD of the exposure, adjusted for
# county composition (stage `infrastructure_places`, `src/analysis/studies/places/infrastructure.py`). **These
# compare counties, not people, and make no causal claim**: a county with more libraries is not shown to make
# anyone less isolated. The indirect associations (infrastructure -> isolation -> outcome) are decompositions of
# county associations with a cluster-bootstrap interval by state, not mediated effects.

# %%
infra_tables = tables / "places_infrastructure"
infra_records = pd.read_csv("reports/metrics/places_infrastructure_models.csv")
infra_prevalence = pd.read_csv("reports/metrics/places_infrastructure_prevalence.csv")
for name in ("associations", "rurality_modification", "mediation", "prevalence_by_group"):
    display(Markdown((infra_tables / f"{name}.md").read_text()))
display(Image(filename=str(figures / "places_infrastructure" / "associations.png")))
widest = infra_prevalence[infra_prevalence["grouping"] != "all"].groupby("measure")["prevalence"].agg(["min", "max"])
display(Markdown("Spread of the group prevalences (percentage points, max - min): " + ", ".join(
    f"{m}: {r['max'] - r['min']:.1f}" for m, r in widest.iterrows())))

# %% [markdown]
# County maps: isolation, lack of support and broadband (`params.yaml places.infrastructure.map_exposure`).
# The interactive version, `reports/figures/places_maps/county_maps.html`, works offline (Vega-Lite and the
# us-atlas county TopoJSON are inlined). Grey counties have no estimate.

# %%
display(Image(filename=str(figures / "places_maps" / "county_maps.png")))

# %% [markdown]
# ## 4. Countries: the panel and the name map
#
# World Happiness Report country names are mapped to ISO codes by an explicit dictionary in
# `clean_countries.py`; names without a code or without outcome data are listed here.

# %%
display(countries.describe().round(2))
display(name_map[name_map["status"] != "matched"] if "status" in name_map else name_map.head())
display(Markdown((tables / "countries" / "panel_summary.md").read_text()))

# %% [markdown]
# ## 5. Countries: between and within (descriptive)
#
# GBD's series are smoothed model estimates: depression prevalence barely varies within a country
# (the `sd_within` and `sd_between` columns of the panel summary above, also in
# `reports/metrics/countries.json` `variation`). The within-country estimates describe the smoothing
# as much as the countries and are kept out of the triangulation.

# %%
display(Image(filename=str(figures / "countries" / "trajectories.png")))
display(Image(filename=str(figures / "countries" / "country_means.png")))
display(Markdown((tables / "countries" / "estimators.md").read_text()))
display(Image(filename=str(figures / "countries" / "coefficients.png")))

# %% [markdown]
# ## 6. All records
#
# Every estimate as one tidy record (the notes state the ecological level of each).

# %%
display(county_records[["outcome", "exposure", "covariate_set", "model", "design", "estimate", "ci_low", "ci_high",
                        "n"]])
display(country_records[["outcome", "exposure", "covariate_set", "model", "vcov", "term_label", "estimate", "ci_low",
                         "ci_high", "n"]])
