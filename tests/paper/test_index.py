"""The reviewer index links every output and shows the provenance it read."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata

from analysis.paper.index import provenance, render_index


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
