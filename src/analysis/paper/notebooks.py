"""Execute a jupytext notebook with papermill and render it to HTML for reviewers.

The ``.py`` (percent format) source is the file under version control. Execution runs in the
project root with parameters injected from ``params.yaml`` (papermill ``parameters`` cell). The
executed notebook is normalised before it becomes a DVC output (cell ids ``cell-N``, no execution
timestamps or papermill run metadata), so a rerun with the same inputs gives the same file (see
TOOLING.md: jupytext's random ids and papermill's timestamps otherwise change every run).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from analysis.core import config, io


def normalise(nb: Any) -> Any:
    """Stable ids, no timing metadata: two runs with the same inputs give the same notebook."""
    nb.metadata.pop("papermill", None)
    nb.metadata.get("widgets", None)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
        meta = cell.get("metadata", {})
        meta.pop("papermill", None)
        meta.pop("execution", None)
        if "tags" in meta and not meta["tags"]:
            meta.pop("tags")
        if cell.get("cell_type") == "code":
            cell["execution_count"] = None
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = None
    return nb


def run_notebook(source: Path, out_dir: Path, parameters: dict | None = None, timeout: int = 1200) -> Path:
    """Execute ``source`` (jupytext .py) and write ``<stem>.ipynb`` and ``<stem>.html`` to out_dir. The notebook
    loads its study's typed settings from ``params_file`` itself (the injected parameter)."""
    import jupytext
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"{source}: notebook source not found")
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    injected = {"params_file": "params.yaml"}
    injected.update(parameters or {})
    with tempfile.TemporaryDirectory() as tmp:
        src_nb = Path(tmp) / f"{source.stem}.ipynb"
        run_nb = Path(tmp) / f"{source.stem}.run.ipynb"
        nbformat.write(nb, src_nb)
        env_backend = os.environ.get("MPLBACKEND")
        os.environ.pop("MPLBACKEND", None)  # Agg would silently drop inline figures (TOOLING.md)
        try:
            pm.execute_notebook(str(src_nb), str(run_nb), parameters=injected, cwd=os.getcwd(),
                                kernel_name="python3", progress_bar=False, execution_timeout=timeout,
                                request_save_on_cell_execute=False)
        finally:
            if env_backend is not None:
                os.environ["MPLBACKEND"] = env_backend
        executed = normalise(nbformat.read(run_nb, as_version=4))
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    html, _ = exporter.from_notebook_node(executed)
    stem = out_dir / source.stem
    with io.staged_outputs():
        io.write_text(stem.with_suffix(".ipynb"), nbformat.writes(executed) + "\n")
        io.write_text(stem.with_suffix(".html"), html)
    return stem.with_suffix(".html")


def stage(source: str) -> str:
    """DVC stages ``notebook_*``: execute ``notebooks/NN_name.py`` and render it to HTML under reports/notebooks."""
    out = run_notebook(Path(source), config.REPORTS / "notebooks")
    return f"executed and rendered {out}"
