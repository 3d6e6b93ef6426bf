"""The county models' designs and notes, by name: what the tables, figures and the infrastructure stage call each fit
and the words every county record carries (:mod:`analysis.studies.places.models` fits them).

A module of its own, without the fitters, so that the report and infrastructure stages read these names without
importing the model code (linearmodels, statsmodels' mixed models: about half a second of each stage's start-up,
issue 23).
"""

from __future__ import annotations

import pandas as pd

from analysis.estimators.formula import formula_variables

#: County designs, in the order they are fit and shown.
COUNTY_DESIGNS: dict[str, str] = {
    "weighted": "state fixed effects, population-weighted (primary)",
    "unweighted": "state fixed effects, unweighted",
    "multilevel": "counties within states: random state intercept and slope (unweighted)",
}
#: The primary county design: population-weighted, so that the estimate describes where people live rather than
#: the average county (a county of 500 people would otherwise count as much as Los Angeles).
PRIMARY_DESIGN = "weighted"
#: How the tables and places.json name the county panel fits (record model ``fixed_effects``, design
#: ``unweighted``): :func:`report_designs`.
PANEL_DESIGN = "fixed-effects"
#: How the panel fitters name a county and a year in their notes.
UNIT_WORDS = {"unit": "county", "units": "counties", "period": "year"}

ECOLOGICAL = ("ECOLOGICAL association between county prevalences (counties, not individuals: it does not show "
              "that isolated people themselves are more often ill)")
#: Every PLACES value is a small-area model prediction (see analysis.studies.places.schema.PLACES_MODEL_NOTE).
MODEL_BASED = ("PLACES prevalences are small-area model predictions (multilevel regression and post-stratification of "
               "BRFSS), not tabulations of each county's own respondents")
#: What the 2010-2011 county panel can and cannot show.
PANEL_DESCRIPTIVE = ("DESCRIPTIVE, not evidence of an effect: each CHR&R release pools several overlapping BRFSS "
                     "years, so a county's change between releases is mostly a shift of the window, and the exposure "
                     "and the BRFSS outcomes are computed from the same respondents")


def without_terms(rhs: str, names: set[str]) -> tuple[str, list[str]]:
    """``rhs`` minus the top-level ``+`` terms that use any column in ``names``; returns (rhs, dropped terms)."""
    terms, depth, current = [], 0, ""
    for ch in " ".join((rhs or "").split()):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "+" and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        terms.append(current.strip())
    kept, dropped = [], []
    for term in terms:
        (dropped if set(formula_variables(term)) & names else kept).append(term)
    return " + ".join(kept), dropped


def report_designs(records: pd.DataFrame) -> pd.Series:
    """How the tables and ``places.json`` name each record's fit: its county design ("weighted",
    "unweighted", "multilevel"), or :data:`PANEL_DESIGN` for the county panel (model ``fixed_effects``)."""
    return records["design"].where(records["model"] != "fixed_effects", PANEL_DESIGN)
