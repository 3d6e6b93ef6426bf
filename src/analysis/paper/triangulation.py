"""Triangulation: the project's estimates beside published meta-analytic anchors.

Every row is a ratio oriented as the risk of the outcome with *less* social connection, grouped by
outcome **and kind of endpoint**, so that like is compared with like (:data:`GROUPS`): all-cause mortality,
cardiovascular death, incident (new) cardiovascular disease, prevalent cardiovascular disease, depression
and mental health. Prevalent CVD (NHANES: ever told of heart disease or stroke, at the interview) is
survivor-biased and cross-sectional: people who died of their CVD or after it are missing, and isolation
measured after the event may be its consequence. It therefore never sits beside published estimates of
*incident* CVD (Valtorta et al. 2016) or CVD mortality (Wang et al. 2023): it has its own group, with no
published anchor, labelled as such (:data:`GROUP_NOTES`).

* this project: NHANES (most isolated group vs the reference, fullest design-based model, from
  ``reports/metrics/nhanes.json``) and the GSS panels (within-person conditional-logit odds ratio per
  log-unit *less* social contact, i.e. the inverse of the published-direction estimate, from
  ``reports/metrics/gss.json``);
* published: ``data/reference/published_anchors.csv`` (full citations, exact published numbers).

Estimates on other scales are not ratios. They are drawn in a second figure as **standardised
coefficients**: the change in the outcome, in standard deviations, per standard deviation *less* social
connection (``beta x SD(exposure) / SD(outcome)``, the SDs from the analysis table each estimate came from),
oriented so that a positive value means a worse outcome with less connection (:func:`standardised_estimates`):

* counties (PLACES 2024): population-weighted state fixed-effects models, the report's covariate set;
* countries (WHR x GBD): the between-country (within-between) coefficients, GDP-adjusted. The
  within-country estimates are left out: GBD's depression series are smoothed and barely vary within a
  country (SD 0.1 percentage points within against 0.9 between), so the country panel is descriptive
  (``reports/metrics/countries.json`` ``variation``);
* the GSS panels: two-way FE linear-probability models;
* the ageing cohorts: within-person CES-D coefficients (mixed model) and hazard ratios per isolation point
  of the studies that ran on real files.

A study that did not run is listed as such. The SYNTHETIC cohort is a software check, not evidence about
people: it is never drawn beside the literature.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import transforms
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

from analysis.core import config, io
from analysis.params import Params
from analysis.params import load as load_params
from analysis.report.figures import (
    PALETTE,
    PRINT_WIDTH_IN,
    FigureError,
    new_figure,
    styled,
    write_figure,
    write_in_parts,
)
from analysis.report.tables import format_interval
from analysis.studies.nhanes.metrics import headline

ANCHOR_COLUMNS = ["anchor_id", "outcome_group", "exposure", "comparison", "measure", "estimate", "ci_low",
                  "ci_high", "studies", "citation", "doi", "bib_key", "note"]
CVD_DEATH = "Cardiovascular death"
CVD_INCIDENT = "Incident cardiovascular disease"
CVD_PREVALENT = "Prevalent cardiovascular disease (cross-sectional)"
#: Outcome groups, in the figure's order: each holds one kind of endpoint, so that estimates are compared with
#: estimates of the same kind (death, new events, prevalence), never prevalent with incident.
GROUPS = ("All-cause mortality", CVD_DEATH, CVD_INCIDENT, CVD_PREVALENT, "Depression and mental health")
#: Why a group is not comparable with the published anchors, shown in its header (figure and table).
GROUP_NOTES = {CVD_PREVALENT: "survivor-biased, exposure measured after the event; no published anchor: not "
                              "comparable with incident-CVD or CVD-death estimates"}
#: NHANES outcome -> triangulation group.
NHANES_GROUPS = {"all_cause_death": "All-cause mortality", "cvd_death": CVD_DEATH,
                 "prevalent_cvd": CVD_PREVALENT, "depression_phq9": "Depression and mental health"}
#: GSS panel outcome -> triangulation group.
GSS_GROUPS = {"unhappy": "Depression and mental health"}
MEASURE_SHORT = {"Pooled effect size": "ES"}
COLUMNS = ["outcome_group", "source", "label", "measure", "estimate", "ci_low", "ci_high", "citation"]


def read_anchors(path: Path) -> pd.DataFrame:
    """The published anchors, checked: every column present, ratios positive, CI around the estimate."""
    anchors = pd.read_csv(path)
    missing = [c for c in ANCHOR_COLUMNS if c not in anchors.columns]
    if missing:
        raise FigureError(f"{path}: column {missing[0]!r} is missing (needed: {', '.join(ANCHOR_COLUMNS)})")
    bad = anchors[~((anchors["ci_low"] > 0) & (anchors["ci_low"] <= anchors["estimate"])
                    & (anchors["estimate"] <= anchors["ci_high"]))]
    if not bad.empty:
        row = bad.iloc[0]
        raise FigureError(f"{path}: anchor {row['anchor_id']!r} has estimate {row['estimate']} outside its CI "
                          f"({row['ci_low']}, {row['ci_high']}) or a non-positive ratio")
    unknown = sorted(set(anchors["outcome_group"]) - set(GROUPS))
    if unknown:
        raise FigureError(f"{path}: outcome_group {unknown[0]!r} unknown; use one of {list(GROUPS)}")
    return anchors


def project_estimates(nhanes: dict | None, gss: dict | None, params: Params) -> pd.DataFrame:
    """The project's ratio-scale estimates, oriented as the risk with less social connection."""
    rows = []
    if nhanes:
        models = params.nhanes.models
        for outcome, h in headline(nhanes, params.nhanes).items():
            est = h.get("top")
            if outcome not in NHANES_GROUPS or not est or est["measure"] not in ("HR", "OR"):
                continue
            spec = models.regression.get(outcome) or models.survival.get(outcome)
            rows.append({"outcome_group": NHANES_GROUPS[outcome], "source": "this project",
                         "label": f"NHANES: {spec.label if spec else outcome}, {h['top_label'].lower()}",
                         "measure": est["measure"], "estimate": est["estimate"], "ci_low": est["ci_low"],
                         "ci_high": est["ci_high"], "citation": "reports/metrics/nhanes.json"})
    if gss:
        spec = params.gss.panel_models
        for outcome, group in GSS_GROUPS.items():
            for _exposure, by_model in gss["estimates"].get(outcome, {}).items():
                est = by_model.get("conditional_logit")
                if not est:
                    continue
                label = spec.outcomes[outcome].label if outcome in spec.outcomes else outcome
                rows.append({"outcome_group": group, "source": "this project",
                             "label": f"GSS within-person: {label.lower()}, per log-unit less contact",
                             "measure": "OR", "estimate": 1 / est["estimate"], "ci_low": 1 / est["ci_high"],
                             "ci_high": 1 / est["ci_low"], "citation": "reports/metrics/gss.json"})
    return pd.DataFrame(rows, columns=COLUMNS)


#: Outcome column -> (triangulation group, +1 if higher is worse, -1 if higher is better).
OUTCOME_DIRECTIONS = {
    "depression_pct": ("Depression and mental health", 1), "mental_distress_pct": ("Depression and mental health", 1),
    "chd_pct": (CVD_PREVALENT, 1), "stroke_pct": (CVD_PREVALENT, 1),
    "premature_death_ypll": ("All-cause mortality", 1), "life_expectancy": ("All-cause mortality", -1),
    "cvd_death_rate": (CVD_DEATH, 1), "depression_prevalence": ("Depression and mental health", 1),
    "fair_poor_health": ("Depression and mental health", 1), "unhappy": ("Depression and mental health", 1),
    "depression_score": ("Depression and mental health", 1),
}
#: Exposure column -> +1 if higher means less social connection, -1 if more.
EXPOSURE_DIRECTIONS = {"isolation_pct": 1, "emotional_support_lacking_pct": 1, "inadequate_support_pct": 1,
                       "social_support": -1, "social_contact_index": -1, "isolation_index": 1, "loneliness": 1}
STANDARDISED_COLUMNS = ["outcome_group", "study", "label", "estimate", "ci_low", "ci_high", "status", "source"]


def _standardised(group_sign: tuple[str, int], exposure: str, est: dict, sd_x: float, sd_y: float, scale: float,
                  study: str, label: str, source: str) -> dict:
    group, worse = group_sign
    sign = worse * EXPOSURE_DIRECTIONS.get(exposure, 1)
    factor = sign * sd_x / (scale * sd_y)
    low, high = sorted((est["ci_low"] * factor, est["ci_high"] * factor))
    return {"outcome_group": group, "study": study, "label": label, "estimate": est["estimate"] * factor,
            "ci_low": low, "ci_high": high, "status": "ran", "source": source}


def standardised_estimates(metrics: dict[str, dict | None], tables: dict[str, pd.DataFrame | None],
                           params: Params) -> pd.DataFrame:
    """Linear estimates of every study as standardised coefficients (see the module docstring).

    ``metrics``: the metrics JSON of ``places``, ``countries``, ``gss``, ``cohorts`` (None when absent);
    ``tables``: the analysis tables the SDs come from (``places_county``, ``countries_panel``, ``gss_panel``,
    ``cohorts_panel``). A study without metrics or table gets one row with status "did not run".
    """
    rows: list[dict] = []

    def missing(study: str, why: str) -> None:
        rows.append({"outcome_group": "", "study": study, "label": f"{study}: {why}", "estimate": np.nan,
                     "ci_low": np.nan, "ci_high": np.nan, "status": "did not run", "source": ""})

    places, county = metrics.get("places"), tables.get("places_county")
    if places and county is not None:
        spec = params.places.county_models
        chosen = params.places.report_set
        for outcome, by_exposure in places["estimates"].items():
            if outcome not in OUTCOME_DIRECTIONS or outcome not in county:
                continue
            for exposure, by_set in by_exposure.items():
                est = (by_set.get(chosen) or {}).get("weighted")
                if not est or exposure not in county:
                    continue
                label = f"Counties: {spec.outcomes[outcome].label} ~ {exposure.replace('_pct', '').replace('_', ' ')}"
                rows.append(_standardised(OUTCOME_DIRECTIONS[outcome], exposure, est, county[exposure].std(),
                                          county[outcome].std(), 1.0, "Counties (PLACES 2024)", label,
                                          "reports/metrics/places.json"))
    else:
        missing("Counties (PLACES 2024)", "did not run")
    countries, panel = metrics.get("countries"), tables.get("countries_panel")
    if countries and panel is not None:
        spec = params.countries.models
        adjusted = params.countries.report_set
        for outcome, by_exposure in countries["estimates"].items():
            est_by = (by_exposure.get("social_support") or {}).get(adjusted) or {}
            scale = float(spec.exposures["social_support"].scale)
            # between countries only: the within-country estimates of the smoothed GBD series are descriptive
            for key, what in (("within_between:between", "between countries"),):
                if key in est_by and outcome in OUTCOME_DIRECTIONS:
                    rows.append(_standardised(
                        OUTCOME_DIRECTIONS[outcome], "social_support", est_by[key], panel["social_support"].std(),
                        panel[outcome].std(), scale, "Countries (WHR x GBD)",
                        f"Countries, {what}: {spec.outcomes[outcome].label}", "reports/metrics/countries.json"))
    else:
        missing("Countries (WHR x GBD)", "did not run")
    gss, gss_panel = metrics.get("gss"), tables.get("gss_panel")
    if gss and gss_panel is not None:
        spec = params.gss.panel_models
        for outcome, by_exposure in gss["estimates"].items():
            for exposure, by_model in by_exposure.items():
                est = by_model.get("fixed_effects")
                if est and outcome in OUTCOME_DIRECTIONS and outcome in gss_panel and exposure in gss_panel:
                    rows.append(_standardised(OUTCOME_DIRECTIONS[outcome], exposure, est, gss_panel[exposure].std(),
                                              gss_panel[outcome].std(), 1.0, "GSS panels",
                                              f"GSS within-person: {spec.outcomes[outcome].label.lower()}",
                                              "reports/metrics/gss.json"))
    else:
        missing("GSS panels", "did not run")
    cohorts, cohort_panel = metrics.get("cohorts"), tables.get("cohorts_panel")
    real = {k: v for k, v in ((cohorts or {}).get("studies") or {}).items() if k != "synthetic"}
    for key, info in real.items():
        if info["status"] != "ran" or cohort_panel is None:
            missing(info["label"], "restricted file not configured")
            continue
        sub = cohort_panel.loc[(cohort_panel["study"] == key) & (cohort_panel["interviewed"] == 1)]
        for exposure, by_model in cohorts["estimates"][info["label"]].get("depression_score", {}).items():
            est = by_model.get("within_between_lmm")
            if est and not est.get("suppressed"):  # a restricted study's estimate on too few events
                rows.append(_standardised(OUTCOME_DIRECTIONS["depression_score"], exposure, est,
                                          sub[exposure].std(), sub["depression_score"].std(), 1.0, info["label"],
                                          f"{info['label']} within-person: depressive symptoms ~ "
                                          f"{exposure.replace('_', ' ')}",
                                          "reports/metrics/cohorts.json"))
    if cohorts is None:
        missing("Ageing cohorts", "did not run")
    elif ((cohorts.get("studies") or {}).get("synthetic") or {}).get("status") == "ran":
        rows.append({"outcome_group": "", "study": "SYNTHETIC cohort", "status": "not drawn", "source": "",
                     "label": "SYNTHETIC cohort: simulated people (a software check with known truth), not evidence",
                     "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan})
    out = pd.DataFrame(rows, columns=STANDARDISED_COLUMNS)
    out["comparability"] = out["outcome_group"].map(GROUP_NOTES).fillna("")
    return out


def cohort_ratios(cohorts: dict | None) -> pd.DataFrame:
    """Hazard ratios per isolation point of the ageing cohorts that ran on real files (never SYNTHETIC)."""
    rows = []
    for key, info in ((cohorts or {}).get("studies") or {}).items():
        if key == "synthetic" or info["status"] != "ran":
            continue
        est = cohorts["estimates"][info["label"]]
        for outcome, group in (("death", "All-cause mortality"), ("cvd", CVD_INCIDENT)):
            e = est.get(outcome, {}).get("isolation_index", {}).get("cloglog_hazard")
            if e and not e.get("suppressed"):  # a restricted study's estimate on too few events
                rows.append({"outcome_group": group, "source": "this project",
                             "label": f"{info['label']}: {outcome.replace('cvd', 'new CVD')}, per isolation point",
                             "measure": "HR", "estimate": e["estimate"], "ci_low": e["ci_low"],
                             "ci_high": e["ci_high"], "citation": "reports/metrics/cohorts.json"})
    return pd.DataFrame(rows, columns=COLUMNS)


def _grouped_rows(table: pd.DataFrame) -> list[dict]:
    """Forest-plot rows: a header per outcome group, then its records, in table order."""
    rows: list[dict] = []
    for group, part in table.groupby("outcome_group", sort=False):
        rows.append({"kind": "header", "text": group})
        if group in GROUP_NOTES:
            rows.append({"kind": "note", "text": GROUP_NOTES[group]})
        rows += [{"kind": "row", "rec": r} for _, r in part.iterrows()]
    return rows


#: Layout at the text width (inches): the labels' column, the axis, the estimates' column; one 8 pt line.
LABEL_CHARS, NOTE_CHARS, LINE_IN, ROW_GAP_IN = 50, 56, 0.135, 0.09
AXIS_BOX = (0.53, 0.24)  # the axis's left edge and width, as fractions of the figure's width
ESTIMATE_X = 0.79


def _row_layout(rows: list[dict]) -> tuple[list[str], np.ndarray, float]:
    """Each row's text wrapped to the labels' column, its centre (inches above the axis's bottom) and the rows'
    total height: a wrapped row is as tall as its lines, so no label runs into the next."""
    texts = []
    for row in rows:
        text = row["text"] if row["kind"] != "row" else row["rec"]["label"]
        texts.append(textwrap.fill(str(text), NOTE_CHARS if row["kind"] == "note" else LABEL_CHARS,
                                   break_long_words=False))
    heights = np.array([(t.count("\n") + 1) * LINE_IN + ROW_GAP_IN for t in texts])
    total = float(heights.sum())
    return texts, total - (np.cumsum(heights) - heights / 2), total


def _forest_frame(rows: list[dict], title: str) -> tuple[Figure, object, list[str], np.ndarray]:
    """The figure (text width) and axis of a forest plot of ``rows``, with every row's wrapped text and y."""
    texts, ys, total = _row_layout(rows)
    height = total + 1.35
    fig = new_figure(PRINT_WIDTH_IN, height)
    ax = fig.add_axes((AXIS_BOX[0], 0.8 / height, AXIS_BOX[1], total / height))
    ax.set_ylim(0, total)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    fig.suptitle(textwrap.fill(title, 72), x=0.01, ha="left", y=1 - 0.06 / height, va="top", fontweight="bold",
                 fontsize=10)
    for row, text, y in zip(rows, texts, ys):
        if row["kind"] == "header":
            ax.text(0.01, y, text, transform=_fig_x(fig, ax), fontweight="bold", va="center", fontsize=8.5)
        elif row["kind"] == "note":
            ax.text(0.02, y, text, transform=_fig_x(fig, ax), va="center", fontsize=7.5, color="#777777",
                    style="italic", linespacing=1.0)
    return fig, ax, texts, ys


@styled
def standardised_figure(table: pd.DataFrame) -> Figure:
    """Standardised coefficients by outcome group (studies that did not run listed as text)."""
    drawn = table.loc[table["status"] == "ran"]
    notes = table.loc[table["status"] != "ran", "label"].tolist()
    if drawn.empty:
        raise FigureError("standardised_figure: no estimates to draw")
    rows = _grouped_rows(drawn)
    fig, ax, texts, ys = _forest_frame(rows, "Triangulation across designs: standardised associations (individual, "
                                             "within-person, ecological)")
    height = fig.get_figheight()
    extra = 0.2 * len(notes)  # the studies not drawn, listed beneath
    if extra:
        fig.set_figheight(height + extra)
        box = ax.get_position()
        ax.set_position((box.x0, (0.8 + extra) / (height + extra), box.width, box.height * height / (height + extra)))
    for row, text, y in zip(rows, texts, ys):
        if row["kind"] != "row":
            continue
        rec = row["rec"]
        ax.errorbar([rec["estimate"]], [y],
                    xerr=[[rec["estimate"] - rec["ci_low"]], [rec["ci_high"] - rec["estimate"]]],
                    fmt="o", color=PALETTE[0], markersize=4.5, capsize=2.5, elinewidth=1.3)
        ax.text(0.02, y, text, transform=_fig_x(fig, ax), va="center", fontsize=8, color=PALETTE[0], linespacing=1.0)
        ax.text(ESTIMATE_X, y, format_interval(rec["estimate"], rec["ci_low"], rec["ci_high"]),
                transform=_fig_x(fig, ax), va="center", fontsize=8)
    ax.axvline(0.0, color="#555555", linestyle="--", linewidth=0.9, zorder=0)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.set_xlabel(textwrap.fill("SD change in the outcome per SD less social connection (positive = worse)", 40),
                  fontsize=8.5)
    for k, note in enumerate(notes):
        fig.text(0.01, (0.1 + 0.2 * (len(notes) - 1 - k)) / fig.get_figheight(),
                 textwrap.shorten(f"Not shown: {note}", 110), fontsize=7.5, color="#777777", style="italic")
    return fig


def triangulation_table(project: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    """Project and published rows in one tidy table, by outcome group (project rows first)."""
    published = pd.DataFrame({
        "outcome_group": anchors["outcome_group"], "source": "published",
        "label": anchors["citation"].str.split(",").str[0].str.rsplit(" ", n=1).str[0] + " et al. "
        + anchors["citation"].str.extract(r"(\d{4});", expand=False) + ": " + anchors["comparison"],
        "measure": anchors["measure"], "estimate": anchors["estimate"], "ci_low": anchors["ci_low"],
        "ci_high": anchors["ci_high"], "citation": anchors["citation"] + " doi:" + anchors["doi"],
        "bib_key": anchors["bib_key"]})
    table = pd.concat([project, published], ignore_index=True)
    table["outcome_group"] = pd.Categorical(table["outcome_group"], categories=list(GROUPS))
    table["_source"] = (table["source"] != "this project").astype(int)
    table = table.sort_values(["outcome_group", "_source"], kind="stable").drop(columns="_source")
    table["outcome_group"] = table["outcome_group"].astype(str)
    table["comparability"] = table["outcome_group"].map(GROUP_NOTES).fillna("")
    return table.reset_index(drop=True)


@styled
def triangulation_figure(table: pd.DataFrame) -> Figure:
    """Forest plot: project estimates (filled circles) and published anchors (open diamonds), log axis."""
    if table.empty:
        raise FigureError("triangulation_figure: no estimates to draw")
    rows = _grouped_rows(table)
    fig, ax, texts, ys = _forest_frame(rows, "Triangulation: this project's estimates (blue) beside published "
                                             "meta-analyses (grey)")
    values = []
    for row, text, y in zip(rows, texts, ys):
        if row["kind"] != "row":
            continue
        rec = row["rec"]
        ours = rec["source"] == "this project"
        colour = PALETTE[0] if ours else "#555555"
        err = np.array([[rec["estimate"] - rec["ci_low"]], [rec["ci_high"] - rec["estimate"]]])
        ax.errorbar([rec["estimate"]], [y], xerr=err, fmt="o" if ours else "D", color=colour, markersize=4.5,
                    mfc=colour if ours else "white", capsize=2.5, elinewidth=1.3)
        values += [rec["ci_low"], rec["ci_high"]]
        ax.text(0.02, y, text, transform=_fig_x(fig, ax), va="center", fontsize=8, color=colour, linespacing=1.0)
        measure = MEASURE_SHORT.get(rec["measure"], rec["measure"])
        ax.text(ESTIMATE_X, y, f"{measure} {format_interval(rec['estimate'], rec['ci_low'], rec['ci_high'])}",
                transform=_fig_x(fig, ax), va="center", fontsize=8)
    ax.set_xscale("log")
    lo, hi = min(values + [1.0]) / 1.1, max(values + [1.0]) * 1.1
    ax.set_xlim(lo, hi)
    ticks = [t for t in (0.5, 1, 1.5, 2, 3, 4) if lo <= t <= hi]  # spaced for a 1.6 in axis
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.axvline(1.0, color="#555555", linestyle="--", linewidth=0.9, zorder=0)
    ax.set_xlabel(textwrap.fill("Ratio (95% CI), less vs more social connection, log scale", 36), fontsize=8.5)
    return fig


def _fig_x(fig: Figure, ax):
    return transforms.blended_transform_factory(fig.transFigure, ax.transData)


def write_triangulation(reports: Path, anchors_path: Path, params: Params,
                        processed: Path = Path("data/processed")) -> list[Path]:
    """Read the metrics files that exist and the anchors; write ``reports/triangulation/triangulation.csv``
    and the figure ``reports/triangulation/triangulation.<format>``."""
    reports = Path(reports)

    def load(name: str) -> dict | None:
        path = reports / "metrics" / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    parts = [project_estimates(load("nhanes"), load("gss"), params), cohort_ratios(load("cohorts"))]
    project = pd.concat([p for p in parts if not p.empty] or parts[:1], ignore_index=True)
    table = triangulation_table(project, read_anchors(anchors_path))
    processed = Path(processed)

    def frame(name: str) -> pd.DataFrame | None:
        path = processed / f"{name}.parquet"
        if not path.exists():
            return None
        data = io.read_parquet(path)
        return data.astype({c: "float64" for c in data.columns
                            if pd.api.types.is_extension_array_dtype(data[c].dtype)
                            and pd.api.types.is_numeric_dtype(data[c].dtype)})

    standardised = standardised_estimates(
        {name: load(name) for name in ("places", "countries", "gss", "cohorts")},
        {name: frame(name) for name in ("places_county", "countries_panel", "gss_panel", "cohorts_panel")}, params)
    formats = tuple(params.reports.figure_formats)
    out = reports / "triangulation"
    with io.staged_outputs():
        written = [io.write_csv(out / "triangulation.csv", table)]
        written += write_figure(triangulation_figure(table), out / "triangulation", formats)
        written.append(io.write_csv(out / "standardised.csv", standardised))
        ran = standardised.loc[standardised["status"] == "ran"]
        if len(ran):
            # every study that ran adds rows (a user's restricted cohorts too): past a page's height the PDF prints
            # it in parts by outcome group, each with the list of studies not shown
            not_shown = standardised.loc[standardised["status"] != "ran"]
            written += write_in_parts(lambda part: standardised_figure(pd.concat([part, not_shown])), ran,
                                      "outcome_group", out / "standardised", formats)
    return written


def stage() -> str:
    """DVC stage ``triangulation``: this project's estimates beside published anchors, across designs."""
    written = write_triangulation(config.REPORTS, config.REFERENCE / "published_anchors.csv", load_params())
    return f"triangulation: {len(written)} files"
