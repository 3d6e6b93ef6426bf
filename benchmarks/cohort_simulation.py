"""Bias and 95% CI coverage of the cohort estimators over many SYNTHETIC cohorts (a Monte Carlo study).

What is measured. For ``rep = first .. first + reps - 1`` (``--first-rep``, default 0) with seed
``params.yaml cohorts.synthetic.seed + rep``:

1. the SYNTHETIC ageing cohort is simulated (:func:`analysis.studies.cohorts.synthetic.simulate_cohort`, ``--persons``
   persons x the waves of ``params.yaml``), written to a temporary Stata ``.dta`` with
   :func:`analysis.studies.cohorts.synthetic.write_synthetic` and read back through the real adapter
   (:func:`analysis.studies.cohorts.clean.build_cohort_panel`), so the file layout, the missing codes and the
   derivation of the panel are part of what is checked;
2. every estimator of ``cohorts.models`` is fitted (:func:`analysis.studies.cohorts.models.run_cohort_models`:
   within-between LMM, two-way FE, two-way FE with attrition weights, cloglog hazard, cloglog with
   attrition weights, time-varying Cox) and set beside the stated truth
   (:func:`analysis.studies.cohorts.models.truth_table`);
3. the RI-CLPM is simulated from stated parameters (:func:`analysis.estimators.sem.simulate_riclpm`,
   ``--riclpm-persons`` persons x ``--riclpm-waves`` waves, non-zero cross-lags in both directions, MAR
   dropout ``--riclpm-dropout``) and fitted by FIML (:func:`analysis.estimators.sem.fit_riclpm`); the
   autoregressions ``a_x``, ``a_y`` and cross-lags ``b_xy``, ``b_yx`` are kept.

Per model x parameter the summary gives: truth, reps with a usable estimate (``failed``: fits that gave
no estimate or SE), mean estimate, bias (mean estimate - truth), relative bias (bias / truth), the Monte
Carlo SE of the bias (empirical SD / sqrt(reps)), standardised bias (bias / empirical SD), empirical SD of
the estimates, mean model SE, SE/SD ratio, coverage of the 95% CI, its Monte Carlo SE
``sqrt(c (1 - c) / reps)`` and ``flag`` = coverage outside ``0.95 +/- 2 sqrt(0.95 x 0.05 / reps)``
(the Monte Carlo SE under nominal coverage, so that a coverage of exactly 1 is still tested). With ~22
rows about one flag is expected by chance at this 2-SE band (4.6% each).

Why 2,000 persons (not the 20,000 of ``params.yaml``). The estimators are consistent and their SEs shrink
like 1/sqrt(N); the *coverage* of a correct 95% interval does not depend on N, so a smaller cohort keeps
the study affordable. A bias that is small next to the SE at N = 2,000 can still matter at N = 20,000
(the SE is ~3 times smaller there): read the bias against its Monte Carlo SE and against the SE at the
size you care about, not against the coverage alone.

Outputs (atomic, :mod:`analysis.core.io`): ``<out>/cohort_coverage.csv`` (the summary), ``<out>/cohort_coverage.json``
(the same as the structured table the supplement sets), ``<out>/cohort_coverage.md``
(the same table with the settings: SYNTHETIC, reps, persons, waves, seeds, date, cores, total time) and
``<out>/cohort_coverage_reps.csv`` (every estimate of every rep, to recompute anything).

Run: ``.venv/bin/python benchmarks/cohort_simulation.py --reps 200`` (``--jobs`` joblib processes, default 2).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from analysis.core import io  # noqa: E402

NOMINAL = 0.95
#: Chance that a row of nominal coverage falls outside the +/- 2 Monte Carlo SE band (normal approximation).
FLAG_RATE = 0.0455
#: RI-CLPM truth (as tests/estimators/test_sem.py): reciprocal within-person lags both non-zero.
RICLPM_TRUTH: dict[str, Any] = {
    "a_x": 0.30, "a_y": 0.40, "b_xy": 0.15, "b_yx": 0.10,
    "var_ri_x": 1.0, "var_ri_y": 0.8, "cov_ri": 0.4,
    "var_wx1": 1.0, "var_wy1": 1.2, "cov_w1": 0.3,
    "var_u": 0.7, "var_v": 0.9, "cov_uv": 0.2,
}
RICLPM_KEPT = ("a_x", "a_y", "b_xy", "b_yx")
REP_COLUMNS = ["rep", "seed", "model", "outcome", "exposure", "parameter", "truth", "estimate", "std_error",
               "ci_low", "ci_high", "covered"]


def _riclpm_means(waves: int) -> dict[str, list[float]]:
    return {"means_x": [2.0 + 0.1 * t for t in range(waves)], "means_y": [10.0 + 0.5 * t for t in range(waves)]}


def one_rep(rep: int, seed: int, cohorts: Any, persons: int, riclpm: dict[str, Any]) -> dict[str, Any]:
    """One replication: the cohort through the adapter and every estimator, then the RI-CLPM. ``cohorts`` is
    params.yaml's ``cohorts:`` block, validated (:class:`analysis.studies.cohorts.settings.CohortsSettings`)."""
    from analysis.estimators.sem import fit_riclpm, simulate_riclpm
    from analysis.studies.cohorts.clean import build_cohort_panel
    from analysis.studies.cohorts.models import run_cohort_models, truth_table
    from analysis.studies.cohorts.synthetic import simulate_cohort, write_synthetic

    out: dict[str, Any] = {"rep": rep, "seed": seed, "rows": [], "error": "", "seconds": {}}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame, truth = simulate_cohort(cohorts.synthetic, persons=persons, seed=seed)
            with tempfile.TemporaryDirectory(prefix="cohort-sim-") as tmp:
                path = Path(tmp) / "synthetic_rand.dta"
                write_synthetic(frame, path)
                panel, *_ = build_cohort_panel(cohorts, path)
            out["seconds"]["cohort_data"] = time.perf_counter() - start
            t0 = time.perf_counter()
            records, _ = run_cohort_models(panel, cohorts.models, {"synthetic": "SYNTHETIC cohort"})
            table = truth_table(records, truth["truth"])
            out["seconds"]["cohort_models"] = time.perf_counter() - t0
        out["events"] = {k: truth[k] for k in ("deaths", "cvd_events", "dropouts", "person_waves_interviewed")}
        for row in table.itertuples():
            out["rows"].append({"rep": rep, "seed": seed, "model": row.model, "outcome": row.outcome,
                                "exposure": row.exposure, "parameter": row.parameter, "truth": row.truth,
                                "estimate": row.estimate, "std_error": row.std_error, "ci_low": row.ci_low,
                                "ci_high": row.ci_high, "covered": row.covered})
    except Exception as err:  # a failed rep is reported, not fatal
        out["error"] = f"cohort: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    t0 = time.perf_counter()
    try:
        waves = int(riclpm["waves"])
        wide = simulate_riclpm(int(riclpm["persons"]), waves, RICLPM_TRUTH | _riclpm_means(waves), seed=seed,
                               dropout=float(riclpm["dropout"]))
        xs, ys = [f"x{t}" for t in range(1, waves + 1)], [f"y{t}" for t in range(1, waves + 1)]
        result = fit_riclpm(wide, xs, ys, alpha=1 - NOMINAL, saturated=False)
        est = result.params.set_index("parameter")
        for name in RICLPM_KEPT:
            value = RICLPM_TRUTH[name]
            ok = bool(result.converged)
            low, high = float(est.at[name, "ci_low"]), float(est.at[name, "ci_high"])
            out["rows"].append({"rep": rep, "seed": seed, "model": "riclpm_fiml", "outcome": "y (depression)",
                                "exposure": "x (loneliness)", "parameter": name, "truth": value,
                                "estimate": float(est.at[name, "estimate"]) if ok else math.nan,
                                "std_error": float(est.at[name, "std_error"]) if ok else math.nan,
                                "ci_low": low if ok else math.nan, "ci_high": high if ok else math.nan,
                                "covered": bool(low <= value <= high) if ok else False})
    except Exception as err:
        out["error"] += f"; riclpm: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    out["seconds"]["riclpm"] = time.perf_counter() - t0
    out["seconds"]["total"] = time.perf_counter() - start
    return out


def summarise(reps: pd.DataFrame) -> pd.DataFrame:
    """One row per model x parameter: bias, SD, SE, coverage and its Monte Carlo SE (see the docstring)."""
    rows = []
    keys = ["model", "outcome", "exposure", "parameter"]
    for key, g in reps.groupby(keys, sort=False):
        ok = g["estimate"].notna() & g["std_error"].notna() & np.isfinite(g["std_error"])
        gg = g.loc[ok]
        n = len(gg)
        truth = float(g["truth"].iloc[0])
        mean = float(gg["estimate"].mean()) if n else math.nan
        sd = float(gg["estimate"].std(ddof=1)) if n > 1 else math.nan
        mean_se = float(gg["std_error"].mean()) if n else math.nan
        bias = mean - truth
        cover = float(gg["covered"].mean()) if n else math.nan
        band = 2 * math.sqrt(NOMINAL * (1 - NOMINAL) / n) if n else math.nan
        rows.append({
            **dict(zip(keys, key)), "truth": truth, "reps": n, "failed": int((~ok).sum()),
            "mean_estimate": mean, "bias": bias, "relative_bias": bias / truth if truth else math.nan,
            "bias_mc_se": sd / math.sqrt(n) if n > 1 else math.nan,
            "standardised_bias": bias / sd if sd and sd > 0 else math.nan,
            "empirical_sd": sd, "mean_se": mean_se, "se_sd_ratio": mean_se / sd if sd and sd > 0 else math.nan,
            "coverage": cover, "coverage_mc_se": math.sqrt(cover * (1 - cover) / n) if n else math.nan,
            "coverage_flag": bool(n and abs(cover - NOMINAL) > band),
        })
    return pd.DataFrame(rows)


def _fmt(x: Any, digits: int = 3) -> str:
    if isinstance(x, (bool, np.bool_)):
        return "**yes**" if x else ""
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.{digits}f}"


def markdown(summary: pd.DataFrame, settings: dict[str, Any]) -> str:
    s = settings
    lines = [
        "# SYNTHETIC cohort: bias and 95% CI coverage of the longitudinal estimators",
        "",
        "**SYNTHETIC data** simulated from `params.yaml` `cohorts.synthetic` (stated true parameters), not real "
        "people. Made by `benchmarks/cohort_simulation.py`; every estimate of every rep is in "
        "`cohort_coverage_reps.csv`.",
        "",
        "## Settings",
        "",
        f"- replications: **{s['reps']}** (completed without error: {s['reps_ok']}), seeds "
        f"{s['seed_first']}-{s['seed_last']} (`cohorts.synthetic.seed` + rep index)",
        f"- cohort: **{s['persons']:,} persons** x {s['waves']} waves per rep (params.yaml has "
        f"{s['params_persons']:,}); mean per rep: {s['mean_interviews']:,.0f} interviews, {s['mean_deaths']:,.0f} "
        f"deaths, {s['mean_cvd']:,.0f} new CVD, {s['mean_dropouts']:,.0f} dropouts",
        f"- RI-CLPM: {s['riclpm_persons']:,} persons x {s['riclpm_waves']} waves, MAR dropout "
        f"{s['riclpm_dropout']} per wave, truth a_x {RICLPM_TRUTH['a_x']}, a_y {RICLPM_TRUTH['a_y']}, b_xy "
        f"{RICLPM_TRUTH['b_xy']}, b_yx {RICLPM_TRUTH['b_yx']} (same seeds)",
        f"- date {s['date']}; machine: {s['cores']} cores, {s['jobs']} joblib processes, Python {s['python']}; "
        f"load average at the start {s['load_start']}, at the end {s['load_end']} (other work on the machine "
        "slows the run)",
        f"- total time **{s['total_minutes']:.1f} min** ({s['seconds_per_rep']:.1f} s per rep per process)",
        "",
        "Coverage of a correct 95% interval does not depend on N for these consistent estimators, so the cohort "
        f"is {s['persons']:,} persons to keep the study affordable. Bias is judged relative to the SE: "
        "`bias MC SE` is the Monte Carlo SE of the bias (SD / sqrt(reps)); `std. bias` = bias / SD. At the "
        f"{s['params_persons']:,} persons of params.yaml the SE is about "
        f"sqrt({s['params_persons'] / s['persons']:.3g}) "
        f"= {math.sqrt(s['params_persons'] / s['persons']):.1f} times smaller, so a bias of 0.3 SD here is about "
        f"{0.3 * math.sqrt(s['params_persons'] / s['persons']):.1f} SD there.",
        "",
        "`flag`: coverage outside 0.95 +/- 2 sqrt(0.95 x 0.05 / reps) (Monte Carlo SE under nominal coverage). "
        f"With {len(summary)} rows, about {FLAG_RATE * len(summary):.1f} flags are expected by chance.",
        "",
        "| model | parameter | truth | reps | mean est. | bias | rel. bias | bias MC SE | std. bias | SD | mean SE "
        "| SE/SD | coverage | cov. MC SE | flag |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in summary.itertuples():
        lines.append(
            f"| {r.model} | {r.parameter} | {_fmt(r.truth, 2)} | {r.reps}{f' ({r.failed} failed)' if r.failed else ''}"
            f" | {_fmt(r.mean_estimate, 4)} | {_fmt(r.bias, 4)} | {_fmt(r.relative_bias, 2)} | {_fmt(r.bias_mc_se, 4)}"
            f" | {_fmt(r.standardised_bias, 2)} | {_fmt(r.empirical_sd, 4)} | {_fmt(r.mean_se, 4)}"
            f" | {_fmt(r.se_sd_ratio, 2)} | {_fmt(r.coverage, 3)} | {_fmt(r.coverage_mc_se, 3)}"
            f" | {_fmt(r.coverage_flag)} |")
    if s.get("errors"):
        lines += ["", "## Reps with an error", ""] + [f"- rep {rep}: {msg}" for rep, msg in s["errors"]]
    if s.get("note"):
        lines += ["", s["note"]]
    return "\n".join(lines) + "\n"


def coverage_spec(summary: pd.DataFrame) -> dict:
    """The summary as the project's structured table (caption, readable columns, display rows) for the supplement:
    estimator and parameter in words, truth, mean estimate, bias (Monte Carlo SE), SE/SD and coverage."""
    from analysis.report.tables import table_spec
    from analysis.studies.cohorts.report import MODEL_LABELS, parameter_words

    frame = pd.DataFrame({
        "Estimator": summary["model"].map(lambda m: MODEL_LABELS.get(m, str(m).replace("_", " "))),
        "Parameter": [parameter_words(p) if p in TRUTH_PARAMETERS else str(p).replace("_", " ")
                      for p in summary["parameter"]],
        "Truth": summary["truth"].map(lambda v: f"{v:.3f}"),
        "Reps": summary["reps"].map(lambda v: f"{int(v)}"),
        "Mean estimate": summary["mean_estimate"].map(lambda v: f"{v:.4f}"),
        "Bias (MC SE)": [f"{b:+.4f} ({s:.4f})" for b, s in zip(summary["bias"], summary["bias_mc_se"])],
        "SE/SD": summary["se_sd_ratio"].map(lambda v: f"{v:.2f}"),
        "Coverage (MC SE)": [f"{c:.3f} ({s:.3f})" for c, s in zip(summary["coverage"], summary["coverage_mc_se"])],
        "Flag": summary["coverage_flag"].map(lambda f: "outside" if bool(f) else ""),
    })
    caption = "SYNTHETIC cohort: bias and 95% CI coverage of the longitudinal estimators"
    return table_spec(frame, caption, "SYNTHETIC data simulated from params.yaml cohorts.synthetic (stated true "
                      "parameters), not real people; MC SE: Monte Carlo standard error; Flag: coverage outside 0.95 "
                      f"+/- 2 Monte Carlo SE (with {len(summary)} rows, about {FLAG_RATE * len(summary):.1f} flags "
                      "are expected by chance; the estimators of one parameter are fitted to the same simulated "
                      "cohorts, so their flags come together). Settings in cohort_coverage.md.")


#: The truth keys of the SYNTHETIC cohort (their rows are named in words; the RI-CLPM's parameters stay as named).
TRUTH_PARAMETERS = ("cesd_isolation", "cesd_loneliness", "death_isolation", "death_loneliness", "cvd_isolation",
                    "cvd_loneliness", "cognition_isolation", "cognition_loneliness", "dementia_isolation",
                    "dementia_loneliness")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200, help="replications (default 200)")
    ap.add_argument("--first-rep", type=int, default=0,
                    help="index of the first rep (default 0): a run with --first-rep 200 is an independent "
                         "replication on the next seeds (write it to another --out)")
    ap.add_argument("--persons", type=int, default=2000,
                    help="persons per SYNTHETIC cohort (default 2000; coverage does not depend on N)")
    ap.add_argument("--jobs", type=int, default=2, help="joblib processes (default 2)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "simulation"), help="output folder")
    ap.add_argument("--riclpm-persons", type=int, default=2000)
    ap.add_argument("--riclpm-waves", type=int, default=5)
    ap.add_argument("--riclpm-dropout", type=float, default=0.1)
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--note", default="", help="a sentence added to the markdown (e.g. why reps were reduced)")
    args = ap.parse_args(argv)

    from joblib import Parallel, delayed
    from tqdm import tqdm

    from analysis.params import load

    cohorts = load(args.params).cohorts  # params.yaml validated, the typed settings the stages pass
    spec = cohorts.synthetic
    base = int(spec.seed)
    riclpm = {"persons": args.riclpm_persons, "waves": args.riclpm_waves, "dropout": args.riclpm_dropout}
    load_start = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    start = time.perf_counter()
    results = []
    first = int(args.first_rep)
    tasks = (delayed(one_rep)(rep, base + rep, cohorts, args.persons, riclpm)
             for rep in range(first, first + args.reps))
    with tqdm(total=args.reps, desc="SYNTHETIC cohort reps", unit="rep") as bar:
        for res in Parallel(n_jobs=args.jobs, return_as="generator_unordered")(tasks):
            results.append(res)
            bar.update(1)
            if res["error"]:
                bar.write(f"rep {res['rep']}: {res['error']}")
    total = time.perf_counter() - start
    results.sort(key=lambda r: r["rep"])
    reps = pd.DataFrame([row for r in results for row in r["rows"]], columns=REP_COLUMNS)
    summary = summarise(reps)
    events = pd.DataFrame([r["events"] for r in results if "events" in r])
    per_rep = [r["seconds"].get("total", math.nan) for r in results]
    settings = {
        "reps": args.reps, "reps_ok": sum(not r["error"] for r in results), "seed_first": base + first,
        "seed_last": base + first + args.reps - 1, "persons": args.persons, "waves": int(spec.waves),
        "params_persons": int(spec.persons),
        "mean_interviews": events["person_waves_interviewed"].mean() if len(events) else math.nan,
        "mean_deaths": events["deaths"].mean() if len(events) else math.nan,
        "mean_cvd": events["cvd_events"].mean() if len(events) else math.nan,
        "mean_dropouts": events["dropouts"].mean() if len(events) else math.nan,
        "riclpm_persons": args.riclpm_persons, "riclpm_waves": args.riclpm_waves,
        "riclpm_dropout": args.riclpm_dropout,
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), "cores": os.cpu_count(),
        "jobs": args.jobs, "python": platform.python_version(), "load_start": load_start,
        "load_end": ", ".join(f"{x:.1f}" for x in os.getloadavg()), "total_minutes": total / 60,
        "seconds_per_rep": float(np.nanmean(per_rep)) if per_rep else math.nan,
        "errors": [(r["rep"], r["error"]) for r in results if r["error"]], "note": args.note,
    }
    out = Path(args.out)
    with io.staged_outputs():
        io.write_csv(out / "cohort_coverage.csv", summary)
        io.write_csv(out / "cohort_coverage_reps.csv", reps)
        io.write_text(out / "cohort_coverage.md", markdown(summary, settings))
        # the structured table the paper's supplement sets (analysis.report.tables.render_table)
        io.write_text(out / "cohort_coverage.json", json.dumps(coverage_spec(summary), indent=1) + "\n")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(summary[["model", "parameter", "truth", "reps", "mean_estimate", "bias", "bias_mc_se", "empirical_sd",
                       "mean_se", "se_sd_ratio", "coverage", "coverage_mc_se", "coverage_flag"]]
              .to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"{args.reps} reps x {args.persons} persons in {total / 60:.1f} min; wrote {out}/cohort_coverage.csv, .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
