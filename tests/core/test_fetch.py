"""Fetch: mirror copies verify; corrupt, truncated or missing files fail clearly and leave nothing."""

from __future__ import annotations

import hashlib
import json
import lzma
from pathlib import Path

import pytest
import yaml

from analysis.core import fetch
from analysis.core.fetch import FetchError


def _registry(tmp_path: Path, mirror_rel: str, sha: str | None, fmt: str = "csv.xz", url: str | None = None) -> Path:
    reg = {
        "files": {
            "t_A": {"study": "t", "url": url or "https://wwwn.cdc.gov/Nchs/Nhanes/2005-2006/A_D.XPT",
                    "format": "xpt", "mirror": mirror_rel, "mirror_format": fmt, "dest": "t/A_D", "sha256": sha},
            "t_B": {"study": "t", "url": "https://example.invalid/B.dat", "format": "lmf_fixed_width",
                    "mirror": "lmf/B.dat", "mirror_format": "lmf_fixed_width", "dest": "t/B", "sha256": None},
        }
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(reg))
    return path


def _mirror(tmp_path: Path) -> tuple[Path, str]:
    mirror = tmp_path / "mirror"
    (mirror / "nh").mkdir(parents=True)
    (mirror / "lmf").mkdir()
    data = lzma.compress(b"SEQN,X\n1,2\n2,3\n")
    (mirror / "nh/A_D.csv.xz").write_bytes(data)
    (mirror / "lmf/B.dat").write_text("00002         1100110" + " " * 21 + " 77 76\n")
    return mirror, hashlib.sha256(data).hexdigest()


def test_mirror_fetch_records_provenance(tmp_path):
    mirror, sha = _mirror(tmp_path)
    reg = _registry(tmp_path, "nh/A_D.csv.xz", sha)
    raw = tmp_path / "raw"
    records = fetch.fetch_sources(reg, raw, mirror, manifest=raw / "t.manifest.json")
    assert (raw / "t/A_D.csv.xz").exists() and (raw / "t/B.dat").exists()
    assert {r["key"] for r in records} == {"t_A", "t_B"}
    rec = next(r for r in records if r["key"] == "t_A")
    assert rec["sha256"] == sha and rec["origin"] == "mirror" and rec["bytes"] > 0
    assert rec["publisher_url"].startswith("https://wwwn.cdc.gov/")
    assert (raw / "t.manifest.json").exists()


def test_a_refetch_of_the_same_bytes_leaves_the_manifest_byte_identical(tmp_path):
    """Refetching (any edit to the fetch code reruns the fetch stages) keeps each unchanged file's retrieval time, so
    the manifest is the same bytes and nothing that reads it reruns; a file whose bytes change gets a new time."""
    mirror, sha = _mirror(tmp_path)
    reg = _registry(tmp_path, "nh/A_D.csv.xz", sha)
    raw, manifest = tmp_path / "raw", tmp_path / "raw/t.manifest.json"
    fetch.fetch_sources(reg, raw, mirror, manifest=manifest)
    first = json.loads(manifest.read_text())
    for rec in first["files"]:  # as if fetched long ago
        rec["retrieved_at"] = f"2020-01-0{1 + (rec['key'] == 't_B')}T00:00:00+00:00"
    first["retrieved_at"] = "2020-01-02T00:00:00+00:00"
    manifest.write_text(json.dumps(first))
    fetch.fetch_sources(reg, raw, mirror, manifest=manifest)
    assert json.loads(manifest.read_text()) == first
    (mirror / "lmf/B.dat").write_text("00003         1100110" + " " * 21 + " 77 76\n")  # a new release of B
    fetch.fetch_sources(reg, raw, mirror, manifest=manifest)
    after = {rec["key"]: rec for rec in json.loads(manifest.read_text())["files"]}
    assert after["t_A"]["retrieved_at"] == "2020-01-01T00:00:00+00:00"
    assert after["t_B"]["retrieved_at"] > "2026" and after["t_B"]["sha256"] != first["files"][1]["sha256"]
    assert json.loads(manifest.read_text())["retrieved_at"] == after["t_B"]["retrieved_at"]
    manifest.write_text("{not json")  # an unreadable earlier manifest is simply replaced
    fetch.fetch_sources(reg, raw, mirror, manifest=manifest)
    assert len(json.loads(manifest.read_text())["files"]) == 2


def test_checksum_mismatch_fails_and_leaves_nothing(tmp_path):
    mirror, sha = _mirror(tmp_path)
    reg = _registry(tmp_path, "nh/A_D.csv.xz", "0" * 64)
    raw = tmp_path / "raw"
    with pytest.raises(FetchError, match="sha256 .* differs from the one recorded"):
        fetch.fetch_sources(reg, raw, mirror)
    assert not any(p.is_file() for p in raw.rglob("*")), list(raw.rglob("*"))


def test_truncated_xz_fails_and_leaves_nothing(tmp_path):
    mirror, _ = _mirror(tmp_path)
    data = (mirror / "nh/A_D.csv.xz").read_bytes()
    (mirror / "nh/A_D.csv.xz").write_bytes(data[: len(data) // 2])
    reg = _registry(tmp_path, "nh/A_D.csv.xz", None)
    raw = tmp_path / "raw"
    with pytest.raises(FetchError, match="truncated or corrupt"):
        fetch.fetch_sources(reg, raw, mirror)
    assert not any(p.is_file() for p in raw.rglob("*"))


def test_missing_mirror_file_names_it(tmp_path):
    mirror, _ = _mirror(tmp_path)
    reg = _registry(tmp_path, "nh/NOPE.csv.xz", None)
    with pytest.raises(FetchError, match=r"NOPE\.csv\.xz not found in the mirror"):
        fetch.fetch_sources(reg, tmp_path / "raw", mirror)


def test_offline_without_mirror_says_how_to_set_one(tmp_path):
    # port 9 on loopback: refused at once, so this test does not wait on a network
    reg = _registry(tmp_path, "nh/A_D.csv.xz", None, url="http://127.0.0.1:9/A_D.XPT")
    with pytest.raises(FetchError, match="ANALYSIS_DATA_MIRROR"):
        fetch.fetch_sources(reg, tmp_path / "raw", None, studies=["t"], retries=1, timeout=2)
    assert not any(p.is_file() for p in (tmp_path / "raw").rglob("*"))


def test_error_page_instead_of_xpt_is_caught(tmp_path):
    bad = tmp_path / "page.XPT"
    bad.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(FetchError, match="not a SAS transport"):
        fetch.check_content(bad, "xpt", "A_D")


def test_project_registry_is_complete(root):
    sources = fetch.load_registry(root / "data/sources.yaml")
    nhanes = [s for s in sources.values() if s.study == "nhanes"]
    lmf = [s for s in sources.values() if s.study == "nhanes_mortality"]
    # DEMO SSQ SMQ BMX BPQ DIQ MCQ HUQ HIQ ALQ PAQ x 5 cycles + DPQ (2005-2008)
    assert len(lmf) == 5 and len(nhanes) == 57
    for s in nhanes:
        assert s.url == f"https://wwwn.cdc.gov/Nchs/Nhanes/{s.cycle}/{s.table}.XPT"
        assert s.sha256 and len(s.sha256) == 64
    for s in lmf:
        assert s.url.startswith("https://ftp.cdc.gov/pub/Health_Statistics/NCHS/datalinkage/linked_mortality/")
