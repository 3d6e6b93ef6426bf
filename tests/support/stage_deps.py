"""What each DVC stage declares (dvc.yaml) and whether a list of files it used is covered by its deps.

Shared by tests/test_stage_deps.py (imports, fast) and tests/test_pipeline.py (every read of a real run).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from analysis.stage_params import STAGE_PARAMS

#: Files a stage may read without listing them as deps: params.yaml (the ``params`` stage declares it to DVC, and
#: each stage depends on its keys' values through ``data/params/<stage>.json``, which it checks against params.yaml
#: when it loads its settings: ``analysis.core.settings.check_stage_slice``), dvc.lock (DVC's own record of what
#: ran, shown in the reviewer index's provenance panel: DVC rewrites it after every stage, so it cannot be a dep of
#: one), and dvc.yaml (the pipeline itself, which DVC refuses as a dep: the reviewer index reads the paper stage's
#: declared outputs from it, and each of those outputs is also a dep of the index, so a new one reruns it).
PARAMS = "params.yaml"
DVC_LOCK = "dvc.lock"
DVC_YAML = "dvc.yaml"
#: The first stage: it checks params.yaml whole and writes every other stage's keys (``analysis/stage_params.py``).
PARAMS_STAGE = "params"


@dataclass(frozen=True)
class Stage:
    name: str
    cmd: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    has_params: bool
    params: tuple[str, ...] = ()
    whole_params: bool = False  #: declares the whole of params.yaml (the params stage)

    @property
    def words(self) -> list[str]:
        """``python -m analysis <study> <step> [args]`` -> [study, step, *args]."""
        parts = shlex.split(self.cmd)
        assert parts[:3] == ["python", "-m", "analysis"], f"stage {self.name}: command {self.cmd!r}"
        return parts[3:]

    @property
    def label(self) -> str:
        """The name the read trace gives the stage (tests/trace/sitecustomize.py)."""
        return " ".join(self.words[:3])

    @property
    def slice(self) -> str:
        """The stage's parameter dependency: its keys of params.yaml and their values (``analysis.stage_params``)."""
        return f"data/params/{self.name}.json"

    def covers(self, path: str) -> bool:
        """True if ``path`` (relative to the project) is a dep, inside a dep folder, or an output."""
        if (path == PARAMS and self.has_params) or path in (DVC_LOCK, DVC_YAML):
            return True
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in (*self.deps, *self.outs))

    def declares(self, key: str) -> bool:
        """True if the params key ``key`` (``nhanes.models.alpha``, ``nhanes.sensitivity.subgroups[1]``) is one of
        the stage's ``params:`` entries or lies below one."""
        return self.whole_params or any(key == p or key.startswith(p + ".") or key.startswith(p + "[")
                                        for p in self.params)


def _paths(entries) -> tuple[str, ...]:
    out = []
    for entry in entries or []:
        out.append(next(iter(entry)) if isinstance(entry, dict) else str(entry))
    return tuple(out)


def load_stages(root: Path) -> dict[str, Stage]:
    """Every stage of ``root``'s dvc.yaml, with the params keys ``analysis.stage_params`` declares for it (a stage
    reads params.yaml legitimately when it depends on its own keys' file, or declares the whole file to DVC)."""
    spec = yaml.safe_load((Path(root) / "dvc.yaml").read_text())
    stages = {}
    for name, s in spec["stages"].items():
        deps = _paths(s.get("deps"))
        whole = PARAMS in _paths(s.get("params"))
        stages[name] = Stage(name, s["cmd"], deps, _paths(s.get("outs")) + _paths(s.get("metrics")),
                             whole or f"data/params/{name}.json" in deps, STAGE_PARAMS.get(name, ()), whole)
    return stages


def uncovered(stage: Stage, files: set[str]) -> list[str]:
    """Project files ``stage`` used that its deps do not cover (ignoring git, DVC, the environment and the
    specification curve's fit cache, ``.cache/``: content-addressed by the hash of what each fit reads, so an entry
    is never stale and DVC need not track it; README "The specification curve")."""
    ignored = (".git/", ".dvc/", ".venv/", "tests/trace/", ".cache/")
    return sorted(f for f in files if not f.startswith(ignored) and not stage.covers(f))


def _trace(trace_dir: Path, suffix: str) -> dict[str, set[str]]:
    """Stage label -> the set of what every process's ``<pid><suffix>`` lists for it (``label<TAB>item`` lines)."""
    reads: dict[str, set[str]] = {}
    for log in Path(trace_dir).glob(f"*{suffix}"):
        for line in log.read_text(encoding="utf-8").splitlines():
            label, _, item = line.partition("\t")
            reads.setdefault(label, set()).add(item)
    return reads


def read_trace(trace_dir: Path) -> dict[str, set[str]]:
    """Stage label -> project files read, from every process's ``<pid>.tsv``."""
    return _trace(trace_dir, ".tsv")


def read_param_trace(trace_dir: Path) -> dict[str, set[str]]:
    """Stage label -> params keys read through the typed settings (``analysis.core.settings``), from every
    process's ``<pid>.params``."""
    return _trace(trace_dir, ".params")
