"""Ageing-cohort headline numbers (``reports/metrics/cohorts.json``)."""

from __future__ import annotations

import pandas as pd

from analysis.core.disclosure import DisclosureRule, is_suppressed
from analysis.core.metrics import clean_number, estimate_entry
from analysis.studies.cohorts.clean import restricted_studies


def cohort_metrics(records: pd.DataFrame, status: pd.DataFrame, truth: pd.DataFrame,
                   riclpm: pd.DataFrame | None = None, rule: DisclosureRule | None = None, *,
                   keys: pd.Series | None = None) -> dict:
    """Ageing cohorts: which studies ran, every estimate keyed ``study -> outcome -> exposure -> key``
    (``keys``: the spec's estimator name of each record, default its ``model``; ``:between`` for the
    between-person term), the RI-CLPM lags, and how often the SYNTHETIC truth was covered. A restricted
    study's persons or interviews below ``rule.min_cell`` are written as None with ``"suppressed": true``, and
    so are its estimates that rest on fewer events (disclosure)."""
    rule = rule or DisclosureRule()
    restricted_labels = restricted_studies(status)
    estimates: dict = {}
    keys = records["model"] if keys is None else keys.loc[records.index]
    for name, row in zip(keys, records.itertuples()):
        key = f"{name}:between" if str(row.term).endswith(":between") else name
        (estimates.setdefault(row.study, {}).setdefault(row.outcome, {})
         .setdefault(row.exposure, {}))[key] = (
            {"suppressed": True}
            if row.study in restricted_labels and (rule.small(row.events) or is_suppressed(row.note))
            else estimate_entry(row))
    studies = {}
    for row in status.itertuples():
        restricted = str(getattr(row, "restricted", False)).lower() == "true"
        counts = {"persons": int(row.persons), "person_waves_interviewed": int(row.person_waves_interviewed)}
        hidden = restricted and any(rule.small(v) for v in counts.values())
        studies[row.study] = {"label": row.label, "status": row.status, "restricted": restricted,
                              **({k: None for k in counts} | {"suppressed": True} if hidden else counts)}
    lags = {}
    if riclpm is not None and len(riclpm):
        for row in riclpm.itertuples():
            lags.setdefault(row.study, {})[row.parameter] = {
                "estimate": clean_number(row.estimate), "ci_low": clean_number(row.ci_low),
                "ci_high": clean_number(row.ci_high)}
    synthetic = {"checks": int(len(truth)), "covered": int(truth["covered"].sum()) if len(truth) else 0}
    return {"studies": studies, "estimates": estimates, "riclpm": lags, "synthetic_truth": synthetic}
