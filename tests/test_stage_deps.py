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
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from analysis.stage_params import STAGE_PARAMS, write_slices
from support.config import ROOT
from support.stage_deps import PARAMS_STAGE, load_stages, uncovered

STAGES = load_stages(ROOT)

#: Third-party packages the probe imports once, before it forks a child per stage: each child then pays only for the
#: project's own modules (the check is about those: what a stage imports from the repository). A package left off
#: this list is simply imported in the child.
PRELOAD = ["numpy", "pandas", "scipy.stats", "scipy.optimize", "statsmodels.genmod.generalized_linear_model",
           "statsmodels.regression.linear_model", "statsmodels.regression.mixed_linear_model", "matplotlib.pyplot",
           "pandera.pandas", "pydantic", "formulaic", "lifelines", "linearmodels", "joblib", "tqdm", "jinja2",
           "pyarrow.parquet", "threadpoolctl"]

PROBE = r"""
import importlib, json, os, pathlib, sys, traceback
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except ImportError:
        pass
root = pathlib.Path.cwd().resolve()
results = []
for study_step, modules in json.loads(sys.stdin.read()):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: resolve the stage's command as `python -m analysis` does, then report
        os.close(read)
        try:
            import analysis.cli as cli
            if study_step == ["params"]:  # `python -m analysis params`: a command word, not a study's step
                importlib.import_module("analysis.stage_params")
            else:
                cli.resolve(study_step[0], study_step[1])
            for name in modules:
                importlib.import_module(name)
            files = {"src/analysis/__main__.py"}
            for module in list(sys.modules.values()):
                path = getattr(module, "__file__", None)
                if path and pathlib.Path(path).resolve().is_relative_to(root):
                    rel = str(pathlib.Path(path).resolve().relative_to(root))
                    if not rel.startswith(".venv/"):
                        files.add(rel)
            payload = {"files": sorted(files)}
        except BaseException:
            payload = {"error": traceback.format_exc()}
        with os.fdopen(write, "w") as out:
            out.write(json.dumps(payload))
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        results.append(json.loads(answer.read()))
    os.waitpid(pid, 0)
print(json.dumps(results))
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


def imported_files(stages: list) -> list[set[str]]:
    """The project files each of ``stages`` imports: one interpreter loads the third-party packages, then a forked
    child per stage (a fresh ``sys.modules`` for the project each time) resolves its command."""
    order = json.dumps([[stage.words[:2], notebook_modules(stage)] for stage in stages])
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(PRELOAD)], input=order, cwd=ROOT,
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
    assert result.returncode == 0, f"the import probe failed:\n{result.stderr[-2000:]}"
    found = []
    for stage, answer in zip(stages, json.loads(result.stdout.strip().splitlines()[-1])):
        assert "error" not in answer, f"stage {stage.name}: cannot resolve {stage.cmd!r}:\n{answer['error'][-2000:]}"
        found.append(set(answer["files"]))
    return found


@pytest.fixture(scope="module")
def imports() -> dict[str, set[str]]:
    stages = list(STAGES.values())
    halves = [stages[0::2], stages[1::2]]  # two probes side by side, one a core
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(imported_files, halves))
    return {stage.name: files for half, answers in zip(halves, done) for stage, files in zip(half, answers)}


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



def _params_node(params: dict, key: str):
    """The value of the dotted key ``key`` in params.yaml (KeyError when a part is missing or not a mapping)."""
    node = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def test_each_stage_depends_on_its_own_params_file():
    """The params wiring of dvc.yaml: only the ``params`` stage declares params.yaml to DVC, whole (``dvc params
    diff`` and ``dvc exp run -S`` see every key), and writes ``data/params``; every stage that reads a key
    (``analysis.stage_params.STAGE_PARAMS``, checked against a real run's reads by tests/test_pipeline.py) depends
    on its own file there and on no other stage's, and no stage is missing from the map or in it twice."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    first = spec[PARAMS_STAGE]
    assert next(iter(spec)) == PARAMS_STAGE and first["params"] == [{"params.yaml": None}], first.get("params")
    assert first["outs"] == ["data/params"] and first["cmd"] == "python -m analysis params"
    assert [name for name, s in spec.items() if s.get("params") and name != PARAMS_STAGE] == []
    assert set(STAGE_PARAMS) <= set(spec) - {PARAMS_STAGE}, set(STAGE_PARAMS) - set(spec)
    for name, stage in STAGES.items():
        files = [dep for dep in stage.deps if dep.startswith("data/params")]
        assert files == ([stage.slice] if name in STAGE_PARAMS else []), (name, files)


def test_a_params_edit_changes_only_the_files_of_the_stages_that_read_it(tmp_path):
    """Exactly what depends on a value reruns: the params stage rewrites every stage's file, and only the files of
    the stages that declare the edited key change (DVC compares their hashes)."""
    text = (ROOT / "params.yaml").read_text()
    before, after = tmp_path / "before", tmp_path / "after"
    write_slices(ROOT / "params.yaml", before)
    edited = tmp_path / "params.yaml"
    assert text.count("phq9_cutoff: 10") == 1
    edited.write_text(text.replace("phq9_cutoff: 10", "phq9_cutoff: 12"))
    write_slices(edited, after)
    changed = {f.stem for f in before.iterdir() if f.read_bytes() != (after / f.name).read_bytes()}
    readers = {name for name, keys in STAGE_PARAMS.items() if "nhanes.phq9_cutoff" in keys or "nhanes" in keys}
    assert changed == readers and {"models_nhanes", "clean_nhanes", "paper"} <= changed, changed
    assert json.loads((after / "models_nhanes.json").read_text())["nhanes.phq9_cutoff"] == 12


def test_every_declared_params_key_exists_once():
    """Each stage's ``params:`` names keys that exist in params.yaml (dotted mapping keys: DVC cannot index a list),
    and none lies below another of the same stage: DVC would record the inner values twice in dvc.lock (which it
    rewrites after every stage) and walk params.yaml once more for each key in every `dvc repro`. (Which keys a
    stage must declare is checked by tests/test_pipeline.py, on the reads of a real run.)"""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    problems = []
    for stage in STAGES.values():
        for key in stage.params:
            try:
                _params_node(params, key)
            except KeyError:
                problems.append(f"stage {stage.name}: params key {key} is not a mapping key path of params.yaml")
            inner = [other for other in stage.params if other.startswith(key + ".")]
            if inner:
                problems.append(f"stage {stage.name}: params key {key} already covers {inner}")
    assert not problems, "\n".join(problems)
