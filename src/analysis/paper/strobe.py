"""The STROBE checklist for cohort studies, item by item: where the project's reports answer it, and how.

STROBE (von Elm et al. 2007, :data:`REFERENCE`) lists 22 items, some with sub-items (1a-b, 6a-b, 12a-e,
13a-c, 14a-c, 16a-c): :data:`ITEMS`. ``data/reference/strobe_cohort.csv`` has one row per item, with the
columns :data:`COLUMNS`:

* ``item``, ``section`` and ``recommendation`` (the cohort-study wording, paraphrased briefly);
* ``where``: one or more targets separated by ``" ; "``, each a built report file relative to the
  repository root (``reports/paper.md``, ``reports/notebooks/02_gss_panel.html``,
  ``reports/figures/gss/flow.png``), optionally followed by ``#`` and a heading of that file (its text,
  as in ``reports/paper.md#Statistical analysis``, or its HTML id); empty only when ``how`` says the
  item is not applicable or not reported;
* ``how``: one sentence on how the item is answered, or "Not applicable: ..." / "Not reported: ..."
  with the reason.

:func:`check_checklist` resolves every target against the built reports and raises :class:`StrobeError`
naming each item whose file or heading is missing (so a renamed heading in the paper is caught by the
pipeline, not by a reviewer); :func:`write_strobe` then writes ``reports/strobe.md`` and
``reports/strobe.html`` (plain HTML, inline CSS, no JavaScript), atomically and all-or-none. Links go to
the rendered page where there is one: a heading of ``paper.md`` links to the same heading of
``paper.html``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from analysis.core import config, io

REFERENCE = ("von Elm E, Altman DG, Egger M, Pocock SJ, Gøtzsche PC, Vandenbroucke JP; STROBE Initiative. The "
             "Strengthening the Reporting of Observational Studies in Epidemiology (STROBE) statement: guidelines "
             "for reporting observational studies. Lancet 2007;370:1453-1457. doi:10.1016/S0140-6736(07)61602-X")
#: Every item of the checklist for cohort studies, in order.
ITEMS: tuple[str, ...] = (
    "1a", "1b", "2", "3", "4", "5", "6a", "6b", "7", "8", "9", "10", "11", "12a", "12b", "12c", "12d", "12e",
    "13a", "13b", "13c", "14a", "14b", "14c", "15", "16a", "16b", "16c", "17", "18", "19", "20", "21", "22")
COLUMNS = ("item", "section", "recommendation", "where", "how")
#: How an item that the project does not answer begins (then a colon and the reason).
UNANSWERED = ("Not applicable", "Not reported")
SEPARATOR = " ; "
#: Items answered by an analysis that leaves a results file: when the file exists, the item may not say "Not
#: applicable" or "Not reported" (the checklist is held to what ran).
RAN: dict[str, str] = {"12b": "reports/metrics/nhanes_subgroups.csv", "12c": "reports/metrics/nhanes_mi.csv",
                       "12e": "reports/metrics/nhanes_sensitivity.csv"}
#: How the supplement names the documents a target points into.
DOCUMENT_NAMES = {"reports/paper.md": "Main paper", "reports/supplement.md": "Supplement"}
_FRAGMENT_SAFE = "-._~:()!,;=+@"  # left as they are in a link's #fragment (RFC 3986); others percent-encoded


class StrobeError(ValueError):
    """The checklist file is malformed, or an item points at a report file or heading that does not exist."""


@dataclass(frozen=True)
class Target:
    """One resolved ``where`` target: the text as written, the file (relative to the root), the heading it
    names (or None) and the link to show, relative to the reports folder."""

    text: str
    path: str
    heading: str | None
    href: str


def read_checklist(path: str | Path) -> pd.DataFrame:
    """The checklist, checked: the columns, every item of :data:`ITEMS` once and in order, and a ``how``
    (and, unless the item is not applicable or not reported, a ``where``) for each."""
    path = Path(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    absent = [c for c in COLUMNS if c not in frame.columns]
    if absent:
        raise StrobeError(f"{path}: no column {absent[0]!r} (needed: {', '.join(COLUMNS)})")
    frame = frame.loc[:, list(COLUMNS)].apply(lambda column: column.str.strip())
    items = list(frame["item"])
    if items != list(ITEMS):
        missing = [i for i in ITEMS if i not in items]
        extra = [i for i in items if i not in ITEMS]
        repeated = sorted({i for i in items if items.count(i) > 1})
        problem = (f"missing item(s) {', '.join(missing)}" if missing else
                   f"unknown item(s) {', '.join(extra)}" if extra else
                   f"repeated item(s) {', '.join(repeated)}" if repeated else "items out of order")
        raise StrobeError(f"{path}: {problem}; the rows must be the STROBE cohort items {ITEMS[0]} to {ITEMS[-1]} "
                          "in order, once each")
    for row in frame.itertuples():
        for column in ("section", "recommendation", "how"):
            if not getattr(row, column):
                raise StrobeError(f"{path}: item {row.item} has no {column}")
        if not row.where and not row.how.startswith(UNANSWERED):
            raise StrobeError(f"{path}: item {row.item} has no 'where'; point it at the report that answers it, "
                              f"or begin its 'how' with {' or '.join(repr(u) for u in UNANSWERED)} and say why")
    return frame


def _normal(text: str) -> str:
    return " ".join(text.replace("\u00b6", " ").split()).casefold()


def pandoc_id(heading: str) -> str:
    """Pandoc's automatic identifier of a heading: lower case, only letters, digits, ``_-.``, spaces as
    hyphens, nothing before the first letter ("The GSS panels: within-person" -> "the-gss-panels-within-person")."""
    text = re.sub(r"[^\w\s.-]", "", heading.lower())
    text = re.sub(r"\s+", "-", text.strip())
    return re.sub(r"^[\W\d_]+", "", text)


def headings(path: str | Path) -> list[tuple[str, str]]:
    """The headings of a Markdown or HTML file as (text, id); other files have none.

    Markdown: ATX headings (``#`` to ``######``) outside fenced code, id as pandoc would make it (or an explicit
    ``{#id}``). HTML: ``<h1>``-``<h6>`` elements with their text (tags and nbconvert's pilcrow stripped) and id.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    found = []
    if path.suffix.lower() in (".md", ".markdown"):
        fenced = False
        for line in text.splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            match = None if fenced else re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
            if match:
                title, explicit = re.match(r"^(.*?)\s*(?:\{#([^}\s]+)[^}]*\})?$", match.group(1)).groups()
                found.append((title, explicit or pandoc_id(title)))
    elif path.suffix.lower() in (".html", ".htm"):
        for match in re.finditer(r"<h[1-6]\b([^>]*)>(.*?)</h[1-6]\s*>", text, flags=re.S | re.I):
            ident = re.search(r"\bid\s*=\s*[\"']([^\"']*)[\"']", match.group(1))
            title = html.unescape(re.sub(r"<[^>]+>", "", match.group(2))).replace("\u00b6", "").strip()
            found.append((title, ident.group(1) if ident else ""))
    return found


def _find(heading: str, candidates: list[tuple[str, str]]) -> tuple[str, str] | None:
    wanted = _normal(heading)
    for title, ident in candidates:
        if _normal(title) == wanted or (ident and ident == heading.strip()):
            return title, ident
    return None


def resolve(item: str, target: str, root: Path, reports: Path) -> Target:
    """One ``where`` target of ``item`` checked against the built reports, with the link to show."""
    file_part, _, heading = target.partition("#")
    file_part, heading = file_part.strip(), heading.strip() or None
    root, reports = Path(root), Path(reports)
    path = root / file_part
    inside = path.resolve().is_relative_to((root / reports).resolve())
    if not file_part or not inside:
        raise StrobeError(f"STROBE item {item}: target {target!r} is not a file under {reports}/; point it at a "
                          "built report (e.g. reports/paper.md#Methods, reports/notebooks/02_gss_panel.html)")
    if not path.is_file():
        raise StrobeError(f"STROBE item {item}: target {target!r}: {file_part} does not exist; build it "
                          "(dvc repro) or correct the path in the checklist")
    base = (root / reports).resolve()
    link = path.resolve().relative_to(base).as_posix()
    if heading is None:
        return Target(target, file_part, None, link)
    match = _find(heading, headings(path))
    if match is None:
        known = "; ".join(t for t, _ in headings(path)) or "none"
        raise StrobeError(f"STROBE item {item}: target {target!r}: {file_part} has no heading {heading!r} "
                          f"(its headings: {known})")
    title, ident = match
    rendered = path.with_suffix(".html")
    if path.suffix.lower() == ".md" and rendered.is_file():  # link to the page a reader opens
        in_page = _find(title, headings(rendered))
        if in_page and in_page[1]:
            link, ident = rendered.resolve().relative_to(base).as_posix(), in_page[1]
    return Target(target, file_part, title, f"{link}#{quote(ident, safe=_FRAGMENT_SAFE)}" if ident else link)


def check_checklist(checklist: pd.DataFrame, root: str | Path = ".", reports: str | Path = "reports"
                    ) -> dict[str, list[Target]]:
    """Every item's targets resolved; one StrobeError listing every item whose file or heading is missing."""
    resolved: dict[str, list[Target]] = {}
    problems: list[str] = []
    for item, path in RAN.items():
        how = checklist.loc[checklist["item"] == item, "how"]
        if (Path(root) / path).is_file() and not how.empty and how.iloc[0].startswith(UNANSWERED):
            problems.append(f"STROBE item {item}: says {how.iloc[0].split(':')[0]!r}, but the analysis ran ({path} "
                            "exists); point it at the section that reports it")
    for row in checklist.itertuples():
        resolved[row.item] = []
        for target in filter(None, (t.strip() for t in row.where.split(SEPARATOR.strip()))):
            try:
                resolved[row.item].append(resolve(row.item, target, Path(root), Path(reports)))
            except StrobeError as err:
                problems.append(str(err))
    if problems:
        raise StrobeError(f"{len(problems)} STROBE target(s) not found in the built reports:\n" + "\n".join(problems))
    return resolved


def _status(how: str) -> str:
    for word in (*UNANSWERED, "Partly"):
        if how.startswith(word):
            return word.lower().replace(" ", "-")
    return "answered"


def _label(target: Target) -> str:
    """The link text: the file the link opens (not the source it was checked in), and the heading."""
    return target.href.split("#")[0] + (f" \u00a7 {target.heading}" if target.heading else "")


def supplement_markdown(checklist: pd.DataFrame, number: str) -> str:
    """The checklist as a Markdown table for the supplement (rendered before the reports it points into exist, so
    the links are built from the targets' text; the ``strobe`` stage checks them against the built reports)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    def link(target: str) -> str:
        file_part, _, heading = (t.strip() for t in target.partition("#"))
        name = DOCUMENT_NAMES.get(file_part)
        if name is None:
            href = file_part.removeprefix("reports/")
            return f"[{href}]({href}{'#' + pandoc_id(heading) if heading else ''})"
        page = "" if file_part == "reports/supplement.md" else "paper.html"
        return f"[{name} \u00a7 {heading}]({page}#{pandoc_id(heading)})" if heading else f"[{name}]({page or '#'})"

    lines = [f"**{number}. STROBE checklist for cohort studies: where the paper and the supplement answer each "
             f"item.** Items: von Elm et al. [@vonelm2007]; recommendations paraphrased.", "",
             "| Item | Recommendation | Where | How |", "|---|---|---|---|"]
    for row in checklist.itertuples():
        targets = [t.strip() for t in row.where.split(SEPARATOR.strip()) if t.strip()]
        where = "; ".join(link(t) for t in targets) or "-"
        lines.append(f"| {row.item} | {cell(row.recommendation)} | {where} | {cell(row.how)} |")
    return "\n".join(lines) + "\n"


def render_markdown(checklist: pd.DataFrame, targets: dict[str, list[Target]]) -> str:
    """``reports/strobe.md``: the checklist as a Markdown table, links relative to ``reports/``."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["# STROBE checklist (cohort studies): where this project answers each item", "",
             f"Items and their order: {REFERENCE}. Recommendations are paraphrased briefly. Generated from "
             "`data/reference/strobe_cohort.csv` by `python -m analysis paper strobe`, "
             "which checks that every file and "
             "heading named here exists in the built reports.", "",
             "| Item | Section | Recommendation | Where | How |", "|---|---|---|---|---|"]
    for row in checklist.itertuples():
        where = "<br>".join(f"[{cell(_label(t))}]({t.href.replace(' ', '%20')})" for t in targets[row.item]) or "-"
        lines.append(f"| {row.item} | {cell(row.section)} | {cell(row.recommendation)} | {where} | {cell(row.how)} |")
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 80rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.5rem; } .note { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; font-size: 0.85rem; width: 100%; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f4f6f8; position: sticky; top: 0; } td.item { font-weight: bold; white-space: nowrap; }
td.where a { display: block; } tr.partly td.how { background: #fdf6e3; }
tr.not-reported td.how { background: #fbeaea; } tr.not-applicable td.how { color: #666; }
.key span { padding: 0.1rem 0.4rem; margin-right: 0.6rem; }
"""


def render_html(checklist: pd.DataFrame, targets: dict[str, list[Target]]) -> str:
    """``reports/strobe.html``: the checklist as one table (plain HTML, inline CSS, no JavaScript)."""
    e = html.escape
    counts = pd.Series([_status(h) for h in checklist["how"]]).value_counts()
    summary = ", ".join(f"{counts.get(k, 0)} {k.replace('-', ' ')}" for k in
                        ("answered", "partly", "not-applicable", "not-reported"))
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<title>connected-health: STROBE checklist</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>STROBE checklist (cohort studies): where this project answers each item</h1>",
             f"<p class='note'>{e(REFERENCE)}. Recommendations are paraphrased briefly. Generated from "
             "<code>data/reference/strobe_cohort.csv</code> by <code>python -m analysis paper strobe</code>, "
             "which checks "
             "that every file and heading linked here exists in the built reports. "
             f"{len(checklist)} items: {e(summary)}.</p>",
             "<p class='note key'><span style='background:#fdf6e3'>partly answered</span>"
             "<span style='background:#fbeaea'>not reported</span></p>",
             "<table><thead><tr><th>Item</th><th>Section</th><th>Recommendation</th><th>Where</th><th>How</th>"
             "</tr></thead><tbody>"]
    for row in checklist.itertuples():
        where = "".join(f"<a href='{e(t.href)}'>{e(_label(t))}</a>" for t in targets[row.item]) or "&ndash;"
        parts.append(f"<tr id='item-{e(row.item)}' class='{_status(row.how)}'><td class='item'>{e(row.item)}</td>"
                     f"<td>{e(row.section)}</td><td>{e(row.recommendation)}</td><td class='where'>{where}</td>"
                     f"<td class='how'>{e(row.how)}</td></tr>")
    parts.append("</tbody></table></body></html>\n")
    return "\n".join(parts)


def write_strobe(checklist_path: str | Path, root: str | Path = ".", reports: str | Path = "reports") -> list[Path]:
    """Check the checklist against the built reports under ``root/reports``; write ``strobe.md`` and
    ``strobe.html`` there (all-or-none). Raises StrobeError, writing nothing, if a target is missing."""
    checklist = read_checklist(checklist_path)
    targets = check_checklist(checklist, root, reports)
    out = Path(root) / reports
    with io.staged_outputs():
        return [io.write_text(out / "strobe.md", render_markdown(checklist, targets)),
                io.write_text(out / "strobe.html", render_html(checklist, targets))]


def stage() -> str:
    """DVC stage ``strobe``: the STROBE checklist, every item's file and heading checked against the reports."""
    written = write_strobe(config.REFERENCE / "strobe_cohort.csv", Path("."), config.REPORTS)
    return "STROBE checklist: " + ", ".join(str(p) for p in written)
