"""Trace the project files each DVC stage reads (loaded by Python at start-up when this folder is on PYTHONPATH).

With ``ANALYSIS_TRACE_DIR`` and ``ANALYSIS_TRACE_ROOT`` set, an audit hook (PEP 578) records every file under
the project root that a process opens for reading, including the modules it imports (``io.open_code``; a
cached ``__pycache__/x.cpython-311.pyc`` counts as its ``x.py``). The stage is named by the command line
``python -m analysis <study> <step>``; child processes (a notebook's kernel) inherit the name through
``ANALYSIS_TRACE_STAGE``. Each process appends ``stage<TAB>path`` lines to ``<dir>/<pid>.tsv``.
tests/test_stage_deps.py compares those reads with each stage's ``deps`` in dvc.yaml.

Reads made by C libraries with their own ``open`` (pyarrow, pyreadstat, pyreadr) are not seen: the project
reads parquet through ``analysis.core.io.read_parquet``, which opens the file in Python, for that reason.
"""

import os
import sys

_DIR = os.environ.get("ANALYSIS_TRACE_DIR")
_ROOT = os.environ.get("ANALYSIS_TRACE_ROOT")


def _stage_label():
    argv = list(getattr(sys, "orig_argv", []))
    if "-m" in argv:
        i = argv.index("-m")
        if i + 1 < len(argv) and argv[i + 1] == "analysis":
            words = [a for a in argv[i + 2:] if not a.startswith("-")]
            return " ".join(words[:3])
    return os.environ.get("ANALYSIS_TRACE_STAGE")


def _install():
    label = _stage_label()
    if not label:
        return
    os.environ["ANALYSIS_TRACE_STAGE"] = label
    root = os.path.realpath(_ROOT) + os.sep
    log = os.path.join(_DIR, f"{os.getpid()}.tsv")
    seen = set()
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def hook(event, args):
        if event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        path, mode = args[0], args[1] if len(args) > 1 else None
        flags = args[2] if len(args) > 2 else 0
        if isinstance(mode, str):
            if any(c in mode for c in "wax+"):
                return
        elif isinstance(flags, int) and flags & write_flags:
            return
        path = os.fsdecode(path)
        full = os.path.realpath(path if os.path.isabs(path) else os.path.join(os.getcwd(), path))
        if not full.startswith(root) or full in seen or not os.path.isfile(full):
            return
        seen.add(full)
        rel = full[len(root):]
        head, name = os.path.split(rel)
        if os.path.basename(head) == "__pycache__" and name.endswith(".pyc"):
            rel = os.path.join(os.path.dirname(head), name.split(".")[0] + ".py")
        with open(log, "a", encoding="utf-8") as out:  # our own write: mode "a" is ignored above
            out.write(f"{label}\t{rel}\n")

    sys.addaudithook(hook)


if _DIR and _ROOT:
    _install()
