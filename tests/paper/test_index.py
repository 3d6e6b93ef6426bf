"""The reviewer index links every output and shows the provenance it read."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

import yaml

from analysis.paper.index import cited_files, paper_outputs, provenance, render_index


def test_index_links_outputs_and_shows_provenance(tmp_path):
    root, reports = tmp_path, tmp_path / "reports"
    for rel in ("paper.html", "paper.pdf", "strobe.html", "notebooks/01_x.html", "figures/a/fig.png",
                "figures/a/fig.svg", "tables/a/t.html", "tables/a/t.csv", "metrics/a.json"):
        (reports / rel).parent.mkdir(parents=True, exist_ok=True)
        (reports / rel).write_text("x")
    (root / "dvc.lock").write_text("schema: '2.0'\nstages:\n  clean:\n    cmd: x\n    outs:\n"
                                   "    - path: data/processed/t.parquet\n      md5: abc123\n      size: 3\n")
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "raw" / "s.manifest.json").write_text(json.dumps({"retrieved_at": "2026-01-01T00:00:00",
        "files": [{"key": "DEMO", "origin": "mirror", "location": "/m/DEMO.csv.xz", "bytes": 10,
                   "sha256": "f00d", "publisher_url": "https://example.org/DEMO.XPT"}]}))
    (root / "requirements.txt").write_text("# pins\npandas==2.3.3\nnot-a-real-package==1.0\n")
    (root / "dvc.yaml").write_text("stages:\n  paper:\n    cmd: x\n    outs:\n    - reports/paper.html\n"
                                   "    - reports/paper.pdf\n")
    prov = provenance(root)
    assert prov["outputs"] == [{"stage": "clean", "path": "data/processed/t.parquet", "md5": "abc123", "files": 1}]
    assert prov["sources"][0]["sha256"] == "f00d" and prov["sources"][0]["retrieved"] == "2026-01-01T00:00:00"
    assert {p["package"]: p["installed"] for p in prov["packages"]}["not-a-real-package"] == "not installed"
    page = render_index(reports, root)
    for link in ("paper.html", "paper.pdf", "strobe.html", "notebooks/01_x.html", "figures/a/fig.png",
                 "figures/a/fig.svg", "tables/a/t.html", "tables/a/t.csv", "metrics/a.json"):
        assert f"href='{link}'" in page, link
    assert "abc123" in page and "https://example.org/DEMO.XPT" in page


def test_provenance_records_python_and_the_lock_hash(tmp_path):
    """The lock's sha256 and the Python version are on the page; every locked package's version beside the
    installed one, read from the hashed lock format (continuation lines, hashes, annotations)."""
    reports = tmp_path / "reports"
    reports.mkdir()
    pandas = metadata.version("pandas")
    lock = (f"# THE LOCK\npandas=={pandas} \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
            "    # via -r requirements.in\n"
            "ruamel.yaml.clib==0.0.1 \\\n    --hash=sha256:cc\n    # via dvc\n"
            "not-a-real-package==1.0 \\\n    --hash=sha256:dd\n")
    (tmp_path / "requirements.txt").write_text(lock)
    prov = provenance(tmp_path)
    digest = hashlib.sha256(lock.encode()).hexdigest()
    assert prov["lock_sha256"] == digest and prov["python"] == platform.python_version()
    assert prov["packages"] == [
        {"package": "pandas", "pinned": pandas, "installed": pandas},
        {"package": "ruamel-yaml-clib", "pinned": "0.0.1", "installed": metadata.version("ruamel.yaml.clib")},
        {"package": "not-a-real-package", "pinned": "1.0", "installed": "not installed"}]
    page = render_index(reports, tmp_path)
    assert f"sha256 <code>{digest}</code>, pins 3 packages" in page
    assert f"Python {platform.python_version()}" in page
    assert "2 installed at another version or missing" in page
    (tmp_path / "requirements.txt").write_text(f"pandas=={pandas} \\\n    --hash=sha256:aa\n")
    assert "every one installed at its locked version" in render_index(reports, tmp_path)
    (tmp_path / "requirements.txt").unlink()
    assert "no lock (requirements.txt) found" in render_index(reports, tmp_path)


def test_index_links_the_paper_stage_outputs_and_every_file_they_cite(tmp_path):
    """The manuscript section follows the paper stage's outs in dvc.yaml (a supplement declared there is linked);
    every file the paper or supplement links to or names as a path is linked, relative to reports/; so are the
    reviewer's inputs and every other file under reports/ (the .ipynb beside each notebook, CSV tables)."""
    root, reports = tmp_path, tmp_path / "reports"
    files = {"reports/paper.md": "See ![flow](figures/a/flow.png), [the checklist](strobe.html#item-1), "
                                 "`params.yaml`, `reports/triangulation/tri.csv`, [web](https://doi.org/10.1/x), "
                                 "[gone](missing.csv) and `not/there.csv`.",
             "reports/paper.html": "<a href='#intro'>intro</a><img src='data:image/png;base64,AAAA'>",
             "reports/paper.pdf": "%PDF", "reports/supplement.md": "Data: `data/reference/published_anchors.csv`.",
             "reports/supplement.html": "<a href=\"simulation/cov.md\">coverage</a>",
             "reports/figures/a/flow.png": "x", "reports/strobe.html": "x", "reports/triangulation/tri.csv": "x",
             "reports/simulation/cov.md": "x", "reports/simulation/cov.csv": "x",
             "reports/notebooks/01_x.html": "x", "reports/notebooks/01_x.ipynb": "{}",
             "params.yaml": "x: 1", "data/reference/published_anchors.csv": "key"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    outs = ["reports/paper.md", "reports/paper.html", "reports/paper.pdf"]
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"paper": {"cmd": "x", "outs": outs}}}))
    page = render_index(reports, root)
    assert "supplement" not in page.split("<h2>Notebooks")[0]  # not declared yet: not in the manuscript list
    assert paper_outputs(root) == outs
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"paper": {"cmd": "x", "outs": [
        *outs, "reports/supplement.md", {"reports/supplement.html": {"cache": False}}]}}}))
    assert paper_outputs(root)[-2:] == ["reports/supplement.md", "reports/supplement.html"]
    documents = [root / f"reports/{n}" for n in ("paper.md", "paper.html", "supplement.md", "supplement.html")]
    assert cited_files(documents, root) == [Path(p) for p in (
        "reports/figures/a/flow.png", "reports/strobe.html", "params.yaml", "reports/triangulation/tri.csv",
        "data/reference/published_anchors.csv", "reports/simulation/cov.md")]
    page = render_index(reports, root)
    manuscript, cited = page.split("<h2>Notebooks")[0], page.split("<h2>Cited")[1].split("<h2>Inputs")[0]
    for name in ("paper.md", "paper.html", "paper.pdf", "supplement.md", "supplement.html"):
        assert f"href='{name}'" in manuscript, name
    for link in ("figures/a/flow.png", "strobe.html", "../params.yaml", "triangulation/tri.csv",
                 "../data/reference/published_anchors.csv", "simulation/cov.md"):
        assert f"href='{link}'" in cited, link
    assert "missing.csv" not in page and "not/there.csv" not in page and "doi.org" not in cited
    for link in ("notebooks/01_x.ipynb", "simulation/cov.csv", "../params.yaml",
                 "../data/reference/published_anchors.csv"):
        assert f"href='{link}'" in page, link


def test_long_provenance_values_wrap_in_their_cells(tmp_path):
    """Hashes, paths and URLs sit in cells that wrap anywhere (the page fits 1,280 px; the browser test checks)."""
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "raw" / "s.manifest.json").write_text(json.dumps({"files": [
        {"key": "DEMO", "sha256": "f" * 64, "publisher_url": "https://example.org/" + "a" * 80}]}))
    page = render_index(tmp_path / "reports", tmp_path)
    assert f"<td class='long hash'>{'f' * 64}</td>" in page
    assert "<td class='long'>https://example.org/" in page and "td.long { overflow-wrap: anywhere" in page


def test_the_index_stage_depends_on_every_document_it_reads():
    """The index reads the paper stage's Markdown and HTML outputs (for the files they cite): each must be a dep
    of the index stage, so a supplement added to the paper stage is added there too (and reruns the index)."""
    from support.config import ROOT
    from support.stage_deps import load_stages

    stages = load_stages(ROOT)
    documents = [o for o in stages["paper"].outs if o.endswith((".md", ".html"))]
    assert documents and all(d in paper_outputs(ROOT) for d in documents)
    missing = [d for d in documents if d not in stages["index"].deps]
    assert not missing, f"add {missing} to the deps of the index stage in dvc.yaml (it reads them)"
