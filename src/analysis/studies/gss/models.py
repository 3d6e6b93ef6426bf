"""The GSS model stage: within-person panel models (2006-2014) and the 2016-2020 loneliness models.

``run_gss_models(panel, table_2020, params["gss"])`` returns tidy tables by name (see its docstring), among them:

* **panel records** (:data:`~analysis.estimators.records.RECORD_COLUMNS`): every outcome x exposure x estimator
  of ``gss.panel_models`` (:func:`analysis.estimators.panel.run_panel_models`: pooled OLS, random effects, two-way
  FE, first differences, Mundlak, conditional logit, multilevel growth model);
* **panel tests**: the Hausman and Mundlak tests per outcome x exposure;
* **lagged exposure** (``gss.panel_lagged``): the same estimators with contact at the previous wave (t-1) and
  the outcome at t, in the panel records under the exposure ``social_contact_index_lag``;
* **completers** (``gss.panel_weighted``): pooled, FE and FD fits on those interviewed at all three waves,
  unweighted and weighted by the non-response-adjusted panel weight WTPANNR123;
* **ballot flow** and **attenuation**: the sample by split ballot, and the within-person variance of contact
  with the regression-dilution factors it implies under assumed reliabilities;
* **2020 records**: each model of ``gss.models_2020``, a logistic or linear regression of a 2020 outcome on
  a baseline (2016/2018) exposure - with the baseline value of the outcome among the covariates when the
  spec says so (lagged dependent variable) - or the cross-sectional association of 2020 loneliness with 2020
  health. Each is fit design-based (the 2020 panel weight, SEs clustered by baseline stratum x PSU) and
  unweighted, on the re-interviewed respondents with complete data.
"""

from __future__ import annotations

import pandas as pd

from analysis.core import config, io
from analysis.core.settings import Workers
from analysis.estimators.glm import fit_glm
from analysis.estimators.panel import (
    attenuation_table,
    run_panel_models,
    with_lag,
    within_person_variance,
)
from analysis.estimators.records import ModelSpec, complete_cases, formula_variables, records_frame
from analysis.studies.gss.metrics import gss_metrics
from analysis.studies.gss.settings import GssSettings, Models2020, PanelModels, load

#: Column the 2020 fits cluster on: baseline variance stratum x PSU (built here from ``stratum``, ``psu``).
CLUSTER_2020 = "cluster"


def _with_cluster(table: pd.DataFrame) -> pd.DataFrame:
    for column in ("stratum", "psu"):
        if column not in table.columns:
            raise ValueError(f"GSS 2016-2020 table: column '{column}' is missing (needed for clustered SEs)")
    out = table.copy()
    out[CLUSTER_2020] = out["stratum"].astype("float64") * 10 + out["psu"].astype("float64")
    return out


def run_2020_models(table: pd.DataFrame, spec: Models2020, *, study: str = "",
                    designs: tuple[str, ...] = ("design-based", "unweighted")) -> pd.DataFrame:
    """Fit every model of ``gss.models_2020`` (name -> outcome, label, family, exposure, exposure_label,
    covariates) on the re-interviewed respondents; return records."""
    data = _with_cluster(table)
    if "reinterviewed_2020" in data:
        data = data[data["reinterviewed_2020"] == 1]
    out = []
    for name, model in spec.models.items():
        model_spec = ModelSpec(outcome=model.outcome, exposure=model.exposure, covariates=model.covariates,
                               exposure_type=model.type, covariate_set=name, study=study,
                               outcome_label=model.label, exposure_label=model.exposure_label)
        for design in designs:
            out.append(fit_glm(data, model_spec, outcome=model.outcome, family=model.family, design=design,
                               weight=spec.weight, cluster=CLUSTER_2020, alpha=spec.alpha))
    return records_frame(pd.concat(out, ignore_index=True)) if out else records_frame()


def outcome_ballots(spec: PanelModels, outcome: str) -> list[str]:
    """The split ballots whose person-waves enter the models of ``outcome`` (``gss.panel_models.ballots``, a
    mapping outcome -> ballots; an outcome not listed: every ballot)."""
    return list(spec.ballots.get(outcome) or [])


def model_panel(panel: pd.DataFrame, spec: PanelModels, ballots: list[str] | None = None) -> pd.DataFrame:
    """The person-waves the panel models may use: those of ``ballots`` (all when empty), each with
    the lagged exposure ``<exposure>_lag`` (its value at the person's previous wave, never across a gap) for
    every exposure of ``spec["exposures"]``.

    HEALTH is asked on ballots A and C and the social-evening items on A and B, so only ballot A carries
    exposure and health outcome at every wave; ``ballots: [A]`` makes that the models' sample explicitly
    (ballot C of the 2006 panel also had the evening items at its 2010 wave: single waves that add nothing
    within persons and are left out so every model reads one population).
    """
    out = panel
    if ballots:
        unknown = sorted(set(ballots) - set(out["ballot"].cat.categories))
        if unknown:
            raise ValueError(f"params.yaml gss.panel_models.ballots names {unknown}; ballots are "
                             f"{list(out['ballot'].cat.categories)}")
        out = out[out["ballot"].isin(ballots)]
    for exposure in spec.exposures:
        out = with_lag(out, spec.entity, spec.time, exposure, f"{exposure}_lag")
    return out.reset_index(drop=True)


def ballot_flow(panel: pd.DataFrame, spec: PanelModels) -> pd.DataFrame:
    """Sample flow by split ballot (tidy): per ballot, the person-waves interviewed, those with the exposure,
    with each outcome, with both, complete for the models (covariates too), and the persons among them with
    two or more complete waves (the only ones a within-person fit uses); ``in_models`` says whether the
    ballot enters the models (``gss.panel_models.ballots``)."""
    covariates = formula_variables(spec.covariates) + formula_variables(spec.invariant)
    rows = []
    for exposure in spec.exposures:
        for outcome in spec.outcomes:
            for ballot, part in panel.groupby("ballot", observed=True):
                both = part[part[exposure].notna() & part[outcome].notna()]
                complete = complete_cases(part, [spec.entity, exposure, outcome, *covariates])
                waves = complete.groupby(spec.entity).size()
                rows.append({"exposure": exposure, "outcome": outcome, "ballot": str(ballot),
                             "person_waves": len(part), "persons": int(part[spec.entity].nunique()),
                             "with_exposure": int(part[exposure].notna().sum()),
                             "with_outcome": int(part[outcome].notna().sum()), "with_both": len(both),
                             "complete_cases": len(complete), "persons_two_plus_complete": int((waves >= 2).sum()),
                             "in_models": str(ballot) in (outcome_ballots(spec, outcome)
                                                          or list(panel["ballot"].cat.categories))})
    return pd.DataFrame(rows)


def contact_attenuation(panel: pd.DataFrame, spec: PanelModels, reliabilities) -> pd.DataFrame:
    """Within-person variance of each exposure and the regression-dilution factors it implies (one row per
    exposure x assumed reliability), per panel and pooled, on the model sample's persons measured at all three
    waves: :func:`analysis.estimators.panel.attenuation_table`, with the adjacent-wave correlations."""
    rows = []
    for exposure in spec.exposures:
        groups = [(label, part) for label, part in panel.groupby("panel", observed=True)] + [("all", panel)]
        for label, part in groups:
            components = within_person_variance(part, spec.entity, spec.time, exposure)
            table = attenuation_table(components, reliabilities)
            table.insert(0, "panel", label)
            table.insert(0, "exposure", exposure)
            table["persons"] = components["persons"]
            table["adjacent_correlations"] = ", ".join(f"{r:.3f}" for r in components["adjacent_correlations"])
            table["icc_one_way"] = 1 - components["within_share"]
            rows.append(table)
    return pd.concat(rows, ignore_index=True)


def run_gss_models(panel: pd.DataFrame, table_2020: pd.DataFrame, gss: GssSettings, *,
                   progress: bool = True, n_jobs: Workers = 1) -> dict[str, pd.DataFrame]:
    """Fit the GSS panel models and the 2016-2020 models. Returns tables by name: ``records`` (main and
    lagged-exposure panel fits), ``tests``, ``weighted`` (completers, unweighted and panel-weighted),
    ``records_2020``, ``ballot_flow`` and ``attenuation``. ``n_jobs`` worker processes share the fits."""
    study = gss.study
    spec = gss.panel_models
    records, tests, weighted_records = [], [], []
    lagged = gss.lagged_models()
    weighted = [gss.weighted_models(flag) for flag in (False, True)] if gss.panel_weighted else []
    # one outcome at a time: each reads the person-waves of its own ballots
    for outcome, options in spec.outcomes.items():
        def one(block: PanelModels, outcome=outcome, options=options) -> PanelModels:
            return block.model_copy(update={"outcomes": {outcome: options}})
        data = model_panel(panel, spec, outcome_ballots(spec, outcome))
        for sub in [one(spec)] + ([one(lagged)] if lagged else []):
            fitted, tested = run_panel_models(data, sub, study=study, progress=progress, n_jobs=n_jobs)
            records.append(fitted)
            tests.append(tested)
        for block in weighted:
            weighted_records.append(run_panel_models(data, one(block), study=study, progress=progress,
                                                     n_jobs=n_jobs)[0])
    health = next(iter(spec.outcomes))  # the attenuation is computed on the first outcome's sample
    return {"records": records_frame(pd.concat(records, ignore_index=True)),
            "tests": pd.concat(tests, ignore_index=True),
            "weighted": records_frame(pd.concat(weighted_records, ignore_index=True)) if weighted_records
            else records_frame(),
            "records_2020": run_2020_models(table_2020, gss.models_2020, study="GSS 2016-2020 panel"),
            "ballot_flow": ballot_flow(panel, spec),
            "attenuation": contact_attenuation(model_panel(panel, spec, outcome_ballots(spec, health)), spec,
                                               gss.assumed_reliability)}


def stage() -> str:
    """DVC stage ``models_gss``: the panel models, their specification tests, the 2016-2020 models, metrics."""
    params = load()
    panel = io.read_parquet(config.PROCESSED / "gss_panel.parquet")
    table_2020 = io.read_parquet(config.PROCESSED / "gss_2020.parquet")
    fits = run_gss_models(panel, table_2020, params.gss, n_jobs=params.compute.n_jobs)
    metrics = config.REPORTS / "metrics"
    io.write_outputs({metrics / "gss_panel_models.csv": fits["records"], metrics / "gss_panel_tests.csv": fits["tests"],
                      metrics / "gss_panel_weighted.csv": fits["weighted"],
                      metrics / "gss_2020_models.csv": fits["records_2020"],
                      metrics / "gss_ballot_flow.csv": fits["ballot_flow"],
                      metrics / "gss_attenuation.csv": fits["attenuation"],
                      metrics / "gss.json": gss_metrics(fits, panel, table_2020, params.gss)})
    return (f"GSS models: {len(fits['records'])} panel records, {len(fits['weighted'])} completer records, "
            f"{len(fits['records_2020'])} 2016-2020 records")
