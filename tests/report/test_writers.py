"""Figures drawn in worker processes (analysis.report.writers): the same bytes as drawn here, and the stage's outputs
still all or none."""

from __future__ import annotations

from functools import partial

import pandas as pd
import pytest

from analysis.core import io
from analysis.report import figures as F
from analysis.report.writers import draw_and_write, start_writers

FLOW = pd.DataFrame({
    "step": [0, 1, 2], "label": ["Participants", "Answered the questionnaire", "Linked to mortality"],
    "n": [1000, 800, 790], "excluded": [0, 200, 10], "reason": ["", "No answer", "Ineligible"],
})


def _writers(folder, titles):
    return [(title, partial(draw_and_write, F.flow_diagram, FLOW, title, dest_stem=folder / f"flow_{k}",
                            formats=("png", "svg"), print_width_in=None)) for k, title in enumerate(titles)]


def test_figures_drawn_in_a_worker_are_the_bytes_drawn_here(tmp_path):
    titles = ["First flow", "Second flow", "Third flow"]
    here, there = tmp_path / "here", tmp_path / "there"
    with io.staged_outputs():
        written_here = start_writers(_writers(here, titles), n_jobs=1)()
    with io.staged_outputs():
        collect = start_writers(_writers(there, titles), n_jobs=2)  # flow_0 and flow_2 in the worker
        written_there = collect()
        assert not [p for p in written_there if p.exists()]  # renamed only when the stage's block ends
    assert sorted(p.name for p in written_here) == sorted(p.name for p in written_there)
    assert len(written_here) == 6
    for path in written_here:
        assert path.read_bytes() == (there / path.name).read_bytes(), path.name
    assert not [p for p in there.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_failing_stage_leaves_none_of_the_workers_figures(tmp_path):
    with pytest.raises(RuntimeError, match="a table failed"):
        with io.staged_outputs():
            collect = start_writers(_writers(tmp_path, ["One", "Two"]), n_jobs=2)
            try:
                raise RuntimeError("a table failed")
            finally:
                collect()
    assert not list(tmp_path.iterdir())  # neither the figures nor their temporary files
