"""A typesetting check of a PDF from its glyph positions (pdfplumber): what a referee sees, tested.

A referee of the 2026-12-07 draft found overprinted table cells (``HR1.33(1.17-H1.R50)1.37OR``), internal column
names in the running text (``income_poverty_ratio``) and captions on another page than their figures. Each of those
is a geometric fact about the PDF's glyphs, so :func:`check_pdf` finds it without anyone looking:

- **overlap**: two glyphs whose boxes cover each other (shrunk by a tolerance, so kerning and tight leading pass);
- **outside**: a glyph outside the text block (the page less its margins), except a lone page number in the footer;
- **identifier**: a snake_case name (``income_poverty_ratio``) or a formula term (``C(sex)``) in the running text,
  i.e. set in a proportional font (code spans, set in a monospaced font on purpose, are allowed);
- **caption**: a figure caption ("Figure 3. ...") with no image above it on its page (the figure went to the
  previous page), or a table caption ("Table 2. ...") as the last line of its page (the table went to the next).

:func:`check_pdf` returns the problems as short records (page, kind, text), so a test can print them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CM = 72 / 2.54  # PDF points per centimetre
PAGE_SETUP = Path(__file__).parent / "templates" / "paper-typst.yaml"  # the paper's page size and margins

#: snake_case (two or more lower-case parts) or a patsy/formulaic term such as C(sex).
IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\bC\([a-z_]+\)")
FIGURE_CAPTION = re.compile(r"^(?:Figure|Fig\.)\s+S?\d+[a-z]?[.:]\s")
TABLE_CAPTION = re.compile(r"^Table\s+S?\d+[a-z]?[.:]\s")
PAGE_NUMBER = re.compile(r"^\d{1,4}$")


@dataclass(frozen=True)
class Problem:
    page: int  # 1-based
    kind: str  # overlap | outside | identifier | caption
    text: str

    def __str__(self) -> str:
        return f"page {self.page}: {self.kind}: {self.text}"


def _is_mono(fontname: str) -> bool:
    return any(k in fontname.lower() for k in ("mono", "courier", "code"))


def _visible(chars: Iterable[dict]) -> list[dict]:
    return [c for c in chars if c["text"].strip() and c["x1"] > c["x0"] and c["bottom"] > c["top"]]


def overlapping_glyphs(chars: list[dict], shrink: float = 0.2) -> list[tuple[dict, dict]]:
    """Pairs of glyphs whose boxes, each shrunk by ``shrink`` of its width and height on every side, intersect.

    A sweep over x keeps it near-linear on a page of a few thousand glyphs."""
    boxes = []
    for c in chars:
        dx, dy = shrink * (c["x1"] - c["x0"]), shrink * (c["bottom"] - c["top"])
        boxes.append((c["x0"] + dx, c["x1"] - dx, c["top"] + dy, c["bottom"] - dy, c))
    boxes.sort(key=lambda b: b[0])
    pairs, active = [], []
    for box in boxes:
        active = [a for a in active if a[1] > box[0]]
        for a in active:
            if a[2] < box[3] and box[2] < a[3]:
                pairs.append((a[4], box[4]))
        active.append(box)
    return pairs


def _line_text(chars: list[dict], around: dict) -> str:
    """The glyphs on the line of ``around`` (same baseline band), left to right, for a readable message."""
    mid = (around["top"] + around["bottom"]) / 2
    line = sorted((c for c in chars if c["top"] <= mid <= c["bottom"]), key=lambda c: c["x0"])
    return "".join(c["text"] for c in line)[:90]


def text_lines(page) -> list[tuple[float, float, str]]:
    """(top, bottom, text) of each text line of a pdfplumber page, top to bottom."""
    return [(ln["top"], ln["bottom"], ln["text"].strip()) for ln in page.extract_text_lines() if ln["text"].strip()]


def check_page(page, number: int, margin: tuple[float, float], tolerance: float = 1.5) -> list[Problem]:
    """The problems of one pdfplumber page; ``margin`` (x, y in points) bounds the text block (a landscape page
    keeps its x margins left and right)."""
    problems: list[Problem] = []
    chars = _visible(page.chars)
    seen_lines: set[str] = set()
    for a, b in overlapping_glyphs(chars):
        line = _line_text(chars, a)
        if line not in seen_lines:
            seen_lines.add(line)
            problems.append(Problem(number, "overlap", f"{a['text']!r} and {b['text']!r} in {line!r}"))

    lines = text_lines(page)
    mx, my = margin
    # horizontally, Typst hangs line-end punctuation and hyphens up to about 3 pt into the margin on purpose
    left, right = mx - 2 * tolerance, page.width - mx + 2 * tolerance
    # vertically, a glyph's box reaches its font's ascent and descent, beyond the line the block holds
    top, bottom = my - 3 * tolerance, page.height - my + 3 * tolerance
    for t, btm, text in lines:
        inside_vertically = t >= top and btm <= bottom
        if not inside_vertically and PAGE_NUMBER.match(text) and btm <= page.height:
            continue  # the page number in the footer
        line_chars = [c for c in chars if c["top"] >= t - 0.5 and c["bottom"] <= btm + 0.5]
        out = [c for c in line_chars if c["x0"] < left or c["x1"] > right] if inside_vertically else line_chars
        if out:
            problems.append(Problem(number, "outside", f"{text[:80]!r} (x {min(c['x0'] for c in out):.0f}-"
                                                       f"{max(c['x1'] for c in out):.0f} pt, y {t:.0f} pt)"))

    for word in page.extract_words(extra_attrs=["fontname"], keep_blank_chars=False):
        if _is_mono(word["fontname"]):
            continue
        hit = IDENTIFIER.search(word["text"])
        if hit:
            problems.append(Problem(number, "identifier", f"{hit.group(0)!r} in {word['text']!r}"))

    images = [(im["top"], im["bottom"]) for im in page.images]
    body = [ln for ln in lines if not PAGE_NUMBER.match(ln[2])]
    for i, (t, _b, text) in enumerate(body):
        if FIGURE_CAPTION.match(text) and not any(im_bottom <= t + 2 for _im_top, im_bottom in images):
            problems.append(Problem(number, "caption", f"figure caption without its figure above: {text[:70]!r}"))
        if TABLE_CAPTION.match(text) and i == len(body) - 1:
            problems.append(Problem(number, "caption", f"table caption alone at the foot of the page: {text[:70]!r}"))
    return problems


def check_pdf(path: Path | str, margin_cm: float | tuple[float, float]) -> list[Problem]:
    """Every problem of the PDF at ``path`` whose text block is the page less ``margin_cm`` (one value, or x and y)
    on each side."""
    import pdfplumber

    mx, my = (margin_cm, margin_cm) if isinstance(margin_cm, (int, float)) else margin_cm
    with pdfplumber.open(str(path)) as pdf:
        return [p for i, page in enumerate(pdf.pages, 1) for p in check_page(page, i, (mx * CM, my * CM))]


def page_margins_cm(setup: Path) -> tuple[float, float]:
    """The x and y page margins (cm) of a pandoc metadata file for the Typst writer (``margin: {x: 2cm, y: ..}``)."""
    import yaml

    margin = (yaml.safe_load(setup.read_text(encoding="utf-8")) or {}).get("margin") or {}
    try:
        return tuple(float(str(margin[k]).removesuffix("cm")) for k in ("x", "y"))
    except (KeyError, ValueError) as err:
        raise ValueError(f"{setup}: needs 'margin: {{x: <n>cm, y: <n>cm}}'; the check needs the text block") from err


def main(argv: list[str] | None = None) -> int:
    """``python -m analysis.paper.typesetting PDF [PDF ...]``: print each problem; exit 1 if any."""
    import sys

    margin = page_margins_cm(PAGE_SETUP)
    failed = 0
    for pdf in argv if argv is not None else sys.argv[1:]:
        problems = check_pdf(pdf, margin)
        for p in problems:
            print(f"{pdf}: {p}")
        print(f"{pdf}: {len(problems)} problems")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
