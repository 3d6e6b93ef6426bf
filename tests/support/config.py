"""The project root and helpers to edit and validate settings blocks in tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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
