"""Shared fixtures: the project root, the data mirror, and the validated params.yaml."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Test modules share simulators across folders (a report test draws the data a model test simulates):
# every test folder is importable by module name, whatever order pytest collects them in.
for _folder in sorted({p.parent for p in Path(__file__).parent.rglob("test_*.py")}):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


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


def edited(settings, **changes):
    """A copy of a settings block with fields replaced, without re-validation (a test's cut-down model list).

    Keys may be dotted paths into nested blocks: ``edited(nh, **{"models.common_sample": False})``.
    """
    nested: dict[str, dict] = {}
    direct = {}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    for head, sub in nested.items():
        direct[head] = edited(getattr(settings, head), **sub)
    return settings.model_copy(update=direct)


def schema_problem(model, block: dict, edit) -> str:
    """The ConfigError message of ``model`` validated from a copy of ``block`` after ``edit(copy)`` (the test fails
    if the edited block is accepted)."""
    import copy

    from analysis.core.config import ConfigError
    from analysis.core.settings import validate

    data = copy.deepcopy(block)
    edit(data)
    with pytest.raises(ConfigError) as err:
        validate(model, data)
    return str(err.value)
