"""The reviewer index links every output and shows the provenance it read."""

from __future__ import annotations

import json

from analysis.paper.index import provenance, render_index


def test_index_links_outputs_and_shows_provenance(tmp_path):
    root, reports = tmp_path, tmp_path / "reports"
    for rel in ("paper.html", "paper.pdf", "strobe.html", "notebooks/01_x.html", "figures/a/fig.png", "figures/a/fig.svg",
                "tables/a/t.html", "tables/a/t.csv", "metrics/a.json"):
        (reports / rel).parent.mkdir(parents=True, exist_ok=True)
        (reports / rel).write_text("x")
    (root / "dvc.lock").write_text("schema: '2.0'\nstages:\n  clean:\n    cmd: x\n    outs:\n"
                                   "    - path: data/processed/t.parquet\n      md5: abc123\n      size: 3\n")
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "raw" / "s.manifest.json").write_text(json.dumps({"retrieved_at": "2026-01-01T00:00:00",
        "files": [{"key": "DEMO", "origin": "mirror", "location": "/m/DEMO.csv.xz", "bytes": 10,
                   "sha256": "f00d", "publisher_url": "https://example.org/DEMO.XPT"}]}))
    (root / "requirements.txt").write_text("# pins\npandas==2.3.3\nnot-a-real-package==1.0\n")
    prov = provenance(root)
    assert prov["outputs"] == [{"stage": "clean", "path": "data/processed/t.parquet", "md5": "abc123", "files": 1}]
    assert prov["sources"][0]["sha256"] == "f00d" and prov["sources"][0]["retrieved"] == "2026-01-01T00:00:00"
    assert {p["package"]: p["installed"] for p in prov["packages"]}["not-a-real-package"] == "not installed"
    page = render_index(reports, root)
    for link in ("paper.html", "paper.pdf", "strobe.html", "notebooks/01_x.html", "figures/a/fig.png", "figures/a/fig.svg",
                 "tables/a/t.html", "tables/a/t.csv", "metrics/a.json"):
        assert f"href='{link}'" in page, link
    assert "abc123" in page and "https://example.org/DEMO.XPT" in page
