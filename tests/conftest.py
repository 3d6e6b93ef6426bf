"""Shared fixtures: the project root, the data mirror, and the validated params.yaml.

Simulators and helpers that several test modules use live in the fixtures package ``tests/support`` (importable as
``support``: ``pythonpath = ["tests"]`` in pyproject.toml); no test module imports another."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from support.config import ROOT, edited, schema_problem  # noqa: F401 - re-exported for fixtures
from support.pipeline import Built, built_once

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


@pytest.fixture(scope="session")
def pipeline_built(root, mirror, tmp_path_factory) -> Built:
    """The repository built end to end by one cold, traced `make repro` per test run, and a spare copy of it
    (tests/support/pipeline.py; made once even when two xdist workers ask for it)."""
    return built_once(tmp_path_factory, root, mirror)


@pytest.fixture(scope="session")
def pipeline_build(pipeline_built) -> Built:
    """The build itself (tests/test_pipeline.py works in it: reruns, edited params, a restricted cohort)."""
    return pipeline_built


@pytest.fixture(scope="session")
def pipeline_spare(pipeline_built) -> Path:
    """The spare copy of the build, made before any test changed it (tests/test_pipeline_readme.py). A module
    that uses it waits for the build: it is handed out last (below)."""
    return pipeline_built.spare


def pytest_collection_modifyitems(config, items):
    """Longest work first. The end-to-end module (every test of it marked ``integration``) leads, then every
    module with a test marked ``slow``, then the others by their number of tests, most first (pytest-xdist's own
    heuristic); the tests of a module keep their order. `make test` runs on two workers with ``--dist loadscope
    --no-loadscope-reorder``: each module goes whole to the next free worker in this order, so one worker starts
    the pipeline's cold run at once while the other takes everything else, and the last modules handed out are
    small ones. (Collected in path order, tests/test_pipeline.py came near the end and started only after both
    workers had run a minute of unit tests.) A module that works on the spare copy of the pipeline's build
    (``pipeline_spare``) comes last: it waits for the build, so the worker that runs out of unit tests first
    takes it, and runs the README's commands beside the first module's checks. Without xdist this only changes
    the order tests run in."""
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)

    def rank(group: list) -> tuple[int, int]:
        if any("pipeline_spare" in item.fixturenames for item in group):
            return 3, 0  # waits for the build: last, taken by whichever worker runs out of unit tests first
        marks = [{mark.name for mark in item.iter_markers()} for item in group]
        end_to_end = all("integration" in names for names in marks)
        return (0 if end_to_end else 1 if any("slow" in names for names in marks) else 2), -len(group)

    items[:] = [item for _, group in sorted(modules.items(), key=lambda kv: rank(kv[1])) for item in group]
