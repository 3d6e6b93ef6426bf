"""Where the project's files are: the project root, the data folders, the data mirror.

``params.yaml`` itself is read and checked by :mod:`analysis.core.settings` (the typed schema).
"""

from __future__ import annotations

import os
from pathlib import Path

MIRROR_ENV = "ANALYSIS_DATA_MIRROR"

#: Where stages read and write, relative to the project root (the folder DVC runs stages in).
RAW = Path("data/raw")
PROCESSED = Path("data/processed")
REPORTS = Path("reports")
REFERENCE = Path("data/reference")
REGISTRY = Path("data/sources.yaml")


class ConfigError(ValueError):
    """A knob in params.yaml (or data/sources.yaml) is missing or has a value we cannot use."""


def project_root() -> Path:
    """The folder holding ``params.yaml``: the working directory DVC runs stages in, else the repo."""
    env = os.environ.get("ANALYSIS_PROJECT_ROOT")
    if env:
        return Path(env).resolve()
    cwd = Path.cwd()
    if (cwd / "params.yaml").exists():
        return cwd
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "params.yaml").exists():
            return parent
    return cwd


def data_mirror(configured: str | None = None) -> Path | None:
    """The local mirror folder, if any: ``$ANALYSIS_DATA_MIRROR`` first, then ``configured`` (params.yaml
    ``data.mirror``)."""
    value = os.environ.get(MIRROR_ENV) or configured
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = project_root() / path
    return path.resolve()
