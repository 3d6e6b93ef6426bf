"""The NHANES report stage: every table and figure of the NHANES study, from the stage outputs.

``write_nhanes_reports(processed, reports, nh)`` reads what the earlier stages wrote
(``data/processed/nhanes*.{parquet,csv}``, ``reports/metrics/nhanes_*.csv``) and writes

* ``reports/tables/nhanes/``: Table 1 (``table1.*``, tidy ``table1_long.csv``), one regression table
  per design (``regression_design_based.*``, ``regression_multilevel.*``, ``regression_unweighted.*``),
  the proportional-hazards tests (``ph_tests.*``), complete cases beside multiple imputation
  (``multiple_imputation.*``), the sensitivity analyses (``sensitivity.*``) and subgroup estimates with
  interaction tests (``subgroups.*``), the cohort flow (``cohort_flow.*``) and the data
  dictionary (``data_dictionary.*``), each as CSV, Markdown, HTML and LaTeX;
* ``reports/figures/nhanes/``: survival curves by isolation category (``km_curves``), the forest plot
  of the design-based ratios (``forest_design_based``), the sensitivity and subgroup forest plots
  (``sensitivity_forest``, ``subgroup_forest``) and the STROBE flow diagram (``cohort_flow``),
  in every format of ``reports.figure_formats``.

All files are written atomically and all-or-none: a failure leaves the previous reports in place.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd

from analysis.core import config, io
from analysis.estimators.evalues import evalues
from analysis.estimators.multiplicity import adjusted_p, q_values
from analysis.report import figures, tables
from analysis.report.writers import start_writers
from analysis.studies.nhanes.dag import dag_adjustment_table, dag_table_for_readers
from analysis.studies.nhanes.metrics import headline_records
from analysis.studies.nhanes.schema import MEC_VARIABLES, NHANES_VARIABLES
from analysis.studies.nhanes.settings import NhanesSettings, Sensitivity, load

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
    "health": "+ health (secondary: direct effect)",
}

#: Names of the causal diagram's nodes that are not analysis-table columns (params.yaml dag).
DAG_LABELS: dict[str, str] = {"isolation": "Social isolation", "death": "Death",
                              "baseline_illness": "Illness before the interview",
                              "income_poverty_ratio": "Income-to-poverty ratio", "race_ethnicity": "Race/ethnicity",
                              "smoking_status": "Smoking", "bmi": "BMI", "education": "Education", "age": "Age",
                              "sex": "Sex", "hypertension": "Hypertension", "diabetes": "Diabetes"}

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
                               "params.yaml nhanes.models.ph_test_alpha; the hazard ratio is then an average "
                               "over follow-up.")
    return shown


def evalues_table(records: pd.DataFrame, nh: NhanesSettings) -> pd.DataFrame:
    """E-values of every headline hazard and odds ratio (design-based fit, the primary covariate set): for the
    estimate and for the CI limit closest to 1, with the conversion to the risk-ratio scale that the
    outcome's frequency in the analytic sample (events / n) calls for (:mod:`analysis.estimators.evalues`)."""
    rows = []
    for r in headline_records(records, nh).itertuples():
        if r.measure not in ("HR", "OR") or not r.n:
            continue
        share = float(r.events) / float(r.n)
        e = evalues(r.ratio, r.ratio_ci_low, r.ratio_ci_high, r.measure, share)
        rows.append({"Outcome": r.outcome_label, "Exposure": r.exposure_label, "Term": r.term_label,
                     "Estimate (95% CI)":
                         f"{r.measure} {tables.format_interval(r.ratio, r.ratio_ci_low, r.ratio_ci_high)}",
                     "Outcome in sample": f"{100 * share:.1f}%", "Risk-ratio scale": e["conversion"],
                     "E-value (estimate)": f"{e['evalue_estimate']:.2f}",
                     "E-value (CI limit)": f"{e['evalue_ci']:.2f}"})
    out = pd.DataFrame(rows)
    out.attrs["caption"] = ("E-values of the headline hazard and odds ratios (design-based, the primary estimate's "
                            "covariate set)")
    out.attrs["footnote"] = (
        "E-value (VanderWeele & Ding 2017): the minimum strength of association, on the risk-ratio scale, that an "
        "unmeasured confounder would need with both the exposure and the outcome, beyond the measured covariates, "
        "to explain away the estimate; for the CI, the limit closest to 1 (1 if the CI includes 1). Ratios are taken "
        "as risk ratios when the outcome is rare (under 15% of the analytic sample), otherwise converted: "
        "sqrt(OR) for an odds ratio, (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) for a hazard ratio.")
    return out


def _estimate_text(record) -> str:
    """"HR 1.24 (1.14-1.35)" for a ratio, "diff. 0.64 (0.41-0.88)" for a mean difference, "" for none."""
    if record is None:
        return ""
    ratio = record.measure in ("HR", "OR")
    est, low, high = ((record.ratio, record.ratio_ci_low, record.ratio_ci_high) if ratio
                      else (record.estimate, record.ci_low, record.ci_high))
    return f"{record.measure if ratio else 'diff.'} {tables.format_interval(est, low, high)}"


def mi_table(records: pd.DataFrame, mi: pd.DataFrame, nh: NhanesSettings) -> pd.DataFrame:
    """Complete cases beside multiple imputation, for every headline estimate: the design-based fit with the
    primary covariate set on its complete cases (``nhanes_models.csv``) and the same model on every
    respondent with the outcome and exposure, covariates imputed (``nhanes_mi.csv``,
    :mod:`analysis.studies.nhanes.imputation`), with the fraction of missing information."""
    complete = headline_records(records, nh).set_index(["outcome", "exposure", "term"])
    rows = []
    for r in mi.itertuples():
        key = (r.outcome, r.exposure, r.term)
        cc = complete.loc[key] if key in complete.index else None
        rows.append({"Outcome": r.outcome_label, "Exposure": r.exposure_label, "Term": r.term_label,
                     "Complete cases (95% CI)": _estimate_text(cc),
                     "N (complete cases)": "" if cc is None else int(cc.n),
                     "Multiple imputation (95% CI)": _estimate_text(r), "N (imputed)": int(r.n),
                     "FMI": f"{r.fmi:.3f}", "df": f"{r.df:.1f}"})
    out = pd.DataFrame(rows)
    m = int(mi["m"].iloc[0]) if len(mi) else 0
    out.attrs["caption"] = "Complete-case and multiple-imputation estimates of the headline models (design-based)"
    out.attrs["footnote"] = (
        f"Both: survey-weighted, Taylor-linearised variance with PSUs in strata, the '{nh.models.headline_set}' "
        f"covariate set (primary). Multiple "
        f"imputation: m = {m} imputations of the missing covariates by chained equations with predictive mean "
        "matching (outcomes, exposure index, event indicators with the Nelson-Aalen cumulative hazard, log weight "
        "and strata in the imputation model), design-based variance within each imputation, Rubin's rules, t "
        "intervals on the Barnard-Rubin df. FMI: fraction of missing information. Outcomes and exposures are not "
        "imputed: N (imputed) counts respondents with both.")
    return out


# --- sensitivity analyses and effect modification (reports/metrics/nhanes_sensitivity.csv, _subgroups.csv) ---


def _p_text(p: float) -> str:
    return "" if pd.isna(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


def _events_text(n, events) -> str:
    return (f"{tables.format_count(n)}" if pd.isna(events)
            else f"{tables.format_count(n)} / {tables.format_count(events)}")


def sensitivity_table(sensitivity: pd.DataFrame, block: Sensitivity) -> pd.DataFrame:
    """The main design-based estimates beside each sensitivity analysis: one row per outcome x exposure term x
    analysis, in the stage's order (main first)."""
    rows = []
    for r in sensitivity.itertuples():
        rows.append({"Outcome": r.outcome_label, "Exposure": r.exposure_label, "Term": r.term_label,
                     "Analysis": r.analysis_label,
                     "Estimate (95% CI)": tables.format_estimate(r._asdict()) + ("" if r.converged else
                                                                                f" {tables.NONCONVERGED_MARK}"),
                     "p": _p_text(r.p_value), "N / events": _events_text(r.n, r.events)})
    out = pd.DataFrame(rows)
    years, prevalent = block.exclude_early_death_years, block.prevalent_disease
    main_set = sensitivity["covariate_set"].iloc[0] if len(sensitivity) else block.covariate_set
    out.attrs["caption"] = "Sensitivity analyses for reverse causation and baseline disease (design-based)"
    out.attrs["footnote"] = (
        f"Main analysis: survey-weighted models with the '{main_set}' covariate set, Taylor-"
        f"linearised variance (PSUs in strata), t intervals on the design df. Follow-up from {years:g} years: "
        f"everyone followed less than {12 * years:g} months (nearly all of them early deaths) left out, survival "
        f"outcomes only. {prevalent.label}: the models of "
        f"{', '.join(prevalent.outcomes)} among those with {prevalent.column} = 0 at baseline. + self-rated "
        f"health: {block.self_rated_health} (HUQ010) added to the covariates. + physical activity, alcohol, "
        f"insurance, cancer, COPD: {block.further_confounders} added (PAQ, ALQ, HIQ, MCQ; the ALQ is a MEC "
        "interview, so these models use the MEC weight). Each analysis is a domain of the "
        "full survey design. "
        + (f"{tables.NONCONVERGED_MARK} the fit did not converge (see the note in nhanes_sensitivity.csv). "
           if not sensitivity["converged"].fillna(False).astype(bool).all() else "")
        + "HR hazard ratio, OR odds ratio, MD mean difference.")
    return out


def _interaction_tests(subgroups: pd.DataFrame) -> pd.DataFrame:
    return subgroups[subgroups["record"] == "interaction"].set_index(["outcome", "exposure", "modifier"])


def _interaction_text(test) -> str:
    if test is None or pd.isna(test["p_value"]):
        return "not estimable"
    return (f"F {test['F']:.2f} on {int(test['df_num'])}, {int(test['df_den'])} df; p {_p_text(test['p_value'])}; "
            f"q {_p_text(test['q_value'])}")


def subgroup_table(subgroups: pd.DataFrame) -> pd.DataFrame:
    """Subgroup estimates of every outcome x exposure term x modifier, with the design-based Wald test of the
    exposure x modifier interaction (all of the exposure's terms jointly) on the first row of each modifier, and
    its Benjamini-Hochberg q-value over every interaction test (the family ``interactions``)."""
    tests = _interaction_tests(subgroups)
    tests = tests.assign(q_value=adjusted_p(tests["p_value"].to_numpy()))
    rows = []
    shown: set = set()
    for r in subgroups[subgroups["record"] == "subgroup"].itertuples():
        key = (r.outcome, r.exposure, r.modifier)
        test = tests.loc[key] if key in tests.index else None
        first = key not in shown
        shown.add(key)
        rows.append({"Outcome": r.outcome_label, "Exposure": r.exposure_label, "Term": r.term_label,
                     "Modifier": r.modifier_label, "Subgroup": r.subgroup,
                     "Estimate (95% CI)": tables.format_estimate(r._asdict()) + ("" if r.converged else
                                                                                f" {tables.NONCONVERGED_MARK}"),
                     "N / events": _events_text(r.n, r.events),
                     "Interaction test": _interaction_text(test) if first else ""})
    out = pd.DataFrame(rows)
    n_tests = len(tests)
    out.attrs["caption"] = "Effect modification: subgroup estimates and design-based interaction tests"
    out.attrs["footnote"] = (
        "Each subgroup: the main model within the subgroup, a domain of the full survey design (a covariate "
        "constant in the subgroup, such as sex among men, left out). Interaction test: design-based Wald test that "
        "every exposure x modifier coefficient is 0 in the main model with the modifier and those terms added, F "
        f"on (number of coefficients, design df - model coefficients + 1) as R survey::regTermTest; q: the "
        f"Benjamini-Hochberg q-value (false discovery rate) over the {n_tests} tests. "
        f"{tables.NONCONVERGED_MARK} the fit did not converge (sparse "
        "subgroup; see nhanes_subgroups.csv).")
    return out


def _headline_term(records: pd.DataFrame, exposure: str) -> str | None:
    """The last term of ``exposure`` (a categorical's highest group vs the reference)."""
    terms = list(dict.fromkeys(records.loc[records["exposure"] == exposure, "term"]))
    return terms[-1] if terms else None


def sensitivity_figure_rows(sensitivity: pd.DataFrame) -> pd.DataFrame:
    """Rows of the sensitivity forest plot: the hazard ratios of the survival outcomes (panels), each exposure
    term a group, each analysis a row (its own colour)."""
    hr = sensitivity[sensitivity["measure"] == "HR"]
    series = {a: i for i, a in enumerate(dict.fromkeys(sensitivity["analysis"]))}
    return pd.DataFrame({
        "panel": hr["outcome_label"],
        "group": [e if t == "per point" else f"{e}: {t}" for e, t in zip(hr["exposure_label"], hr["term_label"])],
        "label": hr["analysis_label"], "ratio": hr["ratio"], "ratio_ci_low": hr["ratio_ci_low"],
        "ratio_ci_high": hr["ratio_ci_high"], "series": hr["analysis"].map(series),
        "converged": hr["converged"], "detail": [_events_text(n, e) for n, e in zip(hr["n"], hr["events"])]})


def subgroup_figure_rows(subgroups: pd.DataFrame, exposure: str) -> pd.DataFrame:
    """Rows of the subgroup forest plot: survival outcomes (panels), the headline term of ``exposure``, each
    modifier a group (with its interaction p), each subgroup a row."""
    hr = subgroups[(subgroups["record"] == "subgroup") & (subgroups["measure"] == "HR")]
    term = _headline_term(hr, exposure)
    hr = hr[hr["term"] == term]
    tests = _interaction_tests(subgroups)
    notes = [f"p interaction {_p_text(tests.loc[k, 'p_value'])}" if k in tests.index else ""
             for k in zip(hr["outcome"], hr["exposure"], hr["modifier"])]
    return pd.DataFrame({
        "panel": hr["outcome_label"] + ": " + hr["term_label"], "group": hr["modifier_label"], "group_note": notes,
        "label": hr["subgroup"], "ratio": hr["ratio"], "ratio_ci_low": hr["ratio_ci_low"],
        "ratio_ci_high": hr["ratio_ci_high"], "converged": hr["converged"],
        "detail": [_events_text(n, e) for n, e in zip(hr["n"], hr["events"])]})


def read_sensitivity(reports: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``sensitivity_nhanes`` stage's sensitivity and subgroup records."""
    sensitivity = pd.read_csv(reports / "metrics" / "nhanes_sensitivity.csv")
    subgroups = pd.read_csv(reports / "metrics" / "nhanes_subgroups.csv", keep_default_na=False,
                            na_values=[""])
    subgroups["subgroup"] = subgroups["subgroup"].fillna("").astype(str)
    return sensitivity, subgroups


def write_sensitivity_tables(sensitivity: pd.DataFrame, subgroups: pd.DataFrame, nh: NhanesSettings,
                             tables_dir: Path) -> list[Path]:
    """The sensitivity and subgroup tables (``sensitivity.*``, ``subgroups.*``)."""
    written = tables.write_table(sensitivity_table(sensitivity, nh.sensitivity), tables_dir / "sensitivity")
    return written + tables.write_table(subgroup_table(subgroups), tables_dir / "subgroups")


def sensitivity_figures(sensitivity: pd.DataFrame, subgroups: pd.DataFrame, nh: NhanesSettings, figures_dir: Path,
                        formats: tuple[str, ...]) -> list[tuple[str, Callable[[], list[Path]]]]:
    """The writers of the sensitivity and subgroup forest plots (``sensitivity_forest``, ``subgroup_forest``)."""
    return [
        ("sensitivity_forest", partial(
            figures.write_grouped_forest_plot, sensitivity_figure_rows(sensitivity), figures_dir / "sensitivity_forest",
            formats, title="Sensitivity analyses: reverse causation and baseline disease (design-based)",
            label_header="Exposure term and analysis", estimate_header="HR (95% CI)", detail_header="N / deaths")),
        ("subgroup_forest", partial(
            figures.write_grouped_forest_plot, subgroup_figure_rows(subgroups, nh.reports.km_exposure),
            figures_dir / "subgroup_forest", formats,
            title="Effect modification: hazard ratios by subgroup (design-based)",
            label_header="Modifier and subgroup", estimate_header="HR (95% CI)", detail_header="N / deaths")),
    ]


def multiplicity_records(models_records: pd.DataFrame, exposures: pd.DataFrame, sensitivity: pd.DataFrame,
                         subgroups: pd.DataFrame, nh: NhanesSettings) -> pd.DataFrame:
    """Every secondary estimate, in its family of ``models.multiplicity.families``, with its Benjamini-Hochberg
    q-value within the family. The primary estimate (``models.primary``: outcome, exposure, its last term,
    covariate set, design) belongs to no family."""
    primary = nh.models.primary
    design_based = models_records[models_records["design"] == primary.design]
    last = _headline_term(design_based, primary.exposure)
    is_primary = ((design_based["outcome"] == primary.outcome) & (design_based["exposure"] == primary.exposure)
                  & (design_based["term"] == last) & (design_based["covariate_set"] == primary.covariate_set))
    sources = {
        "models": design_based[~is_primary].assign(what=design_based["covariate_set"]),
        "exposures": exposures.assign(what=exposures["analysis_label"]),
        "sensitivity": sensitivity[sensitivity["analysis"] != "main"].assign(what=sensitivity["analysis_label"]),
        "interactions": subgroups[subgroups["record"] == "interaction"].assign(
            what="x " + subgroups["modifier_label"].astype(str), term_label="all terms (Wald F)"),
    }
    parts = []
    for name, family in nh.models.multiplicity.families.items():
        rows = sources[family.source]
        parts.append(pd.DataFrame({
            "family": name, "family_label": family.label, "outcome_label": rows["outcome_label"],
            "exposure_label": rows["exposure_label"], "term_label": rows["term_label"], "what": rows["what"],
            "estimate": [tables.format_estimate(r) if not pd.isna(r["estimate"]) else ""
                         for r in rows.to_dict("records")],
            "p_value": rows["p_value"].astype("float64")}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["family", "family_label", "outcome_label", "exposure_label", "term_label", "what", "estimate",
                 "p_value"])
    out["q_value"] = q_values(out, method=nh.models.multiplicity.method) if len(out) else []
    return out


def multiplicity_summary(records: pd.DataFrame, nh: NhanesSettings) -> pd.DataFrame:
    """Per family: its size, and how many estimates have p and q below the stated rate."""
    rate = nh.models.multiplicity.q
    rows = [{"Family": part["family_label"].iloc[0], "Estimates": int(part["p_value"].notna().sum()),
             f"p < {rate:g}": int((part["p_value"] < rate).sum()), f"q < {rate:g}": int((part["q_value"] < rate).sum())}
            for _, part in records.groupby("family", sort=False)]
    out = pd.DataFrame(rows)
    out.attrs["caption"] = "Families of secondary estimates and the false discovery rate within each"
    out.attrs["footnote"] = (f"q: Benjamini-Hochberg adjusted p-value within the family; q < {rate:g} keeps the "
                             f"expected share of false discoveries among those estimates at {rate:g}. The primary "
                             "estimate belongs to no family. Every estimate with its p and q: multiplicity.csv.")
    return out


def multiplicity_table(records: pd.DataFrame) -> pd.DataFrame:
    """Every secondary estimate with p and q, for readers (the supplement)."""
    out = pd.DataFrame({"Family": records["family_label"], "Outcome": records["outcome_label"],
                        "Exposure": records["exposure_label"], "Term": records["term_label"],
                        "Model or analysis": records["what"], "Estimate (95% CI)": records["estimate"],
                        "p": records["p_value"].map(_p_text), "q": records["q_value"].map(_p_text)})
    out.attrs["caption"] = "Secondary estimates with p and Benjamini-Hochberg q within each family"
    out.attrs["footnote"] = "Design-based estimates. q: false-discovery-rate adjusted p-value within the family."
    return out


def exposure_definitions_table(records: pd.DataFrame) -> pd.DataFrame:
    """The headline models with each exposure definition of ``exposure_definitions`` (stage
    ``exposures_nhanes``): a row per analysis and exposure term, a column per outcome (ratio or mean
    difference with its 95% CI), the analysis sample's n in the last column."""
    rows = []
    outcomes = list(dict.fromkeys(records["outcome_label"]))
    for (analysis, exposure, term), part in records.groupby(["analysis_label", "exposure_label", "term_label"],
                                                            sort=False):
        row = {"Analysis": analysis, "Exposure": exposure, "Term": term}
        for outcome in outcomes:
            hit = part[part["outcome_label"] == outcome]
            row[outcome] = _estimate_text(next(hit.itertuples())) if len(hit) else ""
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["caption"] = ("The isolation exposure defined in other ways (design-based, the primary estimate's "
                            "covariate set)")
    out.attrs["footnote"] = (
        "Each cell: one survey-weighted model (Taylor-linearised variance, PSUs in strata, t intervals on the "
        "design df). Items and the structural and functional scores are entered jointly, so each estimate is "
        "adjusted for the others; the index by level and the original 5-item index (with living alone) are "
        "single exposures. HR hazard ratio, OR odds ratio, diff. mean difference.")
    return out


def exposure_figure_rows(records: pd.DataFrame) -> pd.DataFrame:
    """Rows of the exposure-definitions forest plot: hazard ratios of the survival outcomes (panels), each
    analysis a group, each term a row."""
    hr = records[records["measure"] == "HR"]
    label = [term if term not in ("per point", "yes vs no") else exposure
             for term, exposure in zip(hr["term_label"], hr["exposure_label"])]
    return pd.DataFrame({"panel": hr["outcome_label"].to_numpy(), "group": hr["analysis_label"].to_numpy(),
                         "label": label, "ratio": hr["ratio"].to_numpy(), "ratio_ci_low": hr["ratio_ci_low"].to_numpy(),
                         "ratio_ci_high": hr["ratio_ci_high"].to_numpy(), "converged": hr["converged"].to_numpy(),
                         "detail": [f"{int(n):,}" for n in hr["n"]]})


def weight_tests_table(tests: pd.DataFrame) -> pd.DataFrame:
    """The DuMouchel-Duncan tests (``reports/metrics/nhanes_weight_tests.csv``, sensitivity stage): does the
    survey weight carry information the unweighted model lacks? One row per model."""
    shown = pd.DataFrame({
        "Outcome": tests["outcome_label"], "Exposure": tests["exposure_label"], "Covariate set": tests["covariate_set"],
        "Weight": tests["weight"], "Test": tests["test"],
        "Statistic (df)": [f"{stat:.2f} ({int(a)}{'' if pd.isna(b) else f', {int(b)}'})"
                           for stat, a, b in zip(tests["statistic"], tests["df_num"], tests["df_den"])],
        "p": tests["p_value"].map(lambda p: "<0.001" if p < 0.001 else f"{p:.3f}"), "N": tests["n"]})
    shown.attrs["caption"] = "Do the survey weights matter? DuMouchel-Duncan tests, weighted against unweighted fits"
    shown.attrs["footnote"] = (
        "DuMouchel & Duncan (1983): the weight and the weight x each covariate are added to the unweighted model and "
        "tested jointly (F for linear, likelihood-ratio chi-square for logistic and Cox models). A small p says the "
        "weighted and unweighted estimates target different quantities: the design-based fits are then the ones "
        "that describe the population.")
    return shown


def write_nhanes_reports(processed: Path, reports: Path, nh: NhanesSettings,
                         formats: tuple[str, ...] = ("png", "svg"), *, n_jobs: int = 1) -> list[Path]:
    """Write the NHANES tables and figures (see the module docstring) in ``formats``; return the paths. ``n_jobs``
    worker processes draw the figures while this process writes the tables
    (:func:`analysis.report.writers.start_writers`; the same bytes for any ``n_jobs``)."""
    processed, reports = Path(processed), Path(reports)
    table = io.read_parquet(processed / "nhanes.parquet")
    flow = pd.read_csv(processed / "nhanes_flow.csv")
    dictionary = pd.read_csv(processed / "nhanes_data_dictionary.csv")
    records = pd.read_csv(reports / "metrics" / "nhanes_models.csv")
    ph_tests = pd.read_csv(reports / "metrics" / "nhanes_ph_tests.csv")
    imputed = pd.read_csv(reports / "metrics" / "nhanes_mi.csv")
    exposure_records = pd.read_csv(reports / "metrics" / "nhanes_exposures.csv")
    weight_tests = pd.read_csv(reports / "metrics" / "nhanes_weight_tests.csv")
    sensitivity, subgroups = read_sensitivity(reports)

    models, report = nh.models, nh.reports
    group = report.km_exposure
    weight = models.weight
    survival = models.survival
    durations = {spec.duration for spec in survival.values()}  # one clock: the schema checks it
    death = next((s.event for s in survival.values() if s.event == "died"), None)

    tables_dir, figures_dir = reports / "tables" / "nhanes", reports / "figures" / "nhanes"
    flow_shown = flow.rename(columns={"step": "Step", "label": "Participants", "n": "N remaining",
                                      "excluded": "Excluded", "reason": "Reason"})
    flow_shown.attrs["caption"] = "Cohort flow: participants remaining after each exclusion"
    dictionary.attrs["caption"] = "Data dictionary of the NHANES analysis table"

    dag = nh.dag
    writers = [  # the longest first (the grouped forest plots), so that the workers finish together
        *sensitivity_figures(sensitivity, subgroups, nh, figures_dir, formats),
        ("exposure_definitions", partial(
            figures.write_grouped_forest_plot, exposure_figure_rows(exposure_records),
            figures_dir / "exposure_definitions", formats,
            title="What carries the association: the isolation exposure defined in other ways (design-based)",
            label_header="Analysis and exposure", estimate_header="HR (95% CI)", detail_header="N")),
        *[(f"forest_{design}", partial(figures.write_forest_plot, records,
                                       figures_dir / f"forest_{design.replace('-', '_')}", formats, design=design,
                                       covariate_set_labels=COVARIATE_SET_LABELS))
          for design in dict.fromkeys(records["design"]) if design != "unweighted"],
        ("km_curves", partial(
            figures.write_km_curves, table, figures_dir / "km_curves", formats, duration=durations.pop(),
            event=[s.event for s in survival.values()], group=group, weight=weight,
            horizon_months=report.km_horizon_months, death=death, titles={s.event: s.label for s in survival.values()},
            group_label=models.exposures[group].label)),
        ("dag", partial(
            figures.write_dag_figure, dag.edges, figures_dir / "dag", formats, exposure=dag.exposure,
            outcome=dag.outcome, latents=dag.latent, latent_edges=dag.latent_edges, labels={**LABELS, **DAG_LABELS},
            title="Causal diagram: social isolation and death (assumptions; dashed: unmeasured)")),
        ("cohort_flow", partial(  # on screen only: the paper prints the sample flow
            figures.write_flow_diagram, flow, figures_dir / "cohort_flow", formats, print_width_in=None)),
    ]

    written: list[Path] = []
    with io.staged_outputs():
        drawn = start_writers(writers, n_jobs)
        try:
            written += tables.write_table1(table, tables_dir, by=group, variables=TABLE1_VARIABLES, weight=weight,
                                           decimals=TABLE1_DECIMALS, labels=LABELS, dtypes=DTYPES,
                                           convention=CONVENTION,
                                           variable_weights={v: models.exam_weight for v in MEC_VARIABLES})
            written += tables.write_regression_tables(records, tables_dir, ph_tests=ph_tests,
                                                      covariate_sets=dict(models.covariate_sets),
                                                      covariate_set_labels=COVARIATE_SET_LABELS)
            written += tables.write_table(ph_tests_table(ph_tests), tables_dir / "ph_tests")
            written += tables.write_table(evalues_table(records, nh), tables_dir / "evalues")
            written += tables.write_table(mi_table(records, imputed, nh), tables_dir / "multiple_imputation")
            written += tables.write_table(exposure_definitions_table(exposure_records),
                                          tables_dir / "exposure_definitions")
            written += tables.write_table(weight_tests_table(weight_tests), tables_dir / "weight_tests")
            adjustment = dag_adjustment_table(nh)
            written.append(io.write_csv(tables_dir / "dag_adjustment_sets.csv", adjustment))
            written += tables.write_table(dag_table_for_readers(adjustment), tables_dir / "dag_adjustment_sets_table")
            written.append(io.write_csv(tables_dir / "cohort_flow.csv", flow))
            written += tables.write_table(flow_shown, tables_dir / "cohort_flow_table")
            written += tables.write_table(dictionary, tables_dir / "data_dictionary")
            written += write_sensitivity_tables(sensitivity, subgroups, nh, tables_dir)
            multiplicity = multiplicity_records(records, exposure_records, sensitivity, subgroups, nh)
            written.append(io.write_csv(tables_dir / "multiplicity.csv", multiplicity))
            written += tables.write_table(multiplicity_summary(multiplicity, nh), tables_dir / "multiplicity_summary")
            written += tables.write_table(multiplicity_table(multiplicity), tables_dir / "multiplicity_table")
        finally:
            written += drawn()  # the figures join the outputs (and are removed with them on an error)
    return written


def stage() -> str:
    """DVC stage ``report_nhanes``: the NHANES tables and figures."""
    params = load()
    written = write_nhanes_reports(config.PROCESSED, config.REPORTS, params.nhanes,
                                   tuple(params.reports.figure_formats), n_jobs=params.compute.n_jobs)
    return f"NHANES reports: {len(written)} files"
