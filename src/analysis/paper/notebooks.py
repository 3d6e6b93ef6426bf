"""Execute a jupytext notebook with papermill and render it to HTML for reviewers.

The ``.py`` (percent format) source is the file under version control. Execution runs in the
project root with parameters injected from ``params.yaml`` (papermill ``parameters`` cell). The
executed notebook is normalised before it becomes a DVC output (cell ids ``cell-N``, no execution
timestamps or papermill run metadata), so a rerun with the same inputs gives the same file (see
TOOLING.md: jupytext's random ids and papermill's timestamps otherwise change every run).

For reviewers in a browser the executed notebook shows its parameters once (papermill's injected cell; the
defaults cell it overrides is dropped), carries its own title (its first Markdown heading), and is rendered
with the template ``templates/notebook`` (nbconvert's "lab" page without require.js, MathJax and mermaid,
which it would load from a CDN, and with wide tables scrolling inside their own box). Inside the notebook,
``readable_p_values()`` makes every DataFrame show its p- and q-value columns as ``<0.001`` / ``0.042``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from analysis.core import config, io

TEMPLATES = Path(__file__).parent / "templates"
#: Columns shown as p-values: ``p``, ``q``, ``p_value``, ``q_value``, ``p_adjusted`` ... (the record contract's
#: ``p_value`` and the false-discovery-rate ``q_value`` beside it).
P_COLUMN = re.compile(r"^[pq](_\w+)?$")


def format_p(p: Any) -> str:
    """A p-value as a reader wants it: ``<0.001``, else three decimals; missing stays blank."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        return "" if p is None else str(p)
    if value != value:
        return ""
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _is_p_column(name: Any) -> bool:
    names = name if isinstance(name, tuple) else (name,)
    return any(isinstance(n, str) and P_COLUMN.match(n) for n in names)


def with_readable_p(frame: Any) -> Any:
    """A copy of ``frame`` whose p- and q-value columns are text (``format_p``); other columns untouched."""
    columns = [c for c in frame.columns if _is_p_column(c)]
    if not columns:
        return frame
    shown = frame.copy()
    for column in columns:
        shown[column] = shown[column].map(format_p)
    return shown


def readable_p_values(shell: Any = None) -> None:
    """Inside a notebook: every DataFrame it displays shows p-values as ``<0.001`` (HTML and plain text), never
    pandas' ``0.000000``. The data are untouched; only IPython's display of them changes."""
    import pandas as pd

    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        return
    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type(pd.DataFrame, lambda df: with_readable_p(df)._repr_html_())
    formatters["text/plain"].for_type(pd.DataFrame, lambda df, printer, cycle: printer.text(repr(with_readable_p(df))))


def title(nb: Any) -> str:
    """The notebook's title: the first Markdown heading (``# ...``) of its cells."""
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            for line in cell.get("source", "").splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


def _assigned(cell: Any) -> set[str]:
    import ast

    try:
        tree = ast.parse(cell.get("source", ""))
    except SyntaxError:
        return set()
    return {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) for t in node.targets
            if isinstance(t, ast.Name)}


def parameters_once(nb: Any) -> Any:
    """Drop the defaults cell (tag ``parameters``) when papermill's injected cell (tag ``injected-parameters``)
    sets every name it sets: the reader then sees the parameters once, with the values that ran."""
    def tagged(tag: str) -> list[int]:
        return [i for i, c in enumerate(nb.cells) if tag in c.get("metadata", {}).get("tags", [])]

    defaults, injected = tagged("parameters"), tagged("injected-parameters")
    if len(defaults) == 1 and injected:
        if _assigned(nb.cells[defaults[0]]) <= set().union(*(_assigned(nb.cells[i]) for i in injected)):
            del nb.cells[defaults[0]]
    return nb


def render_html(nb: Any) -> str:
    """The notebook as one offline HTML page (template ``templates/notebook``), titled by ``title(nb)``."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="notebook", extra_template_basedirs=[str(TEMPLATES)])
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title(nb) or "notebook"}})
    return html


def normalise(nb: Any) -> Any:
    """Stable ids, no timing metadata: two runs with the same inputs give the same notebook."""
    nb.metadata.pop("papermill", None)
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
        executed = normalise(parameters_once(nbformat.read(run_nb, as_version=4)))
    if title(executed):
        executed.metadata["title"] = title(executed)
    html = render_html(executed)
    stem = out_dir / source.stem
    with io.staged_outputs():
        io.write_text(stem.with_suffix(".ipynb"), nbformat.writes(executed) + "\n")
        io.write_text(stem.with_suffix(".html"), html)
    return stem.with_suffix(".html")


def stage(source: str) -> str:
    """DVC stages ``notebook_*``: execute ``notebooks/NN_name.py`` and render it to HTML under reports/notebooks."""
    out = run_notebook(Path(source), config.REPORTS / "notebooks")
    return f"executed and rendered {out}"
