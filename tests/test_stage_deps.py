"""Every DVC stage's deps cover the code it runs: checked by importing it, not by reading a list.

For each stage of dvc.yaml, a fresh interpreter resolves the stage's command (``python -m analysis <study>
<step>``, which imports the study's package and the step's module, as the real run does), imports every
project module a notebook stage's notebook imports, and reports every project file in ``sys.modules``.
Each must lie under one of the stage's deps. (Project modules are imported at module level only, a rule
tests/core/test_hygiene.py enforces, so importing is running, as far as code goes.) The pipeline test
checks the same for every file each stage *reads* during a real ``dvc repro`` (tests/trace/).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.config import ROOT
from support.stage_deps import load_stages, uncovered

STAGES = load_stages(ROOT)

PROBE = r"""
import importlib, json, pathlib, sys
study, step, *args = json.loads(sys.argv[1])
modules = json.loads(sys.argv[2])
import analysis.cli as cli
cli.resolve(study, step)
for name in modules:
    importlib.import_module(name)
root = pathlib.Path.cwd().resolve()
files = set()
for module in list(sys.modules.values()):
    path = getattr(module, "__file__", None)
    if path and pathlib.Path(path).resolve().is_relative_to(root):
        files.add(str(pathlib.Path(path).resolve().relative_to(root)))
print(json.dumps(sorted(files | {"src/analysis/__main__.py"})))
"""


def notebook_modules(stage) -> list[str]:
    """Project modules a notebook stage's notebook imports (its kernel imports them)."""
    words = stage.words
    if words[:2] != ["paper", "notebook"]:
        return []
    tree = ast.parse((ROOT / words[2]).read_text(encoding="utf-8").replace("%matplotlib inline", ""))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("analysis"):
            out += [node.module] + [f"{node.module}.{a.name}" for a in node.names
                                    if (ROOT / "src" / node.module.replace(".", "/") / f"{a.name}.py").exists()]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("analysis")]
    return out


def imported_files(stage) -> set[str]:
    words = stage.words
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(words), json.dumps(notebook_modules(stage))],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"stage {stage.name}: cannot resolve {stage.cmd!r}:\n{result.stderr[-2000:]}"
    return set(json.loads(result.stdout))


@pytest.fixture(scope="module")
def imports() -> dict[str, set[str]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(STAGES, pool.map(imported_files, STAGES.values())))


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_imports_are_covered_by_its_deps(name, imports):
    stage = STAGES[name]
    missing = uncovered(stage, imports[name])
    assert not missing, (f"stage {name} ({stage.cmd}) imports project files its deps do not cover: {missing}; "
                         "add their folder to the stage's deps in dvc.yaml")


def test_every_stage_lists_only_existing_code(imports):
    """A code dep that no longer exists (a moved module) would make DVC fail, or silently track nothing."""
    for stage in STAGES.values():
        for dep in stage.deps:
            if dep.startswith("src/"):
                assert (ROOT / dep).exists(), f"stage {stage.name}: dep {dep} does not exist"


def test_code_deps_are_not_wider_than_the_layers_used(imports):
    """No stage depends on a layer it never imports (that would rerun it for nothing)."""
    for name, stage in STAGES.items():
        used = imports[name]
        for dep in stage.deps:
            if dep.startswith("src/analysis/") and (ROOT / dep).is_dir():
                assert any(f.startswith(dep + "/") for f in used), \
                    f"stage {name} depends on {dep} but imports nothing from it"

