"""A fresh copy of the repository, as a new user's ``git clone`` would see it.

The end-to-end test and the benchmark run the pipeline in such a copy, so nothing that only exists
in a developer's working tree (data, caches, outputs, the venv) can make them pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def repository_files(root: Path) -> list[str]:
    """Tracked files plus untracked files that git does not ignore (what the next commit would hold)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=root, capture_output=True, check=True)
    return [f for f in out.stdout.decode().split("\0") if f and (Path(root) / f).is_file()]


def pipeline_env(dest: Path, mirror: Path) -> dict[str, str]:
    """Environment for running the copy's pipeline with this interpreter's tools and the data mirror."""
    env = dict(os.environ)
    env.update({
        "ANALYSIS_DATA_MIRROR": str(mirror), "DVC_NO_ANALYTICS": "1",
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": f"{Path(dest) / 'src'}{os.pathsep}{env.get('PYTHONPATH', '')}",
        "GIT_AUTHOR_NAME": "clone", "GIT_AUTHOR_EMAIL": "clone@example.org",
        "GIT_COMMITTER_NAME": "clone", "GIT_COMMITTER_EMAIL": "clone@example.org",
    })
    env.pop("MPLBACKEND", None)
    return env


def run(cmd: list[str], cwd: Path, env: dict, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run ``cmd``; on failure raise with the tail of its output."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def fresh_clone(root: Path, dest: Path, mirror: Path) -> dict[str, str]:
    """Copy the repository's files to ``dest``, commit them in a new git repository, return the env."""
    for rel in repository_files(root):
        target = Path(dest) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(root) / rel, target)
    env = pipeline_env(dest, mirror)
    run(["git", "init", "-q"], dest, env)
    run(["git", "add", "-A"], dest, env)
    run(["git", "commit", "-q", "-m", "fresh clone"], dest, env)
    return env
