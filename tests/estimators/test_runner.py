"""The job runner: the same results, in job order, in this process, in joblib workers and on Dask."""

import pytest

from analysis.estimators.runner import run_chunks, run_jobs


def _square_each(chunk, offset):
    return [x * x + offset for x in chunk]


def test_backends_agree_in_job_order():
    jobs = [(f"job {i}", lambda i=i: i * i) for i in range(6)]
    expected = [i * i for i in range(6)]
    assert run_jobs(jobs, desc="t", progress=False) == expected
    assert run_jobs(jobs, desc="t", progress=False, backend="threads", n_jobs=2) == expected
    assert run_jobs(jobs, desc="t", progress=False, backend="dask", n_jobs=2, processes=False) == expected


def test_chunks_with_shared_inputs():
    chunks = [[1, 2], [3], [4, 5, 6]]
    here = run_chunks(_square_each, chunks, shared=[10], desc="t", progress=False)
    assert here == [[11, 14], [19], [26, 35, 46]]
    assert run_chunks(_square_each, chunks, shared=[10], desc="t", n_jobs=2, processes=False, progress=False) == here


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend 'spark' unknown"):
        run_jobs([], desc="t", backend="spark")


def test_a_shared_cluster_starts_once_and_only_when_there_is_work(monkeypatch):
    import analysis.estimators.runner as runner

    started = []
    real = runner.dask_client

    def counting(*args, **kwargs):
        started.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "dask_client", counting)
    chunks = [[1, 2], [3]]
    with runner.SharedCluster(2, processes=False) as shared:
        assert run_chunks(_square_each, [], shared=[0], desc="t", client=shared, progress=False) == []
        assert started == []  # nothing to run: no cluster
        first = run_chunks(_square_each, chunks, shared=[0], desc="t", client=shared, progress=False)
        second = run_chunks(_square_each, chunks, shared=[1], desc="t", client=shared, progress=False)
    assert (first, second) == ([[1, 4], [9]], [[2, 5], [10]])
    assert len(started) == 1  # one cluster for both calls
    with runner.SharedCluster(1) as here:  # one worker, no scheduler: in this process, no cluster
        assert run_chunks(_square_each, chunks, shared=[0], desc="t", client=here, progress=False) == first
    assert len(started) == 1


def _environment(chunk, name):
    import os

    return [os.environ.get(name) for _ in chunk]


def test_local_process_workers_keep_glibc_adaptive_malloc():
    # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers by default, which turns off glibc's adaptive mmap threshold
    # and made every large numpy temporary a fresh mapping (1.5x the CPU of the curve's fits): not in ours
    import os

    if "MALLOC_TRIM_THRESHOLD_" in os.environ:
        pytest.skip("MALLOC_TRIM_THRESHOLD_ is set in this environment (workers inherit it)")
    from analysis.estimators.runner import dask_client

    with dask_client(1) as client:  # one worker process, as the stages start them
        out = run_chunks(_environment, [[0]], shared=["MALLOC_TRIM_THRESHOLD_"], desc="t", client=client,
                         progress=False)
    assert out == [[None]]


def test_started_jobs_run_in_a_worker_meanwhile_and_come_back_in_job_order():
    import os

    from analysis.estimators.runner import start_jobs

    jobs = [(f"job {i}", lambda i=i: (i * i, os.getpid())) for i in range(4)]
    results = start_jobs(jobs, workers=1)()
    assert [value for value, _ in results] == [0, 1, 4, 9]
    assert {pid for _, pid in results} != {os.getpid()}  # in a worker process, not here
    ran = []
    wait = start_jobs([("here", lambda: ran.append(1) or os.getpid())], workers=0)
    assert not ran  # no worker: the job runs here when its result is asked for
    assert wait() == [os.getpid()] and ran == [1]
