"""``params.yaml`` -> typed, frozen settings objects: the one place that reads the file and checks it.

Every stage calls its study's ``load()`` (for example ``analysis.studies.nhanes.settings.load()``) once, at
its entry, and passes the typed object down. Nothing below the entry reads ``params.yaml`` or re-checks a
key, and no code outside the schema invents a default: each default lives on its field here or in a study's
``settings.py``, with its meaning and its source.

What fails, before any work starts (one :class:`ConfigError` listing every problem):

* a YAML syntax error (with its line and column);
* an unknown key, anywhere (``exam_weigth``: "did you mean 'exam_weight'?");
* a wrong type (``phq9_cutoff: ten``), a value out of range (``alpha: 1.5``, a negative cut-off);
* contradictions between fields (a weight domain's cycle that is not in ``cycles``, a group range outside its
  index's range, an exposure named in a model but defined nowhere), checked by the models' validators.

Each message names the key's full path, its line in ``params.yaml``, the value, and what is allowed.

A stage loads the shared sections (:class:`SharedParams`: ``data``, ``compute``, ``disclosure``,
``reliability``, ``reports``) and its own study's section; ``python -m analysis check`` (and the paper
stage, which reads every study) loads the whole file (:mod:`analysis.params`). Every stage also rejects
an unknown top-level key, so a ``gs:`` typo for ``gss:`` stops every stage, not only the check.

**Reads are traced.** With ``ANALYSIS_TRACE_DIR`` set (the pipeline test's traced run, tests/trace/), every
value a stage reads through a settings object is appended to ``<dir>/<pid>.params`` as ``stage<TAB>key.path``;
tests/test_pipeline.py checks each against the keys the stage declares (:mod:`analysis.stage_params`, written to
the stage's ``data/params/<stage>.json`` dependency by the first stage), so a stage can never read a key its DVC
entry does not track (a stale result); :func:`check_stage_slice` stops a stage whose file is out of date.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import string
import types
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from analysis.core.config import ConfigError, project_root

PARAMS_FILE = "params.yaml"
#: Each DVC stage's keys of params.yaml and their values, one JSON file per stage, written by the first stage
#: (``python -m analysis params``, :mod:`analysis.stage_params`): the stage's parameter dependency.
SLICES = Path("data/params")

#: The sections every study shares; they stay at the top of params.yaml. Each study's knobs live under its
#: own name (a folder of ``analysis/studies``).
SHARED_SECTIONS = ("data", "compute", "disclosure", "reliability", "reports")

_TRACE_DIR = os.environ.get("ANALYSIS_TRACE_DIR")
_TRACED: set[str] = set()
_VALIDATING: list[bool] = []  # reads by the schema's own validators are not a stage's reads


def _record(path: str) -> None:
    """Append one read key path to this process's trace file (only under the traced pipeline run)."""
    if path in _TRACED or _VALIDATING or not path:
        return
    _TRACED.add(path)
    stage = os.environ.get("ANALYSIS_TRACE_STAGE", "")
    with open(os.path.join(_TRACE_DIR, f"{os.getpid()}.params"), "a", encoding="utf-8") as out:
        out.write(f"{stage}\t{path}\n")


class Settings(BaseModel):
    """Base of every settings block: unknown keys fail, values are not coerced across types, frozen.

    ``strict``: a string is never read as a number (``phq9_cutoff: "10"`` fails; an int is accepted where a
    float is expected). Frozen: no stage can change a knob another stage then reads.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, validate_default=True,
                              use_attribute_docstrings=True, arbitrary_types_allowed=False)

    def key(self, *names: str | int) -> str:
        """The full dotted path of this block (or of ``names`` below it) in params.yaml, for messages."""
        path = object.__getattribute__(self, "__pydantic_private__") or {}
        return _join(path.get("_path", ""), *names)

    if _TRACE_DIR:
        def __getattribute__(self, name: str) -> Any:
            value = object.__getattribute__(self, name)
            if name.startswith("_") or _VALIDATING:
                return value
            try:
                private = object.__getattribute__(self, "__pydantic_private__") or {}
            except AttributeError:  # being built
                return value
            if not private.get("_loaded"):  # a default or a hand-made block, not read from params.yaml
                return value
            if name in type(self).model_fields and not isinstance(value, Settings):
                _record(self.key(name))
                for other in private.get("_also", {}).get(name, ()):
                    _record(other)
            elif name in ("model_dump", "model_dump_json"):
                _record(self.key())
            return value

        def __reduce_ex__(self, protocol: Any) -> Any:  # sent to a worker process: count it as read whole
            _record(self.key())
            return super().__reduce_ex__(protocol)

    _path: str = ""
    _loaded: bool = False
    _also: dict[str, tuple[str, ...]] = {}

    def derived_from(self, field: str, *paths: str) -> None:
        """Record that ``field``'s value was built from the keys ``paths`` (a label stating a cut-off kept
        elsewhere): reading the field counts as reading them (the stage must declare them to DVC)."""
        private = object.__getattribute__(self, "__pydantic_private__")
        private["_also"] = {**private.get("_also", {}), field: tuple(paths)}


def _join(base: str, *names: str | int) -> str:
    out = base
    for name in names:
        out = f"{out}[{name}]" if isinstance(name, int) else (f"{out}.{name}" if out else str(name))
    return out


def _set_paths(value: Any, path: str) -> None:
    """Give every settings block its dotted path (for messages and the read trace)."""
    if isinstance(value, Settings):
        private = object.__getattribute__(value, "__pydantic_private__")
        private["_path"] = path
        private["_loaded"] = True
        for name in type(value).model_fields:
            _set_paths(object.__getattribute__(value, name), _join(path, name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _set_paths(item, _join(path, str(key)))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _set_paths(item, _join(path, i))


# ---------------------------------------------------------------------------------------------------------
# Field types used across studies

Number = int | float
"""A number as written: 2 stays 2 (a label or a sentence shows it as written), 2.5 stays 2.5."""


def bounded(**limits: float) -> Any:
    """A :data:`Number` within ``limits`` (``gt``, ``ge``, ``lt``, ``le``), each branch carrying them, so that
    the JSON Schema states the bounds with its own keywords (``exclusiveMinimum``, ...) for editors too."""
    return Annotated[int, Field(**limits)] | Annotated[float, Field(**limits)]
Probability = Annotated[float, Field(gt=0, lt=1)]
"""A probability strictly between 0 and 1 (a significance level, a share)."""
NonNegative = Annotated[float, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
Workers = Annotated[int, Field(ge=1, le=64)]
Formula = Annotated[str, AfterValidator(lambda rhs: " ".join(rhs.split())),
                    Field(description="a formula right-hand side (formulaic syntax; C() marks categorical)")]
"""A formula right-hand side, whitespace collapsed (a folded YAML string reads as one line)."""
Label = Annotated[str, Field(min_length=1)]


def formatted(template: str, where: str, **values: Any) -> str:
    """A label template with ``{name}`` placeholders filled from the values it states (a cut-off, a range).

    So a label never restates a number by hand: ``"Depression (PHQ-9 >= {phq9_cutoff})"``. An unknown
    placeholder is an error naming the allowed ones.
    """
    names = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    unknown = [n for n in names if n not in values]
    if unknown:
        raise ValueError(f"{where}: the label {template!r} uses {{{unknown[0]}}}; the placeholders here are "
                         + (", ".join("{" + k + "}" for k in values) or "none"))
    return template.format(**values)


def number_text(value: float) -> str:
    """A number as a label shows it: 10 not 10.0, 1.3 as 1.3."""
    return f"{value:g}"


# ---------------------------------------------------------------------------------------------------------
# Shared sections


class DataSettings(Settings):
    """Where the public files come from (``data:``)."""

    mirror: str | None = None
    """null downloads from the publishers' URLs in data/sources.yaml; a folder reads the same files from a
    local copy laid out like the publishers' (ours: ../shared/data). $ANALYSIS_DATA_MIRROR overrides it."""
    timeout_seconds: bounded(gt=0, le=3600) = 60
    """Seconds before one download attempt gives up."""
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    """Further attempts after a failed download."""


class ComputeSettings(Settings):
    """How work is spread over processes (``compute:``): results do not depend on it."""

    n_jobs: Workers = 2
    """Worker processes for the model fits, the imputations and the report stages' figures (the manuscript
    renders its documents in as many threads). Every fit is deterministic and results come back in job order,
    so any value gives the same records up to floating-point rounding."""
    scheduler: Annotated[str, Field(pattern=r"^(tcp|tls|inproc|ucx)://\S+$")] | None = None
    """Dask: null starts a LocalCluster of ``n_jobs`` workers on this machine for the stages that run on Dask
    (the specification curve); an address such as ``"tcp://host:8786"`` sends their work to a running
    ``dask.distributed`` scheduler (README "Running on a cluster")."""


class DisclosureSettings(Settings):
    """Restricted data never leave data/ (``disclosure:``; README "Restricted data")."""

    min_cell: Annotated[int, Field(ge=2, le=1000)] = 11
    """Counts 1 to min_cell - 1 from a restricted study are suppressed (11: the U.S. CMS cell-size rule)."""
    public_studies: list[str] = ["nhanes", "gss", "places", "countries", "synthetic"]
    """Studies published for anyone, never suppressed (study folders, and the SYNTHETIC cohort)."""


class ReliabilitySettings(Settings):
    """Reliability of the multi-item measures, computed in the clean stages (``reliability:``)."""

    ci_level: Probability = 0.95
    """Confidence level of Cronbach's alpha and KR-20 (Feldt F interval)."""
    icc_form: Literal["ICC(A,1)", "ICC(C,1)", "ICC(1,1)"] = "ICC(A,1)"
    """ICC form of a person-level index's wave-to-wave stability (estimators.reliability.icc says why)."""


class ReportsSettings(Settings):
    """What every study's report stage writes (``reports:``)."""

    figure_formats: list[Literal["png", "svg", "pdf"]] = ["png", "svg"]
    """Formats each figure is saved in."""

    @model_validator(mode="after")
    def _formats(self) -> ReportsSettings:
        if not self.figure_formats or "png" not in self.figure_formats:
            raise ValueError("figure_formats must include 'png' (the notebooks and the paper embed PNG)")
        return self


class SharedParams(Settings):
    """The sections at the top of params.yaml that every stage may read."""

    data: DataSettings = DataSettings()
    compute: ComputeSettings = ComputeSettings()
    disclosure: DisclosureSettings = DisclosureSettings()
    reliability: ReliabilitySettings = ReliabilitySettings()
    reports: ReportsSettings = ReportsSettings()


S = TypeVar("S", bound=Settings)


# ---------------------------------------------------------------------------------------------------------
# Reading and validating


def study_names() -> list[str]:
    """The study folders (``analysis/studies/<name>/``): the allowed study sections of params.yaml."""
    folder = Path(__file__).resolve().parents[1] / "studies"
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists())


def params_path(path: str | Path | None = None) -> Path:
    return Path(path) if path else project_root() / PARAMS_FILE


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML file as a mapping; a syntax error names the file, the line and the column."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 (a safe loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {err.problem or err.context}"
                          + (f" ({err.context})" if err.context and err.problem else "")) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data


def check_top_level(data: Mapping[str, Any], path: Path, *, extra: tuple[str, ...] = ()) -> None:
    """Every top-level key is a shared section or a study folder; a near miss names the likely one."""
    allowed = [*SHARED_SECTIONS, *study_names(), *extra]
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise ConfigError("\n".join(
            f"{path}, line {line_of(path, (key,)) or '?'}: unknown top-level key '{key}'{_did_you_mean(key, allowed)}; "
            f"the sections are {', '.join(allowed)}" for key in unknown))


def _did_you_mean(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@cache
def _study_model(study: str, model: type[Settings]) -> type[SharedParams]:
    return create_model(f"{study.title()}Params", __base__=SharedParams, **{study: (model, ...)})


def params_slice(data: Mapping[str, Any], keys: typing.Iterable[str], path: str | Path = PARAMS_FILE) -> dict:
    """``{key: value}`` for each dotted key (``"nhanes.models"``, ``"compute.n_jobs"``) of the parsed params.yaml
    ``data``: what a stage reads, as its parameter dependency records it."""
    out = {}
    for key in keys:
        node: Any = data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise ConfigError(f"{path}: no key '{key}' (a stage's parameter dependency; analysis/stage_params.py)")
            node = node[part]
        out[key] = node
    return out


def slice_text(values: Mapping[str, Any]) -> str:
    """A stage's keys and values as the JSON text of its ``data/params/<stage>.json`` (sorted, so the same values
    always give the same bytes and DVC's hash changes only when a value does)."""
    return json.dumps(values, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


_GONE = object()  # a key no longer in params.yaml: unequal to any recorded value


def check_stage_slice(data: Mapping[str, Any], path: str | Path = PARAMS_FILE) -> None:
    """Under DVC (``$DVC_STAGE``), stop when the stage's ``data/params/<stage>.json`` no longer holds the values of
    params.yaml: the file is the stage's dependency, so a result made from other values would be recorded as made
    from its. That happens only when params.yaml is edited and one stage is then run alone (``dvc repro -s``)."""
    stage = os.environ.get("DVC_STAGE", "").rpartition(":")[2]
    file = project_root() / SLICES / f"{stage}.json"
    if not stage or not file.is_file():  # not under DVC, or a stage that reads no key (its file does not exist)
        return
    recorded = json.loads(file.read_text(encoding="utf-8"))
    changed = []
    for key, value in recorded.items():
        try:
            now = json.loads(slice_text(params_slice(data, [key], path)))[key]
        except ConfigError:
            now = _GONE
        if now != value:
            changed.append(key)
    if changed:
        raise ConfigError(f"{SLICES / file.name}: out of date with {path} (changed since the params stage wrote it: "
                          f"{', '.join(changed)}); run `dvc repro {stage}` without --single-item, so the params stage "
                          "rewrites it first")


def read_params(path: str | Path | None = None) -> tuple[Path, dict[str, Any]]:
    """params.yaml parsed, for every loader: its top-level keys checked, and under DVC the stage's own params file
    compared with it (:func:`check_stage_slice`). Returns the path and the raw mapping, not yet validated."""
    path = params_path(path)
    data = read_yaml(path)
    check_top_level(data, path)
    check_stage_slice(data, path)
    return path, data


def load_shared(path: str | Path | None = None) -> SharedParams:
    """The shared sections of params.yaml, validated (the stages that belong to no study: fetch, the index)."""
    path, data = read_params(path)
    return validate(SharedParams, {k: data[k] for k in SHARED_SECTIONS if k in data}, path)


def load_study(study: str, model: type[S], path: str | Path | None = None) -> Any:
    """The shared sections and ``study``'s own section of params.yaml, validated: ``.data``, ``.compute``,
    ``.disclosure``, ``.reliability``, ``.reports`` and ``.<study>`` (an instance of ``model``)."""
    path, data = read_params(path)
    if study not in data:
        raise ConfigError(f"{path}: missing section '{study}:'")
    picked = {k: data[k] for k in (*SHARED_SECTIONS, study) if k in data}
    return validate(_study_model(study, model), picked, path)


def validate(model: type[S], data: Mapping[str, Any], path: str | Path = PARAMS_FILE, *, root: str = "") -> S:
    """``model`` built from ``data``, or one ConfigError listing every problem with its key, line and value.

    ``root``: the key path of ``data`` in params.yaml, for a block built from parts of the file (a cohort study's
    merged index): its reads are traced, and its messages named, under that path."""
    path = Path(path)
    _VALIDATING.append(True)
    try:
        out = model.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigError(describe(err, model, path)) from None
    finally:
        _VALIDATING.pop()
    _set_paths(out, root)
    return out


def describe(err: ValidationError, model: type[BaseModel], path: Path) -> str:
    """One line per problem: file and line, key path, the value, what is wrong and what is allowed. A key that
    failed through every branch of a union (a number written as text: not an int, not a float) is one problem,
    with the last branch's message."""
    problems: dict[tuple, list[str]] = {}
    for e in err.errors(include_url=False):
        loc = _field_loc(model, tuple(e["loc"]))
        problems[(loc, e["type"] == "extra_forbidden")] = _problem_lines(e, loc, model, path)
    lines = [line for found in problems.values() for line in found]
    count = len(lines)
    head = f"{path}: {count} problem{'s' if count > 1 else ''} in the configuration (nothing was run):"
    return "\n".join([head, *("  " + line for line in lines)])


def _problem_lines(e: Any, loc: tuple, model: type[BaseModel], path: Path) -> list[str]:
    key = _join("", *loc) or "(top level)"
    line = line_of(path, loc)
    where = f"{path}, line {line}" if line else str(path)
    value, kind, msg = e.get("input"), e["type"], e["msg"]
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        hint = _did_you_mean(str(loc[-1]), allowed)
        return [f"{where}: {key}: unknown key{hint}; the keys here are {', '.join(allowed)}"]
    if kind == "missing":
        return [f"{where}: {key}: required key missing"]
    msg = msg.removeprefix("Value error, ")
    if isinstance(value, (dict, list)) or kind == "value_error":
        # a rule between fields: its message names the keys below ``loc`` ("weight_domains[0].cycles: ...")
        out = []
        for part in msg.split("\n"):
            sub = _RELATIVE.match(part)
            if sub:
                full = loc + _parse_key(sub.group(1))
                at_line = line_of(path, full)
                at = f"{path}, line {at_line}" if at_line else str(path)
                out.append(f"{at}: {_join('', *full)}: {sub.group(2)}")
            else:
                out.append(f"{where}: {key}: {part}")
        return out
    return [f"{where}: {key} = {_short(value)}: {msg}"]


_RELATIVE = re.compile(r"^([A-Za-z_][\w-]*(?:\[\d+\]|\.[\w-]+)*): (.+)$")


def _parse_key(text: str) -> tuple:
    """``"a.b[2].c"`` -> ``("a", "b", 2, "c")``."""
    out: list[str | int] = []
    for name, index in re.findall(r"([\w-]+)|\[(\d+)\]", text):
        out.append(int(index) if index else name)
    return tuple(out)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes an annotation may hold (through Optional, Annotated, list, dict and unions)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _unwrap(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _child(annotation: Any, step: str | int) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _child(typing.get_args(annotation)[0], step)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _child(arg, step)
            if found is not None:
                return found
        return None
    if origin in (list, tuple) and isinstance(step, int):
        return typing.get_args(annotation)[0]
    if origin is dict:
        return typing.get_args(annotation)[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(step, str):
        field = annotation.model_fields.get(step)
        return field.annotation if field else None
    return None


def _field_loc(model: type[BaseModel], loc: tuple) -> tuple:
    """``loc`` without pydantic's union-branch tags (``constrained-int``, a model's class name): the key path."""
    out: list = []
    annotation: Any = model
    for step in loc:
        child = _child(annotation, step)
        if child is None and isinstance(step, str) and annotation is not None and _is_union(annotation):
            continue  # a tag naming the branch of a union that failed
        out.append(step)
        annotation = child
    return tuple(out)


def _is_union(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _is_union(typing.get_args(annotation)[0])
    return origin in (typing.Union, types.UnionType)


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed at ``loc`` (for an unknown key's suggestion)."""
    annotation: Any = model
    for step in loc:
        annotation = _child(annotation, step)
        if annotation is None:
            return []
    return sorted({name for m in _unwrap(annotation) for name in m.model_fields})


def line_of(path: Path, loc: tuple) -> int | None:
    """The line (1-based) of the key at ``loc`` in the YAML file, for messages; None if not found."""
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError):
        return None
    line = None
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(step):
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            return line
    return line
