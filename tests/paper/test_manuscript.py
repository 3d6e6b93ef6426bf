"""The NHANES report stage and the manuscript, on a simulated analysis table.

The models run on the simulated table of test_nhanes_models (one covariate set, to keep it quick);
the report stage writes every table and figure; the manuscript must quote the metrics file's numbers,
change when they change, and refuse to render a placeholder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.core import io
from analysis.core.index import build_index, group_index
from analysis.estimators.reliability import cronbach_alpha, icc
from analysis.paper import manuscript as paper
from analysis.studies.nhanes.exposures import run_exposure_definitions
from analysis.studies.nhanes.imputation import run_multiple_imputation
from analysis.studies.nhanes.metrics import headline_metrics
from analysis.studies.nhanes.models import run_nhanes_models
from analysis.studies.nhanes.report import write_nhanes_reports
from analysis.studies.nhanes.schema import data_dictionary
from analysis.studies.nhanes.sensitivity import run_sensitivity, weight_test_records
from support.config import edited
from support.nhanes import fake_analysis_table


@pytest.fixture(scope="module")
def params(params):
    """The validated params.yaml (conftest's ``params``) cut down: one NHANES covariate set, PNG figures only."""
    sets = params.nhanes.models.covariate_sets
    return edited(params, **{"nhanes.models.covariate_sets": {"age_sex": sets["age_sex"]},
                             "nhanes.models.primary.covariate_set": "age_sex",
                             "nhanes.sensitivity.covariate_set": "age_sex", "reports.figure_formats": ["png"]})


@pytest.fixture(scope="module")
def reports(tmp_path_factory, params) -> Path:
    """A project folder after the clean, models and report stages, built from simulated data."""
    root = tmp_path_factory.mktemp("project")
    rng = np.random.default_rng(7)
    table = fake_analysis_table(n=1500)
    table = table[table["weight_interview"].notna()].reset_index(drop=True)  # NHANES: every SSQ respondent has one
    n = len(table)
    for column in ("partnered", "lives_alone", "emotional_support", "financial_support"):
        table[column] = pd.array(rng.binomial(1, 0.6, n), dtype="Int8")
    table["close_friends"] = pd.array(rng.integers(0, 10, n), dtype="Int16")
    table["self_rated_health"] = pd.Categorical(rng.choice(["Excellent", "Very good", "Good", "Fair", "Poor"], n),
                                                categories=["Excellent", "Very good", "Good", "Fair", "Poor"])
    nh = params.nhanes
    for name, spec in nh.indices.items():  # the indices over the simulated items, as the clean stage
        if all(item.variable in table for item in spec.items):
            table[name] = build_index(table, spec)
            for column, groups in spec.groupings_of(name).items():
                table[column] = group_index(table[name], groups)
    flow = pd.DataFrame({"step": [0, 1], "label": ["Simulated participants", "Complete data"],
                         "n": [n + 100, n], "excluded": [0, 100], "reason": ["", "Missing an SSQ item"]})
    processed, reports = root / "data" / "processed", root / "reports"
    records, ph_tests = run_nhanes_models(table, nh, progress=False)
    io.write_parquet(processed / "nhanes.parquet", table)
    io.write_csv(processed / "nhanes_flow.csv", flow)
    io.write_csv(processed / "nhanes_data_dictionary.csv", data_dictionary(table, {}))
    io.write_csv(reports / "metrics" / "nhanes_models.csv", records)
    io.write_csv(reports / "metrics" / "nhanes_ph_tests.csv", ph_tests)
    io.write_json(reports / "metrics" / "nhanes.json", headline_metrics(records, table, nh))
    quick = edited(nh, **{"imputation.m": 2, "imputation.burn_in": 2})
    io.write_csv(reports / "metrics" / "nhanes_mi.csv",
                 run_multiple_imputation(table, quick, progress=False, n_jobs=1))
    sensitivity, subgroups = run_sensitivity(table, nh, progress=False, n_jobs=1)
    io.write_csv(reports / "metrics" / "nhanes_exposures.csv",
                 run_exposure_definitions(table, nh, progress=False, n_jobs=1))
    io.write_csv(reports / "metrics" / "nhanes_sensitivity.csv", sensitivity)
    io.write_csv(reports / "metrics" / "nhanes_weight_tests.csv", weight_test_records(table, nh))
    io.write_csv(reports / "metrics" / "nhanes_subgroups.csv", subgroups)
    write_nhanes_reports(processed, reports, nh, tuple(params.reports.figure_formats))
    paper.draw_sample_flow(reports, params)  # the paper stage draws it before rendering
    return reports


def test_report_stage_writes_every_table_and_figure(reports, params):
    tables, figures = reports / "tables" / "nhanes", reports / "figures" / "nhanes"
    for stem in ("table1", "regression_design_based", "regression_multilevel", "regression_unweighted",
                 "ph_tests", "cohort_flow_table", "data_dictionary", "evalues", "multiple_imputation",
                 "exposure_definitions", "weight_tests", "dag_adjustment_sets_table", "multiplicity_summary",
                 "multiplicity_table"):
        for ext in ("csv", "md", "html", "tex"):
            assert (tables / f"{stem}.{ext}").stat().st_size > 0, f"{stem}.{ext}"
    for stem in ("km_curves", "forest_design_based", "forest_multilevel", "cohort_flow"):
        assert (figures / f"{stem}.png").stat().st_size > 5_000, stem
    assert not list(figures.glob("*.svg"))  # reports.figure_formats is respected
    ph = pd.read_csv(tables / "ph_tests.csv")
    assert len(ph) == len(pd.read_csv(reports / "metrics" / "nhanes_ph_tests.csv"))
    # one E-value row per headline HR/OR (design-based, the primary estimate's covariate set), each >= 1
    records = pd.read_csv(reports / "metrics" / "nhanes_models.csv")
    primary = params.nhanes.models.primary.covariate_set
    headline = records[(records["design"] == "design-based") & (records["covariate_set"] == primary)
                       & records["measure"].isin(["HR", "OR"])]
    ev = pd.read_csv(tables / "evalues.csv")
    assert len(ev) == len(headline) and (ev["E-value (estimate)"] >= 1).all() and (ev["E-value (CI limit)"] >= 1).all()


def test_paper_quotes_the_metrics_file(reports, params):
    metrics = json.loads((reports / "metrics" / "nhanes.json").read_text())
    text = paper.render_markdown(paper.context(reports, params), reports)
    est = metrics["estimates"]["all_cause_death"]["isolation_category:Isolated (2+) vs Connected (0)"]
    assert f"HR {est['estimate']:.2f} (95% CI {est['ci_low']:.2f}-{est['ci_high']:.2f})" in text
    assert f"{metrics['sample']['deaths']:,} of {metrics['sample']['analytic']:,} participants died" in text
    assert "primary estimate: HR" in text and "named in advance" in text


def test_paper_changes_when_a_result_changes(reports, params):
    """The primary estimate and its words follow nhanes_models.csv; the deaths follow nhanes.json."""
    before = paper.render_markdown(paper.context(reports, params), reports)
    models_path, metrics_path = reports / "metrics" / "nhanes_models.csv", reports / "metrics" / "nhanes.json"
    models_original, metrics_original = models_path.read_text(), metrics_path.read_text()
    records = pd.read_csv(models_path)
    primary = params.nhanes.models.primary
    row = ((records["design"] == primary.design) & (records["outcome"] == primary.outcome)
           & (records["covariate_set"] == primary.covariate_set)
           & (records["term"] == "isolation_category[Isolated (2+)]"))
    assert row.sum() == 1
    records.loc[row, ["ratio", "ratio_ci_low", "ratio_ci_high"]] = [3.21, 2.5, 4.1]
    metrics = json.loads(metrics_original)
    metrics["sample"]["deaths"] = 98_765
    try:
        records.to_csv(models_path, index=False)
        metrics_path.write_text(json.dumps(metrics))
        after = paper.render_markdown(paper.context(reports, params), reports)
        records.loc[row, ["ratio", "ratio_ci_low", "ratio_ci_high"]] = [0.5, 0.4, 0.6]
        records.to_csv(models_path, index=False)
        lower = paper.render_markdown(paper.context(reports, params), reports)
    finally:
        models_path.write_text(models_original)
        metrics_path.write_text(metrics_original)
    assert "HR 3.21 (95% CI 2.50-4.10)" in after and "HR 3.21" not in before
    assert "98,765 of" in after
    assert "had higher all-cause mortality (primary estimate: HR 3.21" in after
    assert "had lower all-cause mortality (primary estimate: HR 0.50" in lower  # the words follow the CI


def test_paper_refuses_placeholders_and_missing_results(reports, params, tmp_path):
    with pytest.raises(paper.PaperError, match="placeholder 'nan'"):
        paper.check_no_placeholders("The hazard ratio was nan.")
    with pytest.raises(paper.PaperError, match="nhanes.json"):
        paper.context(tmp_path, params)


@pytest.fixture(scope="module")
def built(reports, params) -> list[Path]:
    """The paper stage's files, built once from the simulated project (a build takes seconds: the tests below
    read the same build; the reproducibility check builds a second time)."""
    return paper.build_paper(reports, params, n_jobs=2)  # threads; the reproducibility check builds with one


@pytest.mark.slow
def test_build_paper_writes_markdown_html_and_pdf(built, reports, params):
    written = built
    assert [p.name for p in written] == ["sample_flow.png", "paper.md", "paper.html", "paper.pdf", "supplement.md",
                                         "supplement.html", "supplement.pdf"]
    pdf = (reports / "paper.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
    assert paper.build_paper(reports, params) and (reports / "paper.pdf").read_bytes() == pdf  # reproducible
    html = (reports / "paper.html").read_text()
    assert "data:image/png;base64" in html  # figures embedded: one file for reviewers
    assert "<table" in html and 'id="table-2"' in html and 'href="tables/nhanes/regression_design_based.csv"' in html
    assert 'id="TOC"' in html  # a table of contents
    supplement = (reports / "supplement.html").read_text()
    assert 'id="table-s7"' in supplement and 'href="supplement.html#table-s7"' in html  # cross-reference resolves
    assert "doi.org/10.7326/M16-2607" in supplement  # citeproc: the bibliography with DOIs


def test_paper_pdf_sets_its_tables_and_figures_without_a_layout_fault(built, reports):
    """The simulated paper's PDF: no overlapping glyphs, nothing outside the text block, no caption parted from
    its figure (the running text's words are the template's; the pipeline test checks those on the real paper)."""
    from analysis.paper.typesetting import check_pdf, page_margins_cm

    assert reports / "paper.pdf" in built
    margins = page_margins_cm(paper.TEMPLATES / "paper-typst.yaml")
    layout = [str(p) for p in check_pdf(reports / "paper.pdf", margins) if p.kind != "identifier"]
    assert layout == []
    html = (reports / "paper.html").read_text()
    assert '<td class="frac">' in html and 'href="tables/nhanes/regression_design_based.csv"' in html


# ---------------------------------------------------------------------------------------------
# The Methods sentence on measurement reliability quotes the clean stages' reliability files (same project
# fixture: building it takes half a minute)


def _records() -> tuple[pd.DataFrame, pd.DataFrame]:
    binary = pd.DataFrame({"x1": [1, 1, 1, 0], "x2": [1, 1, 0, 0], "x3": [1, 0, 0, 0]})  # KR-20 = 0.75
    ordinal = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [2, 2, 4, 4, 5], "c": [1, 3, 3, 5, 4]})  # alpha = 0.936
    nhanes = pd.DataFrame([{"study": "nhanes", "measure": "isolation_index", **cronbach_alpha(binary)},
                           {"study": "nhanes", "measure": "phq9_score", **cronbach_alpha(ordinal)}])
    long = pd.DataFrame([{"person": i, "wave": w + 1, "score": v}
                         for i, row in enumerate([[2, 3], [4, 6], [6, 7], [8, 8]]) for w, v in enumerate(row)])
    gss = pd.DataFrame([{"measure": "loneliness_score_2020", "panel": "2016-2020",
                         **cronbach_alpha(ordinal[["a", "b"]])},
                        {"measure": "social_contact_index", "panel": "all", **icc(long, "person", "wave", "score")}])
    return nhanes, gss


def test_methods_quote_the_reliability_files(reports, params):
    processed = reports.parent / "data" / "processed"
    nhanes, gss = _records()
    io.write_csv(processed / "nhanes_reliability.csv", nhanes)
    try:
        text = paper.render_markdown(paper.context(reports, params), reports, "supplement")
        kr20 = nhanes.iloc[0]
        assert (f"was KR-20 0.75 (95% CI {kr20['ci_low']:.2f} to {kr20['ci_high']:.2f}; n = 4) for the 4 "
                "isolation-index items and Cronbach's alpha 0.94") in text
        assert "in the GSS" not in text  # no GSS file: no GSS clause
        assert "(KR-20 0.75, n = 4)" in paper.render_markdown(paper.context(reports, params), reports)  # main text
        io.write_csv(processed / "gss_reliability.csv", gss)
        text = paper.render_markdown(paper.context(reports, params), reports, "supplement")
        assert "social contact index had ICC(A,1) 0.88" in text and "two-way, absolute agreement, single wave" in text
        # a changed file changes the text
        nhanes.loc[0, "estimate"] = 0.4321
        io.write_csv(processed / "nhanes_reliability.csv", nhanes)
        assert "was KR-20 0.43 " in paper.render_markdown(paper.context(reports, params), reports, "supplement")
    finally:
        for name in ("nhanes_reliability.csv", "gss_reliability.csv"):
            (processed / name).unlink(missing_ok=True)
    assert "Internal consistency" not in paper.render_markdown(paper.context(reports, params), reports, "supplement")


def test_gss_file_without_the_pooled_icc_is_an_error(tmp_path):
    nhanes, gss = _records()
    io.write_csv(tmp_path / "nhanes_reliability.csv", nhanes)
    io.write_csv(tmp_path / "gss_reliability.csv", gss[gss["measure"] != "social_contact_index"])
    with pytest.raises(paper.PaperError, match="pooled social_contact_index"):
        paper.reliability_context(tmp_path)


def test_pandoc_is_chosen_once_before_the_renders_and_must_write_typst(monkeypatch):
    """pypandoc chooses its pandoc on first use by trying each candidate and keeping the newest in a module global;
    a render thread starting meanwhile read the first candidate (Debian's pandoc 2.17, no Typst writer) and failed
    in CI. ``pandoc_path`` makes the choice in one thread before the renders: after it, the global holds the
    bundled pandoc. A pandoc without a Typst writer is a clear error, not pandoc's list of formats."""
    import pypandoc

    monkeypatch.setitem(vars(pypandoc), "__pandoc_path", None)  # as in a fresh process: nothing chosen yet
    monkeypatch.setitem(vars(pypandoc), "__version", None)
    path = paper.pandoc_path()
    assert vars(pypandoc)["__pandoc_path"] == path and path.endswith("pypandoc/files/pandoc")
    assert "typst" in pypandoc.get_pandoc_formats()[1]
    monkeypatch.setattr(pypandoc, "get_pandoc_version", lambda: "2.17.1.1")
    with pytest.raises(paper.PaperError, match=r"pandoc 2\.17\.1 at .* has no Typst writer.*>= 3\.1\.2"):
        paper.pandoc_path()
