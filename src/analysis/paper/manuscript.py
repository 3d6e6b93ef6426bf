"""The manuscript: ``reports/paper.md`` from a Jinja2 template, rendered to self-contained HTML.

Methods text is generated from ``params.yaml`` (cycles, index items and groups, covariate sets,
cut-offs); results text and tables from the files the earlier stages wrote
(``reports/metrics/*.json`` and ``*_models.csv``, ``reports/tables/``). No number is typed into
the template: a changed metric changes the text. A placeholder that survives rendering (an
undefined value, "nan", "None", "{{") is an error, not a silent gap.
"""

from __future__ import annotations

import json
import math
import re
from functools import partial
from pathlib import Path

import jinja2
import pandas as pd

from analysis.core import config, io
from analysis.core.disclosure import rule_of
from analysis.core.metrics import estimate_entry
from analysis.core.settings import DisclosureSettings
from analysis.estimators.runner import run_jobs
from analysis.paper import reach
from analysis.paper.strobe import pandoc_id, read_checklist, supplement_markdown
from analysis.paper.typesetting import CM, page_margins_cm
from analysis.params import Params, load
from analysis.report.figure_check import MIN_PRINT_PT
from analysis.report.figures import LEGIBILITY_KEY, PNG_DPI
from analysis.report.flow import write_sample_flow
from analysis.report.tables import render_table
from analysis.studies.gss.settings import GssSettings, Model2020, Models2020
from analysis.studies.nhanes.metrics import headline
from analysis.studies.nhanes.report import COVARIATE_SET_LABELS
from analysis.studies.nhanes.schema import NHANES_VARIABLES
from analysis.studies.nhanes.settings import NhanesSettings
from analysis.studies.places.schema import COUNTY_VARIABLES

TEMPLATES = Path(__file__).parent / "templates"
LABELS = {v.name: v.label for v in NHANES_VARIABLES}
A4_WIDTH_CM, A4_HEIGHT_CM = 21.0, 29.7  # paper-typst.yaml: papersize a4
CAPTION_ROOM_IN = 1.5  # below a figure that fills the page: its caption (up to six lines) and the gap
#: Internal names a table may still carry (formula terms, covariate-set keys), in readers' words.
TABLE_LABELS = {**LABELS, **{v.name: v.label for v in COUNTY_VARIABLES},
                **{k: v.capitalize() for k, v in COVARIATE_SET_LABELS.items()},
                "depression_score": "depressive symptoms", "latent_edges": "nhanes.dag.latent_edges",
                "pct_missing": "% missing", "df_num": "df (numerator)", "df_den": "df (denominator)"}


class PaperError(RuntimeError):
    """The manuscript could not be built from the results files."""


#: What the manuscript prints for an estimate of a restricted study that rests on too few events.
SUPPRESSED_TEXT = "suppressed (too few events to publish)"


def fmt_ratio(est: dict | None) -> str:
    """'HR 1.45 (95% CI 1.30-1.62)' from a metrics entry."""
    if not est:
        raise PaperError("a headline estimate the manuscript needs is missing from the metrics file")
    if est.get("suppressed"):
        return SUPPRESSED_TEXT
    if est["measure"] in ("HR", "OR"):
        return f"{est['measure']} {est['estimate']:.2f} (95% CI {est['ci_low']:.2f}-{est['ci_high']:.2f})"
    return f"difference {est['estimate']:.2f} (95% CI {est['ci_low']:.2f} to {est['ci_high']:.2f})"


def direction(est: dict, higher: str = "higher", lower: str = "lower", null: str = "no clear difference in") -> str:
    """Words for an estimate: above / below the null with a CI that excludes it, else no clear difference."""
    null_value = 1.0 if est["measure"] in ("HR", "OR") else 0.0
    if est["ci_low"] > null_value:
        return higher
    if est["ci_high"] < null_value:
        return lower
    return null


def fmt_points(est: dict | None, scale: float = 100.0, unit: str = "percentage points") -> str:
    """'-1.2 percentage points (95% CI -2.3 to -0.1)' from a linear-probability metrics entry."""
    if not est:
        raise PaperError("a headline estimate the manuscript needs is missing from the metrics file")
    e, lo, hi = (est[k] * scale for k in ("estimate", "ci_low", "ci_high"))
    return f"{e:.1f} {unit} (95% CI {lo:.1f} to {hi:.1f})"


def fmt_linear(est: dict | None) -> str:
    """'-2.1 (95% CI -5.1 to 0.8)' for a linear estimate, with decimals chosen from the CI width."""
    if not est:
        raise PaperError("a headline estimate the manuscript needs is missing from the metrics file")
    if est.get("suppressed"):
        return SUPPRESSED_TEXT
    width = abs(est["ci_high"] - est["ci_low"]) or 1.0
    decimals = min(4, max(1, 1 - math.floor(math.log10(width))))
    e, lo, hi = (f"{est[k]:.{decimals}f}" for k in ("estimate", "ci_low", "ci_high"))
    return f"{e} (95% CI {lo} to {hi})"


def fmt_int(value: float | int | str) -> str:
    """1234 -> "1,234"; a text (a suppressed count, "<11") is printed as it is."""
    if isinstance(value, str):
        return value
    return f"{int(round(value)):,}"


def fmt_p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_pval(p: float) -> str:
    """'p < 0.001' or 'p = 0.042'."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def covariates_in_words(rhs: str) -> str:
    names = [t for t in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", rhs) if t not in ("C", "Treatment")]
    words = [LABELS.get(n, n.replace("_", " ")).split(" (")[0].lower() for n in names]
    return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]


def _read_table_md(path: Path) -> str:
    if not path.exists():
        raise PaperError(f"{path}: table not found; run the report stage first")
    return path.read_text(encoding="utf-8").strip()


def context(reports: Path, params: Params) -> dict:
    metrics_path = reports / "metrics" / "nhanes.json"
    if not metrics_path.exists():
        raise PaperError(f"{metrics_path}: not found; run the model stage first")
    metrics = json.loads(metrics_path.read_text())
    flow = pd.read_csv(reports / "tables" / "nhanes" / "cohort_flow.csv")
    records = pd.read_csv(reports / "metrics" / "nhanes_models.csv")
    tables = reports / "tables" / "nhanes"
    return {
        "params": params,
        "m": metrics,
        "est": metrics["estimates"],
        "h": headline(metrics, params.nhanes),
        "flow": flow.to_dict("records"),
        "n_models": len(records),
        "covariate_sets": {k: covariates_in_words(v) for k, v in params.nhanes.models.covariate_sets.items()},
        "table1": _read_table_md(tables / "table1.md"),
        "regression": _read_table_md(tables / "regression_design_based.md"),
        "regression_multilevel": _read_table_md(tables / "regression_multilevel.md"),
        "figures": "figures/nhanes",
        "gss": _gss_context(reports, params.gss),
        "triangulation": _triangulation(reports),
        "standardised": _standardised(reports),
        "countries": _metrics(reports, "countries"),
        "places": _metrics(reports, "places"),
        "cohorts": _cohorts_context(reports, params.disclosure),
        "reliability": reliability_context(reports.parent / "data" / "processed"),
        "mi": _mi_context(reports, params.nhanes),
        "evalues": _evalues_context(reports, params.nhanes),
        "sensitivity": _sensitivity_context(reports, params.nhanes),
        "exposures": _exposures_context(reports),
        "dag": _dag_context(reports),
        "weight_tests": (_read_table_md(tables / "weight_tests.md") if (tables / "weight_tests.md").exists()
                         else None),
        "primary": primary_context(records, params.nhanes),
        "kr20": _kr20(reports.parent / "data" / "processed" / "nhanes_reliability.csv", params.nhanes),
        "multiplicity": _multiplicity_context(reports, params.nhanes),
        "rules": RULES,
        "flow_figure": FLOW_FIGURE + ".png",
        "cognition": reach.cognition_context(reports),
        "left_out": reach.left_out_context(reports, params),
        "gss_reach": reach.gss_reach_context(reports, params),
        "infrastructure": reach.infrastructure_context(reports, params),
        "specifications": reach.specification_context(reports),
    }


#: The rules that choose the words of the Results and Discussion from the numbers (stated in the supplement, so
#: that a reader can check them): each key is a rule the template applies through a filter or a context value.
RULES = {
    "direction": "'higher' / 'lower' when the 95% CI excludes the null (1 for ratios, 0 for differences), "
                 "otherwise 'no clear difference in'.",
    "attenuation": "the change of the log hazard ratio from one covariate set to the next, in per cent of the "
                   "first: 'attenuated' when it shrinks towards the null, 'strengthened' when it moves away.",
    "dominance": "an item 'carries most of the association' when, with the items mutually adjusted, its CI "
                 "excludes 1 and its log hazard ratio is at least twice that of every other item.",
    "measurement_error": "a within-person estimate is 'within the range that measurement error alone would give' "
                         "when its ratio to the pooled estimate lies inside the regression-dilution factors of "
                         "the assumed reliabilities; 'smaller than' when below the smallest factor.",
    "fdr": "a secondary finding 'survives' false-discovery-rate control when its Benjamini-Hochberg q is below "
           "the rate named in params.yaml (nhanes.models.multiplicity.q).",
    "stability": "a companion estimate (imputation, sensitivity) 'agrees' with the primary estimate when it lies "
                 "inside the primary estimate's 95% CI.",
}


def attenuation(first: dict, second: dict) -> float:
    """Per cent of the log ratio of ``first`` that is gone in ``second`` (positive: towards the null)."""
    a, b = math.log(first["estimate"]), math.log(second["estimate"])
    return 100.0 * (a - b) / a if a else 0.0


def attenuation_words(first: dict, second: dict) -> str:
    """'attenuated by 12%' or 'strengthened by 5%' (rule ``attenuation``)."""
    pct = attenuation(first, second)
    return f"{'attenuated' if pct >= 0 else 'strengthened'} by {abs(pct):.0f}%"


def agrees(est: dict, reference: dict) -> bool:
    """Rule ``stability``: ``est`` lies inside the 95% CI of ``reference``."""
    return reference["ci_low"] <= est["estimate"] <= reference["ci_high"]


def primary_context(records: pd.DataFrame, nh: NhanesSettings) -> dict:
    """The primary estimate (``nhanes.models.primary``) and, for it and for cardiovascular death, the same contrast
    under every covariate set (design-based, ``nhanes_models.csv``): ``by_set[outcome][set]`` metrics entries, so
    the text can state the attenuation from the age-sex to the total-effect to the direct-effect model."""
    primary = nh.models.primary
    rows = records[(records["design"] == primary.design) & (records["exposure"] == primary.exposure)]
    if rows.empty:
        raise PaperError(f"nhanes_models.csv has no {primary.design} rows of {primary.exposure}; rerun models_nhanes")
    last = list(dict.fromkeys(rows["term"]))[-1]
    top = rows[rows["term"] == last]
    by_set: dict = {}
    for row in top.itertuples():
        by_set.setdefault(row.outcome, {})[row.covariate_set] = {**estimate_entry(row), "label": row.term_label,
                                                                 "events": None if pd.isna(row.events)
                                                                 else int(row.events)}
    if primary.outcome not in by_set or primary.covariate_set not in by_set[primary.outcome]:
        raise PaperError(f"nhanes_models.csv has no primary estimate ({primary.outcome}, {last}, "
                         f"{primary.covariate_set}); rerun models_nhanes")
    sets = list(nh.models.covariate_sets)
    return {"spec": primary, "term_label": top["term_label"].iloc[0], "estimate": by_set[primary.outcome][
        primary.covariate_set], "by_set": by_set, "sets": sets, "first_set": sets[0],
            "secondary_set": sets[-1] if sets[-1] != primary.covariate_set else None}


def _kr20(path: Path, nh: NhanesSettings) -> dict | None:
    """The isolation index's KR-20 (``data/processed/nhanes_reliability.csv``) as numbers, or None."""
    if not path.exists():
        return None
    rows = pd.read_csv(path)
    name = next(iter(nh.indices))
    row = rows[rows["measure"] == name]
    return None if row.empty else {"estimate": float(row["estimate"].iloc[0]), "n": int(row["n"].iloc[0]),
                                   "statistic": str(row["statistic"].iloc[0])}


def _multiplicity_context(reports: Path, nh: NhanesSettings) -> dict | None:
    """Per family of secondary estimates its size and the counts below the rate (``multiplicity.csv``, report stage),
    and the q-value of every interaction test by (outcome label, exposure label, modifier label). None when absent."""
    path = reports / "tables" / "nhanes" / "multiplicity.csv"
    if not path.exists():
        return None
    table = pd.read_csv(path)
    rate = nh.models.multiplicity.q
    families = [{"name": name, "label": part["family_label"].iloc[0], "n": int(part["p_value"].notna().sum()),
                 "p_below": int((part["p_value"] < rate).sum()), "q_below": int((part["q_value"] < rate).sum())}
                for name, part in table.groupby("family", sort=False)]
    tests = table[table["family"] == "interactions"]
    q = {(r.outcome_label, r.exposure_label, r.what.removeprefix("x ")): float(r.q_value) for r in tests.itertuples()}
    return {"rate": rate, "families": families, "interaction_q": q,
            "total": sum(f["n"] for f in families)}


def _dag_context(reports: Path) -> dict | None:
    """The covariate sets checked against the causal diagram (``reports/tables/nhanes/dag_adjustment_sets.csv``,
    report stage): the rows under the measured-confounding assumption, and the reader's table. None if absent."""
    path = reports / "tables" / "nhanes" / "dag_adjustment_sets.csv"
    if not path.exists():
        return None
    rows = pd.read_csv(path)
    first = rows["assumption"].iloc[0]
    measured = rows[rows["assumption"] == first]
    valid = measured.loc[measured["valid_backdoor"].astype(bool), "covariate_set"].tolist()
    return {"measured": measured.to_dict("records"), "total_set": valid[0] if valid else None,
            "total": _total_effect(reports, valid[0]) if valid else {},
            "table": _read_table_md(reports / "tables" / "nhanes" / "dag_adjustment_sets_table.md")}


def _total_effect(reports: Path, covariate_set: str) -> dict:
    """Per outcome, the design-based estimate of the most isolated group with the diagram's total-effect set
    (``reports/metrics/nhanes_models.csv``): the last term of the first categorical exposure."""
    records = pd.read_csv(reports / "metrics" / "nhanes_models.csv")
    rows = records[(records["design"] == "design-based") & (records["covariate_set"] == covariate_set)
                   & records["term"].str.contains(r"\[", regex=True)]
    out = {}
    for outcome, part in rows.groupby("outcome", sort=False):
        first = part[part["exposure"] == part["exposure"].iloc[0]]
        out[outcome] = estimate_entry(next(first.iloc[[-1]].itertuples()))
    return out


def _exposures_context(reports: Path) -> dict | None:
    """The isolation exposure defined in other ways (``reports/metrics/nhanes_exposures.csv``, stage
    ``exposures_nhanes``): ``analyses[analysis][outcome]`` the list of that analysis's estimates (with their
    ``exposure_label`` and ``term_label``), and the table. None when the stage has not run."""
    path = reports / "metrics" / "nhanes_exposures.csv"
    if not path.exists():
        return None
    analyses: dict = {}
    for row in pd.read_csv(path).itertuples():
        entry = {**estimate_entry(row), "exposure_label": row.exposure_label, "term_label": row.term_label,
                 "label": row.analysis_label}
        analyses.setdefault(row.analysis, {}).setdefault(row.outcome, []).append(entry)
    return {"analyses": analyses,
            "table": _read_table_md(reports / "tables" / "nhanes" / "exposure_definitions.md")}


def _sensitivity_context(reports: Path, nh: NhanesSettings) -> dict | None:
    """Reverse causation, baseline disease and effect modification (``reports/metrics/nhanes_sensitivity.csv``
    and ``nhanes_subgroups.csv``, stage ``sensitivity_nhanes``): per survival outcome and analysis the most
    isolated group's estimate; per survival outcome and modifier the interaction test (categorical exposure);
    the two tables. None when the stage has not run."""
    path = reports / "metrics" / "nhanes_sensitivity.csv"
    subgroups_path = reports / "metrics" / "nhanes_subgroups.csv"
    if not path.exists() or not subgroups_path.exists():
        return None
    records = pd.read_csv(path)
    subgroups = pd.read_csv(subgroups_path, keep_default_na=False, na_values=[""])
    exposure = _first_categorical(nh)
    analyses: dict = {}
    for row in records[records["exposure"] == exposure].itertuples():
        entry = estimate_entry(row)
        analyses.setdefault(row.outcome, {})[row.analysis] = {**entry, "label": row.analysis_label}
    interactions: dict = {}
    tests = subgroups[(subgroups["record"] == "interaction") & (subgroups["exposure"] == exposure)]
    for row in tests.itertuples():
        interactions.setdefault(row.outcome, []).append(
            {"modifier": row.modifier_label, "p_value": float(row.p_value), "F": float(row.F),
             "df_num": int(row.df_num), "df_den": int(row.df_den)})
    tables = reports / "tables" / "nhanes"
    return {"analyses": analyses, "interactions": interactions,
            "table": _read_table_md(tables / "sensitivity.md"), "subgroups": _read_table_md(tables / "subgroups.md")}


def _first_categorical(nh: NhanesSettings) -> str | None:
    return next((k for k, v in nh.models.exposures.items() if v.type == "categorical"), None)


def _mi_context(reports: Path, nh: NhanesSettings) -> dict | None:
    """Multiple imputation beside complete cases (``reports/metrics/nhanes_mi.csv``, stage ``mi_nhanes``):
    per survival outcome the most-isolated group's pooled estimate, the largest fraction of missing
    information, and the side-by-side table; None when the MI stage has not run."""
    path = reports / "metrics" / "nhanes_mi.csv"
    if not path.exists():
        return None
    mi = pd.read_csv(path)
    exposure = _first_categorical(nh)
    top = {}
    for outcome in nh.models.survival:
        rows = mi[(mi["outcome"] == outcome) & (mi["exposure"] == exposure)]
        if rows.empty:
            raise PaperError(f"{path}: no {exposure} rows for outcome {outcome}; rerun the mi_nhanes stage")
        top[outcome] = estimate_entry(next(rows.iloc[[-1]].itertuples()))
    return {"m": int(mi["m"].iloc[0]), "top": top, "max_fmi": float(mi["fmi"].max()),
            "table": _read_table_md(reports / "tables" / "nhanes" / "multiple_imputation.md")}


def _evalues_context(reports: Path, nh: NhanesSettings) -> dict | None:
    """E-values of the headline estimates (``reports/tables/nhanes/evalues.csv``): per survival outcome, those
    of the most-isolated group's hazard ratio (estimate and CI limit), and the table; None when absent."""
    path = reports / "tables" / "nhanes" / "evalues.csv"
    if not path.exists():
        return None
    table = pd.read_csv(path)
    exposure_label = nh.models.exposures[_first_categorical(nh)].label
    top = {}
    for outcome, spec in nh.models.survival.items():
        rows = table[(table["Outcome"] == spec.label) & (table["Exposure"] == exposure_label)]
        if rows.empty:
            raise PaperError(f"{path}: no rows for {spec.label} x {exposure_label}")
        last = rows.iloc[-1]
        top[outcome] = {"estimate": float(last["E-value (estimate)"]), "ci": float(last["E-value (CI limit)"])}
    return {"top": top, "table": _read_table_md(path.with_suffix(".md"))}


def _cohorts_context(reports: Path, disclosure: DisclosureSettings) -> dict | None:
    """The ageing-cohort study: which studies ran, estimates, the SYNTHETIC truth check; None if absent."""
    path = reports / "metrics" / "cohorts.json"
    if not path.exists():
        return None
    metrics = json.loads(path.read_text())
    truth_path = reports / "metrics" / "cohorts_truth.csv"
    truth = pd.read_csv(truth_path).to_dict("records") if truth_path.exists() else []
    rule = rule_of(disclosure)
    ran = {k: ({**v, "persons": rule.marker, "person_waves_interviewed": rule.marker} if v.get("suppressed") else v)
           for k, v in metrics["studies"].items() if v["status"] == "ran"}
    return {
        "m": metrics,
        "ran": ran,
        "not_configured": [v["label"] for v in metrics["studies"].values() if v["status"] != "ran"],
        "truth": truth,
        "estimates": _read_table_md(reports / "tables" / "cohorts" / "estimates.md"),
        "riclpm": _read_table_md(reports / "tables" / "cohorts" / "riclpm.md"),
        "figures": "figures/cohorts",
        "keys": {v["label"]: k for k, v in ran.items()},
        "definitions": _cohort_definitions(reports.parent / "data" / "processed" / "cohorts_capability.csv", ran),
    }


#: The cohort measures whose per-study definition the Methods state (the capability table's ``definition``).
COHORT_DEFINED = {"depression_score": "depressive symptoms", "loneliness": "loneliness",
                  "isolation_index": "social isolation"}


def _cohort_definitions(path: Path, ran: dict) -> dict:
    """Per study that ran (its label): measure words -> the definition that study used (the cohort clean stage's
    capability table); measures a study lacks are left out. Empty when the table is absent."""
    if not path.exists():
        return {}
    table = pd.read_csv(path).dropna(subset=["definition"]).drop_duplicates(["study", "measure"])
    out: dict = {}
    for row in table.itertuples():
        if row.study in ran and row.measure in COHORT_DEFINED:
            out.setdefault(ran[row.study]["label"], {})[COHORT_DEFINED[row.measure]] = str(row.definition)
    return out


#: The ICC forms of ``estimators.reliability.ICC_FORMS`` in words (McGraw & Wong 1996).
ICC_WORDS = {"ICC(1,1)": "one-way, single wave", "ICC(A,1)": "two-way, absolute agreement, single wave",
             "ICC(C,1)": "two-way, consistency, single wave", "ICC(1,k)": "one-way, mean of the waves",
             "ICC(A,k)": "two-way, absolute agreement, mean of the waves",
             "ICC(C,k)": "two-way, consistency, mean of the waves"}


def _reliability_text(record: dict) -> str:
    """ "KR-20 0.46 (95% CI 0.44 to 0.47; n = 13,634)" from one reliability record."""
    return (f"{record['statistic']} {record['estimate']:.2f} ({100 * record['ci_level']:g}% CI "
            f"{record['ci_low']:.2f} to {record['ci_high']:.2f}; n = {fmt_int(record['n'])})")


def reliability_context(processed: Path) -> dict | None:
    """The clean stages' reliability records (``data/processed/{nhanes,gss}_reliability.csv``) as text for the
    Methods: ``nhanes`` by measure; ``gss`` the loneliness items' alpha and the pooled ICC of the social contact
    index. None when the NHANES file is absent; ``gss`` None when the GSS file is."""
    path = processed / "nhanes_reliability.csv"
    if not path.exists():
        return None
    nhanes = {r["measure"]: _reliability_text(r) for r in pd.read_csv(path).to_dict("records")}
    gss = None
    gss_path = processed / "gss_reliability.csv"
    if gss_path.exists():
        rows = pd.read_csv(gss_path)
        lonely = rows[rows["measure"] == "loneliness_score_2020"].to_dict("records")
        contact = rows[(rows["measure"] == "social_contact_index") & (rows["panel"] == "all")].to_dict("records")
        if not lonely or not contact:
            raise PaperError(f"{gss_path}: needs the loneliness_score_2020 row and the pooled social_contact_index "
                             "row; rerun the clean_gss stage")
        form = contact[0]["statistic"]
        if form not in ICC_WORDS:
            raise PaperError(f"{gss_path}: ICC form {form!r} has no description in manuscript.ICC_WORDS")
        gss = {"loneliness": _reliability_text(lonely[0]), "contact": _reliability_text(contact[0]),
               "icc_words": ICC_WORDS[form]}
    return {"nhanes": nhanes, "gss": gss}


def _metrics(reports: Path, study: str) -> dict | None:
    """A study's metrics file, or None when its stages have not run."""
    path = reports / "metrics" / f"{study}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _triangulation(reports: Path) -> list[dict] | None:
    path = reports / "triangulation" / "triangulation.csv"
    return pd.read_csv(path).to_dict("records") if path.exists() else None


def _standardised(reports: Path) -> dict | None:
    """The cross-design figure's rows: drawn ones and those not run (named in the text)."""
    path = reports / "triangulation" / "standardised.csv"
    if not path.exists():
        return None
    table = pd.read_csv(path)
    return {"drawn": (table["status"] == "ran").any(),
            "not_shown": table.loc[table["status"] != "ran", "label"].tolist()}


def _gss_context(reports: Path, gss: GssSettings) -> dict | None:
    """The GSS study's numbers and tables, or None when its stages have not run (the paper says so)."""
    path = reports / "metrics" / "gss.json"
    if not path.exists():
        return None
    tables = reports / "tables" / "gss"
    metrics = json.loads(path.read_text())
    spec = gss.panel_models
    exposure = next(iter(spec.exposures))
    within_share = {}  # two-way FE estimate as a share of the pooled OLS estimate, per outcome
    for outcome in spec.outcomes:
        est = metrics["estimates"].get(outcome, {}).get(exposure, {})
        if "fixed_effects" in est and "pooled_ols" in est and est["pooled_ols"]["estimate"]:
            within_share[outcome] = est["fixed_effects"]["estimate"] / est["pooled_ols"]["estimate"]
    lagged = gss.panel_lagged
    return {
        "m": metrics,
        "within_share": within_share,
        "exposure": exposure,
        "lag_exposure": next(iter(lagged.exposures), None) if lagged else None,
        "models_with": models_2020_with(gss.models_2020, ("left_out_baseline", "social_contact_index_2020",
                                                            "mode_2020")),
        "attrition": gss_attrition(reports.parent / "data" / "processed" / "gss_attrition.csv"),
        "attenuation": gss_attenuation(metrics, exposure),
        "estimators": _read_table_md(tables / "panel_estimators.md"),
        "weighted": _read_table_md(tables / "panel_weighted.md"),
        "ballot_flow": _read_table_md(tables / "ballot_flow.md"),
        "attenuation_table": _read_table_md(tables / "attenuation.md"),
        "lagged": _read_table_md(tables / "panel_lagged.md") if lagged else None,
        "loneliness": _read_table_md(tables / "loneliness_2020.md"),
        "figures": "figures/gss",
    }


def models_2020_with(spec: Models2020, columns: tuple[str, ...]) -> dict[str, list[Model2020]]:
    """For each column, the models of ``gss.models_2020`` that use it as exposure or covariate (their specs),
    so the Methods name the models that adjust for baseline LONELY3 or the 2020 interview mode from
    ``params.yaml`` rather than from a hand-typed list."""
    models = spec.models.values()
    return {c: [m for m in models if re.search(rf"\b{c}\b", f"{m.exposure} {m.covariates}")] for c in columns}


def gss_attrition(path: Path) -> dict:
    """Attrition of the stacked GSS panels by the last wave (``data/processed/gss_attrition.csv``, clean stage,
    the pooled ``all`` rows): the share of baseline respondents lost, and the baseline percentage in fair or poor
    health of those lost and of those retained."""
    if not path.exists():
        raise PaperError(f"{path}: not found; run the clean_gss stage first")
    rows = pd.read_csv(path)
    pooled = rows[rows["panel"] == "all"]
    last = pooled["wave"].max()
    lost = pooled[(pooled["wave"] == last) & (pooled["group"] == "lost")]
    kept = pooled[(pooled["wave"] == last) & (pooled["group"] == "interviewed")]
    if lost.empty or kept.empty:
        raise PaperError(f"{path}: needs the pooled ('all') interviewed and lost rows of the last wave")
    return {"wave": int(last), "pct_lost": float(lost["pct_of_baseline"].iloc[0]), "n_lost": int(lost["n"].iloc[0]),
            "fair_poor_lost": float(lost["pct_fair_poor_health"].iloc[0]),
            "fair_poor_kept": float(kept["pct_fair_poor_health"].iloc[0])}


def gss_attenuation(metrics: dict, exposure: str) -> dict:
    """The pooled within-person variance share and wave-to-wave correlations of the exposure, and its
    regression-dilution factors for the FE and FD estimates by assumed reliability (``gss.json``
    ``attenuation``, keys ``exposure:all:rho=<r>``)."""
    prefix = f"{exposure}:all:rho="
    entries = sorted(((float(k[len(prefix):]), v) for k, v in metrics.get("attenuation", {}).items()
                      if k.startswith(prefix)), key=lambda kv: kv[0])
    if not entries:
        raise PaperError(f"gss.json has no attenuation entry '{prefix}...'; rerun the models_gss stage")
    first = entries[0][1]
    return {"within_share": first["within_share"], "icc_one_way": first["icc_one_way"],
            "adjacent_correlations": first["adjacent_correlations"],
            "factors": [{"reliability": rho, "fixed_effects": v["lambda_fixed_effects"],
                         "first_difference": v["lambda_first_difference"]} for rho, v in entries]}


#: The two documents: template, output stem, and the page that holds the other's cross-references.
DOCUMENTS = {"paper": "paper.md.j2", "supplement": "supplement.md.j2"}


def anchor(number: str) -> str:
    """The HTML/Typst id of a display item from its label: "Table S4" -> "table-s4"."""
    return re.sub(r"[^a-z0-9]+", "-", number.lower()).strip("-")


def _table_title(markdown: str) -> tuple[str, str]:
    """(title, rest) of a report table's Markdown: the first line's bold caption, then the table and notes."""
    first, _, rest = markdown.partition("\n")
    match = re.fullmatch(r"\*\*(.+?)\*\*|#\s+(.+)", first.strip())
    if not match:
        return "", markdown
    # a report with its own headings (the coverage simulation) keeps them as bold run-in lines, not sections
    rest = re.sub(r"(?m)^#{1,6}\s+(.+?)\s*$", r"**\1.**", rest.strip())
    return match.group(1) or match.group(2), rest


def make_table(reports: Path):
    """The template's ``table(name, number, sample=None)``: the report table ``reports/tables/<name>`` (its JSON
    spec, written by the report stage beside the CSV) set by :func:`analysis.report.tables.render_table` as one
    raw HTML block and one raw Typst block (explicit column widths, decimal-aligned numbers, caption above and
    notes below, internal names replaced by labels, a link to the CSV), in a block whose id is :func:`anchor` of
    ``number`` so cross-references reach it; the analytic ``sample``, when given, ends the caption."""
    margin_x, _ = page_margins_cm(TEMPLATES / "paper-typst.yaml")
    width = (A4_WIDTH_CM - 2 * margin_x) * CM - 2  # 2 pt to spare for the estimate of each column's width

    def table(name: str, number: str, sample: str | None = None) -> str:
        spec = reports / "tables" / f"{name}.json"
        csv = reports / "tables" / f"{name}.csv"
        if not csv.exists():
            raise PaperError(f"{csv}: the table's CSV is missing; rerun the report stage that writes {name}")
        if not spec.exists():
            raise PaperError(f"{spec}: the table's spec is missing; rerun the report stage that writes {name}")
        title = (json.loads(spec.read_text(encoding="utf-8")).get("caption") or "").strip().rstrip(".")
        if sample:
            title = f"{title}. Sample: {sample}"
        # no wrapping block: a table too wide for the page sets its own landscape page, which Typst allows only
        # outside containers; the id is the table's own (HTML id and Typst label: defined_ids finds it)
        body = render_table(reports / "tables", name, number, title=title, labels=TABLE_LABELS, text_width_pt=width,
                            label=anchor(number))
        return body
    return table


def make_figure(reports: Path):
    """The template's ``figure(path, number, caption, width="100%")``: an image under ``reports`` with its number
    and caption (an implicit pandoc figure, id :func:`anchor` of ``number``). A figure too tall for a printed
    page was also saved in parts (``<stem>_part1.png`` ..., :func:`analysis.report.figures.write_in_parts`):
    the parts are printed instead, the first with the number and caption, the others "(continued)"."""
    def figure(path: str, number: str, caption: str, width: str = "100%") -> str:
        if not (reports / path).exists():
            raise PaperError(f"{reports / path}: figure not found; run the stage that draws it")
        stem = Path(path)
        parts = sorted((reports / stem.parent).glob(f"{stem.stem}_part*{stem.suffix}"),
                       key=lambda p: int(re.sub(r"\D", "", p.stem.rsplit("_part", 1)[1]) or 0))
        if not parts:
            return f"![**{number}.** {caption.strip()}]({path}){{#{anchor(number)} width={width}}}\n"
        shown = [str(part.relative_to(reports)) for part in parts]
        return "\n".join(
            f"![**{number}.** {caption.strip()}]({shown[0]}){{#{anchor(number)} width={width}}}\n" if k == 0 else
            f"![**{number} (continued).**]({part}){{#{anchor(number)}-{k + 1} width={width}}}\n"
            for k, part in enumerate(shown))
    return figure


def make_ref(document: str):
    """The template's ``ref(number)``: a link to a display item, to the other document when it lives there (the
    supplement's items are numbered S1, S2 ...)."""
    def ref(number: str, text: str | None = None) -> str:
        in_supplement = bool(re.search(r"\bS\d", number))
        page = "supplement.html" if in_supplement and document == "paper" else (
            "paper.html" if not in_supplement and document == "supplement" else "")
        return f"[{text or number}]({page}#{anchor(number)})"
    return ref


def strobe_table(number: str) -> str:
    """The STROBE checklist (``data/reference/strobe_cohort.csv``) as the supplement's table ``number``."""

    table = supplement_markdown(read_checklist(config.REFERENCE / "strobe_cohort.csv"), number)
    return f"::: {{#{anchor(number)} .display-table}}\n{table}\n:::\n"


def sections(kind: str) -> list[str]:
    """Templates ``sections/<kind>/*.md.j2`` in name order: the hooks where an added analysis puts its Methods,
    Results or supplement section (``kind``: methods, results, discussion, supplement)."""
    folder = TEMPLATES / "sections" / kind
    return sorted(f"sections/{kind}/{p.name}" for p in folder.glob("*.md.j2")) if folder.is_dir() else []


def environment(reports: Path, document: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(ratio=fmt_ratio, direction=direction, int=fmt_int, p=fmt_p, pval=fmt_pval, points=fmt_points,
                       linear=fmt_linear, ci=fmt_ci, attenuation=attenuation_words, agrees=agrees, log=math.log)
    env.tests.update(agrees=agrees)
    env.globals.update(table=make_table(reports), figure=make_figure(reports), ref=make_ref(document),
                       sections=sections, document=document, strobe_table=strobe_table)
    return env


def render_markdown(ctx: dict, reports: Path | None = None, document: str = "paper") -> str:
    env = environment(Path(reports) if reports is not None else Path("reports"), document)
    try:
        text = env.get_template(DOCUMENTS[document]).render(**ctx)
    except jinja2.UndefinedError as err:
        raise PaperError(f"the {document} template needs a value the results do not have: {err}") from err
    text = unlink_missing_sections(separate_blocks(text))
    check_no_placeholders(text, document)
    return text


def unlink_missing_sections(markdown: str) -> str:
    """A link to a section of the same document (``[Supplement \u00a7 S4. ...](#s4.-...)``, the STROBE table) whose
    heading did not render (its study did not run) becomes plain text: Typst would refuse the dangling label.
    Links to display items are checked, not unlinked (:func:`check_cross_references`)."""

    ids = defined_ids(markdown)
    ids |= {pandoc_id(re.sub(r"\s*\{[^}]*\}\s*$", "", h)) for h in re.findall(r"(?m)^#{1,6}\s+(.+?)\s*$", markdown)}

    def keep(match: re.Match) -> str:
        text, ident = match.group(1), match.group(2)
        return match.group(0) if ident in ids or re.fullmatch(r"(?:table|figure)-s?\d+", ident) else text
    return re.sub(r"\[([^\]]+)\]\(#([^)\s]+)\)", keep, markdown)


def separate_blocks(markdown: str) -> str:
    """A blank line before every heading and every run-in bold paragraph ("**Limitations.** ..."): Jinja's
    whitespace control can leave a block glued to the line before it, which pandoc would read as one paragraph."""
    return re.sub(r"(?m)^(?!\|)(.+)\n(?=#{1,6} |\*\*[^*\n]+\.\*\* )", r"\1\n\n", markdown)


def fmt_ci(est: dict | None) -> str:
    """'1.35 (1.20-1.52)' from a metrics entry (ratio, no measure name)."""
    if not est:
        raise PaperError("an estimate the manuscript needs is missing from the results files")
    return f"{est['estimate']:.2f} ({est['ci_low']:.2f}-{est['ci_high']:.2f})"


_PLACEHOLDERS = re.compile(r"\{\{|\}\}|\{%|\bnan\b|\bNone\b|\bTODO\b|\bXXX\b|\?\?", re.IGNORECASE)


_RAW_TYPST = re.compile(r"^```\{=(?:typst|html)\}\n.*?^```$", re.M | re.S)


def check_no_placeholders(text: str, document: str = "paper") -> None:
    """No template placeholder or missing value in the rendered text; table rows (lines starting with "|", read
    from the report stages' tables, whose cells may say "none") are left to those stages, and so are the raw
    HTML and Typst blocks of the set tables (a cell may say "none"; Typst's ``none`` is a keyword)."""
    text = _RAW_TYPST.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for lineno, line in enumerate(text.splitlines(), 1):
        hit = None if line.startswith("|") else _PLACEHOLDERS.search(line)
        if hit:
            raise PaperError(f"{document}.md line {lineno}: placeholder '{hit.group(0)}' survived rendering: "
                             f"{line[:120]}")


def referenced_files(markdown: str) -> list[str]:
    """The image files a document embeds: every image goes through the template's ``figure()``, which writes
    ``![caption](path.png){#figure-...}`` (a caption may hold links; a plain link to a PNG is not embedded)."""
    return re.findall(r"\]\(([^)\s#]+\.(?:png|svg|jpe?g))\)\{#", markdown)


#: The bibliography (every work cited, and the published anchors' ``bib_key``) and the vendored citation style.
BIBLIOGRAPHY = config.REFERENCE / "references.bib"
CSL = TEMPLATES / "csl" / "the-lancet.csl"
#: The sample-flow figure the paper stage draws (numbered by the template, so drawn here, not in a study stage).
FLOW_FIGURE = "figures/paper/sample_flow"


def citations(markdown: str) -> set[str]:
    """The citation keys of pandoc Markdown (``[@key]``, ``@key``, ``[@a; @b]``), e-mail addresses excluded."""
    return set(re.findall(r"(?<![\w.])@([A-Za-z][\w:-]*[A-Za-z0-9])", markdown))


def bibliography_keys(path: Path = BIBLIOGRAPHY) -> set[str]:
    """The entry keys of a BibTeX file."""
    return set(re.findall(r"^@\w+\{([^,\s]+),", Path(path).read_text(encoding="utf-8"), flags=re.M))


def check_citations(markdowns: dict[str, str], bib: Path = BIBLIOGRAPHY) -> None:
    """Every key cited is in the bibliography; raises PaperError naming the missing keys and the document."""
    keys = bibliography_keys(bib)
    for name, text in markdowns.items():
        missing = sorted(citations(text) - keys)
        if missing:
            raise PaperError(f"{name}.md cites {missing}, which {bib} does not hold; add the entries (with DOIs)")


def defined_ids(markdown: str) -> set[str]:
    """The ids a document defines: pandoc's ``{#id}`` (figures, sections) and the ``id="..."`` of the set tables'
    raw HTML (each table's Typst twin carries the same label)."""
    return set(re.findall(r"\{#([\w.-]+)", markdown)) | set(re.findall(r'\bid="([\w.-]+)"', markdown))


def check_cross_references(markdowns: dict[str, str]) -> None:
    """Every link to a display item (``](#table-2)``, ``](supplement.html#table-s4)``) has its target in the
    document it names; a reference to an item that did not render (its study did not run) is an error here, not a
    failed Typst compile."""
    defined = {name: defined_ids(text) for name, text in markdowns.items()}
    for name, text in markdowns.items():
        for page, ident in re.findall(r"\]\((\w*?)(?:\.html)?#((?:table|figure)-s?\d+)\)", text):
            target = page or name
            if target in defined and ident not in defined[target]:
                raise PaperError(f"{name}.md refers to #{ident} in {target}, which has no such display item; "
                                 "guard the reference with the condition that draws the item")


def draw_sample_flow(reports: Path, params: Params) -> list[Path]:
    """The NHANES sample flow with the display items that use each sample (Table 1, the Kaplan-Meier figure, the
    models): :mod:`analysis.report.flow`."""

    flow = pd.read_csv(reports / "tables" / "nhanes" / "cohort_flow.csv")
    steps = flow["step"].astype(int).tolist()
    # from the last step back: the models, the Kaplan-Meier figure (linked), Table 1 (complete index)
    items = [["Table 2", "the NHANES models of the supplement"], ["Figure 2 (Kaplan-Meier)"], ["Table 1"]]
    uses = dict(zip(reversed(steps), items))
    return write_sample_flow(flow, reports / FLOW_FIGURE, tuple(params.reports.figure_formats), uses=uses,
                             title=f"{params.nhanes.study}: the sample of each display item")


#: pandoc's Markdown without raw HTML: the tables' "<0.001" and "< 65" cells made the raw-HTML scanner backtrack
#: (the supplement took 150 s to read; 5 s without it). The documents hold no HTML.
READER = "markdown-raw_html"


def _pandoc_args(reports: Path) -> list[str]:
    return ["--citeproc", f"--bibliography={BIBLIOGRAPHY}", f"--csl={CSL}", "--metadata=link-citations:true",
            f"--resource-path={reports}"]


#: The oldest pandoc with a Typst writer (added in pandoc 3.1.2); pypandoc_binary ships 3.9.
PANDOC_MIN = (3, 1, 2)


def pandoc_path() -> str:
    """The pandoc the documents are rendered with, chosen once (pypandoc's newest: its bundled binary).

    pypandoc chooses lazily, on its first call, by trying each candidate in turn and keeping the newest in a
    module global; a second thread calling meanwhile can read the first candidate it tried (here Debian's
    /usr/bin/pandoc 2.17, which has no Typst writer: "Invalid output format! Got typst", seen once in CI with the
    renders in two threads, and an HTML rendered by the older pandoc would differ silently). So the choice is made
    here, in one thread, before any render, and checked."""
    import pypandoc

    path = pypandoc.get_pandoc_path()
    version = tuple(int(part) for part in re.findall(r"\d+", pypandoc.get_pandoc_version())[:3])
    if version < PANDOC_MIN:
        raise PaperError(f"pandoc {'.'.join(map(str, version))} at {path} has no Typst writer; the paper needs pandoc "
                         f">= {'.'.join(map(str, PANDOC_MIN))} (pypandoc_binary in requirements.txt: `make setup`)")
    return path


def build_paper(reports: Path, params: Params, n_jobs: int = 1) -> list[Path]:
    """Render the main paper and the supplement: ``paper.md``/``.html``/``.pdf`` and ``supplement.md``/``.html``/
    ``.pdf`` under ``reports`` (HTML self-contained, figures embedded; PDF by Typst), with the sample-flow figure.
    ``n_jobs`` threads render the HTML and PDF files (the same bytes for any ``n_jobs``)."""
    import pypandoc

    pandoc_path()  # before the threads: pypandoc picks its pandoc lazily, and not thread-safely
    reports = Path(reports)
    # the flow figure first (the documents embed it, so it must exist before they render); each file atomic
    written: list[Path] = draw_sample_flow(reports, params)
    with io.staged_outputs():
        ctx = context(reports, params)
        markdowns = {name: render_markdown(ctx, reports, name) for name in DOCUMENTS}
        check_citations(markdowns)
        check_cross_references(markdowns)
        css = TEMPLATES / "paper.css"
        sources, renders = [], []
        for name, markdown in markdowns.items():
            for ref in referenced_files(markdown):
                if not (reports / ref).exists():
                    raise PaperError(f"{name}.md refers to {ref}, which is not in {reports}")
            sources.append(io.write_text(reports / f"{name}.md", markdown))

            def to_html(tmp: Path, markdown=markdown) -> None:
                pypandoc.convert_text(
                    markdown, "html5", format=READER, outputfile=str(tmp),
                    extra_args=["--standalone", "--embed-resources", *_pandoc_args(reports), f"--css={css}",
                                "--metadata=lang:en", "--toc", "--toc-depth=2"])

            renders += [(f"{name}.html", partial(io.write_atomic, reports / f"{name}.html", to_html)),
                        (f"{name}.pdf", partial(_write_pdf, reports / f"{name}.pdf", markdown, reports))]
        # pandoc runs as its own program and Typst releases the GIL: threads overlap the four documents
        rendered = run_jobs(renders, desc="documents", n_jobs=n_jobs, backend="threads", progress=False)
        for k, source in enumerate(sources):  # each document's .md, .html, .pdf
            written += [source, *rendered[2 * k:2 * k + 2]]
    return written


def _write_pdf(dest: Path, markdown: str, reports: Path) -> Path:
    return io.write_bytes(dest, render_pdf(markdown, reports))


# an image line: its caption may hold links ("as [Table 2](paper.html#table-2)"), so the path is the last "](...)"
_IMAGE = re.compile(r"(!\[.*\]\(([^)\s]+\.(?:png|svg|jpe?g))\))\{\s*(#[^\s}]+\s+)?width=(\d+)%\s*\}")


def fit_figures_to_page(markdown: str, reports: Path, width_in: float, max_height_in: float) -> str:
    """Each figure ``{ width=N% }`` that would print taller than ``max_height_in`` at N% of ``width_in`` is given
    that height instead, so the figure and its caption stay on one page (Typst moves a figure, never splits it).
    Such a figure prints smaller than it was drawn (its type too): draw it shorter, or split it, to avoid that."""
    from PIL import Image

    def fitted(match: re.Match) -> str:
        with Image.open(reports / match.group(2)) as image:
            w, h = image.size
        height = width_in * int(match.group(4)) / 100 * h / w
        ident = match.group(3) or ""
        return match.group(0) if height <= max_height_in else f"{match.group(1)}{{{ident}height={max_height_in:.2f}in}}"

    return _IMAGE.sub(fitted, markdown)


def print_sizes(markdown: str, reports: Path, width_in: float, max_height_in: float) -> dict[str, dict]:
    """Each figure of ``markdown`` as the PDF prints it: its printed width (N% of ``width_in``, less when
    :func:`fit_figures_to_page` gives it the page's height) and its smallest type there, from the measurement
    :func:`analysis.report.figures.write_figure` wrote into the PNG (``None`` for a figure saved without one)."""
    from PIL import Image

    sizes = {}
    for match in _IMAGE.finditer(markdown):
        with Image.open(reports / match.group(2)) as image:
            (w, h), text = image.size, getattr(image, "text", {}).get(LEGIBILITY_KEY)
        printed = min(width_in * int(match.group(4)) / 100, max_height_in * w / h)
        found = json.loads(text) if text else None
        sizes[match.group(2)] = {"printed_width_in": printed, "measurement": found, "smallest_pt": None if not found
                                 else found["smallest_drawn_pt"] * printed / (w / PNG_DPI)}
    return sizes


def check_print_sizes(markdown: str, reports: Path, width_in: float, max_height_in: float,
                      min_pt: float = MIN_PRINT_PT) -> None:
    """Issue 21: every figure the PDF prints reads at its printed size. Raises :class:`PaperError` naming each
    figure that prints type under ``min_pt``, has overlapping labels, or carries no measurement (not saved
    through ``write_figure``), with the text at fault and what to do."""
    bad = []
    for path, size in print_sizes(markdown, reports, width_in, max_height_in).items():
        if size["measurement"] is None:
            bad.append(f"{path}: no print-size measurement in the PNG (save it with "
                       "analysis.report.figures.write_figure)")
        elif size["smallest_pt"] < min_pt:
            bad.append(f"{path}: {size['measurement']['smallest_text'][:40]!r} prints at {size['smallest_pt']:.1f} "
                       f"pt at {size['printed_width_in']:.2f} in wide (< {min_pt:g} pt): draw the figure at that "
                       "width, or shorter so that it is not shrunk to the page's height")
        bad += [f"{path}: {fault}" for fault in (size["measurement"] or {}).get("overlaps", [])]
    if bad:
        raise PaperError("figures that do not read at print size:\n  " + "\n  ".join(bad))


def render_pdf(markdown: str, reports: Path) -> bytes:
    """A document as PDF: pandoc writes Typst, the ``typst`` wheel compiles it (offline, fonts embedded).

    Figures resolve relative to ``reports``; ``timestamp=0`` keeps the PDF byte-identical across runs.
    """
    import pypandoc
    import typst

    margin_x, margin_y = page_margins_cm(TEMPLATES / "paper-typst.yaml")
    text_block = (A4_WIDTH_CM - 2 * margin_x) / 2.54, (A4_HEIGHT_CM - 2 * margin_y) / 2.54 - CAPTION_ROOM_IN
    check_print_sizes(markdown, reports, *text_block)
    markdown = fit_figures_to_page(markdown, reports, *text_block)
    source = pypandoc.convert_text(
        markdown, "typst", format=READER,
        extra_args=["--standalone", *_pandoc_args(reports), f"--include-in-header={TEMPLATES / 'paper-header.typ'}",
                    f"--include-in-header={TEMPLATES / 'numbering.typ'}",
                    f"--metadata-file={TEMPLATES / 'paper-typst.yaml'}"])
    try:
        return typst.compile(source.encode("utf-8"), root=str(reports), timestamp=0)
    except Exception as err:  # typst raises its own error type with the offending line
        raise PaperError(f"typst could not compile the manuscript: {err}") from err


def stage() -> str:
    """DVC stage ``paper``: the manuscript and its supplement (Markdown, HTML, PDF) from the results files."""
    params = load()
    written = build_paper(config.REPORTS, params, n_jobs=params.compute.n_jobs)
    return "manuscript: " + ", ".join(str(p) for p in written)
