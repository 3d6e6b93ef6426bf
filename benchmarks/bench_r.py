"""Side-by-side timing of every model family against the R implementation an epidemiologist would use.

``make bench-r`` (R from Debian: ``r-base-core r-cran-survival r-cran-survey r-cran-lme4 r-cran-plm
r-cran-lavaan``) runs this script. It

1. writes the data sets once (CSV, 17 significant digits) to a temporary folder:

   * the SYNTHETIC cohort at full size, built as ``benchmarks/cohort_fit_times.py`` builds it
     (``params.yaml cohorts.synthetic``: generator, Stata ``.dta``, the cohort adapter): the within-between LMM's
     rows and design (``lmm.csv``, 117,278 person-waves of 19,797 persons), the two-way FE panel (``fe.csv``), the
     person-intervals of the time-varying Cox model of death (``cox_tv.csv``) and the wide RI-CLPM layout
     (``riclpm.csv``);
   * an NHANES-like survey sample simulated here with stated parameters (:func:`survey_sample`: 20,000 adults,
     30 strata x 2 PSUs, unequal weights, follow-up in whole months): the weighted clustered Cox model, the
     design-based Cox model with age as the time scale (left truncation at the age at interview), the
     design-based logistic GLM and the random-intercept logistic model (PSU);

2. fits every family in a fresh Python process (``--python DIR``, the project's estimators) and in a fresh R
   process (``benchmarks/bench_r.R DIR``), alternating the two ``--rounds`` times, and records each fit's
   wall-clock time (the fit call alone: data already in memory, libraries loaded) and its estimates;

3. writes the medians, the ratio Python / R and the largest difference between the two sides' estimates to
   ``benchmarks/results/bench_r.md`` and ``bench_r.json``, with the machine (CPU, cores, BLAS) and the load
   average before and after each round (other work on a shared machine inflates every time: alternating runs
   and medians keep the comparison fair, not the absolute numbers).

Run: ``.venv/bin/python benchmarks/bench_r.py [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

#: Family -> (what, the R function it is compared with, the estimates compared).
FAMILIES = {
    "lmm": ("within-between LMM, random intercept + slope, REML (SYNTHETIC cohort)", "lme4::lmer",
            "fixed effects"),
    "cox_weighted_clustered": ("Cox, survey weights, cluster-robust SE (NHANES-like)", "survival::coxph",
                               "log-HR of the exposure"),
    "cox_age_scale": ("Cox, age as time scale (left-truncated), design-based (NHANES-like)", "survey::svycoxph",
                      "log-HRs"),
    "cox_time_varying": ("Cox, time-varying (start, stop] person-intervals (SYNTHETIC cohort)", "survival::coxph",
                         "log-HRs"),
    "svyglm": ("design-based logistic GLM (NHANES-like)", "survey::svyglm", "log-ORs"),
    "two_way_fe": ("two-way FE, SE clustered by person (SYNTHETIC cohort)", "plm::plm + vcovHC",
                   "within coefficients"),
    "glmer": ("random-intercept logistic, Laplace ML (NHANES-like, PSU)", "lme4::glmer", "fixed effects"),
    "riclpm": ("RI-CLPM by FIML (SYNTHETIC cohort, all waves)", "lavaan::lavaan(missing = 'ml')", "lags"),
}
COVARIATES = ["x", "age", "female", "z"]


def survey_sample(n: int = 20_000, seed: int = 2026) -> pd.DataFrame:
    """An NHANES-like sample with stated parameters.

    30 strata x 2 PSUs; weights lognormal (SD 0.6 on the log scale); exposure ``x`` 0-5 (isolation-index-like),
    age 20-85 at interview, ``female``, a standard-normal covariate ``z``. Death: exponential hazard per year
    ``exp(-10 + 0.085 age + 0.15 x - 0.35 female + 0.1 z + u_psu)``, ``u_psu ~ N(0, 0.2^2)``, administrative
    censoring at 180 months and random censoring; follow-up in whole months (ties, as in the NCHS linkage).
    Binary outcome: ``logit P = -1.2 + 0.25 x + 0.02 (age - 50) + 0.2 female - 0.1 z + v_psu``, ``v_psu ~ N(0,
    0.4^2)``.
    """
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, 30, n)
    psu = rng.integers(0, 2, n)
    cluster = stratum * 2 + psu
    u, v = rng.normal(0, 0.2, 60), rng.normal(0, 0.4, 60)
    age = rng.uniform(20, 85, n)
    female = (rng.random(n) < 0.52).astype(float)
    x = rng.binomial(5, 0.3, n).astype(float)
    z = rng.normal(size=n)
    rate = np.exp(-10 + 0.085 * age + 0.15 * x - 0.35 * female + 0.1 * z + u[cluster])
    years = rng.exponential(1 / rate)
    censor = np.minimum(rng.uniform(60, 400, n), 180.0)
    months = np.minimum(years * 12, censor)
    event = (years * 12 <= censor).astype(float)
    time_months = np.maximum(np.ceil(months), 1.0)
    eta = -1.2 + 0.25 * x + 0.02 * (age - 50) + 0.2 * female - 0.1 * z + v[cluster]
    return pd.DataFrame({
        "time": time_months, "event": event, "age_entry": age, "age_exit": age + time_months / 12,
        "x": x, "age": age, "female": female, "z": z, "y_bin": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float),
        "w": np.exp(rng.normal(0, 0.6, n)) * 1000, "stratum": stratum, "psu": psu, "cluster": cluster,
    })


def prepare(folder: Path) -> dict:
    """Write every data set of the benchmark to ``folder``; returns their sizes."""
    from analysis.estimators.sem import wide_from_long
    from analysis.estimators.within_between import fit_within_between_lmm
    from analysis.params import load
    from analysis.studies.cohorts import models as cm
    from analysis.studies.cohorts.clean import build_cohort_panel
    from analysis.studies.cohorts.synthetic import simulate_cohort, write_synthetic

    cohorts = load(ROOT / "params.yaml").cohorts
    models = cohorts.models
    frame, _ = simulate_cohort(cohorts.synthetic)
    path = folder / "synthetic_rand.dta"
    write_synthetic(frame, path)
    panel, *_ = build_cohort_panel(cohorts, path)
    path.unlink()
    sub = cm.as_float(panel.loc[panel["study"] == "synthetic"].reset_index(drop=True))
    f = cm._Fit("synthetic", "SYNTHETIC cohort", models.exposures, models.alpha, True)
    dep = models.depression
    spec = f.spec(dep.outcome, dep.label, dep.covariates, dep.covariate_set)
    interviewed = sub.loc[sub["interviewed"] == 1]
    fit = fit_within_between_lmm(interviewed, spec, entity="person_id", time=dep.time, joint=f.joint)
    exog = fit.exog.drop(columns="const")
    names = {c: f"v{i + 1}" for i, c in enumerate(exog.columns)}
    lmm = exog.rename(columns=names).assign(y=interviewed.loc[exog.index, dep.outcome],
                                            person=interviewed.loc[exog.index, "person_id"].astype(str),
                                            slope_time=exog["time"])
    write(lmm, folder / "lmm.csv")
    exposures = list(models.exposures)
    fe = interviewed[["person_id", "wave", dep.outcome, *exposures]].dropna()
    write(fe.rename(columns={dep.outcome: "y"}), folder / "fe.csv")
    intervals = cm.person_intervals(sub)
    hz = models.hazards
    rhs = [*exposures, *[c.strip() for c in hz.covariates.split("+")], hz.outcomes["death"].covariates]
    write(intervals[["person_id", "start", "stop", "death", *rhs]].dropna(), folder / "cox_tv.csv")
    wide, xs, ys = wide_from_long(interviewed, id="person_id", wave="wave", x=models.riclpm.x, y=models.riclpm.y,
                                  waves=sorted(int(w) for w in interviewed["wave"].unique()))
    waves = len(xs)
    write(wide[xs + ys].set_axis([f"x{t}" for t in range(1, waves + 1)] + [f"y{t}" for t in range(1, waves + 1)],
                                 axis=1), folder / "riclpm.csv")
    write(survey_sample(), folder / "survey.csv")
    manifest = {"lmm_terms": {"const": "const", **names}, "cohort_rhs": rhs, "riclpm_waves": waves,
                "sizes": {"lmm_rows": len(lmm), "lmm_persons": int(lmm["person"].nunique()), "fe_rows": len(fe),
                          "cox_tv_rows": len(intervals), "riclpm_persons": len(wide), "survey_rows": 20_000}}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, float_format="%.17g")


def python_fits(folder: Path) -> dict:
    """Fit every family with the project's estimators; {family: {"seconds": s, "estimates": {term: value}}}."""
    from analysis.estimators.cox_time_varying import fit_cox_time_varying
    from analysis.estimators.formula import design_matrix
    from analysis.estimators.glmm import fit_laplace_glmm
    from analysis.estimators.lmm import fit_lmm
    from analysis.estimators.panel import FITS, PanelLayout, PanelOptions, prepare_panel
    from analysis.estimators.records import ModelSpec
    from analysis.estimators.sem import fit_riclpm
    from analysis.estimators.survey import cox_design_fit, glm_design_fit
    from analysis.estimators.survival import fit_cox

    manifest = json.loads((folder / "manifest.json").read_text())
    survey = pd.read_csv(folder / "survey.csv")
    lmm = pd.read_csv(folder / "lmm.csv", dtype={"person": str})
    fe = pd.read_csv(folder / "fe.csv")
    cox_tv = pd.read_csv(folder / "cox_tv.csv")
    wide = pd.read_csv(folder / "riclpm.csv")
    rhs = " + ".join(COVARIATES)
    out: dict[str, dict] = {}

    def timed(name: str, fn, estimates) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            result = fn()
            seconds = time.perf_counter() - start
        out[name] = {"seconds": seconds, "estimates": {k: float(v) for k, v in estimates(result).items()}}
        print(f"  python {name:<24} {seconds:8.3f} s", flush=True)

    terms = manifest["lmm_terms"]

    def fit_the_lmm():
        x = lmm[[c for c in lmm.columns if c.startswith("v")]]
        x.insert(0, "const", 1.0)
        return fit_lmm(lmm["y"].to_numpy(float), x,
                       np.column_stack([np.ones(len(lmm)), lmm["slope_time"].to_numpy(float)]),
                       pd.factorize(lmm["person"])[0])

    timed("lmm", fit_the_lmm, lambda r: {k: r.params[k] for k in terms.values()} | {"REMLcrit": r.reml_criterion})
    spec = ModelSpec(outcome="event", exposure="x", covariates="age + female + z")
    timed("cox_weighted_clustered",
          lambda: fit_cox(survey, spec, duration="time", event="event", design="design-based", weight="w",
                          cluster="cluster"),
          lambda r: {"x": r["estimate"].iloc[0]})
    timed("cox_age_scale",
          lambda: cox_design_fit(survey, "x + female + z", duration="age_exit", event="event", weight="w",
                                 stratum="stratum", psu="psu", entry="age_entry"),
          lambda r: r.params.to_dict())
    exposures = [c for c in fe.columns if c not in ("person_id", "wave", "y")]
    tv_spec = ModelSpec(outcome="death", exposure=exposures[0],
                        covariates=" + ".join(manifest["cohort_rhs"][len(exposures):]))
    timed("cox_time_varying",
          lambda: fit_cox_time_varying(cox_tv, tv_spec, event="death", start="start", stop="stop",
                                       entity="person_id", joint={e: e for e in exposures[1:]}),
          lambda r: dict(zip(r["term"], r["estimate"])))
    timed("svyglm",
          lambda: glm_design_fit(survey, rhs, outcome="y_bin", family="binomial", weight="w", stratum="stratum",
                                 psu="psu"),
          lambda r: r.params.to_dict())
    fe_spec = ModelSpec(outcome="y", exposure=exposures[0])

    def fit_fe():
        p = prepare_panel(fe, fe_spec, PanelLayout(entity="person_id", time="wave"),
                          joint={e: e for e in exposures[1:]})
        return FITS["fixed_effects"](p, PanelOptions())

    timed("two_way_fe", fit_fe, lambda r: dict(zip(r["term"], r["estimate"])))
    timed("glmer",
          lambda: fit_laplace_glmm(survey["y_bin"].to_numpy(float), design_matrix(survey, f"1 + {rhs}"),
                                   [survey["cluster"]], names=["psu"]),
          lambda r: r.params.to_dict())
    waves = manifest["riclpm_waves"]
    timed("riclpm",
          lambda: fit_riclpm(wide, [f"x{t}" for t in range(1, waves + 1)], [f"y{t}" for t in range(1, waves + 1)]),
          lambda r: r.params.set_index("parameter")["estimate"].loc[["a_x", "a_y", "b_xy", "b_yx"]].to_dict())
    return out


def machine() -> dict:
    from threadpoolctl import threadpool_info

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    r_version = subprocess.run(["Rscript", "-e", "cat(R.version.string, paste(sapply(c('survival', 'survey', "
                                "'lme4', 'plm', 'lavaan'), function(p) paste(p, packageVersion(p))), collapse = ', '), "
                                "'; BLAS', extSoftVersion()['BLAS'], '; LAPACK', La_library())"],
                               capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "r": r_version,
            "blas": [{"api": i.get("internal_api"), "threads": i.get("num_threads")} for i in threadpool_info()]}


def run_round(folder: Path, side: str) -> dict:
    """One fresh process of one side; its fits and the process's wall-clock time."""
    out = folder / f"{side}.json"
    command = ([sys.executable, __file__, "--python", str(folder), "--out", str(out)] if side == "python"
               else ["Rscript", str(ROOT / "benchmarks" / "bench_r.R"), str(folder), str(out)])
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    return {"fits": json.loads(out.read_text()), "process_seconds": seconds}


def summarise(rounds: list[dict], manifest: dict, info: dict, note: str) -> tuple[dict, str]:
    rows, table = [], []
    for family, (what, r_name, compared) in FAMILIES.items():
        py = [r["python"]["fits"][family]["seconds"] for r in rounds]
        rr = [r["r"]["fits"][family]["seconds"] for r in rounds]
        est_py = rounds[-1]["python"]["fits"][family]["estimates"]
        est_r = rounds[-1]["r"]["fits"][family]["estimates"]
        common = [k for k in est_py if k in est_r and k != "REMLcrit"]
        tight = [k for k in common if f"tight:{k}" in est_r]
        diff = max(abs(est_py[k] - est_r[k]) for k in common) if common else float("nan")
        row = {"family": family, "what": what, "r": r_name, "python_seconds": py, "r_seconds": rr,
               "python_median": statistics.median(py), "r_median": statistics.median(rr),
               "ratio": statistics.median(py) / statistics.median(rr), "compared": compared,
               "terms_compared": len(common), "max_abs_difference": diff}
        if "REMLcrit" in est_py and "REMLcrit" in est_r:
            row["reml_criterion_python_minus_r"] = est_py["REMLcrit"] - est_r["REMLcrit"]
        if tight:  # lme4 refitted with tight tolerances from its own estimate (untimed)
            row["max_abs_difference_vs_tight_r"] = max(abs(est_py[k] - est_r[f"tight:{k}"]) for k in tight)
            row["reml_criterion_python_minus_tight_r"] = est_py["REMLcrit"] - est_r["tight:REMLcrit"]
        rows.append(row)
        verdict = "faster" if row["ratio"] <= 1 else "**slower**"
        if tight:
            diff_text = (f"{diff:.1e}; vs lmer refitted tightly {row['max_abs_difference_vs_tight_r']:.1e} (REML "
                         f"criterion ours - lmer's: default {row['reml_criterion_python_minus_r']:.1e}, tight "
                         f"{row['reml_criterion_python_minus_tight_r']:.1e})")
        else:
            diff_text = f"{diff:.1e}"
        table.append(f"| {family} | {what} | {r_name} | {row['python_median']:.2f} | {row['r_median']:.2f} | "
                     f"{row['ratio']:.2f} ({verdict}) | {compared}: {len(common)} terms, max diff {diff_text} |")
    loads = "; ".join(f"round {i + 1}: {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}"
                      for i, r in enumerate(rounds))
    process = "; ".join(f"round {i + 1}: Python {r['python']['process_seconds']:.1f} s, R "
                        f"{r['r']['process_seconds']:.1f} s" for i, r in enumerate(rounds))
    text = "\n".join([
        "# Every model family against R, side by side (`make bench-r`)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {len(rounds)} rounds, each a fresh Python "
        "process then a fresh R process on the same CSV files; the fit call alone is timed (data in memory, "
        "libraries loaded), medians over rounds. Ratio = Python / R (below 1: the project is faster).",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['platform']}; Python {info['python']}; "
        f"{info['r']}; BLAS {info['blas']}.",
        f"Load average (1 min) before -> after each round: {loads}. {note}",
        f"Whole processes (start, read CSV, all fits): {process}.",
        f"Data: {json.dumps(manifest['sizes'])}.",
        "",
        "| family | model | R | Python s | R s | ratio | agreement |",
        "|---|---|---|---|---|---|---|",
        *table,
        "",
    ])
    return {"machine": info, "rounds": rounds, "families": rows, "sizes": manifest["sizes"], "note": note}, text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--python", type=Path, help="(internal) fit the Python side on this folder's data")
    ap.add_argument("--out", type=Path, help="(internal) where --python writes its JSON")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--note", default="", help="words for the results file (e.g. what else ran)")
    args = ap.parse_args(argv)
    if args.python:
        args.out.write_text(json.dumps(python_fits(args.python)))
        return 0
    info = machine()
    with tempfile.TemporaryDirectory(prefix="bench-r-") as tmp:
        folder = Path(tmp)
        print("writing the data sets ...", flush=True)
        manifest = prepare(folder)
        rounds = []
        for i in range(args.rounds):
            before = os.getloadavg()
            sides = ("python", "r") if i % 2 == 0 else ("r", "python")
            result = {side: run_round(folder, side) for side in sides}
            rounds.append(result | {"load_before": before, "load_after": os.getloadavg()})
    payload, text = summarise(rounds, manifest, info, args.note)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "bench_r.json").write_text(json.dumps(payload, indent=1))
    (args.results / "bench_r.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
