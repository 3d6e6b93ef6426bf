"""Headline numbers as DVC metrics (``reports/metrics/<study>.json``).

``dvc metrics show`` / ``dvc metrics diff`` compare these across experiments, and the manuscript
reads its numbers from here and from the full records CSV: nothing is typed by hand. The headline
set is the design-based fit with the fullest covariate set (the last one in
``models.covariate_sets``), for every outcome and exposure term.
"""

from __future__ import annotations

import math

import pandas as pd


def _clean(value: float | int | None, digits: int = 4) -> float | int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (int,)) or float(value).is_integer() and abs(value) > 1000:
        return int(value)
    return round(float(value), digits)


def headline_records(records: pd.DataFrame, params: dict, design: str = "design-based") -> pd.DataFrame:
    fullest = list(params["models"]["covariate_sets"])[-1]
    return records[(records["design"] == design) & (records["covariate_set"] == fullest)]


def analytic_sample(table: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Rows the headline survival models use: every exposure, the fullest covariate set, follow-up,
    every event and a positive weight present (the last step of the cohort flow)."""
    from analysis.models.records import complete_cases, formula_variables

    models = params["models"]
    survival = models["survival"].values()
    columns = (list(models["exposures"]) + formula_variables(list(models["covariate_sets"].values())[-1])
               + [s["duration"] for s in survival] + [s["event"] for s in survival] + [models["weight"]])
    return complete_cases(table, columns, weight=models["weight"])


def headline_metrics(records: pd.DataFrame, table: pd.DataFrame, params: dict) -> dict:
    """Sample sizes, events and follow-up, and every headline estimate, keyed by outcome and term.

    ``sample.respondents`` counts the analysis table (everyone who answered the SSQ);
    ``sample.analytic`` and the deaths, follow-up and person-years describe the analytic sample of
    the headline survival models (:func:`analytic_sample`).
    """
    survival = params["models"]["survival"]
    first = next(iter(survival.values()))
    sample_rows = analytic_sample(table, params)
    followup = sample_rows[first["duration"]]
    events = {name: int(sample_rows[spec["event"]].sum()) for name, spec in survival.items()}
    sample = {
        "respondents": int(len(table)),
        "analytic": int(len(sample_rows)),
        "events": events,
        "deaths": int(sample_rows["died"].sum()) if "died" in sample_rows else None,
        "cvd_deaths": int(sample_rows["cvd_death"].sum()) if "cvd_death" in sample_rows else None,
        "median_followup_months": _clean(followup.median(), 1),
        "person_years": _clean(round(followup.sum() / 12.0)),
    }
    estimates: dict = {}
    for row in headline_records(records, params).itertuples():
        est = {**_estimate(row), "events": None if pd.isna(row.events) else int(row.events)}
        estimates.setdefault(row.outcome, {})[f"{row.exposure}:{row.term_label}"] = est
    return {"study": params["models"]["study"], "covariate_set": list(params["models"]["covariate_sets"])[-1],
            "sample": sample, "estimates": estimates}


def _estimate(row) -> dict:
    """A record as a metrics entry: ratio scale for HR/OR, else the linear estimate."""
    ratio = not pd.isna(row.ratio)
    return {
        "measure": row.measure,
        "estimate": _clean(row.ratio if ratio else row.estimate),
        "ci_low": _clean(row.ratio_ci_low if ratio else row.ci_low),
        "ci_high": _clean(row.ratio_ci_high if ratio else row.ci_high),
        "p_value": _clean(row.p_value, 6),
        "n": int(row.n),
    }


def gss_metrics(records: pd.DataFrame, tests: pd.DataFrame, records_2020: pd.DataFrame, panel: pd.DataFrame,
                table_2020: pd.DataFrame, gss: dict) -> dict:
    """GSS headline numbers: sample sizes, every panel estimate keyed ``outcome -> model[:between]``, the
    specification tests, and the design-based 2016-2020 estimates keyed by model name."""
    spec = gss["panel_models"]
    entity, time = spec["entity"], spec["time"]
    reinterviewed = table_2020["reinterviewed_2020"] == 1 if "reinterviewed_2020" in table_2020 else None
    sample = {
        "persons": int(panel[entity].nunique()),
        "person_waves": int(len(panel)),
        "persons_all_waves": int((panel.groupby(entity)[time].nunique() == panel[time].nunique()).sum()),
        "panels": int(panel["panel"].nunique()) if "panel" in panel else None,
        "baseline_2016_2018": int(len(table_2020)),
        "reinterviewed_2020": int(reinterviewed.sum()) if reinterviewed is not None else None,
    }
    estimates: dict = {}
    for row in records.itertuples():
        key = f"{row.model}:between" if str(row.term).endswith(":between") else row.model
        estimates.setdefault(row.outcome, {}).setdefault(row.exposure, {})[key] = _estimate(row)
    spec_tests: dict = {}
    for row in tests.itertuples():
        spec_tests.setdefault(row.outcome, {}).setdefault(row.exposure, {})[row.test.split()[0].lower()] = {
            "test": row.test, "statistic": _clean(row.statistic), "df": _clean(row.df),
            "p_value": _clean(row.p_value, 6)}
    models_2020 = {row.covariate_set: _estimate(row)
                   for row in records_2020[records_2020["design"] == "design-based"].itertuples()}
    return {"study": str(gss.get("study", "GSS panels")), "sample": sample, "estimates": estimates,
            "tests": spec_tests, "models_2020": models_2020}


def ecological_metrics(records: pd.DataFrame, sample: dict) -> dict:
    """Headline numbers of an ecological study: every estimate keyed
    ``outcome -> exposure -> covariate_set -> estimator``, and the sample sizes. The estimator is the
    record's ``model`` (e.g. "two_way_fe_clustered"), or its ``design`` when the model is just "linear"
    (county models: "multilevel", "unweighted", "weighted", "fixed-effects"); between-unit terms of a
    within-between model get ":between"."""
    estimates: dict = {}
    for row in records.itertuples():
        key = row.design if row.model == "linear" else row.model
        key = f"{key}:between" if str(row.term).endswith(":between") else key
        (estimates.setdefault(row.outcome, {}).setdefault(row.exposure, {})
         .setdefault(row.covariate_set, {}))[key] = _estimate(row)
    study = str(records["study"].iloc[0]) if len(records) else ""
    return {"study": study, "sample": sample, "estimates": estimates}


def cohort_metrics(records: pd.DataFrame, status: pd.DataFrame, truth: pd.DataFrame,
                   riclpm: pd.DataFrame | None = None) -> dict:
    """Ageing cohorts: which studies ran, every estimate keyed ``study -> outcome -> exposure -> model``
    (``:between`` for the between-person term), the RI-CLPM lags, and how often the SYNTHETIC truth
    was covered."""
    estimates: dict = {}
    for row in records.itertuples():
        key = f"{row.model}:between" if str(row.term).endswith(":between") else row.model
        (estimates.setdefault(row.study, {}).setdefault(row.outcome, {})
         .setdefault(row.exposure, {}))[key] = _estimate(row)
    studies = {row.study: {"label": row.label, "status": row.status, "persons": int(row.persons),
                           "person_waves_interviewed": int(row.person_waves_interviewed)}
               for row in status.itertuples()}
    lags = {}
    if riclpm is not None and len(riclpm):
        for row in riclpm.itertuples():
            lags.setdefault(row.study, {})[row.parameter] = {
                "estimate": _clean(row.estimate), "ci_low": _clean(row.ci_low), "ci_high": _clean(row.ci_high)}
    synthetic = {"checks": int(len(truth)), "covered": int(truth["covered"].sum()) if len(truth) else 0}
    return {"studies": studies, "estimates": estimates, "riclpm": lags, "synthetic_truth": synthetic}
