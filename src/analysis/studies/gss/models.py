"""The GSS model stage: within-person panel models (2006-2014) and the 2016-2020 loneliness models.

``run_gss_models(panel, table_2020, params["gss"])`` returns three tidy tables:

* **panel records** (:data:`~analysis.estimators.records.RECORD_COLUMNS`): every outcome x exposure x estimator
  of ``gss.panel_models`` (:func:`analysis.estimators.panel.run_panel_models`: pooled OLS, random effects, two-way
  FE, first differences, Mundlak, conditional logit, multilevel growth model);
* **panel tests**: the Hausman and Mundlak tests per outcome x exposure;
* **2020 records**: each model of ``gss.models_2020``, a logistic or linear regression of a 2020 outcome on
  a baseline (2016/2018) exposure - with the baseline value of the outcome among the covariates when the
  spec says so (lagged dependent variable) - or the cross-sectional association of 2020 loneliness with 2020
  health. Each is fit design-based (the 2020 panel weight, SEs clustered by baseline stratum x PSU) and
  unweighted, on the re-interviewed respondents with complete data.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.core import config, io
from analysis.estimators.glm import fit_glm
from analysis.estimators.panel import run_panel_models
from analysis.estimators.records import ModelSpec, records_frame
from analysis.studies.gss.metrics import gss_metrics

#: Column the 2020 fits cluster on: baseline variance stratum x PSU (built here from ``stratum``, ``psu``).
CLUSTER_2020 = "cluster"


def _with_cluster(table: pd.DataFrame) -> pd.DataFrame:
    for column in ("stratum", "psu"):
        if column not in table.columns:
            raise ValueError(f"GSS 2016-2020 table: column '{column}' is missing (needed for clustered SEs)")
    out = table.copy()
    out[CLUSTER_2020] = out["stratum"].astype("float64") * 10 + out["psu"].astype("float64")
    return out


def run_2020_models(table: pd.DataFrame, spec: dict[str, Any], *, study: str = "",
                    designs: tuple[str, ...] = ("design-based", "unweighted")) -> pd.DataFrame:
    """Fit every model of ``gss.models_2020`` (a dict name -> {outcome, label, family, exposure,
    exposure_label, covariates}) on the re-interviewed respondents; return records."""
    weight = spec.get("weight")
    data = _with_cluster(table)
    if "reinterviewed_2020" in data:
        data = data[data["reinterviewed_2020"] == 1]
    out = []
    for name, model in spec["models"].items():
        for key in ("outcome", "family", "exposure"):
            if key not in model:
                raise ValueError(f"params.yaml gss.models_2020.models.{name} needs the key '{key}'")
        model_spec = ModelSpec(outcome=model["outcome"], exposure=model["exposure"],
                               covariates=model.get("covariates", ""), exposure_type=model.get("type", "continuous"),
                               covariate_set=name, study=study, outcome_label=model.get("label", model["outcome"]),
                               exposure_label=model.get("exposure_label", model["exposure"]))
        for design in designs:
            out.append(fit_glm(data, model_spec, outcome=model["outcome"], family=model["family"], design=design,
                               weight=weight, cluster=CLUSTER_2020, alpha=float(spec.get("alpha", 0.05))))
    return records_frame(pd.concat(out, ignore_index=True)) if out else records_frame()


def run_gss_models(panel: pd.DataFrame, table_2020: pd.DataFrame, gss: dict[str, Any], *,
                   progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Fit the GSS panel models and the 2016-2020 models; return (panel records, panel tests, 2020 records)."""
    study = str(gss.get("study", "GSS panels"))
    records, tests = run_panel_models(panel, gss["panel_models"], study=study, progress=progress)
    records_2020 = run_2020_models(table_2020, gss["models_2020"], study="GSS 2016-2020 panel")
    return records, tests, records_2020


def stage() -> str:
    """DVC stage ``models_gss``: the panel models, their specification tests, the 2016-2020 models, metrics."""
    params = config.load_params()
    panel = io.read_parquet(config.PROCESSED / "gss_panel.parquet")
    table_2020 = io.read_parquet(config.PROCESSED / "gss_2020.parquet")
    records, tests, records_2020 = run_gss_models(panel, table_2020, params["gss"])
    metrics = config.REPORTS / "metrics"
    io.write_outputs({metrics / "gss_panel_models.csv": records, metrics / "gss_panel_tests.csv": tests,
                      metrics / "gss_2020_models.csv": records_2020,
                      metrics / "gss.json": gss_metrics(records, tests, records_2020, panel, table_2020, params["gss"])})
    return f"GSS models: {len(records)} panel records, {len(records_2020)} 2016-2020 records"
