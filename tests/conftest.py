"""Shared fixtures: the project root, the data mirror, and the validated params.yaml.

Simulators and helpers that several test modules use live in the fixtures package ``tests/support`` (importable as
``support``: ``pythonpath = ["tests"]`` in pyproject.toml); no test module imports another."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from support.config import ROOT, edited, schema_problem  # noqa: F401 - re-exported for fixtures

#: The tests fit on one BLAS thread, as every stage and worker does (analysis.cli, estimators/runner.py): with two
#: xdist workers on two cores, OpenBLAS's extra threads only wait on each other.
ONE_BLAS_THREAD = threadpool_limits(limits=1)


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
def params():
    """The whole of params.yaml, validated (``analysis.params.Params``)."""
    from analysis.params import load

    return load(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def raw_params() -> dict:
    """params.yaml as plain YAML (to build an edited copy and validate it in a test)."""
    import yaml

    return yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
