"""Restricted cohort data never reach the reports: no individual row, small cells suppressed.

A tiny restricted "HRS" file (30 persons, canary ids and one canary value, tests/support/canary.py)
runs beside a public SYNTHETIC cohort through the clean, model and report code. Every file written under
reports/ is scanned for the canaries, and the tiny study's small cells must show the marker. The pipeline
test (tests/test_pipeline.py) does the same through `dvc repro`, notebooks and paper included.
"""

from __future__ import annotations

import copy
import json
import re

import pandas as pd
import pytest

from analysis.core import io
from analysis.core.disclosure import DisclosureRule, rule_of
from analysis.core.settings import DisclosureSettings, validate
from analysis.studies.cohorts.clean import build_cohort_panel, cohort_capability
from analysis.studies.cohorts.models import model_outputs
from analysis.studies.cohorts.report import (
    cohort_flow,
    estimates_table,
    studies_display,
    write_cohort_reports,
)
from analysis.studies.cohorts.settings import CohortsSettings
from analysis.studies.cohorts.synthetic import simulate_cohort, write_synthetic
from support.canary import canary_strings, write_canary_cohort

WAVES = 6
DISCLOSURE = DisclosureSettings(min_cell=11)
RULE = DisclosureRule(11)


def scan(root, needles: list[str]) -> dict[str, list[str]]:
    """Every file under ``root`` (bytes, so PNG metadata and binary files count) -> the needles it holds."""
    hits = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found = [n for n in needles if n.encode() in data]
        if found:
            hits[str(path.relative_to(root))] = found
    return hits


@pytest.fixture(scope="module")
def run(params, raw_params, tmp_path_factory):
    root = tmp_path_factory.mktemp("restricted")
    cohorts = copy.deepcopy(raw_params["cohorts"])  # plain YAML values, edited then validated as params.yaml is
    cohorts["synthetic"]["waves"] = WAVES
    frame, truth = simulate_cohort(validate(CohortsSettings, cohorts, "cohorts").synthetic, persons=1500)
    synthetic = root / "synthetic_rand.dta"
    write_synthetic(frame, synthetic)
    hrs = cohorts["studies"]["hrs"]
    # the canary file is written in the base (SYNTHETIC, one-file RAND) layout, not RAND + Harmonized HRS
    for key in ("join", "loneliness", "isolation_index", "carry_forward"):
        hrs.pop(key, None)
    hrs["variables"] = {}
    persons = write_canary_cohort(root / "hrs_canary.dta", cohorts["synthetic"], persons=30, waves=WAVES, seed=7)
    hrs["path"] = str(root / "hrs_canary.dta")
    hrs["waves"] = {w: y for w, y in hrs["waves"].items() if int(w) <= WAVES}
    assert hrs.get("restricted") is True
    cohorts["models"]["riclpm"]["waves"] = [1, 2, 3, 4]
    settings = validate(CohortsSettings, cohorts, "cohorts")
    # restricted, and without a loneliness key: the base layout's UCLA items, as the canary file has them
    assert settings.studies["hrs"].restricted and "loneliness" not in settings.studies["hrs"].model_fields_set
    panel, flow, status, _ = build_cohort_panel(settings, synthetic)
    processed, out = root / "processed", root / "reports"
    assert rule_of(DISCLOSURE) == RULE
    outputs = model_outputs(panel, status, settings.models, truth["truth"], RULE, out / "metrics")
    io.write_outputs({processed / "cohorts_flow.csv": flow, processed / "cohorts_studies.csv": status,
                      processed / "cohorts_capability.csv": cohort_capability(panel, settings, synthetic), **outputs})
    records, incidence = outputs[out / "metrics/cohorts_models.csv"], outputs[out / "metrics/cohorts_incidence.csv"]
    write_cohort_reports(processed, out, DISCLOSURE, tuple(params.reports.figure_formats))
    return {"out": out, "persons": persons, "flow": flow, "status": status, "records": records,
            "incidence": incidence, "panel": panel}


def test_the_restricted_file_ran_and_is_marked_restricted(run):
    status = run["status"].set_index("study")
    assert status.loc["hrs", "status"] == "ran" and bool(status.loc["hrs", "restricted"])
    assert not bool(status.loc["synthetic", "restricted"])
    assert status.loc["hrs", "persons"] == run["persons"] == 30
    assert run["panel"]["person_id"].astype(str).str.startswith("97531").any()  # the canaries are in the data


def test_no_canary_in_any_report(run):
    assert scan(run["out"], canary_strings(run["persons"])) == {}


def test_small_cells_of_the_restricted_study_are_suppressed(run):
    out = run["out"]
    flow = pd.read_csv(out / "tables/cohorts/flow_hrs.csv", dtype=str)
    assert (flow[["n", "excluded"]] == "<11").any().any(), flow
    raw = run["flow"].loc[run["flow"]["study"] == "hrs"].set_index("step")["n"]
    # no "before = after + excluded" relation holds a single hidden count
    shown = cohort_flow(run["flow"], "hrs", True, RULE)
    for i in shown.index[1:]:
        cells = [shown.at[i - 1, "n"], shown.at[i, "n"], shown.at[i, "excluded"]]
        assert sum(c == "<11" for c in cells) != 1, shown
    assert shown.attrs["hidden"] >= 2 and int(raw["persons in the file"]) == 30
    estimates = (out / "tables/cohorts/estimates.md").read_text()
    assert "suppressed" in estimates and "Restricted data: counts from 1 to 10" in estimates
    public = pd.read_csv(out / "tables/cohorts/estimates.csv", dtype=str)
    synthetic = public[public["Study"].str.contains("SYNTHETIC")]
    assert not (synthetic == "<11").any().any() and not (synthetic["Estimate (95% CI)"] == "suppressed").any()


def test_capability_table_and_heatmap_suppress_the_restricted_study(run):
    """The tiny restricted study (30 persons): every share rests on fewer than 11 observed or missing
    interviews somewhere, so its cells show the rule's marker "<11"; the SYNTHETIC rows are all shown."""
    table = pd.read_csv(run["out"] / "tables/cohorts/capability.csv", dtype=str, keep_default_na=False)
    waves = [c for c in table.columns if re.fullmatch(r"W\d+", c)]
    hrs = table.loc[~table["Study"].str.contains("SYNTHETIC"), waves]
    assert waves and (hrs == "<11").any().any()
    assert not hrs.apply(lambda col: col.str.match(r"^[1-9]\d?%$")).to_numpy().all()
    synthetic = table.loc[table["Study"].str.contains("SYNTHETIC"), waves]
    assert not (synthetic == "<11").any().any()
    svg = next((run["out"] / "figures/cohorts").glob("capability*.svg")).read_text()
    assert "suppressed (restricted data, fewer than 11)" in svg


def test_small_groups_leave_the_restricted_curves(run):
    incidence = run["incidence"]
    hrs = incidence[~incidence["study"].str.contains("SYNTHETIC")]
    assert (hrs["n"] >= 11).all()
    assert run["incidence"].attrs["left_out"], "the tiny study must have lost at least one group"
    svg = next((run["out"] / "figures/cohorts").glob("incidence_hrs*.svg")).read_text()
    assert "groups of fewer than 11 persons not shown" in svg


def test_records_file_hides_estimates_on_few_events(run):
    records = pd.read_csv(run["out"] / "metrics/cohorts_models.csv")
    hrs = records[~records["study"].str.contains("SYNTHETIC")]
    hidden = hrs["note"].str.startswith("SUPPRESSED")
    assert hidden.any() and hrs.loc[hidden, ["estimate", "events"]].isna().all().all()
    assert not (hrs.loc[~hidden, "events"].dropna().between(1, 10)).any()
    assert not records.loc[records["study"].str.contains("SYNTHETIC"), "note"].str.startswith("SUPPRESSED").any()


def test_metrics_hide_estimates_on_few_events(run):
    metrics = json.loads((run["out"] / "metrics/cohorts.json").read_text())
    hrs = next(v for k, v in metrics["estimates"].items() if "SYNTHETIC" not in k)
    entries = [m for outcome in hrs.values() for exposure in outcome.values() for m in exposure.values()]
    assert any(e.get("suppressed") for e in entries)
    assert metrics["studies"]["hrs"]["restricted"] is True and metrics["studies"]["synthetic"]["restricted"] is False


def test_tables_of_public_studies_are_untouched():
    status = pd.DataFrame([{"study": "synthetic", "label": "SYNTHETIC cohort", "status": "ran", "restricted": False,
                            "persons": 5, "person_waves_interviewed": 9, "note": ""}])
    shown = studies_display(status, RULE)
    assert shown.loc[0, "Persons"] == "5" and "Restricted data" not in shown.attrs["footnote"]
    records = pd.DataFrame([{"study": "SYNTHETIC cohort", "outcome_label": "Death", "exposure_label": "x", "term": "x",
                             "model": "cox_time_varying", "design": "unweighted", "sample": "main",
                             "estimate": 0.1, "ci_low": 0.0, "ci_high": 0.2,
                             "measure": "HR", "ratio": 1.1, "ratio_ci_low": 1.0, "ratio_ci_high": 1.2, "n": 40,
                             "events": 3}])
    assert estimates_table(records, set(), RULE).loc[0, "Events"] == "3"
    assert estimates_table(records, {"SYNTHETIC cohort"}, RULE).loc[0, "Events"] == "<11"
