"""Pipeline speed on the data mirror, measured in a fresh copy of the repository (`make bench`).

Measures, on this machine:

* a cold ``dvc repro`` of the NHANES spine (``dvc repro notebook_nhanes``: fetch from the mirror, clean,
  models, tables and figures, the reviewer notebook), then of everything else (the GSS, county and country
  studies, triangulation, paper, index), with each stage's own time from its log line;
* a no-op ``dvc repro`` (nothing changed; the median of five runs, each run listed: one run on a shared machine
  is noise), and the size of ``dvc.lock`` (DVC parses and rewrites the whole file after every stage);
* which stages a one-parameter change (``nhanes.models.ph_test_alpha``) makes stale;
* the configuration: reading and validating the whole of params.yaml (``analysis.params.load``, once its modules
  are imported: the cost every stage pays at its entry, median of 20), and ``python -m analysis check`` as a whole
  command (imports, the schema, every input file it names), which ``make repro`` runs before ``dvc repro``.

Targets: issue 23, the whole cold pipeline at or under 150 s and a no-op at or under 2 s on 2 cores; issue 2,
the spine cold under 3 minutes; issue 13, multiple imputation and the sensitivity analyses (stages
``mi_nhanes`` and ``sensitivity_nhanes``) under 60 s. Each stage's own time and peak memory come from its
log line (``[nhanes models] done in 41.2 s, peak memory 412 MB (workers 380 MB)``, printed by
``analysis.cli``); the rest of the wall time is DVC's (status, hashing, caching, rewriting dvc.lock) and
Python's start-up. Results are printed and written to ``benchmarks/results/pipeline.json`` and
``pipeline.md`` (a table with the machine and its load average before and after, committed with the numbers
of the run it describes).
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from analysis.core.clone import BIN, fresh_clone, run  # noqa: E402

TARGETS = {"cold_repro_seconds": 150.0, "cold_spine_seconds": 180.0, "noop_repro_seconds": 2.0,
           "mi_sensitivity_seconds": 60.0, "config_validate_seconds": 0.2}
#: The stages of the NHANES inference checks (issue 13): multiple imputation and the sensitivity and subgroup
#: analyses. Their summed stage time is what they add to a cold repro (each runs its fits in worker processes).
INFERENCE_STAGES = ("nhanes impute", "nhanes sensitivity")  # the commands' log labels
NOOP_RUNS = 5


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    result = run(cmd, cwd, env)
    return time.perf_counter() - start, result.stdout + result.stderr


CONFIG_PROBE = """
import statistics, sys, time
import analysis.params as p
times = []
for _ in range(20):
    start = time.perf_counter(); p.load(); times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def config_seconds(dest: Path, env: dict) -> tuple[float, float]:
    """(median load-and-validate time of params.yaml, wall time of ``python -m analysis check``)."""
    probe = run([str(BIN / "python"), "-c", CONFIG_PROBE], dest, env)
    check, _ = timed([str(BIN / "python"), "-m", "analysis", "check"], dest, env)
    return float(probe.stdout.strip().splitlines()[-1]), check


def main() -> int:
    mirror = Path(os.environ.get("ANALYSIS_DATA_MIRROR") or ROOT.parent / "shared" / "data").resolve()
    if not (mirror / "nhanes").is_dir():
        print(f"no data mirror at {mirror}: set ANALYSIS_DATA_MIRROR", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="connected-health-bench-") as tmp:
        dest = Path(tmp)
        env = fresh_clone(ROOT, dest, mirror)
        dvc = str(BIN / "dvc")
        spine, log_spine = timed([dvc, "repro", "notebook_nhanes"], dest, env)
        rest, log_rest = timed([dvc, "repro"], dest, env)
        cold, log = spine + rest, log_spine + log_rest
        stages: dict[str, float] = {}
        memory: dict[str, dict[str, float]] = {}
        for m in re.finditer(r"\[([^\]]+)\] done in ([\d.]+) s(?:, peak memory (\d+) MB \(workers (\d+) MB\))?",
                             log):  # commands run more than once (the notebooks) add up
            stages[m.group(1)] = round(stages.get(m.group(1), 0.0) + float(m.group(2)), 1)
            if m.group(3):
                old = memory.get(m.group(1), {"process_mb": 0.0, "workers_mb": 0.0})
                memory[m.group(1)] = {"process_mb": max(old["process_mb"], float(m.group(3))),
                                      "workers_mb": max(old["workers_mb"], float(m.group(4)))}
        noops = [round(timed([dvc, "repro"], dest, env)[0], 2) for _ in range(NOOP_RUNS)]
        lock_lines = len((dest / "dvc.lock").read_text().splitlines())
        n_stages = len(re.findall(r"^  \w+:$", (dest / "dvc.lock").read_text(), flags=re.M))
        validate, check = config_seconds(dest, env)
        params = dest / "params.yaml"
        params.write_text(params.read_text().replace("ph_test_alpha: 0.01", "ph_test_alpha: 0.02"))
        stale = sorted(json.loads(run([dvc, "status", "--json"], dest, env).stdout))
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cold_spine_seconds": round(spine, 1),
        "cold_repro_seconds": round(cold, 1),
        "stage_seconds": stages,
        "stage_peak_memory": memory,
        "noop_repro_seconds": statistics.median(noops),
        "noop_repro_runs": noops,
        "lock_lines": lock_lines,
        "stages": n_stages,
        "config_validate_seconds": round(validate, 4),
        "check_command_seconds": round(check, 2),
        "mi_sensitivity_seconds": round(sum(stages.get(name, 0.0) for name in INFERENCE_STAGES), 1),
        "stale_after_models_param_change": stale,
        "targets": TARGETS,
    }
    out = ROOT / "benchmarks" / "results" / "pipeline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(results))
    print(json.dumps(results, indent=2))
    missed = [k for k, limit in TARGETS.items() if results[k] > limit]
    if missed:
        print(f"over target: {', '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


def markdown(results: dict) -> str:
    """The run as a table: the totals against their targets, then every stage's time and peak memory."""
    m = results["machine"]
    load = ", ".join(f"{x:g}" for x in results["load_average_before"])
    after = ", ".join(f"{x:g}" for x in results["load_average_after"])
    stages, memory = results["stage_seconds"], results["stage_peak_memory"]
    lines = [
        "# Pipeline speed (`make bench`, benchmarks/run.py)", "",
        f"{results['date']}; {m['cpus']} cores, {m['memory_gb']} GB, Python {m['python']}, {m['platform']}; "
        f"load average (1, 5, 15 min) {load} before, {after} after (other work on the machine slows the run).", "",
        "| measure | seconds | target |", "|---|---:|---:|",
    ]
    for key, label in [("cold_repro_seconds", "cold `dvc repro`, every stage, in a fresh clone"),
                       ("cold_spine_seconds", "of which the NHANES spine (`dvc repro notebook_nhanes`)"),
                       ("noop_repro_seconds", "no-op `dvc repro` (median of "
                        f"{', '.join(f'{x:g}' for x in results['noop_repro_runs'])})"),
                       ("mi_sensitivity_seconds", "`mi_nhanes` + `sensitivity_nhanes` (stage time)"),
                       ("check_command_seconds", "`python -m analysis check`")]:
        target = results["targets"].get(key)
        lines.append(f"| {label} | {results[key]:g} | {'' if target is None else f'{target:g}'} |")
    own = sum(stages.values())
    other = results["cold_repro_seconds"] - own
    lines += ["", f"The stages' own time adds up to {own:.1f} s; the other {other:.1f} s of the cold run "
              f"({other / results['stages']:.1f} s for each of the {results['stages']} stages) are DVC's (status, "
              "hashing and caching outputs, rewriting dvc.lock after each stage: "
              f"{results['lock_lines']:,} lines) and each command's Python start-up.", "",
              "| stage (command) | seconds | peak memory, process (MB) | peak memory, largest worker (MB) |",
              "|---|---:|---:|---:|"]
    for name, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        mem = memory.get(name, {})
        lines.append(f"| {name} | {seconds:g} | {mem.get('process_mb', float('nan')):.0f} "
                     f"| {mem.get('workers_mb', float('nan')):.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
