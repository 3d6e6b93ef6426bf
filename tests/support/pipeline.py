"""The end-to-end modules' copy of the repository, built once per test run by the README's `make repro`.

tests/test_pipeline.py and tests/test_pipeline_readme.py check the pipeline on a fresh copy of the repository
built by one cold, traced `make repro`. Both need a built copy, and each changes its copy (reruns, edited
params, a restricted cohort), so the build is made once and then copied: right after the build, before any test
touches it, the whole built copy (git repository, DVC cache, outputs) is copied to a spare. The first module
works in the build, the second in the spare, and under pytest-xdist each runs on its own worker: the second
module's README experiments run beside the first module's reruns instead of after them.

Across xdist workers the build is handed over through a file beside the workers' temporary folders, under a
file lock (pytest-xdist's documented way to share a session fixture): whichever worker asks first builds, the
other waits for the lock and reads where the build is. A failed build is handed over as its error (the other
worker fails with it instead of building again).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from analysis.core.clone import fresh_clone, pipeline_env
from analysis.core.clone import run as run_command


@dataclass(frozen=True)
class Built:
    """A built copy of the repository (``clone``), an untouched copy of it made right after the build
    (``spare``), and the trace of the cold run (``trace``: the files and params keys each stage read)."""

    clone: Path
    spare: Path
    trace: Path


def link_environment(dest: Path) -> None:
    """The copy uses this interpreter's environment as its ``.venv`` (as `make setup` would have built it)."""
    link = dest / ".venv"
    if not link.exists():
        link.symlink_to(Path(sys.prefix), target_is_directory=True)


def build(root: Path, mirror: Path, dest: Path, trace: Path) -> None:
    """A fresh copy of the repository in ``dest``, built by the README's own `make repro` (the check, then
    `dvc repro`), traced: every file and params key each stage reads is recorded in ``trace`` (tests/trace/)."""
    env = fresh_clone(root, dest, mirror)
    link_environment(dest)
    traced = {**env, "ANALYSIS_TRACE_DIR": str(trace), "ANALYSIS_TRACE_ROOT": str(dest),
              "PYTHONPATH": f"{dest / 'tests' / 'trace'}{os.pathsep}{env['PYTHONPATH']}"}
    run_command(["make", "repro"], dest, traced)


def env_for(dest: Path, mirror: Path) -> dict[str, str]:
    """The environment to run a built copy's pipeline in (its own ``src`` first on the path)."""
    return pipeline_env(dest, mirror)


def built_once(tmp_path_factory: pytest.TempPathFactory, root: Path, mirror: Path) -> Built:
    """The build of this test run: made here, or, when another xdist worker made it, read from the handoff."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's folder, not the worker's
    handoff = shared / "pipeline-build.json"
    with FileLock(f"{handoff}.lock"):
        if handoff.is_file():
            done = json.loads(handoff.read_text(encoding="utf-8"))
            if "error" in done:
                pytest.fail(f"the pipeline's build failed on another worker:\n{done['error']}")
            return Built(**{key: Path(value) for key, value in done.items()})
        dest, trace = tmp_path_factory.mktemp("clone"), tmp_path_factory.mktemp("trace")
        try:
            build(root, mirror, dest, trace)
            spare = tmp_path_factory.mktemp("spare") / dest.name
            shutil.copytree(dest, spare, symlinks=True)  # before any test changes the build
        except BaseException as err:
            handoff.write_text(json.dumps({"error": f"{type(err).__name__}: {err}"}), encoding="utf-8")
            raise
        done = Built(clone=dest, spare=spare, trace=trace)
        handoff.write_text(json.dumps({key: str(value) for key, value in vars(done).items()}), encoding="utf-8")
        return done
