"""The names of the cohort models' fits: the spec's estimator names (``cohorts.models.estimators``) that the tables,
``cohorts.json`` and the truth table use, and the record fields each one maps to
(:mod:`analysis.studies.cohorts.models` fits them).

A module of its own, without the fitters, so that the report stage reads these names without importing the model
code (linearmodels, lifelines, the SEM and mixed-model fitters: most of a second of its start-up, issue 23).
"""

from __future__ import annotations

import pandas as pd

#: The record (``model``, ``design``) of each spec estimator name (:func:`specification_keys` reads it back).
SPECIFICATIONS: dict[str, tuple[str, str]] = {
    "within_between_lmm": ("within_between_lmm", "multilevel"), "two_way_fe": ("fixed_effects", "unweighted"),
    "two_way_fe_ipw": ("fixed_effects", "weighted"), "cloglog_hazard": ("cloglog_hazard", "unweighted"),
    "cloglog_hazard_ipw": ("cloglog_hazard", "weighted"), "cox_time_varying": ("cox_time_varying", "unweighted"),
}
#: Record ``sample`` of a study's models refitted without carry-forward (sensitivity analysis).
NO_CARRY = "no_carry"


def specification_keys(records: pd.DataFrame) -> pd.Series:
    """The spec's estimator name of every record (``model``, ``design`` and ``sample`` -> e.g.
    "two_way_fe_ipw", "cloglog_hazard_no_carry"): the names of the tables, ``cohorts.json`` and the truth table."""
    names = {value: key for key, value in SPECIFICATIONS.items()}
    keys = [names.get((m, d), m) + (f"_{s}" if s == NO_CARRY else "")
            for m, d, s in zip(records["model"], records["design"], records["sample"])]
    return pd.Series(keys, index=records.index, dtype=object)
