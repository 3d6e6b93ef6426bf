"""GSS headline numbers (``reports/metrics/gss.json``)."""

from __future__ import annotations

import pandas as pd

from analysis.core.metrics import clean_number, estimate_entry
from analysis.estimators.panel import TEST_KEYS


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
        estimates.setdefault(row.outcome, {}).setdefault(row.exposure, {})[key] = estimate_entry(row)
    spec_tests: dict = {}
    for row in tests.itertuples():
        key = TEST_KEYS.get(row.test, row.test.split()[0].lower())
        spec_tests.setdefault(row.outcome, {}).setdefault(row.exposure, {})[key] = {
            "test": row.test, "statistic": clean_number(row.statistic), "df": clean_number(row.df),
            "p_value": clean_number(row.p_value, 6)}
    models_2020 = {row.covariate_set: estimate_entry(row)
                   for row in records_2020[records_2020["design"] == "design-based"].itertuples()}
    return {"study": str(gss.get("study", "GSS panels")), "sample": sample, "estimates": estimates,
            "tests": spec_tests, "models_2020": models_2020}
