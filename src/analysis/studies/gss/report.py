"""Reports of the GSS panel study: estimators side by side, a coefficient plot, outcomes by contact
level across waves, attrition and the participant flow, the sample by split ballot, the completers
unweighted and panel-weighted, the lagged-exposure estimates, the within-person variance of the contact
index with the attenuation it implies, and the 2016-2020 loneliness models.

Builders are pure functions returning DataFrames or Figures from the model stage's tables
(``reports/metrics/gss_*.csv``, ``gss.json``) and the analysis tables; :func:`write_gss_reports` saves them
through the atomic writers, all-or-none.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analysis.core import config, io
from analysis.estimators.formula import formula_variables
from analysis.report import tables
from analysis.report.figures import (
    MARKERS,
    PALETTE,
    PRINT_WIDTH_IN,
    FigureError,
    flow_diagram,
    flow_table,
    new_figure,
    require_columns,
    styled,
    write_figure,
)
from analysis.studies.gss.schema import GSS_2020_VARIABLES, GSS_PANEL_VARIABLES
from analysis.studies.gss.settings import GssSettings, Model2020, load

#: Short column headers for the estimators, in the order a reader should meet them: from the
#: comparison that mixes between- and within-person differences to the purely within-person ones.
#: Keyed by the record's ``model`` (the growth model is ``multilevel_linear``, spec name ``multilevel``).
ESTIMATOR_HEADERS: dict[str, str] = {
    "pooled_ols": "Pooled OLS",
    "random_effects": "Random effects",
    "multilevel_linear": "Multilevel (growth)",
    "mundlak": "Mundlak",
    "fixed_effects": "Two-way FE",
    "first_difference": "First differences",
    "conditional_logit": "Conditional logit (OR)",
}


def _interval(rec: pd.Series, decimals: int = 3) -> str:
    if pd.isna(rec["estimate"]):
        return "not estimable"
    if rec["measure"] == "OR":
        return tables.format_interval(rec["ratio"], rec["ratio_ci_low"], rec["ratio_ci_high"], 2)
    return tables.format_interval(rec["estimate"], rec["ci_low"], rec["ci_high"], decimals)


def estimator_table(records: pd.DataFrame) -> pd.DataFrame:
    """Outcome x term rows, one column per estimator: how much of the pooled association survives
    within persons. Cells: estimate (95% CI); the conditional logit as an odds ratio; the Mundlak
    model gives a within-person row (the exposure term) and a between-person row."""
    absent = [c for c in ("outcome_label", "exposure_label", "term_label", "model", "estimate", "ci_low",
                          "ci_high", "measure", "ratio", "n") if c not in records.columns]
    if absent:
        raise tables.TableError(f"estimator_table: the panel records have no column {absent[0]!r}")
    models = [m for m in ESTIMATOR_HEADERS if m in set(records["model"])]
    rows = []
    for (outcome, exposure, term), part in records.groupby(["outcome_label", "exposure_label", "term_label"],
                                                           sort=False):
        row = {"Outcome": outcome, "Exposure": exposure, "Term": term}
        by_model = {r["model"]: r for _, r in part.iterrows()}
        for m in models:
            row[ESTIMATOR_HEADERS[m]] = _interval(by_model[m]) if m in by_model else ""
        row["Person-waves (FE)"] = tables.format_count(by_model["fixed_effects"]["n"]) \
            if "fixed_effects" in by_model else ""
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["caption"] = ("Social contact and health within and between persons: GSS panels 2006-2014, "
                              "estimators side by side")
    frame.attrs["footnote"] = (
        "Linear and linear-probability estimators: change in the outcome per unit of the exposure (binary "
        "outcomes: difference in probability); conditional logit: odds ratio. All models include wave effects; "
        "SEs clustered by person (G/(G-1)); conditional logit and multilevel: model-based SEs. Between-person: "
        "the Mundlak model's coefficient of the person mean (its per-point row is the within-person coefficient). "
        "Unweighted.")
    return frame


@styled
def coefficient_plot(records: pd.DataFrame, title: str | None = None) -> Figure:
    """One panel per outcome: the exposure coefficient of every linear estimator with its 95% CI, and
    the Mundlak between-person coefficient, against a line at zero (conditional logit ORs are in the table)."""
    recs = records[(records["measure"] != "OR") & records["estimate"].notna()]
    if recs.empty:
        raise FigureError("coefficient_plot: no linear-scale panel records to draw")
    outcomes = list(dict.fromkeys(recs["outcome"]))
    fig = new_figure(max(PRINT_WIDTH_IN, 2.5 * len(outcomes) + 1.6), 3.8)  # two outcomes: the text width
    axes = fig.subplots(1, len(outcomes), sharey=True, squeeze=False)[0]
    order = [m for m in ESTIMATOR_HEADERS if m in set(recs["model"])]
    for ax, outcome in zip(axes, outcomes):
        part = recs[recs["outcome"] == outcome]
        labels = []
        y = 0
        for i, model in enumerate(order):
            for _, rec in part[part["model"] == model].iterrows():
                between = str(rec["term"]).endswith(":between")
                colour = "#777777" if between else PALETTE[i % len(PALETTE)]
                err = np.array([[rec["estimate"] - rec["ci_low"]], [rec["ci_high"] - rec["estimate"]]])
                ax.errorbar([rec["estimate"]], [y], xerr=err, fmt=MARKERS[i % len(MARKERS)], color=colour,
                            markersize=4.5, capsize=2.5, elinewidth=1.3, mfc="white" if between else colour)
                labels.append(ESTIMATOR_HEADERS[model] + (" (between)" if between else ""))
                y += 1
        ax.axvline(0.0, color="#555555", linestyle="--", linewidth=0.9, zorder=0)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_title(part["outcome_label"].iloc[0], fontsize=9.5)
        unit = "difference in probability" if outcome in _binary(records) else "outcome units"
        ax.set_xlabel(textwrap.fill(f"Per unit of {part['exposure_label'].iloc[0].lower()} ({unit}, 95% CI)", 34),
                      fontsize=8.5)
        ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
        ax.xaxis.set_major_locator(MaxNLocator(4))
    fig.suptitle(textwrap.fill(title or "Social contact and health: pooled, within-person and between-person "
                               "estimates", 70), x=0.01, ha="left", fontweight="bold", fontsize=10)
    fig.subplots_adjust(left=1.6 / fig.get_figwidth(), right=0.97, top=0.82, bottom=0.24, wspace=0.12)
    return fig


def _binary(records: pd.DataFrame) -> set[str]:
    """Outcomes with a conditional logit fit (the binary ones)."""
    return set(records.loc[records["model"] == "conditional_logit", "outcome"])


def contact_levels(values: pd.Series, cuts: Sequence[float], labels: Sequence[str]) -> pd.Categorical:
    """Group a contact measure by fixed cut-points (``[low, c1), [c1, c2), ...``), labelled for readers."""
    if len(labels) != len(cuts) + 1:
        raise ValueError(f"contact_levels: {len(cuts)} cut-points need {len(cuts) + 1} labels, got {len(labels)}")
    bins = [-np.inf, *cuts, np.inf]
    return pd.cut(values, bins=bins, labels=list(labels), right=False)


def outcome_by_contact(panel: pd.DataFrame, outcomes: Mapping[str, str], contact: str, cuts: Sequence[float],
                       labels: Sequence[str], time: str = "wave") -> pd.DataFrame:
    """Tidy: mean of each outcome by contact level and wave, with its n and a normal-approximation 95% CI."""
    level = contact_levels(panel[contact], cuts, labels)
    rows = []
    for outcome, label in outcomes.items():
        data = pd.DataFrame({"level": level, "time": panel[time], "y": panel[outcome].astype("float64")}).dropna()
        for (lv, t), part in data.groupby(["level", "time"], observed=True):
            n = len(part)
            mean = part["y"].mean()
            se = part["y"].std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
            rows.append({"outcome": outcome, "outcome_label": label, "contact_level": lv, time: int(t), "n": n,
                         "mean": mean, "ci_low": mean - 1.96 * se, "ci_high": mean + 1.96 * se})
    return pd.DataFrame(rows)


@styled
def outcome_by_contact_figure(summary: pd.DataFrame, binary: set[str], time: str = "wave",
                              contact_label: str = "Social contact") -> Figure:
    """One panel per outcome: mean (binary: %) by wave, one line per contact level, 95% CI bars."""
    outcomes = list(dict.fromkeys(summary["outcome"]))
    fig = new_figure(3.3 * len(outcomes) + 0.6, 4.2)
    axes = fig.subplots(1, len(outcomes), squeeze=False)[0]
    levels = list(dict.fromkeys(summary["contact_level"]))
    for ax, outcome in zip(axes, outcomes):
        part = summary[summary["outcome"] == outcome]
        scale = 100.0 if outcome in binary else 1.0
        for i, lv in enumerate(levels):
            line = part[part["contact_level"] == lv].sort_values(time)
            offset = (i - (len(levels) - 1) / 2) * 0.06
            ax.errorbar(line[time] + offset, line["mean"] * scale,
                        yerr=[(line["mean"] - line["ci_low"]) * scale, (line["ci_high"] - line["mean"]) * scale],
                        marker=MARKERS[i % len(MARKERS)], color=PALETTE[i % len(PALETTE)], capsize=2.5,
                        markersize=4.5, linewidth=1.3, label=str(lv))
        ax.set_title(part["outcome_label"].iloc[0], fontsize=9.5)
        ax.set_xlabel("Wave (2 years apart)")
        ax.set_xticks(sorted(part[time].unique()))
        ax.set_ylabel("Participants (%)" if outcome in binary else "Mean")
        ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, title=contact_label, frameon=False, loc="lower center", ncol=len(labels))
    fig.suptitle("Health and happiness by social contact at each wave, GSS panels 2006-2014 (unweighted)",
                 x=0.01, ha="left", fontweight="bold")
    fig.subplots_adjust(left=0.07, right=0.98, top=0.82, bottom=0.27, wspace=0.28)
    return fig


def attrition_display(attrition: pd.DataFrame) -> pd.DataFrame:
    """The cleaning stage's attrition table, rounded for readers."""
    shown = attrition.copy()
    for column in shown.select_dtypes("float").columns:
        shown[column] = shown[column].round(2)
    shown.attrs["caption"] = "Attrition in the GSS panels: interviews per wave and baseline characteristics"
    shown.attrs["footnote"] = ("Baseline (wave 1) characteristics of those interviewed at a later wave "
                               "and of those lost.")
    return shown


def attrition_flow(attrition: pd.DataFrame) -> pd.DataFrame:
    """Participant flow of the stacked panels (STROBE 13a): persons interviewed at each wave, all panels
    together with each panel's count on its own line, and those not re-interviewed (lost) since the wave before.

    Reads the ``interviewed`` rows of the cleaning stage's attrition table (columns panel, wave, group, n; the
    pooled ``all`` rows are recomputed, not read). Lost at wave k = interviewed at k-1 minus interviewed at k:
    the GSS re-contacted at wave 3 only those interviewed at wave 2, so nobody returns after a missed wave (a
    table where somebody does raises FigureError rather than print a negative count).
    """
    require_columns(attrition, ["panel", "wave", "group", "n"], "attrition_flow")
    seen = attrition[(attrition["group"] == "interviewed") & (attrition["panel"] != "all")]
    if seen.empty:
        raise FigureError("attrition_flow: the attrition table has no 'interviewed' rows for a panel")
    counts = seen.pivot_table(index="wave", columns="panel", values="n", aggfunc="sum").sort_index()
    panels = list(counts.columns)
    steps = []
    for i, (wave, row) in enumerate(counts.iterrows()):
        per_panel = "\n".join(f"{p} panel: {int(row[p]):,}" for p in panels)
        if i == 0:
            steps.append({"label": f"Wave {wave}: interviewed at baseline", "n": row.sum(), "detail": per_panel})
            continue
        lost = counts.iloc[i - 1] - row
        if (lost < 0).any():
            panel = lost.index[lost < 0][0]
            raise FigureError(f"attrition_flow: panel {panel} has more persons interviewed at wave {wave} "
                              f"({int(row[panel])}) than at the wave before ({int(counts.iloc[i - 1][panel])})")
        steps.append({"label": f"Wave {wave}: re-interviewed", "n": row.sum(), "detail": per_panel,
                      "excluded_label": "Lost",
                      "reason": "\n".join([f"Not re-interviewed at wave {wave}",
                                           *(f"{p} panel: {int(lost[p]):,}" for p in panels)])})
    return flow_table(steps)


def exposure_records(records: pd.DataFrame, exposures: Sequence[str]) -> pd.DataFrame:
    """The panel records of the named exposures (the main exposure, or the lagged one: the model stage
    writes both into one file, and each table or figure shows one)."""
    require_columns(records, ["exposure"], "exposure_records")
    return records[records["exposure"].isin(list(exposures))].reset_index(drop=True)


def lagged_table(records: pd.DataFrame) -> pd.DataFrame:
    """The lagged-exposure fits (contact at wave t-1, outcome at wave t) in the estimator table's layout."""
    frame = estimator_table(records)
    frame.attrs["caption"] = ("Lagged exposure: social contact at the previous wave and the outcome at the next, "
                              "GSS panels 2006-2014")
    frame.attrs["footnote"] = (
        "Exposure measured at wave t-1 (two years earlier), outcome and time-varying covariates at wave t, so "
        "only waves 2 and 3 with a previous wave enter; two-way FE use persons interviewed at all three waves. "
        + frame.attrs["footnote"])
    return frame


#: Column headers of :func:`weighted_table`.
WEIGHTED_HEADERS = {"all": "All persons, unweighted", "unweighted": "Completers, unweighted",
                    "weighted": "Completers, weighted"}


def weighted_table(weighted: pd.DataFrame, records: pd.DataFrame, weight_label: str = "WTPANNR123") -> pd.DataFrame:
    """Outcome x estimator rows: the main fit on every person (``records``), then the same estimator on
    the completers (persons interviewed at all three waves, ``weighted``) unweighted and weighted by the
    panel weight. Completers unweighted vs all shows what selection into completion changes; weighted vs
    unweighted (same persons) what the weights change."""
    require_columns(weighted, ["outcome", "outcome_label", "exposure", "model", "design", "estimate", "ci_low",
                               "ci_high", "measure", "n"], "weighted_table")
    if weighted.empty:
        raise tables.TableError("weighted_table: no completer fits (is gss.panel_weighted set?)")
    rows = []
    for (outcome, exposure, model), part in weighted.groupby(["outcome", "exposure", "model"], sort=False):
        by_design = {r["design"]: r for _, r in part.iterrows()}
        main = records[(records["outcome"] == outcome) & (records["exposure"] == exposure)
                       & (records["model"] == model) & ~records["term"].astype(str).str.endswith(":between")]
        row = {"Outcome": part["outcome_label"].iloc[0], "Estimator": ESTIMATOR_HEADERS.get(model, model),
               WEIGHTED_HEADERS["all"]: _interval(main.iloc[0]) if len(main) else "",
               "Person-waves (all)": tables.format_count(main["n"].iloc[0]) if len(main) else ""}
        for design in ("unweighted", "weighted"):
            row[WEIGHTED_HEADERS[design]] = _interval(by_design[design]) if design in by_design else ""
        row["Person-waves (completers)"] = tables.format_count(part["n"].iloc[0])
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["caption"] = (f"Completers of the GSS panels, unweighted and weighted by the panel weight "
                              f"{weight_label}")
    frame.attrs["footnote"] = (
        f"Completers: persons interviewed at all three waves (the only ones with a positive {weight_label}, "
        "NORC's non-response-adjusted panel weight). Estimates: change in the probability of the outcome per "
        "point of the contact index, 95% CI; the same ballots and covariates as the main models. Weighted: "
        "weighted least squares, SEs clustered by person treating the weights as fixed.")
    return frame


def attenuation_display(attenuation: pd.DataFrame) -> pd.DataFrame:
    """Per panel (and pooled): persons measured at all three waves, the wave-to-wave correlations of the
    contact index, its within-person variance share, and for each assumed reliability the regression-dilution
    factor of the two-way FE and first-difference estimates (true slope x factor = expected estimate)."""
    require_columns(attenuation, ["exposure", "panel", "reliability", "within_share", "lambda_fixed_effects",
                                  "lambda_first_difference", "persons", "adjacent_correlations"],
                    "attenuation_display")
    rows = []
    for (_exposure, panel), part in attenuation.groupby(["exposure", "panel"], sort=False):
        first = part.iloc[0]
        row = {"Panel": "pooled" if panel == "all" else panel,
               "Persons (3 waves)": tables.format_count(first["persons"]),
               "Wave-to-wave r": str(first["adjacent_correlations"]),
               "Within-person share": f"{first['within_share']:.2f}"}
        for _, r in part.sort_values("reliability").iterrows():
            row[f"Reliability {r['reliability']:g}: FE / FD"] = (f"{r['lambda_fixed_effects']:.2f} / "
                                                                 f"{r['lambda_first_difference']:.2f}")
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["caption"] = ("Within-person variation of the social contact index and the attenuation of "
                              "within-person estimates it implies")
    frame.attrs["footnote"] = (
        "Model-sample persons with the index at all three waves. Within-person share: one-way ANOVA within "
        "variance over total (1 - ICC(1)). Factors: expected estimate / true slope under classical measurement "
        "error independent across waves, for an assumed reliability (true over observed variance; not "
        "estimable from the panel): pooled = reliability; FE = 1 - (1 - reliability) / within share; FD = 1 - "
        "2 (1 - reliability) / (variance of wave-to-wave change / total variance). Covariates attenuate further.")
    return frame


def ballot_flow_table(flow: pd.DataFrame, outcome_labels: Mapping[str, str]) -> pd.DataFrame:
    """The sample by split ballot, per outcome: person-waves interviewed, with the contact items, with the
    outcome, with both, complete for the models, persons with two or more complete waves, and whether the
    ballot enters that outcome's models."""
    require_columns(flow, ["outcome", "ballot", "person_waves", "with_exposure", "with_outcome", "with_both",
                           "complete_cases", "persons_two_plus_complete", "in_models"], "ballot_flow_table")
    frame = pd.DataFrame({
        "Outcome": flow["outcome"].map(lambda o: outcome_labels.get(o, o)),
        "Ballot": flow["ballot"],
        "Person-waves": flow["person_waves"].map(tables.format_count),
        "With contact items": flow["with_exposure"].map(tables.format_count),
        "With outcome": flow["with_outcome"].map(tables.format_count),
        "With both": flow["with_both"].map(tables.format_count),
        "Complete cases": flow["complete_cases"].map(tables.format_count),
        "Persons with 2+ complete waves": flow["persons_two_plus_complete"].map(tables.format_count),
        "In the models": flow["in_models"].map(lambda v: "yes" if str(v).lower() == "true" else "no"),
    })
    frame.attrs["caption"] = "GSS panels 2006-2014: who informs which model, by split ballot"
    frame.attrs["footnote"] = (
        "The GSS asks each item on some of its three random ballots: self-rated health (HEALTH) on A and C, "
        "happiness on all three, the social-evening items on A and B (and, at the 2006 panel's 2010 wave, on "
        "C). Health models therefore use ballot A only, happiness models A and B (params.yaml "
        "gss.panel_models.ballots). Complete cases: contact, outcome and every covariate present.")
    return frame


#: Labels of the 2016-2020 table's columns, for the covariates named in ``gss.models_2020``.
LABELS_2020 = {v.name: v.label for v in GSS_2020_VARIABLES}


def _covariates_text(rhs: str) -> str:
    """The covariates of a formula right-hand side as labels, in the formula's order."""
    names = sorted(formula_variables(rhs), key=rhs.find)
    return "; ".join(LABELS_2020.get(n, n.replace("_", " ")) for n in names) if names else "none"


def loneliness_table(records: pd.DataFrame, models: Mapping[str, Model2020], mode_counts: Mapping[str, int]
                     ) -> pd.DataFrame:
    """The 2016-2020 models, one row per model of ``gss.models_2020.models``: outcome, exposure, what it is
    adjusted for (baseline loneliness through LONELY3, interview mode), design-based and unweighted estimates
    with their n. ``mode_counts``: the re-interviewed by 2020 interview mode (``gss.json`` sample.mode_2020)."""
    require_columns(records, ["covariate_set", "design", "measure", "estimate", "ci_low", "ci_high", "ratio",
                              "ratio_ci_low", "ratio_ci_high", "n", "events"], "loneliness_table")
    rows = []
    for name, spec in models.items():
        part = records[records["covariate_set"] == name]
        if part.empty:
            raise tables.TableError(f"loneliness_table: no records for the 2016-2020 model {name!r}; rerun models_gss")
        by_design = {r["design"]: r for _, r in part.iterrows()}
        rows.append({
            "Outcome": spec.label,
            "Exposure": spec.exposure_label,
            "Adjusted for": _covariates_text(spec.covariates),
            "Design-based": tables.format_estimate(by_design["design-based"]) if "design-based" in by_design else "",
            "Unweighted": tables.format_estimate(by_design["unweighted"]) if "unweighted" in by_design else "",
            "N": tables.format_count(part["n"].iloc[0]),
            "Events": tables.format_count(part["events"].iloc[0]),
        })
    frame = pd.DataFrame(rows)
    modes = ", ".join(f"{k.lower()} {tables.format_count(v)}" for k, v in mode_counts.items()) or "not recorded"
    frame.attrs["caption"] = "GSS 2016-2020 panel: baseline social contact, 2020 loneliness and health"
    frame.attrs["footnote"] = (
        "MD: mean difference, OR: odds ratio; 95% CI. Design-based: 2020 panel weight, SEs clustered by "
        "baseline stratum x PSU. Re-interviewed in 2020 with complete data. Baseline loneliness: LONELY3 "
        "(felt left out), asked at the 2018 baseline only, so that model uses the 2018 cohort. Interview mode: "
        f"the 2020 re-interview was by web or phone (COVID-19; {modes}), the 2016/2018 baselines mostly in "
        "person, so 2020 answers may differ by mode as well as by time; models listing the interview mode "
        "adjust for the 2020 mode.")
    return frame


def write_gss_reports(processed: Path, reports: Path, gss: GssSettings,
                      formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write the GSS tables and figures under ``reports/tables/gss`` and ``reports/figures/gss``."""
    processed, reports = Path(processed), Path(reports)
    metrics_dir = reports / "metrics"
    panel = io.read_parquet(processed / "gss_panel.parquet")
    attrition = pd.read_csv(processed / "gss_attrition.csv")
    records = pd.read_csv(metrics_dir / "gss_panel_models.csv")
    tests = pd.read_csv(metrics_dir / "gss_panel_tests.csv")
    weighted = pd.read_csv(metrics_dir / "gss_panel_weighted.csv")
    ballots = pd.read_csv(metrics_dir / "gss_ballot_flow.csv")
    attenuation = pd.read_csv(metrics_dir / "gss_attenuation.csv")
    lonely = pd.read_csv(metrics_dir / "gss_2020_models.csv")
    mode_counts = io.read_json(metrics_dir / "gss.json")["sample"].get("mode_2020") or {}
    spec = gss.panel_models
    levels = gss.contact_levels
    tables_dir, figures_dir = reports / "tables" / "gss", reports / "figures" / "gss"
    binary = {k for k, v in spec.outcomes.items() if v.binary}
    outcomes = {k: v.label for k, v in spec.outcomes.items()}
    main = exposure_records(records, list(spec.exposures))
    lagged = exposure_records(records, list(gss.panel_lagged.exposures) if gss.panel_lagged else [])
    summary = outcome_by_contact(panel, outcomes, levels.column, levels.cuts, levels.labels, time=spec.time)
    tests_shown = tests.copy()
    tests_shown.attrs["caption"] = "Specification tests: Hausman (FE vs RE) and Mundlak (between = within)"
    flow = attrition_flow(attrition)
    weight = gss.panel_weighted.weight if gss.panel_weighted else "panel weight"
    weight_label = {v.name: v.source for v in GSS_PANEL_VARIABLES}.get(weight, weight)  # the GSS item name

    written: list[Path] = []
    with io.staged_outputs():
        written += tables.write_table(estimator_table(main), tables_dir / "panel_estimators")
        written += tables.write_table(tests_shown, tables_dir / "panel_tests")
        written += tables.write_table(attrition_display(attrition), tables_dir / "attrition")
        written += tables.write_table(ballot_flow_table(ballots, outcomes), tables_dir / "ballot_flow")
        written += tables.write_table(weighted_table(weighted, main, weight_label), tables_dir / "panel_weighted")
        written += tables.write_table(attenuation_display(attenuation), tables_dir / "attenuation")
        if not lagged.empty:
            written += tables.write_table(lagged_table(lagged), tables_dir / "panel_lagged")
        written += tables.write_table(loneliness_table(lonely, gss.models_2020.models, mode_counts),
                                      tables_dir / "loneliness_2020")
        written.append(io.write_csv(tables_dir / "outcome_by_contact.csv", summary))
        written.append(io.write_csv(tables_dir / "flow.csv", flow))
        written += write_figure(coefficient_plot(main), figures_dir / "panel_coefficients", formats)
        written += write_figure(outcome_by_contact_figure(summary, binary, spec.time, levels.label),
                                figures_dir / "outcome_by_contact", formats)
        written += write_figure(flow_diagram(flow, "GSS panels 2006-2014: persons interviewed at each wave",
                                             unit=("person", "persons"), highlight_last=False),
                                figures_dir / "flow", formats, print_width_in=None)  # on screen only
    return written


def stage() -> str:
    """DVC stage ``report_gss``: the GSS tables and figures."""
    params = load()
    written = write_gss_reports(config.PROCESSED, config.REPORTS, params.gss, tuple(params.reports.figure_formats))
    return f"GSS reports: {len(written)} files"
