"""Rules of the layout that keep the stage deps honest, checked on the source itself.

* Nothing imports an ``_underscore`` name from another module, or reaches one through a module attribute.
* No function imports a project module: every project import is at the top of a module, so importing a
  stage's module pulls in exactly the code the stage runs (tests/test_stage_deps.py relies on it).
* Imports point down: core imports no other layer; estimators import only core; report imports no study
  and no paper; a study imports no other study and not paper.
* Estimators name no study: no study folder, data set or study wording in the library (its packages too).
* Estimation happens in the estimators only: no other layer imports a fitting library (linearmodels,
  statsmodels, lifelines), so no study calls a library model's ``.fit()`` (issue 20).
* One clustered covariance (estimators/vcov.py), one MixedLM optimizer selection (estimators/mixed.py)
  and one formula engine (formulaic; patsy is never imported), pinned in requirements.txt.
* No test module imports another test module or conftest.py (by name, relative import or file path), and no
  file under tests/ edits ``sys.path``: shared fixtures live in conftest.py, shared helpers in the fixtures
  package tests/support (importable as ``support`` through pyproject.toml's pytest ``pythonpath``; issue 23).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from support.config import ROOT

SRC = ROOT / "src" / "analysis"
SOURCES = sorted(p for p in SRC.rglob("*.py"))
TESTS = sorted(p for p in (ROOT / "tests").rglob("*.py"))
STUDIES = sorted(p.name for p in (SRC / "studies").iterdir() if p.is_dir() and not p.name.startswith("_"))


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path) -> list[tuple[int, str, list[str], bool]]:
    """(line, imported module, names, at module level) for every import of ``analysis`` in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "analysis":
            out.append((node.lineno, node.module, [a.name for a in node.names], id(node) in top))
        elif isinstance(node, ast.ImportFrom) and node.level:
            out.append((node.lineno, f".{node.module or ''}", [a.name for a in node.names], id(node) in top))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "analysis":
                    out.append((node.lineno, alias.name, [], id(node) in top))
    return out


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and parts[1] == "studies":
        return f"studies.{parts[2]}"
    return parts[1] if len(parts) > 1 else "analysis"


@pytest.mark.parametrize("path", SOURCES + TESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_crosses_a_module(path):
    bad = [f"{path.relative_to(ROOT)}:{line}: from {module} import {name}"
           for line, module, names, _ in project_imports(path) for name in names
           if name.startswith("_") and not name.startswith("__")]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported_modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "analysis":
            imported_modules |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            imported_modules |= {(a.asname or a.name).split(".")[0] for a in node.names
                                 if a.name.startswith("analysis")}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported_modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not bad, "private names used across modules:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_project_imports_are_at_module_level(path):
    inline = [f"{path.relative_to(ROOT)}:{line}: {module}" for line, module, _, top in project_imports(path) if not top]
    assert not inline, "project modules imported inside a function (move them to the top):\n" + "\n".join(inline)


ALLOWED = {
    "analysis": {"analysis"},
    "__main__": {"cli"},
    "cli": {"cli"},  # imports studies only by name, through importlib
    "core": {"core"},
    "estimators": {"core", "estimators"},
    "report": {"core", "estimators", "report"},
    "paper": {"core", "estimators", "report", "paper", "params", *(f"studies.{s}" for s in STUDIES)},
    # the whole of params.yaml: every study's settings (the check before dvc repro, the paper, the JSON Schema)
    "params": {"core", "params", *(f"studies.{s}" for s in STUDIES)},
    # the first DVC stage: params.yaml checked whole, then each stage's keys to its own file
    "stage_params": {"core", "params", "stage_params"},
}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path):
    own = layer(module_name(path))
    allowed = ALLOWED.get(own, {"core", "estimators", "report", own})
    wrong = [f"{path.relative_to(ROOT)}:{line}: {own} imports {module}"
             for line, module, _, _ in project_imports(path)
             if not module.startswith(".") and layer(module) not in allowed]
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


STUDY_WORDS = re.compile(r"\b(NHANES|GSS|PLACES|HRS|ELSA|SHARE|CHARLS|ECOLOGICAL|SSQ|county|counties|"
                         r"isolation_category|weight_interview|studies\.)\b")


@pytest.mark.parametrize("path", sorted((SRC / "estimators").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(SRC / "estimators")))
def test_estimators_name_no_study(path):
    """Estimators are a library: no study folder, data set or study wording in their code or strings.

    Comments and docstrings may cite where a method was checked (they are not outputs), so only code and
    the strings it builds are scanned."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            match = STUDY_WORDS.search(node.value)
            if match:
                hits.append(f"{path.name}:{node.lineno}: {match.group(0)!r} in {node.value[:60]!r}")
    assert not hits, "study names or wording inside the estimator library:\n" + "\n".join(hits)


FITTING_LIBRARIES = ("linearmodels", "statsmodels", "lifelines", "pyfixest", "sklearn")


@pytest.mark.parametrize("path", [p for p in SOURCES if layer(module_name(p)) != "estimators"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_estimators_fit_models(path):
    """A study (or a report, the paper, core) fits through :mod:`analysis.estimators`: it imports no fitting
    library, so it can neither call a library model's ``.fit()`` nor choose a variance convention of its own."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = [(node.lineno, alias.name) for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names]
    imported += [(node.lineno, node.module) for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and not node.level]
    bad = [f"{path.relative_to(ROOT)}:{line}: imports {name}" for line, name in imported
           if name.split(".")[0] in FITTING_LIBRARIES]
    assert not bad, "estimation outside src/analysis/estimators (call an estimator instead):\n" + "\n".join(bad)


def code_only(path: Path) -> str:
    """The module's code without its strings and comments (so prose that names a formula does not count)."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return " ".join(tok.string for tok in tokens if tok.type not in (tokenize.STRING, tokenize.COMMENT))


def test_one_clustered_covariance_one_optimizer_selection_one_formula_engine():
    code = {p: code_only(p) for p in SOURCES}
    factor = [str(p.relative_to(ROOT)) for p, t in code.items()
              if re.search(r"\b(g|G|n_?clusters|clusters)\s*/\s*\(\s*\1\s*-\s*1\s*\)", t) and p.name != "vcov.py"]
    assert not factor, f"a G/(G-1) factor outside estimators/vcov.py: {factor}"
    fits = [str(p.relative_to(ROOT)) for p, t in code.items()
            if re.search(r"\.\s*fit\s*\(\s*reml\s*=\s*True", t) and p.name != "mixed.py"]
    assert not fits, f"a MixedLM REML fit outside estimators/mixed.py's optimizer selection: {fits}"
    patsy = [str(p.relative_to(ROOT)) for p, t in code.items() if re.search(r"^\s*(import|from) patsy", t, re.M)]
    assert not patsy, f"patsy imported (the formula engine is formulaic): {patsy}"
    pins = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^formulaic==\d", pins, re.M), "requirements.txt must pin formulaic"


def test_no_test_module_imports_another():
    """Each test module stands alone (it can be moved, renamed or run by itself): shared code is in conftest.py's
    fixtures or in tests/support, never reached by importing a ``test_*`` module or conftest, and no test file
    puts a folder on ``sys.path`` to make that possible."""
    test_modules = {p.stem for p in TESTS if p.stem.startswith("test_")} | {"conftest"}
    bad = []
    for path in TESTS:
        where = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    bad.append(f"{where}:{node.lineno}: relative import (tests/ is not a package; use support)")
                names = [node.module or ""]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(
                    r"[\w/.-]*(test_\w+|conftest)\.py", node.value) and path.stem != "test_hygiene":
                bad.append(f"{where}:{node.lineno}: names the test file {node.value!r} (loaded by path?)")
            elif isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name) \
                    and node.value.id == "sys":
                bad.append(f"{where}:{node.lineno}: sys.path (put shared code in tests/support)")
            bad += [f"{where}:{node.lineno}: imports {name}" for name in names
                    if any(part in test_modules for part in name.split("."))]
    assert not bad, "a test module reaches into another:\n" + "\n".join(bad)
