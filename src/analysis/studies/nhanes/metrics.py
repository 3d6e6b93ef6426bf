"""NHANES headline numbers (``reports/metrics/nhanes.json``): the design-based fit with the primary estimate's
covariate set (``models.primary.covariate_set``, the total-effect set of the causal diagram), for every outcome
and exposure term, and the analytic sample of the headline survival models (with ``common_sample``, the complete
cases of the fullest set, which every nested set shares)."""

from __future__ import annotations

import pandas as pd

from analysis.core.metrics import clean_number, estimate_entry
from analysis.estimators.records import complete_cases, formula_variables
from analysis.studies.nhanes.settings import NhanesSettings


def headline_records(records: pd.DataFrame, nh: NhanesSettings, design: str = "design-based") -> pd.DataFrame:
    """The design-based records of the primary estimate's covariate set: every outcome, exposure and term."""
    return records[(records["design"] == design) & (records["covariate_set"] == nh.models.headline_set)]


def analytic_sample(table: pd.DataFrame, nh: NhanesSettings) -> pd.DataFrame:
    """Rows the headline survival models use: every exposure, the fullest covariate set, follow-up,
    every event and a positive weight present (the last step of the cohort flow)."""
    models = nh.models
    survival = models.survival.values()
    columns = (list(models.exposures) + formula_variables(models.covariate_sets[models.fullest_set])
               + [s.duration for s in survival] + [s.event for s in survival] + [models.weight])
    return complete_cases(table, columns, weight=models.weight)


def headline_metrics(records: pd.DataFrame, table: pd.DataFrame, nh: NhanesSettings) -> dict:
    """Sample sizes, events and follow-up, and every headline estimate, keyed by outcome and term.

    ``sample.respondents`` counts the analysis table (everyone who answered the SSQ);
    ``sample.analytic`` and the deaths, follow-up and person-years describe the analytic sample of
    the headline survival models (:func:`analytic_sample`).
    """
    survival = nh.models.survival
    first = next(iter(survival.values()))
    sample_rows = analytic_sample(table, nh)
    followup = sample_rows[first.duration]
    events = {name: int(sample_rows[spec.event].sum()) for name, spec in survival.items()}
    sample = {
        "respondents": int(len(table)),
        "analytic": int(len(sample_rows)),
        "events": events,
        "deaths": int(sample_rows["died"].sum()) if "died" in sample_rows else None,
        "cvd_deaths": int(sample_rows["cvd_death"].sum()) if "cvd_death" in sample_rows else None,
        "median_followup_months": clean_number(followup.median(), 1),
        "person_years": clean_number(round(followup.sum() / 12.0)),
    }
    estimates: dict = {}
    for row in headline_records(records, nh).itertuples():
        est = {**estimate_entry(row), "events": None if pd.isna(row.events) else int(row.events)}
        estimates.setdefault(row.outcome, {})[f"{row.exposure}:{row.term_label}"] = est
    primary = nh.models.primary
    return {"study": nh.study, "covariate_set": nh.models.headline_set,
            "primary": {"outcome": primary.outcome, "exposure": primary.exposure,
                        "covariate_set": primary.covariate_set, "design": primary.design},
            "sample": sample, "estimates": estimates}


def headline(metrics: dict, nh: NhanesSettings) -> dict:
    """Per outcome: the most-isolated group vs the reference, and the per-point estimate.

    The exposures are the first categorical and the first continuous one in ``models.exposures``;
    their terms are looked up by prefix, so renaming groups in params.yaml needs no template edit.
    """
    exposures = nh.models.exposures
    cat = next((k for k, v in exposures.items() if v.type == "categorical"), None)
    cont = next((k for k, v in exposures.items() if v.type == "continuous"), None)
    out = {}
    for outcome, terms in metrics["estimates"].items():
        cat_terms = [(k, v) for k, v in terms.items() if cat and k.startswith(f"{cat}:")]
        cont_terms = [v for k, v in terms.items() if cont and k.startswith(f"{cont}:")]
        out[outcome] = {
            "top_label": cat_terms[-1][0].split(":", 1)[1] if cat_terms else "",
            "top": cat_terms[-1][1] if cat_terms else None,
            "per_point": cont_terms[0] if cont_terms else None,
        }
    return out
