"""GSS headline numbers (``reports/metrics/gss.json``)."""

from __future__ import annotations

import pandas as pd

from analysis.core.metrics import clean_number, estimate_entry
from analysis.estimators.panel import RECORD_MODELS, TEST_KEYS
from analysis.studies.gss.settings import GssSettings


def gss_metrics(fits: dict[str, pd.DataFrame], panel: pd.DataFrame, table_2020: pd.DataFrame,
                gss: GssSettings) -> dict:
    """GSS headline numbers: sample sizes, every panel estimate keyed ``outcome -> exposure -> estimator[:between]``
    (the spec's estimator name, ``gss.panel_models.estimators``; the lagged exposure under its own name), the
    specification tests, the completers' fits
    (``completers -> outcome -> exposure -> model -> {unweighted, weighted}``), the ballot flow, the attenuation
    factors of the contact index, the 2020 interview mode, and the design-based 2016-2020 estimates keyed by
    model name. ``fits`` is the output of :func:`analysis.studies.gss.models.run_gss_models`."""
    records, tests, records_2020 = fits["records"], fits["tests"], fits["records_2020"]
    spec = gss.panel_models
    entity, time = spec.entity, spec.time
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
    names = {model: name for name, model in RECORD_MODELS.items()}  # the spec's estimator names (gss.json keys)
    for row in records.itertuples():
        name = names.get(row.model, row.model)
        key = f"{name}:between" if str(row.term).endswith(":between") else name
        estimates.setdefault(row.outcome, {}).setdefault(row.exposure, {})[key] = estimate_entry(row)
    spec_tests: dict = {}
    for row in tests.itertuples():
        key = TEST_KEYS.get(row.test, row.test.split()[0].lower())
        spec_tests.setdefault(row.outcome, {}).setdefault(row.exposure, {})[key] = {
            "test": row.test, "statistic": clean_number(row.statistic), "df": clean_number(row.df),
            "p_value": clean_number(row.p_value, 6)}
    models_2020 = {row.covariate_set: estimate_entry(row)
                   for row in records_2020[records_2020["design"] == "design-based"].itertuples()}
    completers: dict = {}
    for row in fits["weighted"].itertuples():
        completers.setdefault(row.outcome, {}).setdefault(row.exposure, {}).setdefault(row.model, {})[
            row.design] = estimate_entry(row)
    flow = fits["ballot_flow"]
    ballots = {f"{r.outcome}:{r.ballot}": {"with_both": int(r.with_both), "complete_cases": int(r.complete_cases),
                                           "persons_two_plus_complete": int(r.persons_two_plus_complete),
                                           "in_models": bool(r.in_models)} for r in flow.itertuples()}
    attenuation = {f"{r.exposure}:{r.panel}:rho={r.reliability:g}": {
        "within_share": clean_number(r.within_share), "icc_one_way": clean_number(r.icc_one_way),
        "adjacent_correlations": r.adjacent_correlations, "lambda_fixed_effects": clean_number(r.lambda_fixed_effects),
        "lambda_first_difference": clean_number(r.lambda_first_difference)} for r in fits["attenuation"].itertuples()}
    modes = (table_2020.loc[reinterviewed, "mode_2020"].value_counts().to_dict()
             if reinterviewed is not None and "mode_2020" in table_2020 else {})
    sample["ballots_in_models"] = {k: list(v) for k, v in spec.ballots.items()}
    sample["mode_2020"] = {str(k): int(v) for k, v in modes.items()}
    return {"study": gss.study, "sample": sample, "estimates": estimates,
            "tests": spec_tests, "completers": completers, "ballot_flow": ballots, "attenuation": attenuation,
            "models_2020": models_2020}
