"""Fit times of the cohort models at full size, on the default SYNTHETIC cohort of ``params.yaml``.

Measures, on this machine, one run each (wall-clock, ``time.perf_counter``), on the SYNTHETIC cohort of
``params.yaml cohorts.synthetic`` (20,000 persons x 14 waves by default; ``--persons`` to change):

* the data: the generator (:func:`analysis.studies.cohorts.synthetic.simulate_cohort`), the Stata ``.dta`` write
  (:func:`analysis.studies.cohorts.synthetic.write_synthetic`, to a temporary folder) and the adapter that reads it
  into the long panel (:func:`analysis.studies.cohorts.clean.build_cohort_panel`);
* the model inputs: person-intervals (:func:`analysis.studies.cohorts.models.person_intervals`) and the
  inverse-probability-of-attrition weights (:func:`analysis.studies.cohorts.models.attrition_weights`);
* every fit separately, as :func:`analysis.studies.cohorts.models.run_cohort_models` calls it: the within-between
  mixed model (LMM), two-way FE, two-way FE with IPW, cloglog hazard (death, CVD), cloglog with IPW,
  time-varying Cox (death, CVD), the cumulative incidence curves, and the RI-CLPM
  (:func:`analysis.studies.cohorts.models.run_riclpm` with ``cohorts.models.riclpm``).

Targets (the issue): the mixed model and the FE model each under 60 s on 2 cores. Results are printed
and written to ``benchmarks/results/cohort_fit_times.json`` (not committed: numbers belong to a machine;
the load average and BLAS threads are recorded because other work on the machine inflates every time, and
multi-threaded OpenBLAS on a busy machine much more so: ``--blas-threads 1`` then is faster).

Run: ``.venv/bin/python benchmarks/cohort_fit_times.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from analysis.core import io  # noqa: E402

TARGETS = {"within_between_lmm": 60.0, "two_way_fe": 60.0}


def _blas_threads() -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_info

    return [{"api": i.get("internal_api"), "threads": i.get("num_threads")} for i in threadpool_info()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=None, help="persons (default: params.yaml, 20,000)")
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cohort_fit_times.json"))
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="limit BLAS/OpenMP threads (threadpoolctl); default: the library's own (= cores)")
    args = ap.parse_args(argv)
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads)

    from analysis.params import load
    from analysis.studies.cohorts import models as cm
    from analysis.studies.cohorts.clean import build_cohort_panel
    from analysis.studies.cohorts.synthetic import simulate_cohort, write_synthetic

    cohorts = load(args.params).cohorts  # params.yaml validated, the typed settings the stages pass
    spec, models = cohorts.synthetic, cohorts.models
    seconds: dict[str, float] = {}
    sizes: dict[str, Any] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn()
        seconds[name] = round(time.perf_counter() - start, 2)
        ok = ""
        if isinstance(result, pd.DataFrame) and "converged" in result.columns and len(result):
            ok = "" if result["converged"].fillna(False).astype(bool).all() else "  (NOT converged / failed)"
            if not ok and "n" in result.columns:
                sizes[name] = int(result["n"].iloc[0])
        print(f"  {name:<28} {seconds[name]:8.2f} s{ok}", flush=True)
        return result

    load_start = os.getloadavg()
    print(f"SYNTHETIC cohort, {args.persons or spec.persons:,} persons x {spec.waves} waves:")
    frame, truth = timed("generator", lambda: simulate_cohort(spec, persons=args.persons))
    with tempfile.TemporaryDirectory(prefix="cohort-fit-times-") as tmp:
        path = Path(tmp) / "synthetic_rand.dta"
        timed("write_dta", lambda: write_synthetic(frame, path))
        sizes["dta_megabytes"] = round(path.stat().st_size / 1e6, 1)
        panel, *_ = timed("adapter_build_cohort_panel", lambda: build_cohort_panel(cohorts, path))
    sizes["persons"] = int(truth["persons"])
    sizes["person_waves_interviewed"] = int(truth["person_waves_interviewed"])

    # The fits as run_cohort_models calls them (one study, the SYNTHETIC one).
    sub = cm.as_float(panel.loc[panel["study"] == "synthetic"].reset_index(drop=True))
    f = cm._Fit("synthetic", "SYNTHETIC cohort", models.exposures, models.alpha, True)
    dep, hz = models.depression, models.hazards
    intervals = timed("person_intervals", lambda: cm.person_intervals(sub))
    weights = timed("ipw_attrition_weights", lambda: cm.attrition_weights(
        sub, models.attrition.predictors, truncate=float(models.attrition.truncate)))
    timed("within_between_lmm", lambda: cm.fit_within_between(sub, f, dep))
    timed("two_way_fe", lambda: cm.fit_two_way_fe(sub, f, dep))
    timed("two_way_fe_ipw", lambda: cm.fit_two_way_fe(sub, f, dep, weights))
    key = sub["person_id"].astype(str) + "|" + sub["wave"].astype(int).astype(str)
    for name, o in hz.outcomes.items():
        rhs = " + ".join(x for x in (hz.covariates, o.covariates) if x)
        wave = intervals["wave"] + (1 if o.counted_at_next_interview else 0)
        wanted = intervals["person_id"].astype(str) + "|" + wave.astype(int).astype(str)
        iw = pd.Series(weights.to_numpy(), index=key).reindex(wanted).set_axis(intervals.index)
        # (each lambda runs at once, inside timed(); the loop variables are bound anyway)
        timed(f"cloglog_hazard_{name}",
              lambda n=name, o=o, r=rhs: cm.fit_cloglog(intervals, f, n, o, r, hz.covariate_set))
        timed(f"cloglog_hazard_ipw_{name}",
              lambda n=name, o=o, r=rhs, w=iw: cm.fit_cloglog(intervals, f, n, o, r, hz.covariate_set, w))
        timed(f"cox_time_varying_{name}",
              lambda n=name, o=o, r=rhs: cm.fit_cox_tv(intervals, f, n, o, r, hz.covariate_set))
    timed("cumulative_incidence", lambda: cm.cumulative_incidence(
        intervals, models.incidence_group, horizon_months=float(models.horizon_months)))
    riclpm = timed("riclpm", lambda: cm.run_riclpm(panel, models.riclpm, {"synthetic": "SYNTHETIC cohort"}))
    seconds_models = sum(v for k, v in seconds.items()
                         if k not in ("generator", "write_dta", "adapter_build_cohort_panel", "riclpm"))

    results = {
        "what": "SYNTHETIC cohort (params.yaml cohorts.synthetic): wall-clock seconds of one run of each step",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "blas_threads": _blas_threads(),
                    "load_average_start": [round(x, 2) for x in load_start],
                    "load_average_end": [round(x, 2) for x in os.getloadavg()]},
        "sizes": sizes,
        "seconds": seconds,
        "seconds_run_cohort_models_parts": round(seconds_models, 2),
        "riclpm_converged": bool(riclpm["converged"].fillna(False).astype(bool).all()) if len(riclpm) else False,
        "targets_seconds": TARGETS,
    }
    io.write_json(args.out, results)
    print(f"\n{'step':<28} {'seconds':>8}  target")
    for k, v in seconds.items():
        target = f"< {TARGETS[k]:.0f} s {'ok' if v < TARGETS[k] else 'MISSED'}" if k in TARGETS else ""
        print(f"{k:<28} {v:8.2f}  {target}")
    print(f"{'(all model steps)':<28} {seconds_models:8.2f}")
    print(f"load average at start {load_start[0]:.1f}, end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"wrote {args.out}")
    missed = [k for k, limit in TARGETS.items() if seconds[k] > limit]
    if missed:
        print(f"over target: {', '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
