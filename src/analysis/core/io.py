"""Atomic output writing: a stage either produces all of its outputs or none.

Every writer here writes to a temporary file in the destination folder and renames it into place
(``os.replace`` is atomic on one filesystem), so a crash or a bad input never leaves a
half-written file where DVC or a reader expects a finished one.  ``staged_outputs`` extends this
to a whole stage: files are written under temporary names and renamed only when the stage's
function returns without error.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

_ACTIVE: list[list[tuple[Path, Path]]] = []
# mkstemp creates files readable by the owner only; outputs get the usual mode (0644 under umask 022).
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


def _temp_path(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    return Path(tmp)


def write_atomic(dest: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` then move the file to ``dest``.

    Inside a ``staged_outputs()`` block the move is deferred until the block ends without error.
    """
    dest = Path(dest)
    tmp = _temp_path(dest)
    try:
        write(tmp)
        os.chmod(tmp, _FILE_MODE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if _ACTIVE:
        _ACTIVE[-1].append((tmp, dest))
    else:
        os.replace(tmp, dest)
    return dest


@contextlib.contextmanager
def staged_outputs() -> Iterator[None]:
    """Defer the renames of every atomic write in the block; on error remove them all."""
    with deferred_outputs() as pending:
        yield
    for tmp, dest in pending:
        os.replace(tmp, dest)


@contextlib.contextmanager
def deferred_outputs() -> Iterator[list[tuple[Path, Path]]]:
    """Like :func:`staged_outputs`, but the renames are left to the caller: yields the list of (temporary file,
    destination) pairs written in the block, for :func:`adopt_outputs` in another process (a worker process
    writes figures; the stage's process renames them with its own outputs, all or none). On error the temporary
    files are removed."""
    pending: list[tuple[Path, Path]] = []
    _ACTIVE.append(pending)
    try:
        yield pending
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        _ACTIVE.remove(pending)


def adopt_outputs(pending: list[tuple[Path, Path]]) -> None:
    """Files written under :func:`deferred_outputs` (in any process): renamed into place now, or at the end of the
    enclosing :func:`staged_outputs` block, with its other outputs."""
    for tmp, dest in pending:
        if _ACTIVE:
            _ACTIVE[-1].append((tmp, dest))
        else:
            os.replace(tmp, dest)


def deferred_call(write: Callable[..., list[Path]], *args: Any, **kwargs: Any
                  ) -> tuple[list[Path], list[tuple[Path, Path]]]:
    """``write(*args, **kwargs)`` (a writer that returns the paths it wrote) under :func:`deferred_outputs`: its
    paths and the pending renames, for :func:`adopt_outputs` (a job for a worker process)."""
    with deferred_outputs() as pending:
        written = write(*args, **kwargs)
    return written, pending


def write_text(dest: str | Path, text: str) -> Path:
    return write_atomic(dest, lambda p: Path(p).write_text(text, encoding="utf-8"))


def write_bytes(dest: str | Path, data: bytes) -> Path:
    return write_atomic(dest, lambda p: Path(p).write_bytes(data))


def write_json(dest: str | Path, obj: Any) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=False, default=_json_default, allow_nan=False)
    return write_text(dest, text + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_csv(dest: str | Path, frame: pd.DataFrame, **kwargs: Any) -> Path:
    """CSV with a fixed float format, so two runs give byte-identical tables."""
    kwargs.setdefault("index", False)
    kwargs.setdefault("float_format", "%.10g")
    kwargs.setdefault("lineterminator", "\n")
    return write_atomic(dest, lambda p: frame.to_csv(p, **kwargs))


def write_parquet(dest: str | Path, frame: pd.DataFrame) -> Path:
    return write_atomic(dest, lambda p: frame.to_parquet(p, index=False))


def write_outputs(outputs: Mapping[str | Path, Any]) -> list[Path]:
    """Write every ``path -> content`` of a stage, all or none (one :func:`staged_outputs` block).

    The writer follows the suffix: ``.parquet`` and ``.csv`` take a DataFrame (:func:`write_parquet`,
    :func:`write_csv`), ``.json`` any JSON-able object, ``.md``/``.txt``/``.html`` a string.
    """
    writers = {".parquet": write_parquet, ".csv": write_csv, ".json": write_json, ".md": write_text,
               ".txt": write_text, ".html": write_text}
    written = []
    with staged_outputs():
        for dest, content in outputs.items():
            suffix = Path(dest).suffix
            if suffix not in writers:
                raise ValueError(f"{dest}: no writer for '{suffix}' files (use one of {sorted(writers)})")
            written.append(writers[suffix](dest, content))
    return written


def read_parquet(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """``pd.read_parquet`` through a Python file object.

    Every stage reads its inputs through these readers: a file opened by Python is seen by the audit hook
    that checks each stage's DVC deps (tests/test_stage_deps.py), where pyarrow's own C++ reader would not be.
    """
    with open(path, "rb") as handle:
        return pd.read_parquet(handle, **kwargs)


def read_csv(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """``pd.read_csv`` of a project file (pandas opens it with Python's ``open``)."""
    with open(path, "rb") as handle:
        return pd.read_csv(handle, **kwargs)


def read_json(path: str | Path) -> Any:
    """A JSON file, parsed."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def save_figure(fig: Any, dest_stem: str | Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Save a matplotlib figure as PNG (for the web) and SVG (for print), atomically.

    SVG output is made reproducible by fixing the hash salt and dropping the creation date.
    """
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "connected-health"
    stem = Path(dest_stem)
    written = []
    for fmt in formats:
        dest = stem.with_suffix(f".{fmt}")
        meta = {"Date": None} if fmt in ("svg", "pdf") else {"Software": None}
        written.append(
            write_atomic(
                dest,
                lambda p, fmt=fmt, meta=meta: fig.savefig(
                    p, format=fmt, dpi=200, bbox_inches="tight", metadata=meta
                ),
            )
        )
    return written
