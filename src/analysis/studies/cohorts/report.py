"""Tables and figures of the ageing-cohort study (``reports/tables/cohorts``, ``reports/figures/cohorts``).

Every table and figure built from the SYNTHETIC cohort says so in its title or caption; a study whose
restricted file is not configured is listed as such in ``studies`` (and in the manuscript), never left out
silently.

* ``studies``: each study, whether it ran, its file checksum and size.
* ``estimates``: every exposure record (mixed, fixed-effects, hazard models), estimate (95% CI).
* ``truth``: SYNTHETIC estimates beside the stated true values, bias and whether the 95% CI covers.
* ``riclpm``: the cross-lagged panel model's structural parameters.
* figures: predicted depressive-symptom trajectories by isolation (mixed model), cumulative incidence of
  new CVD (death competing) and of death by isolation group at the first interview, estimates vs truth,
  and the participant flow of each study.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.core import config, io
from analysis.core.disclosure import (
    SUPPRESSED,
    DisclosureRule,
    count_cell,
    footnote,
    is_suppressed,
    protect,
    rule_of,
)
from analysis.core.settings import DisclosureSettings
from analysis.report import tables
from analysis.report.figures import (
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
from analysis.studies.cohorts.clean import restricted_studies
from analysis.studies.cohorts.keys import specification_keys
from analysis.studies.cohorts.settings import load

#: Labels of the spec's estimator names (:func:`analysis.studies.cohorts.keys.specification_keys`; the truth
#: table's ``model`` holds them too).
MODEL_LABELS = {
    "within_between_lmm": "Within-between mixed model", "two_way_fe": "Two-way fixed effects",
    "two_way_fe_ipw": "Two-way FE, attrition-weighted", "cloglog_hazard": "Discrete-time cloglog hazard",
    "cloglog_hazard_ipw": "Cloglog hazard, attrition-weighted", "cox_time_varying": "Cox, time-varying exposures",
}


def _synthetic(study: str) -> bool:
    return "SYNTHETIC" in str(study).upper()


def _titled(title: str, studies: pd.Series) -> str:
    """A caption that says SYNTHETIC whenever rows of the synthetic cohort are in the table."""
    if studies.map(_synthetic).all():
        return f"SYNTHETIC cohort (simulated people, not real). {title}"
    if studies.map(_synthetic).any():
        return f"{title} (rows of the SYNTHETIC cohort describe simulated people)"
    return title


def _with_footnote(frame: pd.DataFrame, rule: DisclosureRule, hidden: int) -> pd.DataFrame:
    note = footnote(rule, hidden)
    if note:
        frame.attrs["footnote"] = f"{frame.attrs.get('footnote', '')} {note}".strip()
    return frame


def estimates_table(records: pd.DataFrame, restricted: set[str] = frozenset(),
                    rule: DisclosureRule = DisclosureRule()) -> pd.DataFrame:
    """One row per study x outcome x exposure term x model: estimate (95% CI), n and events.

    Rows of a restricted study: a count below ``rule.min_cell`` shows the marker, and an estimate resting
    on fewer events shows "suppressed" (the footnote says how many cells are hidden)."""
    require_columns(records, ["study", "outcome_label", "exposure_label", "term", "model", "design", "sample",
                              "estimate", "ci_low", "ci_high", "measure", "ratio", "ratio_ci_low", "ratio_ci_high", "n",
                              "events"], "cohort records")
    rows, hidden = [], 0
    for key, r in zip(specification_keys(records), records.itertuples()):
        ratio = r.measure in ("HR", "OR")
        cell = (tables.format_interval(r.ratio, r.ratio_ci_low, r.ratio_ci_high, 3) if ratio
                else tables.format_interval(r.estimate, r.ci_low, r.ci_high, 3))
        guard = r.study in restricted
        small_events = guard and (rule.small(r.events) or is_suppressed(getattr(r, "note", "")))
        small_n = guard and (rule.small(r.n) or (small_events and r.n == 0))
        if small_n or small_events:
            cell = SUPPRESSED
        hidden += int(small_n) + int(small_events) + int(small_n or small_events)
        rows.append({"Study": r.study, "Outcome": r.outcome_label, "Exposure": r.exposure_label,
                     "Term": "between-person" if str(r.term).endswith(":between") else "within-person / per point",
                     "Model": MODEL_LABELS.get(key, key), "Measure": r.measure, "Estimate (95% CI)": cell,
                     "n": count_cell(r.n, small_n, rule, tables.format_count),
                     "Events": count_cell(r.events, small_events, rule, tables.format_count)})
    out = pd.DataFrame(rows)
    out.attrs["caption"] = _titled("Ageing cohorts: depressive symptoms, new CVD and death on social isolation and "
                                   "loneliness", records["study"])
    out.attrs["footnote"] = (
        "Both exposures in every model. Mean differences in the depressive-symptom score (study scale) for the "
        "mixed and fixed-effects models; hazard ratios per point for the hazard models (cloglog: grouped-time "
        "proportional hazards). Rows of the SYNTHETIC cohort describe simulated people with known true effects.")
    return _with_footnote(out, rule, hidden)


def truth_display(truth: pd.DataFrame) -> pd.DataFrame:
    """The known-truth check as a display table."""
    out = pd.DataFrame({
        "Model": truth["model"].map(lambda m: MODEL_LABELS.get(m, m)), "Parameter": truth["parameter"].map(
            parameter_words),
        "Truth": truth["truth"].map(lambda v: f"{v:.3f}"),
        "Estimate (95% CI)": [tables.format_interval(e, lo, hi, 3)
                              for e, lo, hi in zip(truth["estimate"], truth["ci_low"], truth["ci_high"])],
        "Bias": truth["bias"].map(lambda v: f"{v:+.4f}"), "CI covers truth": truth["covered"].map({True: "yes",
                                                                                                  False: "no"}),
    })
    out.attrs["caption"] = "SYNTHETIC cohort: estimates beside the true values of the data-generating process"
    out.attrs["footnote"] = ("Truth from params.yaml cohorts.synthetic.truth (linear scales: CES-D points and "
                             "cognition-score points; hazards: log hazard ratios). One simulated data set: a 95% CI "
                             "misses the truth 5% of the time; bias and coverage over many data sets are in "
                             "reports/simulation/cohort_coverage.md.")
    return out


def riclpm_display(riclpm: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "Study": riclpm["study"], "Parameter": riclpm["parameter"], "Meaning": riclpm["label"],
        "Estimate (95% CI)": [tables.format_interval(e, lo, hi, 3)
                              for e, lo, hi in zip(riclpm["estimate"], riclpm["ci_low"], riclpm["ci_high"])],
    })
    out.attrs["caption"] = _titled("Random-intercept cross-lagged panel model: loneliness and depressive symptoms",
                                   riclpm["study"])
    out.attrs["footnote"] = ("FIML (persons lost to death or attrition contribute the waves they were seen); lags "
                             "constant over waves; within-person components on the raw scales of both measures.")
    return out


def studies_display(status: pd.DataFrame, rule: DisclosureRule = DisclosureRule()) -> pd.DataFrame:
    restricted = restricted_studies(status)
    hide = {(i, c): status.at[i, "study"] in restricted and rule.small(status.at[i, c])
            for i in status.index for c in ("persons", "person_waves_interviewed")}
    out = pd.DataFrame({"Study": status["label"], "Status": status["status"],
                        "Restricted": status["study"].map(lambda s: "yes" if s in restricted else "no"),
                        "Persons": [count_cell(status.at[i, "persons"], hide[(i, "persons")], rule,
                                               tables.format_count) for i in status.index],
                        "Interviews": [count_cell(status.at[i, "person_waves_interviewed"],
                                                  hide[(i, "person_waves_interviewed")], rule, tables.format_count)
                                       for i in status.index],
                        "Note": status["note"]})
    out.attrs["caption"] = "Ageing cohorts: which studies ran"
    out.attrs["footnote"] = ("Restricted files are never in the repository; "
                             "set params.yaml cohorts.studies.<study>.path "
                             "to run a study on your copy. Outputs of a restricted study hold no individual-level "
                             "row, and its small cells are suppressed (params.yaml disclosure).")
    return _with_footnote(out, rule, sum(hide.values()))


def cohort_flow(flow: pd.DataFrame, study: str, restricted: bool = False,
                rule: DisclosureRule = DisclosureRule()) -> pd.DataFrame:
    """Participant flow of one study as a flow table (persons).

    For a restricted study the counts go through :func:`analysis.core.disclosure.protect`: small counts show
    the marker, and complementary counts are hidden so that no "before = after + excluded" relation holds a
    single hidden count; ``attrs["hidden"]`` counts the hidden cells."""
    counts = flow.loc[flow["study"] == study].set_index("step")["n"]
    table = _flow_steps(counts)
    if not restricted:
        table.attrs["hidden"] = 0
        return table
    cells = {("n", i): table.at[i, "n"] for i in table.index}
    cells |= {("excluded", i): table.at[i, "excluded"] for i in table.index if i > 0}
    relations = [[("n", i - 1), ("n", i), ("excluded", i)] for i in table.index if i > 0]
    hidden = protect(cells, relations, rule)
    shown = table.astype({"n": object, "excluded": object})
    for column, i in hidden:
        shown.at[i, column] = rule.marker
    details = {"new CVD reports": counts["new CVD reports"], "deaths (any time)": counts["deaths (any time)"],
               "person-waves interviewed": counts["person-waves interviewed"]}
    small_details = [k for k, v in details.items() if rule.small(v)]
    if small_details:
        last = shown.index[-1]
        shown.at[last, "detail"] = "; ".join(
            f"{count_cell(v, k in small_details, rule)} {k.replace('person-waves interviewed', 'interviews')}"
            for k, v in details.items())
    shown.attrs["hidden"] = len(hidden) + len(small_details)
    return shown


def _flow_steps(counts: pd.Series) -> pd.DataFrame:
    return flow_table([
        {"label": "Persons in the file", "n": counts["persons in the file"]},
        {"label": "Interviewed at least once", "n": counts["persons interviewed at least once"],
         "reason": "never interviewed"},
        {"label": "Free of CVD at their first report: at risk of new CVD",
         "n": counts["persons free of CVD at their first report"],
         "reason": "CVD at the first report, or CVD never reported either way",
         "detail": f"{counts['new CVD reports']:,} new CVD reports; {counts['deaths (any time)']:,} deaths "
                   f"in the whole cohort; {counts['person-waves interviewed']:,} interviews"},
    ])


@styled
def trajectories_figure(trajectories: pd.DataFrame, title: str, ylabel: str = "Predicted depressive-symptom score"
                        ) -> Figure:
    """Predicted score over waves for persons whose isolation index stays at each level (mixed model)."""
    require_columns(trajectories, ["level", "time", "predicted", "ci_low", "ci_high"], "trajectories")
    fig = new_figure(4.9, 3.8)  # with its legend beside, printed at 80% of the text width
    ax = fig.add_subplot()
    colours = PALETTE if len(PALETTE) >= trajectories["level"].nunique() else None
    for i, (level, sub) in enumerate(trajectories.groupby("level")):
        colour = colours[i] if colours else None
        ax.plot(sub["time"] + 1, sub["predicted"], color=colour, label=f"index {level:g}")
        ax.fill_between(sub["time"] + 1, sub["ci_low"], sub["ci_high"], color=colour, alpha=0.15, linewidth=0)
    ax.set_xlabel("Wave (biennial)")
    ax.set_ylabel(ylabel)
    # wrapped: a long study label (a restricted study's) would otherwise widen the saved figure past its print width
    ax.set_title("\n".join(textwrap.wrap(title, 58)), loc="left", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="isolation\nheld constant",
              title_fontsize=8)  # beside the axes: no label on a line
    ax.margins(y=0.1)
    return fig


@styled
def incidence_figure(incidence: pd.DataFrame, title: str) -> Figure:
    """Cumulative incidence of new CVD (death competing) and of death by isolation group (the groups a
    restricted study holds too few persons in are already left out of ``incidence``)."""
    require_columns(incidence, ["outcome", "group", "time_months", "estimate", "ci_low", "ci_high"], "incidence")
    fig = new_figure(PRINT_WIDTH_IN, 4.0)  # the text width: type prints at its size
    axes = fig.subplots(1, 2, sharey=False)
    names = {"cvd": "New heart disease or stroke\n(death as competing event)", "death": "Death (1 - Kaplan-Meier)"}
    for ax, outcome in zip(axes, ("cvd", "death")):
        sub = incidence.loc[incidence["outcome"] == outcome]
        for i, (group, g) in enumerate(sub.groupby("group", sort=True)):
            colour = PALETTE[i % len(PALETTE)]
            ax.step(g["time_months"] / 12, g["estimate"], where="post", color=colour, label=group)
            ax.fill_between(g["time_months"] / 12, g["ci_low"], g["ci_high"], step="post", color=colour, alpha=0.15,
                            linewidth=0)
        ax.set_title(names[outcome], loc="left", fontsize=8.5)
        ax.set_xlabel("Years since the first interview", fontsize=8.5)
        ax.tick_params(labelsize=8)
        ax.set_ylim(0, None)
    axes[0].set_ylabel("Cumulative incidence", fontsize=8.5)
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, frameon=False, fontsize=8, title="At the first interview", title_fontsize=8,
               loc="lower center", ncols=min(4, len(labels)))  # below the panels: no label on a curve
    fig.suptitle(textwrap.fill(title, 80), x=0.01, ha="left", fontsize=10)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return fig


@styled
def truth_figure(truth: pd.DataFrame) -> Figure:
    """Each SYNTHETIC estimate with its 95% CI, and the true value as a cross: one panel per scale (CES-D
    points, cognition-score points, log hazard ratios), rows labelled in words (:func:`parameter_words`)."""
    if truth.empty:
        raise FigureError("no SYNTHETIC records to compare with the truth")
    panels = [(scale, truth.loc[truth["parameter"].map(_scale) == scale]) for scale in TRUTH_SCALES]
    panels = [(scale, rows) for scale, rows in panels if len(rows)]
    fig = new_figure(PRINT_WIDTH_IN, 0.17 * len(truth) + 0.65 * len(panels) + 0.6)  # the text width
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": [len(r) for _, r in panels]})
    for ax, (scale, rows) in zip(axes[:, 0], panels):
        labels = [f"{parameter_words(p)} ({MODEL_LABELS.get(m, m)})" for p, m in zip(rows["parameter"], rows["model"])]
        y = np.arange(len(rows))[::-1]
        colours = np.where(rows["covered"], "#1b6ca8", "#c0392b")
        ax.hlines(y, rows["ci_low"], rows["ci_high"], color=colours)
        ax.plot(rows["estimate"], y, "o", color="#1b6ca8", markersize=4, label="estimate (95% CI)")
        ax.plot(rows["truth"], y, "x", color="black", markersize=6, label="true value")
        ax.set_yticks(y, labels, fontsize=7.5)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlabel(scale, fontsize=8)
        ax.tick_params(axis="x", labelsize=7.5)
    fig.suptitle("SYNTHETIC cohort: estimates vs the known truth", x=0.01, ha="left", fontsize=10)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, frameon=False, fontsize=7.5, loc="lower center", ncols=2)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


#: The x-axis of each panel of :func:`truth_figure`, by the outcome that a truth parameter's name starts with.
TRUTH_SCALES = {"CES-D points per point of the exposure": ("cesd",),
                "Cognition-score points per point of the exposure": ("cognition",),
                "log hazard ratio per point of the exposure": ("death", "cvd", "dementia")}
_OUTCOME_WORDS = {"cesd": "Depressive symptoms", "cognition": "Cognition score", "death": "Death",
                  "cvd": "New CVD", "dementia": "Dementia onset"}
_EXPOSURE_WORDS = {"isolation": "isolation index", "loneliness": "loneliness score"}


def _scale(parameter: str) -> str:
    outcome = parameter.split("_", 1)[0]
    return next(scale for scale, outcomes in TRUTH_SCALES.items() if outcome in outcomes)


def parameter_words(parameter: str) -> str:
    """ "cognition_isolation" -> "Cognition score ~ isolation index" (the truth keys of cohorts.synthetic)."""
    outcome, _, exposure = parameter.partition("_")
    return f"{_OUTCOME_WORDS.get(outcome, outcome)} ~ {_EXPOSURE_WORDS.get(exposure, exposure)}"


def capability_shares(capability: pd.DataFrame, restricted: set[str] = frozenset(),
                      rule: DisclosureRule = DisclosureRule()) -> pd.DataFrame:
    """The capability table (``cohorts_capability.csv``) with ``share_shown``: the share of interviews at which
    the measure is observed, NaN where a restricted study's cell rests on few persons (observed, or not
    observed, or interviews from 1 to ``min_cell - 1``: the share would reveal them), and ``hidden``."""
    out = capability.copy()
    missing = out["interviews"] - out["observed"]
    out["hidden"] = out["study"].isin(restricted) & (out["observed"].map(rule.small) | missing.map(rule.small)
                                                      | out["interviews"].map(rule.small))
    out["share_shown"] = out["share_observed"].where(~out["hidden"])
    return out


def capability_display(capability: pd.DataFrame, labels: dict[str, str], restricted: set[str] = frozenset(),
                       rule: DisclosureRule = DisclosureRule()) -> pd.DataFrame:
    """Study x measure rows, one column per wave: the % of interviews with the measure observed (disclosure-safe).
    Each study's definitions of loneliness, the isolation index and the depression score are stated beside it
    (the supplement's text, the capability CSV of the clean stage), not in a column: with a real study's 15 waves
    a definition column would push the table past even a landscape page."""
    shares = capability_shares(capability, restricted, rule)
    # a hidden share shows the rule's marker ("<11": it rests on fewer interviews), short enough for 15 wave columns
    shares["cell"] = [rule.marker if h else ("" if pd.isna(v) else f"{100 * v:.0f}%")
                      for h, v in zip(shares["hidden"], shares["share_observed"])]
    wide = shares.pivot_table(index=["study", "measure"], columns="wave", values="cell", aggfunc="first",
                              sort=False).reset_index()
    wide.columns = [c if isinstance(c, str) else f"W{c}" for c in wide.columns]  # W1 = wave 1 (narrow columns)
    wide = wide.fillna("").rename(columns={"measure": "Measure"})
    wide["study"] = wide["study"].map(lambda k: labels.get(k, k))
    wide = wide.rename(columns={"study": "Study"})
    wide.attrs["caption"] = _titled("Study capability: % of interviews at which each measure is observed, by wave "
                                    "(W1 = wave 1)",
                                    wide["Study"])
    wide.attrs["footnote"] = ("A blank wave is not in the study's wave map; 0% means the study's files lack the "
                              "measure at that wave (missing there, not an error). Contact is weekly or monthly as "
                              "each study's definition says (data/processed/cohorts_capability.csv).")
    hidden = int(shares["hidden"].sum())
    if hidden:
        wide.attrs["footnote"] += (f" A share resting on fewer than {rule.min_cell} interviews is shown as "
                                   f"\"{rule.marker}\".")
    return _with_footnote(wide, rule, hidden)


def capability_figure(capability: pd.DataFrame, labels: dict[str, str], restricted: set[str] = frozenset(),
                      rule: DisclosureRule = DisclosureRule()) -> Figure:
    """Heatmap per study: measures x waves, colour = share of interviews observed; hatched = suppressed."""
    require_columns(capability, ["study", "measure", "wave", "interviews", "observed", "share_observed"],
                    "capability heatmap")
    shares = capability_shares(capability, restricted, rule)
    studies = list(dict.fromkeys(shares["study"]))
    fig = new_figure(3.2 * len(studies) + 1.0, 4.2)
    axes = fig.subplots(1, len(studies), squeeze=False)[0]
    image = None
    for ax, study in zip(axes, studies):
        sub = shares.loc[shares["study"] == study]
        grid = sub.pivot_table(index="measure", columns="wave", values="share_shown", aggfunc="first", dropna=False)
        grid = grid.reindex(list(dict.fromkeys(sub["measure"])))
        hidden = sub.pivot_table(index="measure", columns="wave", values="hidden", aggfunc="first").reindex(grid.index)
        image = ax.imshow(grid.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for (i, j), flag in np.ndenumerate(hidden.to_numpy()):
            if flag is True or flag == 1:
                ax.text(j, i, "x", ha="center", va="center", fontsize=7, color="0.3")
        ax.set_xticks(range(len(grid.columns)), [str(w) for w in grid.columns], fontsize=6)
        ax.set_yticks(range(len(grid.index)), grid.index if ax is axes[0] else [""] * len(grid.index), fontsize=7)
        ax.set_title(labels.get(study, study), fontsize=8)
        ax.set_xlabel("wave", fontsize=7)
    if image is not None:
        fig.colorbar(image, ax=list(axes), shrink=0.8, label="share of interviews observed")
    title = "Study capability by measure and wave"
    if any(_synthetic(labels.get(s, s)) or s == "synthetic" for s in studies):
        title = f"{title} (SYNTHETIC cohort: simulated people)"
    if shares["hidden"].any():
        title = f"{title}; x: suppressed (restricted data, fewer than {rule.min_cell})"
    fig.suptitle(title, fontsize=9)
    return fig


def write_cohort_reports(processed: Path, reports: Path, disclosure: DisclosureSettings,
                         formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write the cohort tables and figures; reads the clean stage's flow/status and the models' outputs.
    Small cells of restricted studies are suppressed by the ``disclosure`` rule; figures in ``formats``."""
    processed, reports = Path(processed), Path(reports)
    metrics = reports / "metrics"
    records = pd.read_csv(metrics / "cohorts_models.csv")
    incidence = pd.read_csv(metrics / "cohorts_incidence.csv")
    trajectories = pd.read_csv(metrics / "cohorts_trajectories.csv")
    truth = pd.read_csv(metrics / "cohorts_truth.csv")
    riclpm = pd.read_csv(metrics / "cohorts_riclpm.csv")
    status = pd.read_csv(processed / "cohorts_studies.csv", keep_default_na=False)
    flow = pd.read_csv(processed / "cohorts_flow.csv")
    rule, restricted = rule_of(disclosure), restricted_studies(status)
    tables_dir, figures_dir = reports / "tables" / "cohorts", reports / "figures" / "cohorts"
    written: list[Path] = []
    with io.staged_outputs():
        written += tables.write_table(studies_display(status, rule), tables_dir / "studies")
        written += tables.write_table(estimates_table(records, restricted, rule), tables_dir / "estimates")
        written += tables.write_table(riclpm_display(riclpm), tables_dir / "riclpm")
        capability = pd.read_csv(processed / "cohorts_capability.csv", keep_default_na=False, na_values=[""])
        capability["definition"] = capability["definition"].fillna("")
        study_labels = dict(zip(status["study"], status["label"]))
        written += tables.write_table(capability_display(capability, study_labels, restricted, rule),
                                      tables_dir / "capability")
        written += write_figure(capability_figure(capability, study_labels, restricted, rule),
                                figures_dir / "capability", formats, print_width_in=None)  # on screen only
        if len(truth):
            written += tables.write_table(truth_display(truth), tables_dir / "truth")
            written += write_figure(truth_figure(truth), figures_dir / "truth", formats)
        labels = dict(zip(status["study"], status["label"]))
        for study in flow["study"].unique():
            label = labels.get(study, study)
            steps = cohort_flow(flow, study, study in restricted, rule)
            written.append(io.write_csv(tables_dir / f"flow_{study}.csv", steps))
            title = f"{label}: participants" + (f" ({rule.marker}: suppressed, restricted data)"
                                                 if steps.attrs["hidden"] else "")
            written += write_figure(flow_diagram(steps, title, unit=("person", "persons")),
                                    figures_dir / f"flow_{study}", formats, print_width_in=None)  # on screen only
        if "outcome" not in trajectories:
            trajectories = trajectories.assign(outcome="depression_score", outcome_label="Depressive symptoms")
        for (study, outcome), sub in trajectories.groupby(["study", "outcome"], sort=False):
            key = "synthetic" if _synthetic(study) else str(study).split()[0].lower()
            what = str(sub["outcome_label"].iloc[0])
            prefix = "trajectories" if outcome == "depression_score" else f"trajectories_{outcome}"
            if outcome == "depression_score":
                figure = trajectories_figure(sub, f"{study}: predicted depressive symptoms by isolation")
            else:
                figure = trajectories_figure(sub, f"{study}: predicted {what.lower()} by isolation",
                                             f"Predicted {what.lower()}")
            # the supplement prints the depressive-symptom paths at 80% of the text width; the others on screen
            written += write_figure(figure, figures_dir / f"{prefix}_{key}", formats,
                                    print_width_in=0.8 * PRINT_WIDTH_IN if outcome == "depression_score" else None)
        for study, sub in incidence.groupby("study", sort=False):
            key = "synthetic" if _synthetic(study) else str(study).split()[0].lower()
            title = f"{study}: cumulative incidence by social isolation" + (
                f" (groups of fewer than {rule.min_cell} persons not shown)" if study in restricted else "")
            written += write_figure(incidence_figure(sub, title), figures_dir / f"incidence_{key}", formats)
    return written


def stage() -> str:
    """DVC stage ``report_cohorts``: the ageing-cohort tables and figures."""
    params = load()
    written = write_cohort_reports(config.PROCESSED, config.REPORTS, params.disclosure,
                                   tuple(params.reports.figure_formats))
    return f"cohort reports: {len(written)} files"
