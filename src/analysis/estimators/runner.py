"""One runner for many independent fits: in order, optionally in worker processes, with a progress bar.

Every model stage fits a list of independent jobs (exposure x covariate set x outcome x design...). Each
job is ``(label, callable)``; the callables take no arguments and return data (records). Results come
back in job order whatever ``n_jobs`` is, and every fit is deterministic, so two runs give identical
tables; ``n_jobs > 1`` runs them in joblib worker processes (loky), which pays off when single fits are
long (a BLAS-threaded fit would compete with the other workers for the cores).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from joblib import Parallel, delayed
from tqdm.auto import tqdm

T = TypeVar("T")


def run_jobs(jobs: Sequence[tuple[str, Callable[[], T]]], *, desc: str, n_jobs: int = 1,
             progress: bool = True) -> list[T]:
    """Run every ``(label, callable)`` of ``jobs``; return their results in job order.

    A tqdm bar named ``desc`` counts the fits and shows the label of the last one finished
    (``progress=False`` hides it).
    """
    calls = [run for _, run in jobs]
    results = (Parallel(n_jobs=n_jobs, return_as="generator")(delayed(call)() for call in calls) if n_jobs > 1
               else (call() for call in calls))
    out: list[T] = []
    with tqdm(zip(jobs, results), total=len(jobs), desc=desc, unit="fit", leave=False,
              disable=not progress) as bar:
        for (label, _), result in bar:
            bar.set_postfix_str(label, refresh=False)
            out.append(result)
    return out
