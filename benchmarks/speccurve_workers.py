"""Specifications per minute of the NHANES specification curve on 1, 2 and 4 Dask workers (issue 23, "Measured").

Usage: ``PYTHONPATH=src python benchmarks/speccurve_workers.py [N] [WORKERS...]`` (default 96 specifications,
workers 1 2 4). Takes every (1440 / N)-th specification of ``params.yaml`` ``nhanes.specification_curve`` (so
the mix of designs, imputed and complete-case fits is the curve's), fits them with no cache on a
``LocalCluster`` of each size (single-threaded worker processes), and prints one JSON line per size: wall
seconds, CPU seconds of this process, specifications per minute, the 1-minute load average before and after,
and whether the records equal those of the first size (they must). The cluster's start-up is timed apart.
"""

from __future__ import annotations

import json
import os
import sys
import time

import pandas as pd

from analysis.core import config, io
from analysis.estimators.runner import dask_client, run_chunks
from analysis.estimators.specification_curve import fit_specifications
from analysis.studies.nhanes import specifications as curve
from analysis.studies.nhanes.settings import load


def main(n: int = 96, workers: tuple[int, ...] = (1, 2, 4)) -> None:
    nh = load().nhanes
    table = io.read_parquet(config.PROCESSED / "nhanes.parquet")
    base = curve.curve_table(table, curve.read_clocks(config.RAW / "nhanes", nh), nh.specification_curve,
                             (nh.models.weight, nh.models.exam_weight))
    tables = [base, *curve.completed_tables(base, nh, curve.Path(nh.specification_curve.cache_dir))]
    choices = curve.specification_table(nh.specification_curve)
    specs = curve.specifications(nh, choices)
    step = max(1, len(specs) // n)
    sample = specs[::step][:n]
    size = nh.specification_curve.chunk_size
    chunks = [sample[i:i + size] for i in range(0, len(sample), size)]
    reference = None
    for k in workers:
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        with dask_client(k) as client:
            ready = time.perf_counter()
            cpu = time.process_time()
            results = run_chunks(fit_specifications, chunks, shared=[tables], desc=f"{k} workers", client=client,
                                 progress=False)
            seconds = time.perf_counter() - ready
        records = pd.DataFrame([f.record for c in results for f in c])
        same = True if reference is None else records.equals(reference)
        reference = records if reference is None else reference
        print(json.dumps({"workers": k, "specifications": len(sample), "startup_s": round(ready - start, 2),
                          "wall_s": round(seconds, 2), "cpu_s_client": round(time.process_time() - cpu, 2),
                          "specs_per_minute": round(60 * len(sample) / seconds, 1),
                          "load_1min_before": load_before, "load_1min_after": os.getloadavg()[0],
                          "identical_records": bool(same)}), flush=True)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(args[0] if args else 96, tuple(args[1:]) or (1, 2, 4))
