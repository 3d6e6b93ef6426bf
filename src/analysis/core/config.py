"""``params.yaml`` -> validated configuration: the one place that knows the file's layout.

Stages call ``load_params()`` and read typed values through the helpers below, so a typo in
``params.yaml`` fails early with a message that names the key, not deep inside a model fit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

MIRROR_ENV = "ANALYSIS_DATA_MIRROR"

#: Where stages read and write, relative to the project root (the folder DVC runs stages in).
RAW = Path("data/raw")
PROCESSED = Path("data/processed")
REPORTS = Path("reports")
REFERENCE = Path("data/reference")
REGISTRY = Path("data/sources.yaml")


class ConfigError(ValueError):
    """A knob in params.yaml (or data/sources.yaml) is missing or has a value we cannot use."""


def project_root() -> Path:
    """The folder holding ``params.yaml``: the working directory DVC runs stages in, else the repo."""
    env = os.environ.get("ANALYSIS_PROJECT_ROOT")
    if env:
        return Path(env).resolve()
    cwd = Path.cwd()
    if (cwd / "params.yaml").exists():
        return cwd
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "params.yaml").exists():
            return parent
    return cwd


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def load_params(path: str | Path | None = None) -> dict[str, Any]:
    """Read ``params.yaml`` (default: the project's) and check the sections every stage relies on."""
    path = Path(path) if path else project_root() / "params.yaml"
    params = load_yaml(path)
    for section in ("data", "nhanes", "indices", "models", "reports", "seed"):
        if section not in params:
            raise ConfigError(f"{path}: missing section '{section}'")
    for name, spec in params["indices"].items():
        validate_index_spec(name, spec, path)
    return params


def require(mapping: dict[str, Any], key: str, where: str, *, allow_empty: bool = True) -> Any:
    """``mapping[key]``, or a ConfigError naming where in params.yaml the key was expected.

    ``allow_empty=False`` also refuses a key whose value is empty (None, {} or []).
    """
    if not isinstance(mapping, dict) or key not in mapping or (
            not allow_empty and mapping[key] in (None, {}, [])):
        raise ConfigError(f"params.yaml: '{where}' needs the key '{key}'")
    return mapping[key]


_OPS = {"eq", "ne", "lt", "le", "gt", "ge", "in"}


def validate_index_spec(name: str, spec: dict[str, Any], path: str | Path = "params.yaml") -> None:
    """An index spec must list items with a variable, a known operator and a value, and groups."""
    where = f"indices.{name}"
    items = require(spec, "items", where)
    if not items:
        raise ConfigError(f"{path}: '{where}.items' is empty")
    for i, item in enumerate(items):
        for key in ("variable", "op", "value"):
            require(item, key, f"{where}.items[{i}]")
        if item["op"] not in _OPS:
            raise ConfigError(
                f"{path}: '{where}.items[{i}].op' is '{item['op']}'; use one of {sorted(_OPS)}"
            )
    missing = spec.get("missing", "complete")
    if missing not in ("complete", "prorate"):
        raise ConfigError(f"{path}: '{where}.missing' is '{missing}'; use 'complete' or 'prorate'")
    groupings = {"groups": spec.get("groups", []),
                 **{f"groupings.{column}": groups for column, groups in (spec.get("groupings") or {}).items()}}
    for key_path, groups in groupings.items():
        if not isinstance(groups, list):
            raise ConfigError(f"{path}: '{where}.{key_path}' must be a list of {{label, min, max}} groups")
        for i, group in enumerate(groups):
            for key in ("label", "min", "max"):
                require(group, key, f"{where}.{key_path}[{i}]")


def data_mirror(params: dict[str, Any] | None = None) -> Path | None:
    """The local mirror folder, if any: ``$ANALYSIS_DATA_MIRROR`` first, then ``data.mirror``."""
    value = os.environ.get(MIRROR_ENV) or (params or {}).get("data", {}).get("mirror")
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = project_root() / path
    return path.resolve()
