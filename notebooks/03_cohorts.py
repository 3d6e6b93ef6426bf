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
# # Ageing cohorts: isolation, loneliness, depressive symptoms, new CVD and death
#
# This notebook walks a reviewer through the ageing-cohort study of **connected-health**: RAND HRS and the
# Gateway harmonised ELSA, SHARE and CHARLS files, whose licences forbid redistribution, and a
# **SYNTHETIC cohort** in the same RAND layout, simulated from stated true parameters so that the
# longitudinal estimators can be checked against known truth. It is executed by the pipeline
# (`dvc repro`, stage `notebook_cohorts`) with its parameters from `params.yaml` (`cohorts`). Library
# code: `src/analysis/studies/cohorts/` (`synthetic.py`, `source.py`, `clean.py`, `models.py`, `report.py`)
# and the estimators `src/analysis/estimators/lmm.py` and `sem.py`.
#
# **Everything labelled SYNTHETIC below describes simulated people, not real ones.**

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
import json
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

from analysis.core import io
from analysis.paper.notebooks import readable_p_values
from analysis.studies.cohorts.settings import load

pd.set_option("display.max_columns", 40, "display.width", 160)
readable_p_values()  # every table shows p-values as <0.001 or 0.042 (three decimals)
cohorts = load(params_file).cohorts  # params.yaml `cohorts:`, validated (studies/cohorts/settings.py)
panel = io.read_parquet("data/processed/cohorts_panel.parquet")
status = pd.read_csv("data/processed/cohorts_studies.csv", keep_default_na=False)
coverage = pd.read_csv("data/processed/cohorts_coverage.csv")
records = pd.read_csv("reports/metrics/cohorts_models.csv")
riclpm = pd.read_csv("reports/metrics/cohorts_riclpm.csv")
truth = pd.read_csv("reports/metrics/cohorts_truth.csv")
generated = json.loads(Path("data/raw/cohorts/synthetic_truth.json").read_text())
tables, figures = Path("reports/tables/cohorts"), Path("reports/figures/cohorts")

# %% [markdown]
# ## 1. Which studies ran
#
# A study whose restricted file is not configured (`params.yaml` `cohorts.studies.<study>.path: null`) is
# listed as *not configured*; it is not silently left out. The SYNTHETIC cohort always runs.

# %%
display(Markdown((tables / "studies.md").read_text()))

# %% [markdown]
# ## 2. The SYNTHETIC cohort and its data-generating process
#
# About 20,000 persons aged 50-80 at the first of up to 14 biennial waves; ageing, attrition and death; an
# unobserved person trait that raises isolation, loneliness and depressive symptoms (it confounds the
# between-person contrasts only); time-varying isolation (Steptoe index) and loneliness (3-item UCLA); an
# 8-item CES-D score with a person random intercept and slope; new CVD and death from discrete-time
# hazards with stated log-hazard ratios. The full description is the docstring of
# `src/analysis/studies/cohorts/synthetic.py`; the true effects are in `params.yaml`:

# %%
display(pd.Series(cohorts.synthetic.truth.model_dump(), name="true value").to_frame())
display(pd.Series({k: v for k, v in generated.items() if k not in ("truth", "label")}, name="this run").to_frame())

# %% [markdown]
# ## 3. From the wide RAND file to a person-wave panel
#
# The adapter reads only the needed columns, checks each against the file, and derives the measures
# (`src/analysis/studies/cohorts/clean.py`; data dictionary `data/processed/cohorts_data_dictionary.csv`).
# Which variable exists in which wave of each file:

# %%
display(coverage.pivot_table(index=["study", "variable"], columns="wave", values="present", aggfunc="first")
        .replace({True: "yes", False: "-"}))

# %% [markdown]
# A few person-waves of the panel, as the models see them. Only public rows are ever shown: a study marked
# restricted in `params.yaml` (HRS, ELSA, SHARE, CHARLS) never has an individual row in a report, so these
# come from the SYNTHETIC cohort (simulated people) only.

# %%
restricted = set(status.loc[status["restricted"].astype(str).str.lower() == "true", "study"])
public_rows = panel.loc[(panel["interviewed"] == 1) & ~panel["study"].isin(restricted)]
display(public_rows.head(6))
for study in status.loc[status["status"] == "ran", "study"]:
    display(Image(str(figures / f"flow_{study}.png")))

# %% [markdown]
# ## 4. Depressive symptoms: within-person and between-person
#
# The within-between mixed model and the two-way fixed-effects model estimate how a person's depressive
# symptoms move with *their own* isolation and loneliness; the between-person term compares people and
# also carries the unobserved trait, so in the SYNTHETIC cohort it is larger than the true effect by
# design. Predicted trajectories hold isolation constant at each level:

# %%
display(Markdown((tables / "estimates.md").read_text()))

# %%
for path in sorted(figures.glob("trajectories_*.png")):
    if not path.name.startswith("trajectories_cognition"):
        display(Image(str(path)))

# %% [markdown]
# ## 5. New CVD and death
#
# Discrete-time complementary log-log hazards and Cox models with time-varying exposures estimate the same
# log-hazard ratio (a grouped-time proportional-hazards model). For new CVD, death is a competing event:
# the hazard ratios are cause-specific, and the cumulative incidence curves below (Aalen-Johansen) give the
# absolute risks with death competing.

# %%
for path in sorted(figures.glob("incidence_*.png")):
    display(Image(str(path)))

# %% [markdown]
# ## 5b. Cognition and dementia
#
# Where a study has the cognition items (HRS: the 27-point Langa-Weir score from word recall, serial 7s and
# backwards counting), the same within-between and fixed-effects models describe how a person's cognition
# moves with their own isolation and loneliness, and incident dementia (0-6 of 27, or the study's own
# classification) is a discrete-time hazard beside new CVD and death. In the SYNTHETIC cohort both have stated
# true effects (params.yaml `cohorts.synthetic.truth.cognition_*`, `dementia_*`), checked in section 6.

# %%
cognition = records.loc[records["outcome"].isin(["cognition_score", "dementia"])]
display(cognition[["study", "model", "outcome", "term", "estimate", "ci_low", "ci_high", "n"]])
for path in sorted(figures.glob("trajectories_cognition*.png")):
    display(Image(str(path)))

# %% [markdown]
# ## 6. Does the software recover the truth? (SYNTHETIC)
#
# Each within-person and hazard estimate beside the true value. With one simulated data set a 95% CI
# misses about 1 in 20 times; the simulation benchmark (`benchmarks/cohort_simulation.py`, result
# `reports/simulation/cohort_coverage.md`) repeats the generator and the fits over many seeds and reports
# bias and coverage.

# %%
display(Markdown((tables / "truth.md").read_text()))
display(Image(str(figures / "truth.png")))
print(f"covered: {int(truth['covered'].sum())} of {len(truth)}")

# %% [markdown]
# ## 7. Reciprocal effects: loneliness and depressive symptoms (RI-CLPM)
#
# The random-intercept cross-lagged panel model separates stable between-person differences (random
# intercepts) from within-person carry-over and cross-lags (Hamaker et al. 2015), fit by full-information
# maximum likelihood. In the SYNTHETIC process depressive symptoms have no effect on later loneliness, so
# `b_yx` should be near zero there; loneliness acts on depressive symptoms within the same wave in the
# simulation, which the lagged model can only see through loneliness's own persistence (`b_xy`). The
# estimator itself is checked against its own simulator with known reciprocal lags in
# `tests/estimators/test_sem.py`.

# %%
display(Markdown((tables / "riclpm.md").read_text()))

# %% [markdown]
# ## 8. Attrition
#
# The attrition-weighted fits (`*_ipw` in `params.yaml`; record `design` "weighted") reweight each interview
# by the inverse probability of having stayed in the study, from a logistic model of the previous wave's
# exposures, symptoms, CVD and covariates. In
# the SYNTHETIC cohort attrition depends only on isolation and age (missing at random given the
# exposures), so weighted and unweighted estimates should agree:

# %%
ipw = records.loc[~records["term"].str.endswith(":between")]
display(ipw.pivot_table(index=["study", "outcome", "exposure"], columns=["model", "design"], values="estimate").round(4))
