"""Fetch, US counties: the registry's `places` entries, the CSV content check, and the mirror copy."""

from __future__ import annotations

import json

import pytest

from analysis.core import fetch
from analysis.core.fetch import FetchError
from analysis.studies.places.schema import CHR_MEASURES

GITHUB = "https://raw.githubusercontent.com/County-Health-Rankings-and-Roadmaps/county_health_measure_calculations/"


def test_registry_lists_places_chr_analytic_and_measure_files(root):
    sources = fetch.load_registry(root / "data/sources.yaml")
    places = {k: s for k, s in sources.items() if s.study == "places"}
    assert len(places) == 3 + len(CHR_MEASURES)
    cdc = places["places_county_2024"]
    assert cdc.url == "https://data.cdc.gov/api/views/i46a-9kgh/rows.csv?accessType=DOWNLOAD"
    assert (cdc.format, cdc.mirror_format, cdc.dest) == ("csv", "csv.xz", "places/PLACES_county_2024")
    assert "public domain" in cdc.licence
    for year in (2010, 2011):
        s = places[f"chr_analytic_{year}"]
        assert s.url == f"https://www.countyhealthrankings.org/sites/default/files/analytic_data{year}.csv"
        assert s.dest == f"places/analytic_data{year}"
    for m in CHR_MEASURES:
        s = places[f"chr_{m.code}_{m.release}"]
        assert s.url.startswith(GITHUB) and s.url.endswith(f"/measure_datasets/{m.code}_{m.release}.csv")
        assert s.dest == f"places/{m.code}_{m.release}" and "CC BY-NC-SA" in s.licence
    for s in places.values():
        assert len(s.sha256) == 64 and s.bytes > 10_000


def test_csv_check_accepts_csv_and_rejects_error_pages(tmp_path):
    good = tmp_path / "ok.csv"
    good.write_bytes(b"\xef\xbb\xbfstatecode,countycode\n01,001\n")
    fetch.check_content(good, "csv", "ok")
    for content, message in ((b"\n  <!DOCTYPE html><html>Not found</html>", "HTML/XML page"),
                             (b"just one line of text without delimiters\n", "no comma, semicolon or tab")):
        bad = tmp_path / "bad.csv"
        bad.write_bytes(content)
        with pytest.raises(FetchError, match=message):
            fetch.check_content(bad, "csv", "bad")


def test_places_mirror_fetch_verifies_and_records(mirror, root, tmp_path):
    raw = tmp_path / "raw"
    records = fetch.fetch_sources(root / "data/sources.yaml", raw, mirror, studies=["places"],
                                  manifest=raw / "places.manifest.json")
    names = sorted(p.name for p in (raw / "places").iterdir())
    assert "PLACES_county_2024.csv.xz" in names and "analytic_data2010.csv" in names and "v044_r2025.csv" in names
    registry = fetch.load_registry(root / "data/sources.yaml")
    manifest = json.loads((raw / "places.manifest.json").read_text())
    assert {r["key"] for r in manifest["files"]} == {k for k, s in registry.items() if s.study == "places"}
    for rec in records:
        assert rec["sha256"] == registry[rec["key"]].sha256 and rec["origin"] == "mirror"
