"""The command line: a registry of steps, one clear error line for a bad command, no study logic."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from analysis import cli
from support.config import ROOT


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_registry_lists_every_study_and_the_paper_layer():
    steps = cli.registry()
    assert set(steps) == {"nhanes", "gss", "places", "countries", "cohorts", "paper"}
    assert list(steps["countries"]) == ["fetch", "clean", "models", "report"]
    assert list(steps["gss"]) == ["fetch", "clean", "models", "report", "reach"]
    assert list(steps["places"]) == ["fetch", "clean", "models", "report", "fetch-infrastructure", "infrastructure"]
    assert list(steps["nhanes"]) == ["fetch", "clean", "models", "impute", "exposures", "sensitivity",
                                     "specifications", "report", "fetch-cognition", "clean-cognition", "cognition",
                                     "reach"]
    assert list(steps["cohorts"]) == ["simulate", "clean", "models", "report"]
    assert {"triangulation", "notebook", "manuscript", "index", "strobe", "county-maps"} == set(steps["paper"])


def test_every_registered_step_resolves_to_a_stage_function():
    for study, steps in cli.registry().items():
        for step in steps:
            assert callable(cli.resolve(study, step)), (study, step)


def test_list_prints_the_registry():
    out = run("--list")
    assert out.returncode == 0
    assert ("nhanes: fetch, clean, models, impute, exposures, sensitivity, specifications, report, fetch-cognition, "
            "clean-cognition, "
            "cognition, reach") in out.stdout


@pytest.mark.parametrize("args, message", [
    (("nhanse", "clean"), "no study 'nhanse': the studies are cohorts, countries, gss, nhanes, places (and 'paper')"),
    (("nhanes", "cleen"), "study 'nhanes' has no step 'cleen'; its steps are fetch, clean, models, impute, exposures, "
                          "sensitivity, specifications, report, fetch-cognition, clean-cognition, cognition, reach"),
])
def test_a_bad_command_is_one_clear_line(args, message):
    out = run(*args)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [f"error in stage '{' '.join(args)}': {message}"]


def test_missing_step_is_a_usage_error():
    out = run("nhanes")
    assert out.returncode == 2 and "name a study and a step" in out.stderr


def test_cli_names_no_study():
    """The CLI is a registry reader: no study name, no project import beyond the standard library."""
    source = (ROOT / "src/analysis/cli.py").read_text()
    tree = ast.parse(source)
    imported = {a.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for a in node.names} | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in imported if m and m.startswith("analysis")}
    code = "".join(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str))
    for study in ("nhanes.", "gss", "places", "countries", "cohorts"):
        assert study not in code.replace("python -m analysis nhanes clean", ""), study


def test_a_stage_loads_numpy_and_scipy_blas_on_one_thread():
    """A stage imports numpy and scipy after ``one_blas_thread`` is entered (threadpoolctl alone limited only the
    libraries already loaded: the stages' own fits ran on every core). A fresh process, as a stage is."""
    code = ("from analysis import cli\n"
            "with cli.one_blas_thread():\n"
            "    import numpy, scipy.linalg\n"
            "    from threadpoolctl import threadpool_info\n"
            "    print(sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OPENBLAS_NUM_THREADS": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[1]"
