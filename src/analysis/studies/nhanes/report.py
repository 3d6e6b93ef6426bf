"""The NHANES report stage: every table and figure of the NHANES study, from the stage outputs.

``write_nhanes_reports(processed, reports, params)`` reads what the earlier stages wrote
(``data/processed/nhanes*.{parquet,csv}``, ``reports/metrics/nhanes_*.csv``) and writes

* ``reports/tables/nhanes/``: Table 1 (``table1.*``, tidy ``table1_long.csv``), one regression table
  per design (``regression_design_based.*``, ``regression_multilevel.*``, ``regression_unweighted.*``),
  the proportional-hazards tests (``ph_tests.*``), the cohort flow (``cohort_flow.*``) and the data
  dictionary (``data_dictionary.*``), each as CSV, Markdown, HTML and LaTeX;
* ``reports/figures/nhanes/``: survival curves by isolation category (``km_curves``), the forest plot
  of the design-based ratios (``forest_design_based``) and the STROBE flow diagram (``cohort_flow``),
  in every format of ``reports.figure_formats``.

All files are written atomically and all-or-none: a failure leaves the previous reports in place.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.core import config, io
from analysis.estimators.evalues import evalues
from analysis.report import figures, tables
from analysis.studies.nhanes.metrics import headline_records
from analysis.studies.nhanes.schema import NHANES_VARIABLES

LABELS: dict[str, str] = {v.name: v.label for v in NHANES_VARIABLES}
DTYPES: dict[str, str] = {v.name: v.dtype for v in NHANES_VARIABLES}

TABLE1_VARIABLES: tuple[str, ...] = (
    "age", "sex", "race_ethnicity", "education", "income_poverty_ratio",
    "partnered", "lives_alone", "emotional_support", "financial_support", "close_friends",
    "smoking_status", "bmi", "hypertension", "diabetes", "prevalent_cvd",
    "phq9_score", "depression_phq9", "died", "cvd_death", "followup_months",
)
"""Default Table 1 rows: demographics, the index items, covariates, outcomes, follow-up.

The analysis table has no body-weight column (BMI is the measured body-size variable), so none is
listed; the survey weight is a design variable, not a characteristic, and is not described."""

# Decimals of means/SDs where one decimal would hide the variation (the poverty ratio runs 0-5).
TABLE1_DECIMALS: dict[str, int] = {"income_poverty_ratio": 2}


# Column headers of the nested covariate sets in params.yaml (models.covariate_sets); a set not
# listed here is shown as "Model k (<name>)".
COVARIATE_SET_LABELS: dict[str, str] = {
    "age_sex": "age, sex",
    "socioeconomic": "+ socioeconomic",
    "health": "+ health",
}

#: Weighting convention named in Table 1's footnote: counts unweighted, shares and means weighted.
CONVENTION = "NHANES convention"


def ph_tests_table(ph_tests: pd.DataFrame) -> pd.DataFrame:
    """The Schoenfeld-residual tests, one row per model term, for readers (p to 3 decimals)."""
    shown = ph_tests.loc[:, ["outcome_label", "exposure", "covariate_set", "term_label", "test_statistic",
                             "p_value", "flagged", "n", "events"]].copy()
    shown["p_value"] = shown["p_value"].map(lambda p: "<0.001" if p < 0.001 else f"{p:.3f}")
    shown["test_statistic"] = shown["test_statistic"].round(2)
    shown["flagged"] = shown["flagged"].astype(bool).map({True: "yes", False: ""})
    shown = shown.rename(columns={
        "outcome_label": "Outcome", "exposure": "Exposure", "covariate_set": "Covariate set", "term_label": "Term",
        "test_statistic": "Chi-square (1 df)", "p_value": "p", "flagged": "Flagged", "n": "N", "events": "Events"})
    shown["Events"] = shown["Events"].astype("Int64")
    shown.attrs["caption"] = "Proportional-hazards tests (Schoenfeld residuals, rank-transformed time)"
    shown.attrs["footnote"] = ("Unweighted Cox fits of the same models. Flagged: p below "
                               "params.yaml models.ph_test_alpha; the hazard ratio is then an average "
                               "over follow-up.")
    return shown


def evalues_table(records: pd.DataFrame, params: dict) -> pd.DataFrame:
    """E-values of every headline hazard and odds ratio (design-based fit, fullest covariate set): for the
    estimate and for the CI limit closest to 1, with the conversion to the risk-ratio scale that the
    outcome's frequency in the analytic sample (events / n) calls for (:mod:`analysis.estimators.evalues`)."""
    rows = []
    for r in headline_records(records, params).itertuples():
        if r.measure not in ("HR", "OR") or not r.n:
            continue
        share = float(r.events) / float(r.n)
        e = evalues(r.ratio, r.ratio_ci_low, r.ratio_ci_high, r.measure, share)
        rows.append({"Outcome": r.outcome_label, "Exposure": r.exposure_label, "Term": r.term_label,
                     "Estimate (95% CI)": f"{r.measure} {tables.format_interval(r.ratio, r.ratio_ci_low, r.ratio_ci_high)}",
                     "Outcome in sample": f"{100 * share:.1f}%", "Risk-ratio scale": e["conversion"],
                     "E-value (estimate)": f"{e['evalue_estimate']:.2f}", "E-value (CI limit)": f"{e['evalue_ci']:.2f}"})
    out = pd.DataFrame(rows)
    out.attrs["caption"] = "E-values of the headline hazard and odds ratios (design-based, fullest covariate set)"
    out.attrs["footnote"] = (
        "E-value (VanderWeele & Ding 2017): the minimum strength of association, on the risk-ratio scale, that an "
        "unmeasured confounder would need with both the exposure and the outcome, beyond the measured covariates, "
        "to explain away the estimate; for the CI, the limit closest to 1 (1 if the CI includes 1). Ratios are taken "
        "as risk ratios when the outcome is rare (under 15% of the analytic sample), otherwise converted: "
        "sqrt(OR) for an odds ratio, (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) for a hazard ratio.")
    return out


def write_nhanes_reports(processed: Path, reports: Path, params: dict) -> list[Path]:
    """Write the NHANES tables and figures (see the module docstring); return the paths written."""
    processed, reports = Path(processed), Path(reports)
    table = io.read_parquet(processed / "nhanes.parquet")
    flow = pd.read_csv(processed / "nhanes_flow.csv")
    dictionary = pd.read_csv(processed / "nhanes_data_dictionary.csv")
    records = pd.read_csv(reports / "metrics" / "nhanes_models.csv")
    ph_tests = pd.read_csv(reports / "metrics" / "nhanes_ph_tests.csv")

    models, report = params["models"], params["reports"]
    formats = tuple(report["figure_formats"])
    group = report["km_exposure"]
    weight = models["weight"]
    survival = models["survival"]
    durations = {spec["duration"] for spec in survival.values()}
    if len(durations) != 1:
        raise ValueError(f"params.yaml models.survival: the curves need one follow-up clock, found {sorted(durations)}")
    death = next((s["event"] for s in survival.values() if s["event"] == "died"), None)

    tables_dir, figures_dir = reports / "tables" / "nhanes", reports / "figures" / "nhanes"
    flow_shown = flow.rename(columns={"step": "Step", "label": "Participants", "n": "N remaining",
                                      "excluded": "Excluded", "reason": "Reason"})
    flow_shown.attrs["caption"] = "Cohort flow: participants remaining after each exclusion"
    dictionary.attrs["caption"] = "Data dictionary of the NHANES analysis table"

    written: list[Path] = []
    with io.staged_outputs():
        written += tables.write_table1(table, tables_dir, by=group, variables=TABLE1_VARIABLES, weight=weight,
                                       decimals=TABLE1_DECIMALS, labels=LABELS, dtypes=DTYPES,
                                       convention=CONVENTION)
        written += tables.write_regression_tables(records, tables_dir, ph_tests=ph_tests,
                                                  covariate_sets=models["covariate_sets"],
                                                  covariate_set_labels=COVARIATE_SET_LABELS)
        written += tables.write_table(ph_tests_table(ph_tests), tables_dir / "ph_tests")
        written += tables.write_table(evalues_table(records, params), tables_dir / "evalues")
        written.append(io.write_csv(tables_dir / "cohort_flow.csv", flow))
        written += tables.write_table(flow_shown, tables_dir / "cohort_flow_table")
        written += tables.write_table(dictionary, tables_dir / "data_dictionary")

        written += figures.write_km_curves(
            table, figures_dir / "km_curves", formats, duration=durations.pop(),
            event=[s["event"] for s in survival.values()], group=group, weight=weight,
            horizon_months=report["km_horizon_months"], death=death,
            titles={s["event"]: s.get("label", name) for name, s in survival.items()},
            group_label=models["exposures"].get(group, {}).get("label"))
        for design in dict.fromkeys(records["design"]):
            if design == "unweighted":
                continue
            slug = design.replace("-", "_")
            written += figures.write_forest_plot(records, figures_dir / f"forest_{slug}", formats, design=design,
                                                 covariate_set_labels=COVARIATE_SET_LABELS)
        written += figures.write_flow_diagram(flow, figures_dir / "cohort_flow", formats)
    return written


def stage() -> str:
    """DVC stage ``report_nhanes``: the NHANES tables and figures."""
    written = write_nhanes_reports(config.PROCESSED, config.REPORTS, config.load_params())
    return f"NHANES reports: {len(written)} files"
