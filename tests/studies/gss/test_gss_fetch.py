"""Fetch, GSS: the registry's GSS entries, Parquet and .rda content checks, and the mirror copy."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma

import pandas as pd
import pytest

from analysis.core import fetch
from analysis.core.fetch import FetchError


def _parquet(path) -> None:
    pd.DataFrame({"firstid": ["0001", "0002"], "wave": [1.0, 2.0]}).to_parquet(path, index=False)


def test_parquet_check_accepts_a_parquet_file(tmp_path):
    path = tmp_path / "ok.parquet"
    _parquet(path)
    fetch.check_content(path, "parquet", "ok")


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) - 40], "truncated"),
    (lambda b: b"<html>404</html>" + b, "not a Parquet file"),
    (lambda b: b[:8] + b"\x00" * (len(b) - 12) + b[-4:], "footer is corrupt"),
])
def test_parquet_check_rejects_damaged_files(tmp_path, damage, message):
    path = tmp_path / "bad.parquet"
    _parquet(path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(FetchError, match=message):
        fetch.check_content(path, "parquet", "bad")


WORKSPACE = b"RDX3\nX\n" + bytes(range(256)) * 50  # the start of an R workspace, then payload


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress, lambda b: b])
def test_rda_check_accepts_gzip_bzip2_xz_and_plain(tmp_path, compress):
    path = tmp_path / "ok.rda"
    path.write_bytes(compress(WORKSPACE))
    fetch.check_content(path, "rda", "ok")


def test_rda_check_accepts_a_file_written_for_r(tmp_path):
    pyreadr = pytest.importorskip("pyreadr")
    path = tmp_path / "gss.rda"
    pyreadr.write_rdata(str(path), pd.DataFrame({"x": [1.0]}), df_name="gss", compress="gzip")
    fetch.check_content(path, "rda", "gss")


@pytest.mark.parametrize("content, message", [
    (gzip.compress(WORKSPACE, mtime=0)[:300], "truncated or corrupt"),
    (lzma.compress(WORKSPACE)[:200], "truncated or corrupt"),
    (b"<html>404 Not Found</html>", "not an R data file"),
    (gzip.compress(b"PK\x03\x04 a zip, not a workspace", mtime=0), "not an R workspace"),
])
def test_rda_check_rejects_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.rda"
    path.write_bytes(content)
    with pytest.raises(FetchError, match=message):
        fetch.check_content(path, "rda", "bad")


def test_registry_lists_the_four_gss_files(root):
    sources = fetch.load_registry(root / "data/sources.yaml")
    gss = {k: s for k, s in sources.items() if s.study == "gss"}
    assert set(gss) == {"gss_panel06_long", "gss_panel08_long", "gss_panel10_long", "gss_panel20"}
    for key, s in gss.items():
        assert s.url == f"https://github.com/kjhealy/gssr/raw/main/data/{key}.rda"
        assert (s.format, s.mirror_format, s.mirror, s.dest) == ("rda", "parquet", f"gss/{key}.parquet", f"gss/{key}")
        assert len(s.sha256) == 64 and s.bytes > 1_000_000 and s.licence == "norc_gss"


def test_gss_mirror_fetch_verifies_and_records(mirror, root, tmp_path):
    raw = tmp_path / "raw"
    records = fetch.fetch_sources(root / "data/sources.yaml", raw, mirror, studies=["gss"],
                                  manifest=raw / "gss.manifest.json")
    assert sorted(p.name for p in (raw / "gss").iterdir()) == [
        "gss_panel06_long.parquet", "gss_panel08_long.parquet", "gss_panel10_long.parquet", "gss_panel20.parquet"]
    manifest = json.loads((raw / "gss.manifest.json").read_text())
    assert {r["key"] for r in manifest["files"]} == {r["key"] for r in records}
    registry = fetch.load_registry(root / "data/sources.yaml")
    for rec in records:
        assert rec["sha256"] == registry[rec["key"]].sha256 and rec["bytes"] == registry[rec["key"]].bytes
        assert rec["origin"] == "mirror" and rec["publisher_url"].endswith(".rda")
