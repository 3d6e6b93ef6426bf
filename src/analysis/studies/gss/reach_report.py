"""Reports of the GSS digital-connection and social-trust analyses (stage ``reach_gss``, :mod:`.reach`).

Tables under ``reports/tables/gss_reach`` (written like the other GSS tables: csv, md, html, tex), a figure of the
digital versus in-person (and trust) estimates under ``reports/figures/gss_reach``, the headline numbers
(``reports/metrics/gss_reach.json``) and :func:`reach_paper_numbers`, the numbers a manuscript paragraph needs,
read back from the results files.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analysis.core import io
from analysis.core.metrics import clean_number, estimate_entry
from analysis.report import tables
from analysis.report.figures import PRINT_WIDTH_IN, FigureError, new_figure, require_columns, styled, write_figure
from analysis.studies.gss.report import ballot_flow_table, estimator_table, loneliness_table
from analysis.studies.gss.settings import GssSettings

#: The figure's rows, top to bottom: exposure -> short label.
FIGURE_EXPOSURES: dict[str, str] = {
    "log_web_hours": "Web hours (log)",
    "log_email_hours": "E-mail hours (log)",
    "social_contact_index": "Social evenings (log)",
    "social_trust_score": "Social trust (0-1),\n2006-2014 panels",
}
#: The figure's estimates: (model, between-person term?, covariate set kind) -> legend label, colour, marker.
FIGURE_SERIES: list[tuple[str, bool, str, str, str, str]] = [
    ("fixed_effects", False, "alone", "Within-person, alone (two-way FE)", "#0072B2", "o"),
    ("fixed_effects", False, "joint", "Within-person, digital and evenings together", "#E69F00", "s"),
    ("mundlak", True, "alone", "Between-person (Mundlak)", "#777777", "D"),
]


def _panel_records(records: pd.DataFrame, exposures: list[str], covariate_set: str) -> pd.DataFrame:
    return records[records["exposure"].isin(exposures) & (records["covariate_set"] == covariate_set)]


@styled
def digital_figure(records: pd.DataFrame, gss: GssSettings) -> Figure:
    """Digital versus in-person (and trust): one panel per outcome (fair/poor health, not too happy, social
    evenings for the displacement check); per exposure the within-person two-way FE estimate alone and with
    the digital items and evenings together, and the between-person (Mundlak) estimate, with 95% CIs."""
    require_columns(records, ["outcome", "outcome_label", "exposure", "term", "model", "covariate_set",
                              "estimate", "ci_low", "ci_high"], "digital_figure")
    reach = gss.reach
    alone = {reach.digital.covariate_set, reach.trust.covariate_set, reach.displacement.covariate_set}
    outcomes = list(dict.fromkeys([*reach.digital.outcomes, *reach.displacement.outcomes]))
    recs = records[records["estimate"].notna() & (records["measure"] != "OR")]
    if recs.empty:
        raise FigureError("digital_figure: no linear-scale records to draw")
    fig = new_figure(PRINT_WIDTH_IN, 4.3)  # the text width: type prints at its size
    axes = fig.subplots(1, len(outcomes), sharey=True, squeeze=False)[0]
    rows = list(FIGURE_EXPOSURES)
    for ax, outcome in zip(axes, outcomes):
        part = recs[recs["outcome"] == outcome]
        for j, (model, between, kind, label, colour, marker) in enumerate(FIGURE_SERIES):
            sets = alone if kind == "alone" else {reach.beside.covariate_set}
            sel = part[(part["model"] == model) & part["covariate_set"].isin(sets)
                       & (part["term"].astype(str).str.endswith(":between") == between)]
            for _, rec in sel.iterrows():
                if rec["exposure"] not in rows:
                    continue
                y = rows.index(rec["exposure"]) + (j - 1) * 0.22
                err = np.array([[rec["estimate"] - rec["ci_low"]], [rec["ci_high"] - rec["estimate"]]])
                ax.errorbar([rec["estimate"]], [y], xerr=err, fmt=marker, color=colour, markersize=4.2,
                            capsize=2, elinewidth=1.2, mfc="white" if between else colour, label=label)
        ax.axvline(0.0, color="#555555", linestyle="--", linewidth=0.9, zorder=0)
        ax.set_yticks(range(len(rows)), [FIGURE_EXPOSURES[e] for e in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        title = part["outcome_label"].iloc[0] if not part.empty else outcome
        ax.set_title(textwrap.fill(title, 20) + ("\n(displacement check)" if outcome in reach.displacement.outcomes
                     else ""), fontsize=8.5)
        ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.tick_params(labelsize=8)
    fig.supxlabel("Difference per unit of the exposure (probability for binary outcomes; 95% CI)", fontsize=8.5,
                  x=0.6, y=0.19)
    legend: dict = {}
    for ax in axes:  # one legend entry per series, whichever panel drew it first
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend), loc="lower left", ncol=2, frameon=False, fontsize=8,
               bbox_to_anchor=(0.0, 0.0))
    fig.suptitle(textwrap.fill("Digital and in-person connection, and social trust: within- and between-person "
                               "estimates", 72), x=0.01, ha="left", fontweight="bold", fontsize=10)
    fig.subplots_adjust(left=0.22, right=0.97, top=0.78, bottom=0.3, wspace=0.12)
    return fig


def reliability_table(reliability_records: pd.DataFrame) -> pd.DataFrame:
    """The trust score's internal consistency per panel and coding of "depends"."""
    frame = pd.DataFrame({
        "Panel": reliability_records["panel"], "Sample": reliability_records["sample"],
        "Coding": reliability_records["coding"], "Statistic": reliability_records["statistic"],
        "Estimate (95% CI)": [tables.format_interval(r.estimate, r.ci_low, r.ci_high, 2)
                              for r in reliability_records.itertuples()],
        "N": reliability_records["n"].map(tables.format_count)})
    frame.attrs["caption"] = "Social trust score (TRUST, HELPFUL, FAIR): internal consistency"
    frame.attrs["footnote"] = ("Items scored 1 for the trusting answer, 0 for the distrusting one; 'depends' "
                               "(volunteered) 0.5, or left out (then alpha = KR-20). Complete rows; Feldt interval.")
    return frame


def digital_summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Web and e-mail hours a week by wave, with the within-person spread of log(1 + hours)."""
    frame = pd.DataFrame({
        "Measure": summary["measure"].map({"web_hours": "Web hours a week", "email_hours": "E-mail hours a week"}),
        "Wave": summary["wave"].map({1: "2016/2018 baseline", 2: "2020"}),
        "Persons": summary["persons"].map(tables.format_count),
        "% none": summary["pct_zero"].map(lambda v: f"{v:.1f}"),
        "Median": summary["median"].map(lambda v: f"{v:g}"), "75th percentile": summary["p75"].map(lambda v: f"{v:g}"),
        "% at top code": summary["pct_top_coded"].map(lambda v: f"{v:.1f}"),
        "Within-person SD, log(1 + hours)": summary["within_person_sd_log"].map(lambda v: f"{v:.2f}"),
        "Persons with both waves": summary["persons_both_waves"].map(tables.format_count)})
    frame.attrs["caption"] = "GSS 2016-2020 panel: Web and e-mail hours a week (ballots A and B)"
    frame.attrs["footnote"] = ("Hours + minutes/60 (WWWHR/WWWMIN, EMAILHR/EMAILMIN); 0 for non-users the "
                               "questionnaire skips (COMPUSE and WEBMOB no; USEWWW no for the Web); capped at "
                               "params.yaml gss.reach.hours_top_code.")
    return frame


def _with_caption(frame: pd.DataFrame, caption: str, footnote: str) -> pd.DataFrame:
    frame.attrs["caption"], frame.attrs["footnote"] = caption, footnote
    return frame


def write_reach_reports(fits: Mapping[str, pd.DataFrame], reports: Path, gss: GssSettings,
                        formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write the tables and the figure of :func:`analysis.studies.gss.reach.run_reach`'s results (inside the
    caller's :func:`analysis.core.io.staged_outputs` block, or on their own)."""
    reach = gss.reach
    records, flow = fits["records"], fits["ballot_flow"]
    tables_dir, figures_dir = Path(reports) / "tables" / "gss_reach", Path(reports) / "figures" / "gss_reach"
    digital = _panel_records(records, list(reach.digital.exposures), reach.digital.covariate_set)
    digital = digital[digital["outcome"].isin(list(reach.digital.outcomes))]
    beside = records[records["covariate_set"] == reach.beside.covariate_set]
    displacement = records[records["outcome"].isin(list(reach.displacement.outcomes))
                           & (records["covariate_set"] == reach.displacement.covariate_set)]
    trust = _panel_records(records, list(reach.trust.exposures), reach.trust.covariate_set)
    labels = {k: v.label for spec in (reach.digital, reach.displacement, reach.trust) for k, v in spec.outcomes.items()}
    design = ("Year effects; time-varying covariates: partnered, employed, log income, web interview; SEs "
              "clustered by person (G/(G-1)). Health: ballot A; happiness and evenings: ballots A and B. "
              "Unweighted.")
    written: list[Path] = []
    with io.staged_outputs():
        written += tables.write_table(_with_caption(
            estimator_table(digital), "GSS 2016-2020 panel: Web and e-mail hours and social evenings, each alone, "
            "and health and happiness within and between persons", design), tables_dir / "digital_estimators")
        written += tables.write_table(_with_caption(
            estimator_table(beside), "GSS 2016-2020 panel: Web and e-mail hours beside social evenings (one model)",
            design), tables_dir / "digital_beside")
        written += tables.write_table(_with_caption(
            estimator_table(displacement), "Displacement check, GSS 2016-2020 panel: social evenings on Web and "
            "e-mail hours", design), tables_dir / "displacement")
        written += tables.write_table(_with_caption(
            estimator_table(trust), "Social trust and health within and between persons: GSS panels 2006-2014",
            "Wave effects; SEs clustered by person (G/(G-1)); conditional logit: odds ratio. Health: ballot C; "
            "happiness: ballots B and C. Unweighted."), tables_dir / "trust_estimators")
        written += tables.write_table(_with_caption(
            loneliness_table(fits["records_facebook"], reach.facebook.models, {}),
            "GSS 2016-2020 panel: Facebook use in 2016 and loneliness in 2020",
            "MD: mean difference in the 2020 loneliness score (2-10), Facebook users vs non-users; 95% CI. "
            "Design-based: 2020 panel weight, SEs clustered by baseline stratum x PSU. 2016 respondents "
            "re-interviewed in 2020 (FACEBOOK was asked in 2016 only, on ballots B and C; loneliness in 2020 "
            "only): prospective, not within-person."), tables_dir / "facebook_loneliness")
        written += tables.write_table(reliability_table(fits["reliability"]), tables_dir / "trust_reliability")
        written += tables.write_table(digital_summary_table(fits["digital_summary"]), tables_dir / "digital_hours")
        for analysis, part in flow.groupby("analysis", sort=False):
            written += tables.write_table(_with_caption(
                ballot_flow_table(part, labels), f"Who informs which model, by split ballot ({analysis})",
                "Complete cases: exposure, outcome and every covariate present; ballots per params.yaml "
                f"gss.reach.{analysis}.ballots."), tables_dir / f"ballot_flow_{analysis}")
        written += write_figure(digital_figure(records, gss), figures_dir / "digital_vs_in_person", formats)
    return written


# ---------------------------------------------------------------------------------------------
# Headline numbers


def reach_metrics(fits: Mapping[str, pd.DataFrame]) -> dict:
    """``gss_reach.json``: every panel estimate keyed ``outcome -> exposure -> covariate_set -> model[:between]``,
    the specification tests, the Facebook models (``model name -> design``), the trust reliability and the hours
    summary."""
    estimates: dict = {}
    for row in fits["records"].itertuples():
        key = f"{row.model}:between" if str(row.term).endswith(":between") else row.model
        estimates.setdefault(row.outcome, {}).setdefault(row.exposure, {}).setdefault(
            row.covariate_set, {})[key] = estimate_entry(row)
    tests: dict = {}
    for row in fits["tests"].itertuples():
        tests.setdefault(row.outcome, {}).setdefault(row.exposure, {})[row.test] = {
            "statistic": clean_number(row.statistic), "df": clean_number(row.df),
            "p_value": clean_number(row.p_value, 6)}
    facebook: dict = {}
    for row in fits["records_facebook"].itertuples():
        facebook.setdefault(row.covariate_set, {})[row.design] = estimate_entry(row)
    reliability = {f"{r.panel}:{r.coding}": {"statistic": r.statistic, "estimate": clean_number(r.estimate),
                                             "ci_low": clean_number(r.ci_low), "ci_high": clean_number(r.ci_high),
                                             "n": int(r.n)} for r in fits["reliability"].itertuples()}
    hours = {f"{r.measure}:wave{r.wave}": {"persons": int(r.persons), "pct_zero": clean_number(r.pct_zero),
                                           "median": clean_number(r.median), "p75": clean_number(r.p75),
                                           "pct_top_coded": clean_number(r.pct_top_coded),
                                           "within_person_sd_log": clean_number(r.within_person_sd_log),
                                           "persons_both_waves": int(r.persons_both_waves)}
             for r in fits["digital_summary"].itertuples()}
    return {"estimates": estimates, "tests": tests, "facebook": facebook, "trust_reliability": reliability,
            "hours": hours}


def reach_paper_numbers(metrics_dir: str | Path, gss: GssSettings) -> dict:
    """The numbers the manuscript's paragraph on digital and in-person connection and social trust needs, read
    from ``gss_reach.json``: for each of health and happiness, the within-person (two-way FE) estimate of Web
    hours, e-mail hours and social evenings (alone and together) and of social trust, the between-person
    (Mundlak) trust estimate, the displacement estimates, the design-based Facebook-loneliness difference and
    the trust score's alpha. Each estimate: ``estimate``, ``ci_low``, ``ci_high``, ``p_value``, ``n``."""
    metrics = io.read_json(Path(metrics_dir) / "gss_reach.json")
    est, reach = metrics["estimates"], gss.reach
    digital, trust, beside = reach.digital, reach.trust, reach.beside

    def pick(outcome: str, exposure: str, covariate_set: str, model: str) -> dict:
        return est[outcome][exposure][covariate_set][model]

    out: dict = {"within": {}, "beside": {}, "trust": {}, "displacement": {}}
    for outcome in digital.outcomes:
        out["within"][outcome] = {e: pick(outcome, e, digital.covariate_set, "fixed_effects")
                                  for e in digital.exposures}
        out["beside"][outcome] = {e: pick(outcome, e, beside.covariate_set, "fixed_effects")
                                  for e in beside.exposures}
    for outcome in trust.outcomes:
        for exposure in trust.exposures:
            out["trust"][outcome] = {m: pick(outcome, exposure, trust.covariate_set, m)
                                     for m in ("pooled_ols", "fixed_effects", "mundlak:between")}
    for outcome in reach.displacement.outcomes:
        out["displacement"] = {e: pick(outcome, e, reach.displacement.covariate_set, "fixed_effects")
                               for e in reach.displacement.exposures}
    first = next(iter(reach.facebook.models))
    out["facebook"] = metrics["facebook"][first]["design-based"]
    out["trust_alpha"] = metrics["trust_reliability"]
    out["hours"] = metrics["hours"]
    return out
