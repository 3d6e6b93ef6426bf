"""The README's commands, verbatim, on the pipeline built end to end (a copy of tests/test_pipeline.py's build).

Every fenced ``bash`` block of the README runs as written in a fresh shell (no virtual environment on PATH), on
a copy of the repository that one cold `make repro` built: `make repro` must then be a no-op, `make test` must set
up and collect, the dask example must run its stage on a local scheduler, and the experiment example must rerun
only what depends on each changed value, in a temporary workspace that leaves params.yaml and the workspace's
outputs as they were. The copy is made right after the build (tests/support/pipeline.py): under pytest-xdist
this module runs on the other worker, beside tests/test_pipeline.py's checks on the build itself.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest

from analysis.core.clone import BIN
from analysis.core.clone import run as run_command
from support.pipeline import env_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def repo(pipeline_spare, mirror):
    """The spare copy of the built repository (made before any test changed the build) and its environment."""
    return pipeline_spare, env_for(pipeline_spare, mirror), None


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fresh_shell(env: dict) -> tuple[dict, str]:
    """The environment of a user's new terminal (no virtual environment on PATH) and its bash."""
    shell_env = {k: v for k, v in env.items() if k not in ("PATH", "VIRTUAL_ENV", "PYTHONPATH")}
    shell_env["PATH"] = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                       if p and Path(p).resolve() != BIN.resolve()) or "/usr/bin:/bin"
    return shell_env, shutil.which("bash", path=shell_env["PATH"]) or "/bin/bash"


def readme_blocks(readme: str) -> list[tuple[str | None, str]]:
    """Every fenced ``bash`` block of the README, with the name of its ``<!-- tested: name -->`` marker (or None)."""
    return [(m.group(1), m.group(2)) for m in
            re.finditer(r"(?:<!-- tested: ([\w-]+) -->\s*)?```bash\n(.*?)```", readme, re.S)]


def test_every_readme_command_block_runs_as_written(repo):
    """Every command block of the README, verbatim, in a fresh shell (no virtual environment on PATH), in
    README order, on the built copy (the spare: a copy of the build made before any other test changed it).
    `make test` itself runs with PYTEST_ADDOPTS="--collect-only": its set-up and the collection of every test are
    what this checks (running the suite inside the suite would recurse). The experiment block has its own test,
    below."""
    dest, env, _ = repo
    blocks = readme_blocks((dest / "README.md").read_text())
    assert len(blocks) >= 5, blocks
    shell_env, bash = fresh_shell(env)
    shell_env["PYTEST_ADDOPTS"] = "--collect-only -q"
    for name, block in blocks:
        if name == "experiment":
            continue
        result = run_command([bash, "-e", "-c", block], dest, shell_env)
        if "make test" in block:
            assert re.search(r"\d+ tests? collected", result.stdout), result.stdout[-2000:]
        if "make repro" in block:
            assert "valid (" in result.stdout and "Data and pipelines are up to date" in result.stdout, \
                result.stdout[-2000:]


def readme_block(readme: str, name: str) -> str:
    """The fenced shell block that follows ``<!-- tested: name -->`` in the README."""
    match = re.search(rf"<!-- tested: {name} -->\s*```bash\n(.*?)```", readme, re.S)
    assert match, f"README has no block marked <!-- tested: {name} -->"
    return match.group(1)


def test_readme_experiment_runs_as_written_in_a_fresh_shell(repo):
    """The README's experiment example, verbatim, in a shell whose PATH has no virtual environment
    (as a user's new terminal): its own first line activates the project's environment. The experiments run
    in a temporary workspace: params.yaml and the workspace's outputs are left exactly as they were."""
    dest, env, _ = repo
    block = readme_block((dest / "README.md").read_text(), "experiment")
    shell_env, bash = fresh_shell(env)
    params_before = (dest / "params.yaml").read_bytes()
    outputs_before = _sha(dest / "data/processed/cohorts_panel.parquet")
    result = run_command([bash, "-e", "-c", block], dest, shell_env)  # raises, with its output, if a line fails
    assert "Running stage 'clean_cohorts'" in result.stdout, result.stdout[-2000:]
    assert "Running stage 'clean_nhanes'" not in result.stdout, result.stdout[-2000:]  # only what depends on it
    shown = result.stdout
    assert "cohorts.loneliness_lonely_cutoff" in shown and ",7," in shown, shown[-2000:]
    assert re.search(r"age_baseline \+ female \+ C\(race\)(?! \+ education_years)", shown), shown[-2000:]
    # --temp: the student's file (comments, flow lists) and the workspace's results are as they were
    assert (dest / "params.yaml").read_bytes() == params_before
    assert _sha(dest / "data/processed/cohorts_panel.parquet") == outputs_before
