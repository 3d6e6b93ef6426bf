"""Fetch the public files: download from the publisher, or copy from a local mirror; verify; record.

Every file the pipeline reads is listed in ``data/sources.yaml`` with its publisher URL and its path
inside a mirror (a local copy laid out like ours, ``../shared/data``). ``fetch_sources`` brings
each one into ``data/raw`` and writes ``data/raw/manifest.json`` with its provenance: where it came
from, bytes, sha256 and when (a refetch of the same bytes keeps the earlier time: the manifest is
unchanged, so nothing downstream reruns).

Guarantees:
* A file whose checksum differs from the one recorded in the registry, a truncated download, an
  empty or corrupt file: a ``FetchError`` naming the file, and nothing of the stage is left in
  ``data/raw`` (files are downloaded to temporary names and renamed only when all are verified).
* No network and no mirror: a ``FetchError`` that says how to set the mirror.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from analysis.core import config, io
from analysis.core.config import MIRROR_ENV, ConfigError
from analysis.core.settings import load_shared, read_yaml

EXTENSIONS = {"xpt": ".XPT", "csv.xz": ".csv.xz", "csv": ".csv", "lmf_fixed_width": ".dat", "parquet": ".parquet",
              "rda": ".rda", "xls": ".xls"}
XPT_MAGIC = b"HEADER RECORD*******LIBRARY HEADER RECORD"
XZ_MAGIC = b"\xfd7zXZ\x00"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # every Excel 97-2003 (.xls) workbook
PARQUET_MAGIC = b"PAR1"  # at the start and at the very end of every Parquet file
# R's save() files (.rda/.RData): a compressed stream whose content starts "RDX2\n" or "RDX3\n"
# (XDR binary, workspace format 2 or 3); R compresses with gzip (default), bzip2 or xz.
RDA_COMPRESSION = {b"\x1f\x8b": ("gzip", gzip.open), b"BZh": ("bzip2", bz2.open), XZ_MAGIC: ("xz", lzma.open)}
RDA_MAGICS = (b"RDX2\n", b"RDX3\n")


class FetchError(RuntimeError):
    """A public file could not be fetched or did not verify."""


@dataclass(frozen=True)
class Source:
    key: str
    study: str
    url: str
    format: str
    mirror: str
    mirror_format: str
    dest: str
    sha256: str | None = None
    bytes: int | None = None
    publisher_sha256: str | None = None
    cycle: str | None = None
    table: str | None = None
    licence: str | None = None

    def dest_path(self, raw_dir: Path, fmt: str) -> Path:
        return raw_dir / f"{self.dest}{EXTENSIONS[fmt]}"


def load_registry(path: str | Path) -> dict[str, Source]:
    """Read ``data/sources.yaml`` into Source records, checking the fields every entry needs."""
    reg = read_yaml(path)
    files = reg.get("files") or {}
    sources = {}
    for key, entry in files.items():
        for field in ("study", "url", "format", "mirror", "mirror_format", "dest"):
            if field not in entry:
                raise ConfigError(f"{path}: file '{key}' needs the field '{field}'")
        for field in ("format", "mirror_format"):
            if entry[field] not in EXTENSIONS:
                raise ConfigError(f"{path}: file '{key}' has unknown {field} '{entry[field]}'")
        known = {k: entry.get(k) for k in Source.__dataclass_fields__ if k != "key"}
        sources[key] = Source(key=key, **known)
    return sources


def select(sources: dict[str, Source], studies: list[str] | None) -> list[Source]:
    chosen = [s for s in sources.values() if not studies or s.study in studies]
    if not chosen:
        raise ConfigError(f"no source in the registry belongs to the studies {studies}")
    return chosen


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_content(path: Path, fmt: str, label: str) -> None:
    """Cheap structural checks that catch a truncated or wrong file before anyone parses it."""
    size = path.stat().st_size
    if size == 0:
        raise FetchError(f"{label}: the file is empty")
    with open(path, "rb") as fh:
        head = fh.read(64)
    if fmt == "xpt" and not head.startswith(XPT_MAGIC):
        raise FetchError(f"{label}: not a SAS transport (XPT) file (it starts {head[:20]!r}); "
                         "the server may have sent an error page")
    if fmt == "csv.xz":
        if not head.startswith(XZ_MAGIC):
            raise FetchError(f"{label}: not an xz-compressed file")
        try:
            with lzma.open(path) as fh:
                while fh.read(1 << 20):
                    pass
        except (lzma.LZMAError, EOFError) as err:
            raise FetchError(f"{label}: the xz stream is truncated or corrupt ({err})") from err
    if fmt == "csv":
        with open(path, "rb") as fh:
            _check_csv_text(fh.read(1 << 16), label)
    if fmt == "parquet":
        _check_parquet(path, head, label)
    if fmt == "rda":
        _check_rda(path, head, label)
    if fmt == "xls" and not head.startswith(OLE2_MAGIC):
        raise FetchError(f"{label}: not an Excel 97-2003 (.xls) workbook (it starts {head[:20]!r}); "
                         "the server may have sent an error page")
    if fmt == "lmf_fixed_width" and not head[:14].strip().isdigit():
        raise FetchError(f"{label}: does not look like a linked mortality file "
                         f"(columns 1-14 should hold SEQN, found {head[:14]!r})")


def _check_csv_text(start: bytes, label: str) -> None:
    """A CSV's first bytes: not an HTML/XML page (what a server sends instead of a missing file) and a header
    line with at least two delimited fields. Truncation cannot be seen in a plain CSV: the checksum (registry
    ``sha256`` / ``publisher_sha256``) and the readers' column checks catch it."""
    text = start.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] == b"<":
        raise FetchError(f"{label}: not a CSV file: it starts like an HTML/XML page ({text[:40]!r}); the server may "
                         "have sent an error page")
    header = text.split(b"\n", 1)[0]
    if not any(sep in header for sep in (b",", b";", b"\t")):
        raise FetchError(f"{label}: not a CSV file: its first line has no comma, semicolon or tab "
                         f"({header[:40]!r})")


def _check_parquet(path: Path, head: bytes, label: str) -> None:
    """Magic ``PAR1`` at both ends (a truncated file loses the footer) and a footer that parses."""
    with open(path, "rb") as fh:
        fh.seek(max(path.stat().st_size - 4, 0))
        tail = fh.read(4)
    if not head.startswith(PARQUET_MAGIC):
        raise FetchError(f"{label}: not a Parquet file (it starts {head[:20]!r})")
    if tail != PARQUET_MAGIC:
        raise FetchError(f"{label}: the Parquet file is truncated (no closing PAR1 footer)")
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except Exception as err:  # pyarrow raises several types for a damaged footer
        raise FetchError(f"{label}: the Parquet footer is corrupt ({err})") from err


def _check_rda(path: Path, head: bytes, label: str) -> None:
    """A gzip/bzip2/xz stream (or none) holding an R workspace (RDX2/RDX3), read to its end."""
    opener = next(((name, op) for magic, (name, op) in RDA_COMPRESSION.items() if head.startswith(magic)), None)
    if opener is None:
        if head.startswith(RDA_MAGICS):
            return  # saved uncompressed
        raise FetchError(f"{label}: not an R data file (.rda): expected a gzip, bzip2 or xz stream, "
                         f"found {head[:20]!r}; the server may have sent an error page")
    name, op = opener
    try:
        with op(path) as fh:
            inner = fh.read(5)
            while fh.read(1 << 20):
                pass
    except (OSError, EOFError, lzma.LZMAError) as err:
        raise FetchError(f"{label}: the {name} stream of the .rda file is truncated or corrupt ({err})") from err
    if not inner.startswith(RDA_MAGICS):
        raise FetchError(f"{label}: a {name} stream, but not an R workspace (starts {inner!r}, "
                         "expected RDX2 or RDX3)")


def _download(url: str, tmp: Path, timeout: float, retries: int, label: str) -> None:
    import requests

    last: Exception | None = None
    for attempt in range(1, retries + 1):
        try:
            with requests.get(url, stream=True, timeout=timeout) as resp:
                resp.raise_for_status()
                expected = int(resp.headers.get("Content-Length", 0)) or None
                got = 0
                with open(tmp, "wb") as fh, tqdm(total=expected, unit="B", unit_scale=True,
                                                 desc=label, leave=False) as bar:
                    for chunk in resp.iter_content(1 << 16):
                        fh.write(chunk)
                        got += len(chunk)
                        bar.update(len(chunk))
                if expected is not None and got != expected:
                    raise FetchError(f"{label}: download truncated ({got} of {expected} bytes) from {url}")
            return
        except (requests.RequestException, FetchError) as err:
            last = err
            if attempt < retries:
                time.sleep(min(2**attempt, 10))
    raise FetchError(
        f"{label}: could not download {url} after {retries} tries ({last}). "
        f"Without internet access, point the pipeline at a local copy of the public files: "
        f"export {MIRROR_ENV}=/path/to/mirror (ours: ../shared/data) or set data.mirror in params.yaml."
    )


def fetch_one(src: Source, raw_dir: Path, mirror: Path | None, timeout: float, retries: int) -> dict[str, Any]:
    """Bring one file into ``raw_dir`` (deferred rename inside ``io.staged_outputs``); return provenance."""
    if mirror is not None:
        origin = mirror / src.mirror
        fmt, expected_sha = src.mirror_format, src.sha256
        if not origin.exists():
            raise FetchError(f"{src.key}: {origin} not found in the mirror {mirror} "
                             f"(registry data/sources.yaml expects '{src.mirror}')")
        where = str(origin)
    else:
        fmt, expected_sha, where = src.format, src.publisher_sha256, src.url
    dest = src.dest_path(raw_dir, fmt)
    label = f"{src.key} ({where})"

    def write(tmp: Path) -> None:
        if mirror is not None:
            shutil.copyfile(origin, tmp)
        else:
            _download(src.url, tmp, timeout, retries, label)
        check_content(tmp, fmt, label)
        digest = sha256_of(tmp)
        if expected_sha and digest != expected_sha:
            raise FetchError(
                f"{label}: sha256 {digest} differs from the one recorded in data/sources.yaml "
                f"({expected_sha}); the file is corrupt, truncated or a different release"
            )

    io.write_atomic(dest, write)
    return {"key": src.key, "study": src.study, "cycle": src.cycle, "table": src.table,
            "origin": "mirror" if mirror is not None else "publisher", "location": where,
            "publisher_url": src.url, "format": fmt, "path": str(dest), "licence": src.licence}


def fetch_sources(registry: str | Path, raw_dir: str | Path, mirror: Path | None, *,
                  studies: list[str] | None = None, timeout: float = 60, retries: int = 3,
                  manifest: str | Path | None = None) -> list[dict[str, Any]]:
    """Fetch every registered file of ``studies`` into ``raw_dir`` and write the provenance manifest.

    All files are verified before any is renamed into place: the stage produces all or nothing.
    """
    raw_dir = Path(raw_dir)
    sources = select(load_registry(registry), studies)
    if mirror is not None and not Path(mirror).is_dir():
        raise FetchError(f"data mirror {mirror} is not a folder (set by {MIRROR_ENV} or data.mirror)")
    records = []
    with io.staged_outputs():
        for src in tqdm(sources, desc="fetch", unit="file"):
            records.append(fetch_one(src, raw_dir, mirror, timeout, retries))
    # checksums and sizes are taken from the files now in place
    manifest = Path(manifest) if manifest else raw_dir / "manifest.json"
    earlier = earlier_records(manifest)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for rec in records:
        path = Path(rec["path"])
        rec["bytes"] = path.stat().st_size
        rec["sha256"] = sha256_of(path)
        before = earlier.get(rec["key"], {})
        unchanged = "retrieved_at" in before and {k: v for k, v in before.items() if k != "retrieved_at"} == rec
        rec["retrieved_at"] = before["retrieved_at"] if unchanged else now
    latest = max((rec["retrieved_at"] for rec in records), default=now)
    io.write_json(manifest, {"retrieved_at": latest, "files": records})
    return records


def earlier_records(manifest: Path) -> dict[str, dict[str, Any]]:
    """The records of the manifest a previous fetch left (by key; none when there is none or it is unreadable).

    A file fetched again with the same bytes, from the same place, keeps the time its bytes were first retrieved,
    so refetching (any edit to the fetch code reruns the fetch stages) writes a byte-identical manifest and reruns
    nothing downstream: the notebooks and the reviewer index read the manifests. DVC leaves the manifest in place
    for this (``persist: true`` in dvc.yaml)."""
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", [])
        return {rec["key"]: rec for rec in files if isinstance(rec, dict) and "key" in rec}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def fetch_study(name: str, studies: list[str], registry: str | Path = config.REGISTRY) -> str:
    """The fetch stage of one study: its registry entries into ``data/raw``, with ``data/raw/<name>.manifest.json``.

    Reads the mirror from ``$ANALYSIS_DATA_MIRROR`` or ``params.yaml data.mirror`` (else downloads from the
    publishers) and the time-out and retries from ``params.yaml data``.
    """
    data = load_shared().data
    mirror = config.data_mirror(data.mirror)
    records = fetch_sources(registry, config.RAW, mirror, studies=studies,
                            timeout=data.timeout_seconds, retries=data.retries,
                            manifest=config.RAW / f"{name}.manifest.json")
    origin = f"mirror {mirror}" if mirror else "the publishers"
    return f"fetched {len(records)} files from {origin} into {config.RAW}"
