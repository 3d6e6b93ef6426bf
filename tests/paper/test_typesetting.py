"""The typesetting check on small Typst-made PDFs that contain each fault it looks for, and on one that has none."""

from __future__ import annotations

from pathlib import Path

import pytest
import typst
from PIL import Image

from analysis.paper.typesetting import check_pdf, page_margins_cm

MARGIN_CM = 2.0
HEADER = f"#set page(width: 14cm, height: 12cm, margin: {MARGIN_CM}cm, numbering: \"1\")\n#set text(size: 10pt)\n"


def pdf_of(tmp_path: Path, body: str, name: str = "doc") -> Path:
    """``body`` compiled by the ``typst`` wheel under a 2 cm margin; ``figure.png`` (a grey block) is beside it."""
    Image.new("RGB", (300, 200), (120, 120, 120)).save(tmp_path / "figure.png")
    out = tmp_path / f"{name}.pdf"
    out.write_bytes(typst.compile((HEADER + body).encode(), root=str(tmp_path)))
    return out


def kinds(path: Path) -> list[str]:
    return sorted({p.kind for p in check_pdf(path, MARGIN_CM)})


CLEAN = """
= A clean page
Social connection and health: the hazard ratio was 1.27 (1.14-1.42). The code name `income_poverty_ratio` is set
as code, on purpose.

#figure(image("figure.png", width: 50%), caption: [A grey block.])
"""


def test_a_clean_document_passes(tmp_path):
    assert check_pdf(pdf_of(tmp_path, CLEAN), MARGIN_CM) == []


def test_overprinted_glyphs_are_found(tmp_path):
    body = "Before.\n\n#box[#place(dx: 0pt)[HR 1.33 (1.17-1.50)]#place(dx: 12pt)[OR 1.37]]\n\nAfter."
    problems = check_pdf(pdf_of(tmp_path, body), MARGIN_CM)
    assert [p.kind for p in problems] == ["overlap"]
    assert "HR" in problems[0].text or "OR" in problems[0].text


def test_text_outside_the_text_block_is_found(tmp_path):
    body = ("Inside.\n\n#box(width: 11.5cm)[A line that runs past the right margin of the page, because its box is "
            "wider than the text block.]")
    assert kinds(pdf_of(tmp_path, body)) == ["outside"]


def test_the_page_number_in_the_footer_is_allowed(tmp_path):
    assert kinds(pdf_of(tmp_path, "Some text.")) == []


def test_a_snake_case_name_in_running_text_is_found(tmp_path):
    problems = check_pdf(pdf_of(tmp_path, r"Adjusted for income\_poverty\_ratio and C(sex)."), MARGIN_CM)
    assert sorted(p.text.split("'")[1] for p in problems) == ["C(sex)", "income_poverty_ratio"]
    assert {p.kind for p in problems} == {"identifier"}


def test_a_figure_caption_on_the_next_page_is_found(tmp_path):
    body = '#image("figure.png", width: 60%)\n#pagebreak()\nFigure 1: A grey block, its caption on the next page.'
    problems = check_pdf(pdf_of(tmp_path, body), MARGIN_CM)
    assert [(p.page, p.kind) for p in problems] == [(2, "caption")]


def test_a_table_caption_left_at_the_foot_of_a_page_is_found(tmp_path):
    body = "#v(6.2cm)\nText.\n\nTable 2. A caption whose table went to the next page.\n#pagebreak()\n" \
           "#table(columns: 2, [a], [b])"
    problems = check_pdf(pdf_of(tmp_path, body), MARGIN_CM)
    assert [(p.page, p.kind) for p in problems] == [(1, "caption")]


def test_the_margins_are_read_from_the_pandoc_page_setup(tmp_path):
    setup = tmp_path / "page.yaml"
    setup.write_text("papersize: a4\nmargin:\n  x: 2cm\n  y: 2.2cm\n")
    assert page_margins_cm(setup) == pytest.approx((2.0, 2.2))
    setup.write_text("papersize: a4\n")
    with pytest.raises(ValueError, match="margin"):
        page_margins_cm(setup)
