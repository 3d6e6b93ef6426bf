"""One runner for many independent fits: in order, in this process, in joblib workers or on a Dask cluster.

Every model stage fits a list of independent jobs (exposure x covariate set x outcome x design...). Each
job is ``(label, callable)``; the callables take no arguments and return data (records). Results come
back in job order whatever the backend and the number of workers, and every fit is deterministic, so two
runs give identical tables.

Backends:

* ``"joblib"`` (the default, every model stage): ``n_jobs > 1`` runs the jobs in joblib worker processes
  (loky), which pays off when single fits are long.
* ``"threads"``: ``n_jobs`` threads of this process (joblib's threading backend), for jobs that wait on another
  program or on a library that releases the GIL (the manuscript's pandoc and Typst runs): no worker start-up.
* ``"dask"``: a ``dask.distributed`` cluster. ``scheduler=None`` starts a ``LocalCluster`` of ``n_jobs``
  single-threaded worker processes on this machine for the duration of the call; ``scheduler="tcp://host:8786"``
  sends the same work to a running cluster (``params.yaml`` ``compute.scheduler``; README "Running on a
  cluster"). Its workers need this package and its dependencies importable (the same environment).

:func:`run_chunks` is the form for thousands of short fits that share large inputs (a specification curve):
the shared inputs are sent to every worker once (``Client.scatter(..., broadcast=True)``), the items go in
chunks, and a tqdm bar counts the items done. Every call runs with one BLAS thread, so a fit gives the same
bits in this process and on any worker: results are identical for any number of workers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from joblib import Parallel, delayed
from joblib.externals.loky import get_reusable_executor
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

T = TypeVar("T")
BACKENDS = ("joblib", "threads", "dask")


def run_jobs(jobs: Sequence[tuple[str, Callable[[], T]]], *, desc: str, n_jobs: int = 1,
             progress: bool = True, backend: str = "joblib", scheduler: str | None = None,
             processes: bool = True) -> list[T]:
    """Run every ``(label, callable)`` of ``jobs``; return their results in job order.

    A tqdm bar named ``desc`` counts the fits and shows the label of the last one finished
    (``progress=False`` hides it). ``backend`` "dask" runs them on a Dask cluster (module docstring; one task
    per job, ``processes=False`` starts the local cluster's workers as threads).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend '{backend}' unknown; use one of {list(BACKENDS)}")
    calls = [run for _, run in jobs]
    if backend == "dask":
        results = run_chunks(_call_each, [[c] for c in calls], desc=desc, n_jobs=n_jobs, scheduler=scheduler,
                             progress=progress, processes=processes)
        return [r[0] for r in results]
    if n_jobs <= 1:
        results = (call() for call in calls)
    elif backend == "threads":  # threads share this process's BLAS setting (one thread, analysis.cli)
        results = Parallel(n_jobs=n_jobs, return_as="generator", prefer="threads")(delayed(call)() for call in calls)
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_single_threaded_call)(call) for call in calls)
    out: list[T] = []
    with tqdm(zip(jobs, results), total=len(jobs), desc=desc, unit="fit", leave=False,
              disable=not progress) as bar:
        for (label, _), result in bar:
            bar.set_postfix_str(label, refresh=False)
            out.append(result)
    return out


def start_jobs(jobs: Sequence[tuple[str, Callable[[], T]]], *, workers: int = 0) -> Callable[[], list[T]]:
    """Start ``jobs`` in ``workers`` worker processes now and return a function that waits for their results (in job
    order): this process does other work meanwhile. With ``workers == 0`` the jobs run in this process, in order,
    when the results are asked for."""
    calls = [run for _, run in jobs]
    if workers < 1 or not calls:
        return lambda: [call() for call in calls]
    # loky's executor itself (joblib's process pool): joblib's Parallel runs one worker's jobs in this process
    executor = get_reusable_executor(max_workers=workers)
    futures = [executor.submit(_single_threaded_call, call) for call in calls]
    return lambda: [future.result() for future in futures]


def _call_each(calls: list[Callable[[], T]]) -> list[T]:
    return [call() for call in calls]


def _single_threaded_call(call: Callable[[], T]) -> T:
    with threadpool_limits(limits=1):  # a worker's BLAS threads as this process's (analysis.cli): the same bits
        return call()


def _single_threaded(func: Callable, chunk: Sequence, *shared: Any) -> list:
    with threadpool_limits(limits=1):
        return func(chunk, *shared)


@contextmanager
def dask_client(n_jobs: int = 1, scheduler: str | None = None, *, processes: bool = True):
    """A ``distributed.Client``: connected to ``scheduler`` (an address such as ``"tcp://host:8786"``) or to a
    ``LocalCluster`` of ``n_jobs`` single-threaded workers started here (processes, or threads when
    ``processes=False``, as the tests use) and closed on exit. No dashboard is started.

    The local workers start without Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``
    (``distributed.nanny.pre-spawn-environ``): setting any glibc malloc tunable turns off glibc's adaptive mmap
    threshold, so every array above 128 kB (a Cox fit's n x p temporaries) was mapped and unmapped afresh,
    page faults and all: the specification curve's fits took 1.5 times the CPU in a worker that they take in
    this process (measured 2026-12-07; 252 fits, 8.2 s against 5.5 s, a third of it system time). Workers then
    keep freed memory for reuse, as this process does."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=processes, dashboard_address=None,
                               silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        yield client


class SharedCluster:
    """One Dask client for several :func:`run_chunks` calls of a stage, started on first use and closed on exit:
    a stage that imputes and then fits pays for one cluster (its start-up and every worker's imports), and a
    rerun that finds everything cached starts none. With ``n_jobs == 1`` and no ``scheduler`` it starts nothing
    and :func:`run_chunks` runs in this process."""

    def __init__(self, n_jobs: int = 1, scheduler: str | None = None, *, processes: bool = True):
        self.n_jobs, self.scheduler, self.processes = n_jobs, scheduler, processes
        self._context = None
        self._client = None

    def client(self):
        """The open client (started now if needed), or None when the work runs in this process."""
        if self.n_jobs == 1 and self.scheduler is None:
            return None
        if self._context is None:
            self._context = dask_client(self.n_jobs, self.scheduler, processes=self.processes)
            self._client = self._context.__enter__()
        return self._client

    def __enter__(self) -> SharedCluster:
        return self

    def __exit__(self, *exc) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)
            self._context = self._client = None


def run_chunks(func: Callable[..., list[T]], chunks: Sequence[Sequence], *, shared: Sequence[Any] = (),
               desc: str, n_jobs: int = 1, scheduler: str | None = None, progress: bool = True,
               processes: bool = True, client=None) -> list[list[T]]:
    """``func(chunk, *shared)`` for every chunk of items; the results in chunk order.

    In this process when ``n_jobs == 1`` and no ``scheduler`` or ``client`` is given; otherwise on Dask
    (``client``, an open ``distributed.Client`` or a :class:`SharedCluster`, else :func:`dask_client`), with
    ``shared`` scattered to every worker once. The bar counts items (the chunks' lengths).
    """
    if isinstance(client, SharedCluster):
        if not chunks:
            return []
        n_jobs, scheduler, processes, client = client.n_jobs, client.scheduler, client.processes, client.client()
    sizes = [len(c) for c in chunks]
    with tqdm(total=sum(sizes), desc=desc, unit="fit", leave=False, disable=not progress) as bar:
        if client is None and n_jobs == 1 and scheduler is None:
            out = []
            for chunk, size in zip(chunks, sizes):
                out.append(_single_threaded(func, chunk, *shared))
                bar.update(size)
            return out
        if client is not None:
            return _on_dask(client, func, chunks, sizes, shared, bar)
        with dask_client(n_jobs, scheduler, processes=processes) as own:
            return _on_dask(own, func, chunks, sizes, shared, bar)


def _on_dask(client, func, chunks, sizes, shared, bar) -> list:
    from distributed import as_completed

    shared_futures = [client.scatter(value, broadcast=True) for value in shared]
    futures = [client.submit(_single_threaded, func, chunk, *shared_futures, pure=False) for chunk in chunks]
    size_of = {f.key: s for f, s in zip(futures, sizes)}
    for future in as_completed(futures):
        bar.update(size_of[future.key])
    return client.gather(futures)
