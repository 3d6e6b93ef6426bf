"""Cohort tables and figures: every output from the SYNTHETIC cohort says so; studies not configured are listed."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from analysis.core import io
from analysis.core.settings import validate
from analysis.studies.cohorts.clean import build_cohort_panel, cohort_capability
from analysis.studies.cohorts.metrics import cohort_metrics
from analysis.studies.cohorts.models import run_cohort_models, run_riclpm, truth_table
from analysis.studies.cohorts.report import write_cohort_reports
from analysis.studies.cohorts.settings import CohortsSettings
from analysis.studies.cohorts.synthetic import simulate_cohort, write_synthetic


@pytest.fixture(scope="module")
def reports(params, raw_params, tmp_path_factory):
    """A small SYNTHETIC cohort (1,500 persons, 6 waves) through the clean and model stages into a tmp tree."""
    root = tmp_path_factory.mktemp("cohort_reports")
    raw = copy.deepcopy(raw_params["cohorts"])
    raw["synthetic"]["waves"] = 6
    raw["models"]["riclpm"]["waves"] = [1, 2, 3, 4]
    cohorts = validate(CohortsSettings, raw, "cohorts")
    frame, truth = simulate_cohort(cohorts.synthetic, persons=1500)
    dta = root / "synthetic_rand.dta"
    write_synthetic(frame, dta)
    panel, flow, status, _ = build_cohort_panel(cohorts, dta)
    labels = dict(zip(status["study"], status["label"]))
    spec = cohorts.models  # the typed settings the models_cohorts stage passes
    records, incidence = run_cohort_models(panel, spec, labels)
    riclpm = run_riclpm(panel, spec.riclpm, labels)
    checks = truth_table(records, truth["truth"])
    processed, out = root / "processed", root / "reports"
    io.write_csv(processed / "cohorts_flow.csv", flow)
    io.write_csv(processed / "cohorts_studies.csv", status)
    io.write_csv(processed / "cohorts_capability.csv", cohort_capability(panel, cohorts, dta))
    metrics = out / "metrics"
    io.write_csv(metrics / "cohorts_models.csv", records)
    io.write_csv(metrics / "cohorts_incidence.csv", incidence)
    io.write_csv(metrics / "cohorts_trajectories.csv", incidence.attrs["trajectories"])
    io.write_csv(metrics / "cohorts_truth.csv", checks)
    io.write_csv(metrics / "cohorts_riclpm.csv", riclpm)
    io.write_json(metrics / "cohorts.json", cohort_metrics(records, status, checks, riclpm))
    written = write_cohort_reports(processed, out, params.disclosure, tuple(params.reports.figure_formats))
    return out, written


def test_every_table_and_figure_is_written(reports):
    out, written = reports
    for stem in ("studies", "estimates", "riclpm", "truth"):
        for ext in ("csv", "md", "html", "tex"):
            assert (out / f"tables/cohorts/{stem}.{ext}").stat().st_size > 0
    for stem in ("trajectories_synthetic", "incidence_synthetic", "truth", "flow_synthetic"):
        assert (out / f"figures/cohorts/{stem}.png").stat().st_size > 1000
    assert all(p.exists() for p in written)


def test_synthetic_outputs_say_synthetic(reports):
    out, _ = reports
    for stem in ("estimates", "riclpm", "truth"):
        assert (out / f"tables/cohorts/{stem}.md").read_text().splitlines()[0].startswith("**SYNTHETIC"), stem
    for svg in (out / "figures/cohorts").glob("*.svg"):
        assert "SYNTHETIC" in svg.read_text(), svg.name


def test_restricted_studies_are_listed_as_not_configured(reports):
    out, _ = reports
    studies = (out / "tables/cohorts/studies.md").read_text()
    for label in ("HRS", "ELSA", "SHARE", "CHARLS"):
        assert label in studies
    assert studies.count("not configured") >= 4
    metrics = json.loads((out / "metrics/cohorts.json").read_text())
    assert metrics["studies"]["synthetic"]["status"] == "ran"
    # 6 within-person (CES-D, cognition: 3 estimators x 2 exposures each) + 18 hazards (death, CVD, dementia)
    assert metrics["synthetic_truth"]["checks"] == 30


def test_trajectories_rise_with_isolation(reports):
    """The mixed model's predicted depressive-symptom score is higher at every wave for a higher constant
    isolation level, and the cognition score lower (the SYNTHETIC truths: +0.20 and -0.30 per point)."""
    out, _ = reports
    traj = pd.read_csv(out / "metrics/cohorts_trajectories.csv")
    assert set(traj["outcome"]) == {"depression_score", "cognition_score"}
    for outcome, sign in (("depression_score", 1), ("cognition_score", -1)):
        wide = traj.loc[traj["outcome"] == outcome].pivot(index="time", columns="level", values="predicted")
        assert (sign * wide.diff(axis=1).iloc[:, 1:] > 0).all().all(), outcome
    assert (out / "figures/cohorts/trajectories_cognition_score_synthetic.png").exists()
