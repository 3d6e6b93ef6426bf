"""The STROBE checklist: the data file has every cohort item (1-22 with their sub-items), every target is
checked against the built reports (a missing file or heading is an error naming the item and the target),
and the stage writes reports/strobe.md and strobe.html, all-or-none."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.paper import strobe
from support.config import ROOT

CHECKLIST = ROOT / "data" / "reference" / "strobe_cohort.csv"


def test_the_checklist_has_every_cohort_item_and_sub_item():
    checklist = strobe.read_checklist(CHECKLIST)
    items = list(checklist["item"])
    assert len(items) == 34
    assert sorted({int(re.match(r"\d+", i).group()) for i in items}) == list(range(1, 23))
    subs = {n: [i for i in items if re.fullmatch(rf"{n}[a-e]", i)] for n in (1, 6, 12, 13, 14, 16)}
    assert subs == {1: ["1a", "1b"], 6: ["6a", "6b"], 12: ["12a", "12b", "12c", "12d", "12e"],
                    13: ["13a", "13b", "13c"], 14: ["14a", "14b", "14c"], 16: ["16a", "16b", "16c"]}
    for row in checklist.itertuples():  # targets are built reports, or the item says why there is none
        targets = [t.strip() for t in row.where.split(";") if t.strip()]
        assert targets or row.how.startswith(strobe.UNANSWERED), row.item
        assert all(t.startswith("reports/") for t in targets), row.item
    assert set(checklist.loc[checklist["where"] == "", "item"]) == {"6b"}  # no matching: the one item not answered


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def built(tmp_path) -> Path:
    """A built reports tree: the paper (Markdown and its pandoc HTML), a notebook page and a figure."""
    write(tmp_path / "reports" / "paper.md", "---\ntitle: \"T\"\n---\n\n# Abstract\n\ntext\n\n# Methods\n\n"
                                             "## Data and participants\n\n```\n# not a heading\n```\n\n# Results\n")
    write(tmp_path / "reports" / "paper.html", '<h1 id="abstract">Abstract</h1><h1 id="methods">Methods</h1>'
                                               '<h2 id="data-and-participants">Data and\nparticipants</h2>')
    write(tmp_path / "reports" / "notebooks" / "02_gss_panel.html",
          '<h2 id="3.-Attrition">3. Attrition<a class="anchor-link" href="#3.-Attrition">\u00b6</a></h2>')
    write(tmp_path / "reports" / "figures" / "gss" / "flow.png", "png")
    return tmp_path


def checklist_file(tmp_path: Path, where: dict[str, str] | None = None) -> Path:
    """A checklist with every item pointing at the paper's Methods, except those in ``where``; 22 not reported."""
    where = {"22": "", **(where or {})}
    rows = [{"item": i, "section": "S", "recommendation": f"Do {i}.", "where": where.get(i, "reports/paper.md#Methods"),
             "how": "Not reported: no funding statement." if i == "22" else f"Answered {i} | here."}
            for i in strobe.ITEMS]
    path = tmp_path / "strobe_cohort.csv"
    pd.DataFrame(rows, columns=list(strobe.COLUMNS)).to_csv(path, index=False)
    return path


def test_targets_resolve_to_the_rendered_page(built):
    targets = strobe.check_checklist(strobe.read_checklist(checklist_file(built, {
        "13a": "reports/paper.md#Data and participants ; reports/figures/gss/flow.png",
        "12d": "reports/notebooks/02_gss_panel.html#3. Attrition", "1a": "reports/paper.md#abstract"})), built)
    assert [t.href for t in targets["13a"]] == ["paper.html#data-and-participants", "figures/gss/flow.png"]
    assert targets["12d"][0].href == "notebooks/02_gss_panel.html#3.-Attrition"
    assert targets["12d"][0].heading == "3. Attrition"
    assert targets["1a"][0].heading == "Abstract"  # matched case-insensitively (or by its id)
    assert targets["22"] == []


@pytest.mark.parametrize(("target", "message"), [
    ("reports/paper.md#Discussion", "item 18: target 'reports/paper.md#Discussion': reports/paper.md has no "
                                    "heading 'Discussion' \\(its headings: Abstract; Methods; Data and participants; "
                                    "Results\\)"),
    ("reports/notebooks/03_cohorts.html#1. Data", "item 18: target 'reports/notebooks/03_cohorts.html#1. Data': "
                                                  "reports/notebooks/03_cohorts.html does not exist"),
    ("notebooks/02_gss_panel.py", "item 18: target 'notebooks/02_gss_panel.py' is not a file under reports/"),
    ("reports/paper.md#not a heading", "has no heading 'not a heading'"),  # fenced code is not a heading
])
def test_a_missing_target_is_an_error_naming_the_item_and_the_target(built, target, message):
    checklist = strobe.read_checklist(checklist_file(built, {"18": target}))
    with pytest.raises(strobe.StrobeError, match=message):
        strobe.check_checklist(checklist, built)


def test_the_checklist_file_is_checked(tmp_path):
    path = checklist_file(tmp_path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame[frame["item"] != "12c"].to_csv(path, index=False)
    with pytest.raises(strobe.StrobeError, match="missing item\\(s\\) 12c"):
        strobe.read_checklist(path)
    checklist_file(tmp_path, {"7": ""})
    with pytest.raises(strobe.StrobeError, match="item 7 has no 'where'"):
        strobe.read_checklist(tmp_path / "strobe_cohort.csv")


def test_write_strobe_writes_markdown_and_html(built):
    path = checklist_file(built, {"12d": "reports/notebooks/02_gss_panel.html#3. Attrition"})
    written = strobe.write_strobe(path, built)
    assert sorted(p.name for p in written) == ["strobe.html", "strobe.md"]
    page = (built / "reports" / "strobe.html").read_text()
    assert "<script" not in page.lower() and "<style>" in page
    assert page.count("<tr id='item-") == len(strobe.ITEMS)
    assert "href='paper.html#methods'" in page and "href='notebooks/02_gss_panel.html#3.-Attrition'" in page
    assert "<tr id='item-22' class='not-reported'>" in page and "von Elm E" in page
    markdown = (built / "reports" / "strobe.md").read_text().splitlines()
    rows = [line for line in markdown if line.startswith("| ") and not line.startswith("| Item")]
    assert len(rows) == len(strobe.ITEMS)
    assert rows[0].startswith("| 1a | S | Do 1a. | [paper.html \u00a7 Methods](paper.html#methods) "
                              "| Answered 1a \\| here.")
    assert not [p for p in (built / "reports").iterdir() if p.name.startswith(".")]  # no temporary files


def test_write_strobe_writes_nothing_when_a_target_is_missing(built):
    path = checklist_file(built, {"5": "reports/paper.md#Setting"})
    with pytest.raises(strobe.StrobeError, match="item 5"):
        strobe.write_strobe(path, built)
    assert not (built / "reports" / "strobe.md").exists() and not (built / "reports" / "strobe.html").exists()


def test_pandoc_ids_match_pandoc():
    pypandoc = pytest.importorskip("pypandoc")
    titles = ["The GSS panels: within-person analysis", "1. Data (x), y", "Places: counties & countries (ecological)"]
    rendered = pypandoc.convert_text("\n\n".join(f"## {t}" for t in titles), "html", format="markdown")
    assert re.findall(r'id="([^"]+)"', rendered) == [strobe.pandoc_id(t) for t in titles]


def test_an_analysis_that_ran_is_never_not_applicable(built):
    """12b (subgroups) says 'Not applicable' while its results file exists: an error naming the item and the file."""
    path = checklist_file(built)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[frame["item"] == "12b", ["where", "how"]] = ["", "Not applicable: no subgroup analyses."]
    frame.to_csv(path, index=False)
    checklist = strobe.read_checklist(path)
    strobe.check_checklist(checklist, built)  # no results file: the item may say so
    write(built / strobe.RAN["12b"], "record,p_value\n")
    with pytest.raises(strobe.StrobeError, match="item 12b: says 'Not applicable', but the analysis ran"):
        strobe.check_checklist(checklist, built)


def test_the_supplement_table_links_match_their_targets():
    checklist = strobe.read_checklist(CHECKLIST)
    text = strobe.supplement_markdown(checklist, "Table S25")
    assert text.startswith("**Table S25. STROBE checklist")
    assert "[Main paper \u00a7 Abstract](paper.html#abstract)" in text
    assert "(#s3.-nhanes-imputation-sensitivity-subgroups-e-values-and-multiplicity)" in text  # the supplement's own
    assert "[figures/gss/flow.png](figures/gss/flow.png)" in text
    assert text.count("\n| ") == len(strobe.ITEMS) + 1
