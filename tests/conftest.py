"""Shared fixtures: the project root, the data mirror, and a params dict."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Test modules share simulators across folders (a report test draws the data a model test simulates):
# every test folder is importable by module name, whatever order pytest collects them in.
for _folder in sorted({p.parent for p in Path(__file__).parent.rglob("test_*.py")}):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


def mirror_path() -> Path | None:
    env = os.environ.get("ANALYSIS_DATA_MIRROR")
    if env and not (Path(env) / "nhanes").is_dir():
        pytest.fail(f"ANALYSIS_DATA_MIRROR={env} has no nhanes/ folder: point it at a copy of ../shared/data")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "data")
    for cand in candidates:
        if (cand / "nhanes").is_dir():
            return cand.resolve()
    return None


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def mirror() -> Path:
    path = mirror_path()
    if path is None:
        pytest.skip("no data mirror: set ANALYSIS_DATA_MIRROR to a copy of the public files")
    return path


@pytest.fixture(scope="session")
def params() -> dict:
    from analysis.core.config import load_params

    return load_params(ROOT / "params.yaml")
