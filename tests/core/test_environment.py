"""The environment is the lock, and the lock is requirements.in resolved (README.md, "The lock").

* The running interpreter's installed distributions are exactly ``requirements.txt``: none missing, none extra
  (the project itself, installed editable, is the one allowed extra), none at another version. Read with
  ``importlib.metadata``, no pip call.
* Every direct dependency of ``requirements.in`` is in the lock at the version it pins, and every locked
  package has hashes (``make setup`` installs with hashes required).
* Every third-party module that src/, tests/, notebooks/ or benchmarks/ imports comes from a direct dependency
  of ``requirements.in``, not from one that happens to be pulled in by another package.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

from analysis.paper import lock
from support.config import ROOT

LOCK = ROOT / "requirements.txt"
DIRECT = ROOT / "requirements.in"
CODE_DIRS = ("src", "tests", "notebooks", "benchmarks")


def test_installed_environment_is_the_lock():
    locked = lock.read_pins(LOCK)
    found = lock.differences(locked, lock.installed())
    problems = {kind: names for kind, names in found.items() if names}
    assert not problems, (
        f"the environment of {sys.executable} differs from requirements.txt: {problems}. "
        "Run `rm -f .venv/.installed && make setup` (uv makes .venv exactly the lock again); if the lock is what "
        "should change, edit "
        "requirements.in and run `make lock` (README.md, 'The lock')")


def test_differences_names_missing_extra_other_version_and_duplicate_packages():
    locked = {"pandas": "2.3.3", "numpy": "2.4.6", "scipy": "1.17.1"}
    present = {"pandas": ["2.3.3"], "numpy": ["2.4.5"], "requests": ["2.34.2"], "connected-health": ["0.1.0"],
               "pyyaml": ["6.0.3", "6.0.2"]}
    assert lock.differences(locked, present) == {
        "missing": ["scipy==1.17.1"],
        "extra": ["pyyaml==6.0.3,6.0.2", "requests==2.34.2"],
        "another version": ["numpy: locked 2.4.6, installed 2.4.5"],
        "duplicate": ["pyyaml: installed 6.0.3,6.0.2"],
    }
    assert lock.differences(locked, {n: [v] for n, v in locked.items()}) == {
        "missing": [], "extra": [], "another version": [], "duplicate": []}


def test_reading_a_lock_normalises_names_and_skips_hashes_and_comments(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# header\nruamel.yaml.clib==0.2.15 \\\n    --hash=sha256:ab \\\n    --hash=sha256:cd\n"
                    "    # via dvc\nPyYAML==6.0.3 ; python_version >= '3.8' \\\n    --hash=sha256:ef\n"
                    "Jinja2==3.1.6\n")
    assert lock.read_pins(path) == {"ruamel-yaml-clib": "0.2.15", "pyyaml": "6.0.3", "jinja2": "3.1.6"}
    assert lock.unhashed(path) == ["jinja2"]
    path.write_text("pandas==2.3.3\nPandas==2.3.2\n")
    with pytest.raises(ValueError, match="pinned twice"):
        lock.read_pins(path)


def test_lock_pins_every_direct_dependency_at_its_version_with_hashes():
    locked, direct = lock.read_pins(LOCK), lock.read_direct(DIRECT)
    assert direct, "requirements.in names no package"
    missing = sorted(set(direct) - set(locked))
    assert not missing, f"requirements.in names packages the lock lacks: {missing}; run `make lock`"
    moved = {n: (spec, locked[n]) for n, spec in direct.items()
             if spec.startswith("==") and spec[2:].strip() != locked[n]}
    assert not moved, (f"requirements.in pins these at another version than the lock (in, lock): {moved}; "
                       "run `make lock`")
    assert not lock.unhashed(LOCK), f"locked packages without hashes: {lock.unhashed(LOCK)}"
    assert lock.PROJECT not in locked, "the project itself belongs in the environment, not in the lock"


def _imports(path: Path) -> set[str]:
    """Top-level modules a file imports: import statements, and the names given to ``pytest.importorskip``."""
    text = path.read_text(encoding="utf-8")
    # jupytext scripts hold IPython magics (``%matplotlib inline``), which are not Python syntax
    tree = ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines()))
    names = set(re.findall(r"importorskip\(\s*[\"']([A-Za-z_][\w.]*)", text))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return {n.split(".")[0] for n in names}


def test_every_third_party_import_is_a_direct_dependency():
    files = [p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py")]
    local = {p.stem for p in files} | {p.parent.name for p in files if p.name == "__init__.py"} | {"analysis"}
    imported: dict[str, set[str]] = {}
    for path in files:
        for name in _imports(path) - local - set(sys.stdlib_module_names) - {"__future__"}:
            imported.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    providers = metadata.packages_distributions()
    direct = set(lock.read_direct(DIRECT))
    unknown = {m: sorted(w)[:3] for m, w in imported.items() if m not in providers}
    assert not unknown, f"modules imported but installed by no package: {unknown}"
    indirect = {m: (providers[m], sorted(where)[:3]) for m, where in imported.items()
                if not {lock.normalise(d) for d in providers[m]} & direct}
    assert not indirect, ("modules imported from packages that requirements.in does not name (add them there, "
                          f"with why, and run `make lock`): {indirect}")
