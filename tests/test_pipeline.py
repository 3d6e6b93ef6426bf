"""The pipeline end to end on the mirror: `make repro` in a fresh copy of the repository.

Checks that every stage's outputs exist and hold what they should, that every file a stage read is
covered by its DVC deps (the run is traced, tests/trace/), that editing an estimator stales exactly the
stages that use it, that a second `dvc repro` is a no-op, that changing one model parameter leaves the
data stages alone, that rerunning stages gives byte-identical outputs, that a bad value keeps the last good
results, that the reviewer's pages work in a browser, and that a restricted file's canaries never reach the
reports. The README's commands run in tests/test_pipeline_readme.py, on a copy of the same build
(tests/support/pipeline.py: one cold run per test run, the two modules side by side on two workers).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis.core.clone import BIN
from analysis.core.clone import run as run_command
from analysis.stage_params import STAGE_PARAMS
from support.browser import Browser, BrowserNotFound, find_chromium, reviewer_pages
from support.canary import canary_strings, write_canary_cohort
from support.pipeline import env_for
from support.stage_deps import load_stages, read_param_trace, read_trace, uncovered

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def repo(pipeline_build, mirror):
    """The built copy of the repository (tests/support/pipeline.py: a fresh copy built by the README's own
    `make repro`, traced: every file and params key each stage read is recorded), its environment, the trace."""
    return pipeline_build.clone, env_for(pipeline_build.clone, mirror), pipeline_build.trace


def _run(cmd, cwd, env):
    return run_command(cmd, cwd, env)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_outputs_exist_and_are_sound(repo):
    dest, _, _ = repo
    table = pd.read_parquet(dest / "data/processed/nhanes.parquet")
    assert len(table) > 13_000
    records = pd.read_csv(dest / "reports/metrics/nhanes_models.csv")
    for col in ("study", "outcome", "exposure", "term", "estimate", "std_error", "ci_low", "ci_high",
                "p_value", "n", "events", "model", "covariate_set"):
        assert col in records.columns
    assert set(records["design"]) == {"design-based", "multilevel", "unweighted"}
    assert records["converged"].all(), records.loc[~records["converged"], ["outcome", "design", "note"]]
    assert (records["ci_low"] <= records["estimate"]).all() and (records["estimate"] <= records["ci_high"]).all()
    metrics = json.loads((dest / "reports/metrics/nhanes.json").read_text())
    assert metrics["sample"]["deaths"] > 4000
    for stem in ("table1", "regression_design_based", "regression_multilevel"):
        for ext in ("csv", "md", "html", "tex"):
            assert (dest / f"reports/tables/nhanes/{stem}.{ext}").stat().st_size > 0
    for stem in ("km_curves", "forest_design_based", "cohort_flow"):
        for ext in ("png", "svg"):
            assert (dest / f"reports/figures/nhanes/{stem}.{ext}").stat().st_size > 1000
    html = (dest / "reports/notebooks/01_nhanes_mortality.html").read_text()
    assert "Cohort flow" in html and "Traceback" not in html
    paper = (dest / "reports/paper.md").read_text()
    assert f"{metrics['sample']['deaths']:,} died" in paper
    top = metrics["estimates"]["all_cause_death"]["isolation_category:Isolated (2+) vs Connected (0)"]
    assert f"HR {top['estimate']:.2f} (95% CI {top['ci_low']:.2f}-{top['ci_high']:.2f})" in paper
    assert (dest / "reports/paper.html").stat().st_size > 50_000  # figures embedded
    assert (dest / "reports/paper.pdf").read_bytes().startswith(b"%PDF")


def test_gss_outputs_exist_and_are_sound(repo):
    dest, _, _ = repo
    panel = pd.read_parquet(dest / "data/processed/gss_panel.parquet")
    assert len(panel) == 14_610 and not panel.duplicated(["person_id", "wave"]).any()
    records = pd.read_csv(dest / "reports/metrics/gss_panel_models.csv")
    assert {"pooled_ols", "random_effects", "fixed_effects", "first_difference", "mundlak",
            "conditional_logit", "multilevel_linear"} <= set(records["model"])
    assert records["converged"].all(), records.loc[~records["converged"], ["outcome", "model", "note"]]
    metrics = json.loads((dest / "reports/metrics/gss.json").read_text())
    assert metrics["sample"]["person_waves"] == 14_610
    for stem in ("panel_estimators", "panel_tests", "attrition", "loneliness_2020"):
        for ext in ("csv", "md", "html", "tex"):
            assert (dest / f"reports/tables/gss/{stem}.{ext}").stat().st_size > 0
    for stem in ("panel_coefficients", "outcome_by_contact"):
        assert (dest / f"reports/figures/gss/{stem}.png").stat().st_size > 1000
    html = (dest / "reports/notebooks/02_gss_panel.html").read_text()
    assert "Attrition" in html and "Traceback" not in html
    paper = (dest / "reports/paper.md").read_text()
    fe = metrics["estimates"]["fair_poor_health"]["social_contact_index"]["fixed_effects"]
    assert f"two-way fixed effects {100 * fe['estimate']:.1f} percentage points" in paper


def test_second_repro_is_a_noop(repo):
    dest, env, _ = repo
    out = _run([str(BIN / "dvc"), "repro"], dest, env)
    assert "Running stage" not in out.stdout, out.stdout


def test_model_param_change_reruns_only_downstream(repo):
    """An edit to params.yaml stales the ``params`` stage (it declares the whole file); once it has rewritten the
    stages' files (the first thing `dvc repro` does), exactly the stages that declare the edited key are stale."""
    dest, env, _ = repo
    params = dest / "params.yaml"
    original = params.read_text()
    key = "nhanes.models.ph_test_alpha"
    readers = {name for name, keys in STAGE_PARAMS.items() if any(key == k or key.startswith(k + ".") for k in keys)}
    assert {"models_nhanes", "sensitivity_nhanes", "paper"} <= readers and "reach_nhanes" not in readers
    try:
        params.write_text(original.replace("ph_test_alpha: 0.01", "ph_test_alpha: 0.02"))
        assert set(json.loads(_run([str(BIN / "dvc"), "status", "--json"], dest, env).stdout)) == {"params"}
        _run([str(BIN / "dvc"), "repro", "params"], dest, env)
        changed = set(json.loads(_run([str(BIN / "dvc"), "status", "--json"], dest, env).stdout))
        assert changed == readers, changed ^ readers
    finally:
        params.write_text(original)
        _run([str(BIN / "dvc"), "repro", "params"], dest, env)  # the stages' files as they were: nothing stale
    assert not json.loads(_run([str(BIN / "dvc"), "status", "--json"], dest, env).stdout)


def test_rerun_gives_identical_tables(repo):
    dest, env, _ = repo
    files = sorted((dest / "reports/tables/nhanes").glob("*.csv")) + [dest / "reports/metrics/nhanes_models.csv"]
    before = {f.name: _sha(f) for f in files}
    _run([str(BIN / "dvc"), "repro", "--force", "--single-item", "models_nhanes"], dest, env)
    _run([str(BIN / "dvc"), "repro", "--force", "--single-item", "report_nhanes"], dest, env)
    after = {f.name: _sha(f) for f in files}
    assert before == after


def test_reviewer_views(repo):
    """The index links the paper and notebooks; the triangulation figure exists; DVC plots render offline."""
    dest, env, _ = repo
    index = (dest / "reports/index.html").read_text()
    for link in ("paper.html", "paper.pdf", "notebooks/01_nhanes_mortality.html", "notebooks/02_gss_panel.html",
                 "triangulation/triangulation.png"):
        assert f"href='{link}'" in index, link
    table = pd.read_csv(dest / "reports/triangulation/triangulation.csv")
    assert {"this project", "published"} == set(table["source"])
    _run([str(BIN / "dvc"), "plots", "show", "-o", str(dest / "plots-page")], dest, env)
    page = (dest / "plots-page/index.html").read_text()
    # images and vega charts; the vega scripts are inlined (their code mentions URLs, but nothing is loaded)
    assert "<img" in page and "vegaEmbed" in page
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?https?:", page, re.IGNORECASE)
    for link in ("notebooks/03_cohorts.html", "notebooks/04_places.html", "strobe.html"):
        assert f"href='{link}'" in index, link


def test_reviewer_pages_in_a_browser(repo, tmp_path):
    """The index, the paper (and the supplement, when the paper stage declares it) and a notebook, opened in
    headless Chromium at 1,280 px: no console error, no request leaving the machine, no broken link or image,
    no sideways scrolling."""
    dest, _, _ = repo
    try:
        chromium = find_chromium()
    except BrowserNotFound as err:
        pytest.fail(str(err))
    pages = reviewer_pages(dest)
    assert all(p.is_file() for p in pages), pages
    with Browser(chromium) as browser:
        reports = [browser.check(page) for page in pages]
    problems = [line for report in reports for line in report.problems()]
    assert not problems, "\n".join(problems)
    assert all(r.title and r.title != "Notebook" for r in reports), [r.title for r in reports]


def test_places_and_countries_outputs(repo):
    """The ecological studies: counties keyed by 5-digit FIPS, the country panel, records that say they
    are ecological, the notebook and the manuscript section."""
    dest, _, _ = repo
    county = pd.read_parquet(dest / "data/processed/places_county.parquet")
    assert county["fips"].str.fullmatch(r"\d{5}").all() and county["fips"].is_unique and "01001" in set(county["fips"])
    panel = pd.read_parquet(dest / "data/processed/countries_panel.parquet")
    assert not panel.duplicated(["iso3", "year"]).any()
    for name in ("places_models.csv", "countries_models.csv"):
        records = pd.read_csv(dest / "reports/metrics" / name)
        assert records["note"].str.contains("ECOLOGICAL").all(), name
        assert records["converged"].all(), name
    html = (dest / "reports/notebooks/04_places.html").read_text()
    assert "Traceback" not in html and "name map" in html
    paper = (dest / "reports/paper.md").read_text()
    supplement = (dest / "reports/supplement.md").read_text()
    assert "## Places: counties and countries" in paper and "Between countries" in paper
    assert "**Counties.**" in supplement and "**Countries.**" in supplement and "did not run" not in paper + supplement


def test_cohort_outputs(repo):
    """The ageing cohorts with no restricted file configured: the SYNTHETIC cohort runs through the RAND
    adapter and every model, the restricted studies are reported as not configured, every output made from
    the synthetic data says so, and the estimators recover its truth (most 95% CIs cover)."""
    dest, _, _ = repo
    status = pd.read_csv(dest / "data/processed/cohorts_studies.csv", keep_default_na=False)
    assert dict(zip(status["study"], status["status"])) == {
        "hrs": "not configured", "elsa": "not configured", "share": "not configured", "charls": "not configured",
        "synthetic": "ran"}
    records = pd.read_csv(dest / "reports/metrics/cohorts_models.csv")
    assert records["converged"].all(), records.loc[~records["converged"], ["model", "outcome", "note"]]
    assert records["study"].str.contains("SYNTHETIC").all() and records["note"].str.startswith("SYNTHETIC").all()
    truth = pd.read_csv(dest / "reports/metrics/cohorts_truth.csv")
    # depressive symptoms and cognition (3 estimators x 2 exposures each), death, CVD and dementia (3 x 2 each)
    assert len(truth) == 30 and truth["covered"].sum() >= 27, truth
    riclpm = pd.read_csv(dest / "reports/metrics/cohorts_riclpm.csv")
    assert riclpm["converged"].all() and len(riclpm) == 13
    for stem in ("trajectories_synthetic", "incidence_synthetic", "truth", "flow_synthetic"):
        assert (dest / f"reports/figures/cohorts/{stem}.png").stat().st_size > 1000
    assert "SYNTHETIC" in (dest / "reports/tables/cohorts/truth.md").read_text()
    html = (dest / "reports/notebooks/03_cohorts.html").read_text()
    assert "Traceback" not in html and "SYNTHETIC" in html
    # the SYNTHETIC software check lives in the supplement (section S6), not in the main paper's results
    supplement = (dest / "reports/supplement.md").read_text()
    assert "# S6. Ageing cohorts: the SYNTHETIC software check" in supplement
    assert "Not configured in this build, and therefore not run: HRS" in supplement
    assert "SYNTHETIC cohort (simulated people" not in (dest / "reports/paper.md").read_text()


def test_every_file_a_stage_read_is_covered_by_its_deps(repo):
    """The real check behind "deps correct by construction": each stage's reads during the cold run
    (its modules, its data, a notebook kernel's reads) against the stage's deps in dvc.yaml."""
    dest, _, trace = repo
    stages = load_stages(dest)
    reads = read_trace(trace)
    by_label = {stage.label: stage for stage in stages.values()}
    assert set(by_label) <= set(reads), f"stages that left no trace: {sorted(set(by_label) - set(reads))}"
    # (`make repro` also runs `python -m analysis check`, traced as "check": not a DVC stage, it has no deps)
    problems = {by_label[label].name: uncovered(by_label[label], files) for label, files in reads.items()
                if label in by_label}
    assert set(reads) - set(by_label) <= {"check"}, sorted(set(reads) - set(by_label))
    problems = {name: files for name, files in problems.items() if files}
    assert not problems, f"files read but not in the stage's deps: {problems}"
    assert "src/analysis/estimators/vcov.py" in reads[stages["models_nhanes"].label]


def test_every_params_key_a_stage_read_is_declared(repo):
    """Parameter deps that cannot go stale: every key each stage read through its typed settings during the
    cold run (a notebook kernel's reads included) is one of the stage's ``params:`` in dvc.yaml, or below one.
    A derived label (``"Depression (PHQ-9 >= {phq9_cutoff})"``) counts as a read of the value it states."""
    dest, _, trace = repo
    stages = load_stages(dest)
    reads = read_param_trace(trace)
    by_label = {stage.label: stage for stage in stages.values()}
    readers = {"models_nhanes", "clean_gss", "models_places", "report_countries", "clean_cohorts", "triangulation",
               "notebook_nhanes", "paper"}
    assert {stages[n].label for n in readers} <= set(reads), sorted(set(by_label) - set(reads))
    undeclared = {by_label[label].name: sorted(k for k in keys if not by_label[label].declares(k))
                  for label, keys in reads.items() if label in by_label}
    undeclared = {name: keys for name, keys in undeclared.items() if keys}
    assert not undeclared, f"params read but not declared in the stage's params: {undeclared}"
    # and no stage declares a key it never reads (a change to it would rerun the stage for nothing)
    unread = {}
    for name, stage in stages.items():
        keys = reads.get(stage.label, set())
        unread[name] = [p for p in stage.params if not any(
            k == p or k.startswith((p + ".", p + "[")) or p.startswith(k + ".") for k in keys)]
    unread = {name: keys for name, keys in unread.items() if keys}
    assert not unread, f"params declared but never read: {unread}"
    assert "nhanes.phq9_cutoff" in reads[stages["models_nhanes"].label]  # through the outcome's label


def test_a_bad_value_keeps_the_last_good_results(repo):
    """A typo'd value fails the check (as `make repro` runs it) before DVC removes anything; even a `dvc repro`
    started anyway keeps the git-tracked metrics (persist) and `dvc checkout` restores the cached outputs."""
    dest, env, _ = repo
    params = dest / "params.yaml"
    original = params.read_text()
    metrics = dest / "reports/metrics/nhanes.json"
    before = _sha(metrics)
    try:
        params.write_text(original.replace("phq9_cutoff: 10", "phq9_cutoff: ten"))
        check = run_command_status([str(BIN / "python"), "-m", "analysis", "check"], dest, env)
        assert check.returncode == 1 and "nhanes.phq9_cutoff = 'ten'" in check.stderr
        failed = run_command_status([str(BIN / "dvc"), "repro"], dest, env)
        assert failed.returncode != 0 and "nhanes.phq9_cutoff" in failed.stdout + failed.stderr
        assert _sha(metrics) == before
    finally:
        params.write_text(original)
    _run([str(BIN / "dvc"), "checkout"], dest, env)
    stale = set(json.loads(_run([str(BIN / "dvc"), "status", "--json"], dest, env).stdout))
    assert not stale, stale
    assert _sha(metrics) == before


def run_command_status(cmd, cwd, env):
    """Run and return the completed process whatever its exit status."""
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)


def test_editing_an_estimator_stales_every_stage_that_uses_it(repo):
    dest, env, trace = repo
    stages = load_stages(dest)
    reads = read_trace(trace)
    users = {name for name, stage in stages.items() if "src/analysis/estimators/vcov.py" in reads.get(stage.label, ())}
    assert {"models_nhanes", "models_gss", "models_places", "models_countries", "models_cohorts"} <= users
    path = dest / "src/analysis/estimators/vcov.py"
    original = path.read_text()
    try:
        path.write_text(original + "# an edit\n")
        stale = set(json.loads(_run([str(BIN / "dvc"), "status", "--json"], dest, env).stdout))
    finally:
        path.write_text(original)
    assert users <= stale, f"stages that read vcov.py but stayed up to date: {sorted(users - stale)}"
    # (the paper stage reads the studies' result functions, which import the estimators: it is a user now)
    assert not stale & {"fetch_nhanes", "clean_nhanes", "clean_gss", "synthetic_cohort"}, stale


def test_synthetic_cohort_rerun_is_byte_identical(repo):
    """The SYNTHETIC .dta carries a fixed header time stamp: a forced rerun changes no hash downstream."""
    dest, env, _ = repo
    dta = dest / "data/raw/cohorts/synthetic_rand.dta"
    before = _sha(dta)
    _run([str(BIN / "dvc"), "repro", "--force", "--single-item", "synthetic_cohort"], dest, env)
    assert _sha(dta) == before
    stale = set(json.loads(_run([str(BIN / "dvc"), "status", "--json"], dest, env).stdout))
    assert not stale, stale


def test_restricted_canary_never_reaches_the_reports(repo):
    """A restricted-layout file with canary ids and a canary value, run by `dvc repro` as the user's HRS file
    (tests/support/canary.py): no file under reports/ (text, HTML, notebooks, CSV, JSON, SVG, PNG
    metadata) may hold a canary. Runs on the build itself, after the checks above."""
    dest, env, _ = repo
    params_path = dest / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    fixture = dest.parent / f"{dest.name}-restricted" / "hrs_canary.dta"  # outside the project, as a user's file
    fixture.parent.mkdir(exist_ok=True)
    persons = write_canary_cohort(fixture, params["cohorts"]["synthetic"], persons=400, waves=14, seed=11)
    hrs = params["cohorts"]["studies"]["hrs"]
    # the canary file is written in the base (SYNTHETIC, one-file RAND) layout, not RAND + Harmonized HRS
    for key in ("join", "loneliness", "isolation_index", "carry_forward"):
        hrs.pop(key, None)
    hrs["variables"] = {}
    hrs["path"] = str(fixture)
    hrs["waves"] = {w: y for w, y in hrs["waves"].items() if int(w) <= 14}
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    _run([str(BIN / "dvc"), "repro"], dest, env)
    status = pd.read_csv(dest / "data/processed/cohorts_studies.csv").set_index("study")
    assert status.loc["hrs", "status"] == "ran" and bool(status.loc["hrs", "restricted"])
    panel = pd.read_parquet(dest / "data/processed/cohorts_panel.parquet", columns=["person_id"])
    assert panel["person_id"].astype(str).str.startswith("97531").any()  # the canaries are in the data
    hits = {}
    for path in sorted(p for p in (dest / "reports").rglob("*") if p.is_file()):
        data = path.read_bytes()
        found = [s for s in canary_strings(persons) if s.encode() in data]
        if found:
            hits[str(path.relative_to(dest))] = found[:3]
    assert not hits, f"restricted canaries in the reports: {hits}"
    assert "HRS" in (dest / "reports/notebooks/03_cohorts.html").read_text()


def test_every_pdf_of_the_paper_stage_typesets_cleanly(repo):
    """Every PDF the paper stage outputs (dvc.yaml), read glyph by glyph: no overlapping glyphs, no text outside
    the text block, no snake_case name in the running text, no caption parted from its figure."""
    from analysis.paper.manuscript import TEMPLATES
    from analysis.paper.typesetting import check_pdf, page_margins_cm

    repo, _, _ = repo
    outs = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]["paper"]["outs"]
    pdfs = [o if isinstance(o, str) else next(iter(o)) for o in outs]
    pdfs = [p for p in pdfs if p.endswith(".pdf")]
    assert pdfs, "the paper stage outputs no PDF"
    margins = page_margins_cm(TEMPLATES / "paper-typst.yaml")
    problems = {pdf: [str(p) for p in check_pdf(repo / pdf, margins)] for pdf in pdfs}
    assert problems == {pdf: [] for pdf in pdfs}
