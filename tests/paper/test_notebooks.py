"""What a reviewer sees of an executed notebook: readable p-values, its own title, the parameters once, and a
page that loads nothing from outside the machine and keeps wide tables in their own box."""

from __future__ import annotations

import re

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from analysis.paper.notebooks import format_p, parameters_once, readable_p_values, render_html, title, with_readable_p


@pytest.mark.parametrize(("p", "shown"), [(0.0, "<0.001"), (1e-12, "<0.001"), (0.000999, "<0.001"),
                                          (0.001, "0.001"), (0.0421, "0.042"), (1.0, "1.000"),
                                          (float("nan"), ""), (None, ""), ("n/a", "n/a")])
def test_format_p(p, shown):
    assert format_p(p) == shown


def test_only_p_and_q_columns_are_formatted():
    frame = pd.DataFrame({"estimate": [1e-5, 0.5], "p_value": [1e-9, 0.04213], "q_value": [0.0004, 0.2],
                          "p": [0.5, 0.0], "pct_missing": [0.0001, 0.3]})
    shown = with_readable_p(frame)
    assert shown["p_value"].tolist() == ["<0.001", "0.042"] and shown["q_value"].tolist() == ["<0.001", "0.200"]
    assert shown["p"].tolist() == ["0.500", "<0.001"]
    assert shown["estimate"].tolist() == [1e-5, 0.5] and shown["pct_missing"].tolist() == [0.0001, 0.3]
    assert frame["p_value"].tolist() == [1e-9, 0.04213]  # the data are untouched
    with pd.option_context("display.float_format", "{:f}".format):  # pandas' fixed notation: 0.000000
        assert "0.000000" in frame.to_html() and "<td>&lt;0.001</td>" in shown.to_html()


def test_readable_p_values_changes_the_notebook_display():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        frame = pd.DataFrame({"term": ["isolated", "lonely"], "p_value": [1e-9, 0.3]})
        before = shell.display_formatter.format(frame)[0]
        readable_p_values(shell)
        after = shell.display_formatter.format(frame)[0]
    finally:
        InteractiveShell.clear_instance()
    assert "1.000000e-09" in before["text/html"] and "1.000000e-09" in before["text/plain"]
    assert "<td>&lt;0.001</td>" in after["text/html"] and "<0.001" in after["text/plain"]
    assert "0.300" in after["text/plain"] and "e-09" not in after["text/html"] + after["text/plain"]


def executed_notebook(defaults: str = 'params_file = "params.yaml"') -> nbformat.NotebookNode:
    """A notebook as papermill leaves it: the defaults cell, then the injected cell that overrides it."""
    wide = pd.DataFrame([[f"value {i}-{j} " * 3 for j in range(30)] for i in range(3)])
    return new_notebook(cells=[
        new_markdown_cell("# NHANES: isolation and death\n\nIntro."),
        new_code_cell(defaults, metadata={"tags": ["parameters"]}),
        new_code_cell('# Parameters\nparams_file = "other.yaml"\n', metadata={"tags": ["injected-parameters"]}),
        new_code_cell("display(wide)", outputs=[new_output("display_data", data={"text/html": wide.to_html(),
                                                                                  "text/plain": "wide"})]),
        new_markdown_cell("## 1. Data"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def test_parameters_are_shown_once_with_the_values_that_ran():
    nb = parameters_once(executed_notebook())
    tagged = [c.metadata.get("tags") for c in nb.cells if c.cell_type == "code"]
    assert tagged == [["injected-parameters"], None]
    # a default the injected cell does not set is kept (the reader must see it)
    nb = parameters_once(executed_notebook('params_file = "params.yaml"\nalpha = 0.05'))
    assert [c.metadata.get("tags") for c in nb.cells if c.cell_type == "code"][:2] == [
        ["parameters"], ["injected-parameters"]]


def test_title_is_the_first_heading():
    assert title(executed_notebook()) == "NHANES: isolation and death"
    assert title(new_notebook(cells=[new_code_cell("x = 1")])) == ""


def test_page_loads_nothing_from_outside_and_carries_its_title():
    nb = executed_notebook()
    page = render_html(nb)
    assert "<title>NHANES: isolation and death</title>" in page
    # no script, stylesheet or image from the web (comments in the vendored CSS may name URLs)
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", page, re.IGNORECASE)
    assert "require.js" not in page and "MathJax" not in page and "mermaid" not in page
    assert ".jp-OutputArea-output { overflow-x: auto" in page  # wide tables scroll in their own box
