"""The bibliography: every key the paper and the supplement cite is in data/reference/references.bib, every entry
there is cited (or is a published anchor's key), the anchors key into it, and the citation style is vendored with
its licence."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.paper import manuscript as paper
from support.config import ROOT

BIB = ROOT / "data" / "reference" / "references.bib"
TEMPLATES = [*sorted(paper.TEMPLATES.glob("*.md.j2")), *sorted(paper.TEMPLATES.glob("sections/*/*.md.j2"))]
ANCHORS = ROOT / "data" / "reference" / "published_anchors.csv"


def cited() -> set[str]:
    keys = set()
    for path in TEMPLATES:
        keys |= paper.citations(path.read_text(encoding="utf-8"))
    return keys | {"vonelm2007"}  # cited by the STROBE table the supplement renders (strobe.supplement_markdown)


def test_every_cited_key_is_in_the_bibliography_and_every_entry_is_cited():
    keys, anchors = paper.bibliography_keys(BIB), set(pd.read_csv(ANCHORS)["bib_key"])
    assert not cited() - keys, f"cited but missing from {BIB.name}: {sorted(cited() - keys)}"
    assert not keys - cited() - anchors, f"listed in {BIB.name} but never cited: {sorted(keys - cited() - anchors)}"
    assert anchors <= keys, f"anchors without an entry: {sorted(anchors - keys)}"


def test_citation_keys_are_found_and_a_missing_one_is_an_error(tmp_path):
    assert paper.citations("as shown [@a2010; @b_c-2]; see @d1999, mail x@y.org") == {"a2010", "b_c-2", "d1999"}
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{a2010,\n  title = {A}\n}\n@book{d1999,\n title = {D}}\n")
    assert paper.bibliography_keys(bib) == {"a2010", "d1999"}
    paper.check_citations({"paper": "[@a2010]"}, bib)
    with pytest.raises(paper.PaperError, match=r"supplement.md cites \['zz2000'\]"):
        paper.check_citations({"paper": "[@a2010]", "supplement": "[@zz2000; @d1999]"}, bib)


def test_dois_are_well_formed_and_the_style_is_vendored_with_its_licence():
    text = BIB.read_text(encoding="utf-8")
    dois = [line.split("{", 1)[1].rstrip("},") for line in text.splitlines() if line.strip().startswith("doi =")]
    assert len(dois) >= 20 and all(d.startswith("10.") and " " not in d for d in dois)
    assert paper.CSL.is_file() and "creativecommons.org/licenses/by-sa/3.0" in paper.CSL.read_text()
    assert "CC" in (paper.CSL.parent / "LICENSE.md").read_text() or "Creative Commons" in (
        paper.CSL.parent / "LICENSE.md").read_text()
