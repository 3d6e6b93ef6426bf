"""The template's helpers: display-item ids from their numbers, cross-references that open the other document
when the item lives there, a table with its number, title, sample, notes and CSV link, figures that must exist,
blocks kept apart, the section hooks, and the word rules."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.paper import manuscript as paper


def test_anchor_and_ref_point_at_the_right_document():
    assert paper.anchor("Table S4") == "table-s4" and paper.anchor("Figure 2") == "figure-2"
    main, supplement = paper.make_ref("paper"), paper.make_ref("supplement")
    assert main("Table S4") == "[Table S4](supplement.html#table-s4)"
    assert main("Table 2") == "[Table 2](#table-2)"
    assert supplement("Table S4") == "[Table S4](#table-s4)"
    assert supplement("Table 2", "Table 2 of the paper") == "[Table 2 of the paper](paper.html#table-2)"


def test_table_has_number_title_sample_notes_and_csv(tmp_path):
    """The template's table(): the report stage's structured table set as raw HTML (id = the item's anchor, caption
    with the number, title and sample above, notes below, a CSV link) and raw Typst (labelled for references)."""
    import json

    from analysis.report.tables import table_spec

    folder = tmp_path / "tables" / "nhanes"
    folder.mkdir(parents=True)
    frame = pd.DataFrame({"Outcome": ["Death"], "E-value": ["1.77"]})
    spec = table_spec(frame, "E-values of the headline ratios", "Notes below.")
    (folder / "evalues.json").write_text(json.dumps(spec))
    table = paper.make_table(tmp_path)
    with pytest.raises(paper.PaperError, match="CSV is missing"):
        table("nhanes/evalues", "Table S9")
    (folder / "evalues.csv").write_text("Outcome,E-value\nDeath,1.77\n")
    text = table("nhanes/evalues", "Table S9", "the 11,230 participants")
    html = text[text.index("```{=html}"):text.index("```{=typst}")]
    typst = text[text.index("```{=typst}"):]
    assert 'id="table-s9"' in html and "<table-s9>" in typst  # the anchor ref() links to, in both renderings
    assert "Table S9. E-values of the headline ratios. Sample: the 11,230 participants." in html
    assert html.index("Table S9.") < html.index("Death") < html.index("Notes below.")
    assert 'href="tables/nhanes/evalues.csv"' in html
    assert paper.defined_ids(text) == {"table-s9"}  # found by the cross-reference check
    with pytest.raises(paper.PaperError, match="spec is missing"):
        (folder / "absent.csv").write_text("a\n1\n")
        table("nhanes/absent", "Table S1")


def test_figure_must_exist_and_carries_its_number(tmp_path):
    figure = paper.make_figure(tmp_path)
    with pytest.raises(paper.PaperError, match="figure not found"):
        figure("figures/x.png", "Figure 1", "Caption.")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "x.png").write_bytes(b"png")
    assert figure("figures/x.png", "Figure S3", " Caption. ", "80%") == (
        "![**Figure S3.** Caption.](figures/x.png){#figure-s3 width=80%}\n")
    assert paper.referenced_files("![**Figure 1.** see [Table 2](#table-2).](figures/x.png){#figure-1}") == [
        "figures/x.png"]
    assert paper.referenced_files("a link to [the flow](figures/gss/flow.png) embeds nothing") == []


def test_blocks_are_kept_apart_and_hooks_are_listed():
    assert paper.separate_blocks("text.\n## Heading\nmore\n**Limitations.** x\n") == (
        "text.\n\n## Heading\nmore\n\n**Limitations.** x\n")
    assert paper.separate_blocks("| a |\n**Table 1. T.** x\n") == "| a |\n**Table 1. T.** x\n"  # table rows alone
    assert all(s.startswith("sections/results/") and s.endswith(".md.j2") for s in paper.sections("results"))
    assert paper.sections("no-such-kind") == []


def test_word_rules():
    first, second = {"estimate": 1.5}, {"estimate": 1.2}
    assert paper.attenuation_words(first, second) == f"attenuated by {100 * (1 - 0.1823 / 0.4055):.0f}%"
    assert paper.attenuation_words(second, first).startswith("strengthened by")
    primary = {"estimate": 1.35, "ci_low": 1.20, "ci_high": 1.52}
    assert paper.agrees({"estimate": 1.42}, primary) and not paper.agrees({"estimate": 1.6}, primary)
    assert paper.direction({**primary, "measure": "HR"}) == "higher"
    null = {"measure": "HR", "estimate": 0.9, "ci_low": 0.8, "ci_high": 1.01}
    assert paper.direction(null) == "no clear difference in"


def test_a_reference_to_an_item_that_did_not_render_is_an_error():
    docs = {"paper": "see [Table 2](#table-2) and [Table S4](supplement.html#table-s4)\n::: {#table-2 .x}\n",
            "supplement": "::: {#table-s4 .x}\n[Table 2](paper.html#table-2)\n"}
    paper.check_cross_references(docs)
    with pytest.raises(paper.PaperError, match="refers to #figure-3 in paper"):
        paper.check_cross_references({**docs, "paper": docs["paper"] + "[Figure 3](#figure-3)"})


def test_a_link_to_a_section_that_did_not_render_becomes_text():
    text = ("# S3. NHANES: more\n\n[Supplement \u00a7 S3. NHANES: more](#s3.-nhanes-more); [S4](#s4.-gss); "
            "[Table S2](#table-s2)\n")
    out = paper.unlink_missing_sections(text)
    assert "[Supplement \u00a7 S3. NHANES: more](#s3.-nhanes-more)" in out  # the heading exists: kept
    assert "; S4;" in out and "[Table S2](#table-s2)" in out  # a missing section unlinked; display items left


def test_a_figure_taller_than_the_page_is_fitted_to_it_caption_links_and_all(tmp_path):
    """A figure that would print taller than the page gets the page's height (so its caption stays with it), also
    when its caption holds a link; a short figure keeps its width."""
    from PIL import Image

    from analysis.paper.manuscript import fit_figures_to_page

    Image.new("RGB", (100, 400)).save(tmp_path / "tall.png")
    Image.new("RGB", (400, 100)).save(tmp_path / "wide.png")
    markdown = ("![**Figure S5.** Tall; sample as [Table 2](paper.html#table-2).](tall.png){#figure-s5 width=100%}\n"
                "![**Figure S6.** Wide.](wide.png){#figure-s6 width=100%}\n")
    out = fit_figures_to_page(markdown, tmp_path, width_in=6.0, max_height_in=9.0).splitlines()
    assert out[0].endswith("(tall.png){#figure-s5 height=9.00in}")  # 6 in wide would be 24 in tall
    assert out[1].endswith("(wide.png){#figure-s6 width=100%}")
