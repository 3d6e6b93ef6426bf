"""Figures drawn in worker processes while a report stage writes its tables.

Drawing, laying out and measuring figures (:func:`analysis.report.figures.write_figure`) is most of a report stage's
time, and the figures are independent of each other: :func:`start_writers` sends them to the stage's worker
processes (``params.yaml`` ``compute.n_jobs``; :mod:`analysis.estimators.runner`) and the stage's outputs stay all
or none (:func:`analysis.core.io.adopt_outputs`). A module of its own: only the stages that use it import the runner.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from analysis.core import io
from analysis.estimators.runner import start_jobs
from analysis.report.figures import PRINT_WIDTH_IN, write_figure


def start_writers(writers: Sequence[tuple[str, Callable[[], list[Path]]]], n_jobs: int = 1
                  ) -> Callable[[], list[Path]]:
    """Start the figure ``writers`` (``(label, writer)``; each draws and saves figures and returns their paths) and
    return a function that finishes them and returns their paths. ``n_jobs - 1`` worker processes take all
    writers but every ``n_jobs``-th, which this process draws when the function is called, after its own work (the
    tables): drawing and measuring figures is most of a report stage's time, the figures are independent, and a
    stage of ``n_jobs`` processes so pays for ``n_jobs - 1`` workers' start-up. The workers' files join the stage's
    outputs (:func:`analysis.core.io.adopt_outputs`: renamed with the others, all or none). A worker draws the same
    bytes as this process (the same code, fonts and settings; checked by ``dvc repro``'s hashes)."""
    here = [writer for k, (_, writer) in enumerate(writers) if n_jobs > 1 and k % n_jobs == n_jobs - 1]
    there = [(label, functools.partial(io.deferred_call, writer)) for k, (label, writer) in enumerate(writers)
             if not (n_jobs > 1 and k % n_jobs == n_jobs - 1)]
    wait = start_jobs(there, workers=n_jobs - 1)

    def collect() -> list[Path]:
        written: list[Path] = []
        for writer in here:
            written += writer()
        for paths, pending in wait():
            io.adopt_outputs(pending)
            written += paths
        return written
    return collect


def draw_and_write(draw: Callable[..., Figure], *args: Any, dest_stem: str | Path,
                   formats: Sequence[str] = ("png", "svg"), print_width_in: float | None = PRINT_WIDTH_IN,
                   **kwargs: Any) -> list[Path]:
    """``draw(*args, **kwargs)`` saved by :func:`write_figure`: a figure writer for :func:`start_writers`."""
    return write_figure(draw(*args, **kwargs), dest_stem, formats, print_width_in)
