"""``python -m analysis <study> <step> [args]``: every DVC stage is one registered step.

The registry is data, not code: each study folder (``analysis/studies/<name>/``) and the cross-study
layer (``analysis/paper/``) declare ``STEPS``, a mapping of step name to the module of that folder whose
``stage()`` function runs the step. This file holds no study logic and imports no study: it imports the
one package and the one module a command names, so a stage reads exactly the code its DVC ``deps`` list
(checked by tests/test_stage_deps.py).

Every ``stage()`` reads ``params.yaml`` through ``analysis.core.config`` and writes its outputs atomically
and all-or-none (``analysis.core.io.staged_outputs``). Errors are printed as one clear line (file, column,
value, what to do) with exit status 1; ``--traceback`` shows the Python traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from types import ModuleType

#: The layer that is not a study: it reads every study's outputs.
PAPER = "paper"
#: ``python -m analysis check``: params.yaml and every input file it names, validated before anything runs.
CHECK = "check"
#: ``python -m analysis params``: the first DVC stage; params.yaml validated, then each stage's keys written to its
#: own small file, the stage's parameter dependency (``analysis/stage_params.py``).
PARAMS = "params"


class UnknownStep(LookupError):
    """A command names a study or a step that no folder registers."""


def study_names() -> list[str]:
    """Every study folder under ``analysis/studies`` (in name order)."""
    studies = importlib.import_module("analysis.studies")
    return sorted(m.name for m in pkgutil.iter_modules(studies.__path__) if m.ispkg)


def study_package(study: str) -> ModuleType:
    """The package that registers ``study``'s steps (``analysis.paper`` for "paper")."""
    name = f"analysis.{PAPER}" if study == PAPER else f"analysis.studies.{study}"
    if study != PAPER and study not in study_names():
        raise UnknownStep(f"no study '{study}': the studies are {', '.join(study_names())} (and '{PAPER}')")
    return importlib.import_module(name)


def resolve(study: str, step: str):
    """The ``stage`` function of ``<study> <step>``: imports only that study's package and step module."""
    package = study_package(study)
    steps = getattr(package, "STEPS", {})
    if step not in steps:
        raise UnknownStep(f"study '{study}' has no step '{step}'; its steps are {', '.join(steps)}")
    module = importlib.import_module(f"{package.__name__}.{steps[step]}")
    return module.stage


def registry() -> dict[str, dict[str, str]]:
    """Study -> step -> module, for ``--list`` and the tests (imports every study's package)."""
    return {name: dict(study_package(name).STEPS) for name in [*study_names(), PAPER]}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on error")
    parser.add_argument("--list", action="store_true", help="list every study and its steps, then exit")
    parser.add_argument("study", nargs="?", help=f"a study folder, or '{PAPER}', or '{CHECK}' (validate params.yaml "
                        f"and its input files, run nothing), or '{PARAMS}' (the first stage: each stage's keys of "
                        "params.yaml to data/params/<stage>.json)")
    parser.add_argument("step", nargs="?", help="a step the study registers (fetch, clean, models, report, ...)")
    parser.add_argument("args", nargs="*", help="the step's arguments (e.g. the notebook to run)")
    return parser


def run_check(traceback: bool = False) -> int:
    """Validate the whole configuration and its input files; print the problems (exit 1) or a summary."""
    start = time.perf_counter()
    try:
        message = importlib.import_module("analysis.params").check()
    except Exception as err:  # one clear message, every problem listed
        if traceback:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{message} in {time.perf_counter() - start:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        for study, steps in registry().items():
            print(f"{study}: {', '.join(steps)}")
        return 0
    if args.study == CHECK and not args.step:
        return run_check(args.traceback)
    if args.study == PARAMS and not args.step:
        return run_stage(PARAMS, lambda: importlib.import_module("analysis.stage_params").write_slices(),
                         args.traceback)
    if not args.study or not args.step:
        parser.error("name a study and a step, e.g. `python -m analysis nhanes clean` (--list shows them all)")
    label = " ".join([args.study, args.step, *args.args])  # the notebook stages differ only in their argument
    return run_stage(label, lambda: resolve(args.study, args.step)(*args.args), args.traceback)


def run_stage(label: str, stage, traceback: bool = False) -> int:
    """Run one stage: its message, then its time and peak memory on one line (``benchmarks/run.py`` reads it);
    an error is one clear line, exit status 1 (the traceback on request)."""
    start = time.perf_counter()
    try:
        with one_blas_thread():
            message = stage()
    except Exception as err:  # one clear line for the user; the traceback on request
        if traceback:
            raise
        print(f"error in stage '{label}': {err}", file=sys.stderr)
        return 1
    if message:
        print(message)
    print(f"[{label}] done in {time.perf_counter() - start:.1f} s, {peak_memory()}", file=sys.stderr)
    return 0


def one_blas_thread():
    """The stage's own process does its linear algebra on one BLAS thread, as the worker processes do
    (``estimators/runner.py``): OpenBLAS's second thread, on the small and tall matrices of these models, cost
    3-5 times the CPU of one (threads waiting on each other, worse on a loaded machine; measured on the cohort,
    country and NHANES model stages, 2026-12-07) and made a fit's bits depend on where it ran.

    threadpoolctl limits only the BLAS libraries already loaded, and a stage imports numpy and scipy (each with
    its own OpenBLAS) after this is entered: ``OPENBLAS_NUM_THREADS`` makes those load with one thread (until
    2026-12-08 they did not, and the stages' own fits ran on two threads)."""
    import os

    from threadpoolctl import threadpool_limits

    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    return threadpool_limits(limits=1)


def peak_memory() -> str:
    """The stage's peak resident memory (this process, and the largest of its worker processes), for the log line
    that ``benchmarks/run.py`` reads: ``peak memory 412 MB (workers 380 MB)``."""
    import resource

    pool = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(pool, "_executor", None)  # loky's module-level pool (private: absent, nothing is stopped)
    if executor is not None:  # joblib's worker pool: stop it, so its workers count
        executor.shutdown(wait=True)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return f"peak memory {own:.0f} MB (workers {workers:.0f} MB)"
