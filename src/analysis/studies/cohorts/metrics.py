"""Ageing-cohort headline numbers (``reports/metrics/cohorts.json``)."""

from __future__ import annotations

import pandas as pd

from analysis.core.metrics import clean_number, estimate_entry


def cohort_metrics(records: pd.DataFrame, status: pd.DataFrame, truth: pd.DataFrame,
                   riclpm: pd.DataFrame | None = None) -> dict:
    """Ageing cohorts: which studies ran, every estimate keyed ``study -> outcome -> exposure -> model``
    (``:between`` for the between-person term), the RI-CLPM lags, and how often the SYNTHETIC truth
    was covered."""
    estimates: dict = {}
    for row in records.itertuples():
        key = f"{row.model}:between" if str(row.term).endswith(":between") else row.model
        (estimates.setdefault(row.study, {}).setdefault(row.outcome, {})
         .setdefault(row.exposure, {}))[key] = estimate_entry(row)
    studies = {row.study: {"label": row.label, "status": row.status, "persons": int(row.persons),
                           "person_waves_interviewed": int(row.person_waves_interviewed)}
               for row in status.itertuples()}
    lags = {}
    if riclpm is not None and len(riclpm):
        for row in riclpm.itertuples():
            lags.setdefault(row.study, {})[row.parameter] = {
                "estimate": clean_number(row.estimate), "ci_low": clean_number(row.ci_low), "ci_high": clean_number(row.ci_high)}
    synthetic = {"checks": int(len(truth)), "covered": int(truth["covered"].sum()) if len(truth) else 0}
    return {"studies": studies, "estimates": estimates, "riclpm": lags, "synthetic_truth": synthetic}
