"""The cohort adapter on a generated RAND + Harmonized HRS layout of HRS size: time and peak memory.

Generates, with the names, codes and wave coverage of ``params.yaml cohorts.studies.hrs`` (the generator
of the tests, ``tests/support/real_layouts.py``: RAND core with CES-D from wave 2 and the
Leave-Behind loneliness score for alternating half-samples from wave 8, the Harmonized HRS file with weekly
contact and monthly participation, Stata ``.d .r .m`` missing codes), ``--persons`` persons (default
40,000) x 15 waves, writes both as Stata ``.dta`` to a temporary folder (not timed), and times
:func:`analysis.studies.cohorts.clean.build_study_panel` reading them into the long panel (metadata check,
column selection across the two files, join on ``hhidpn``, reshape, every measure).

Measured: wall-clock (``time.perf_counter``) and peak resident memory of the adapter, in a child process so
that the file generation does not count (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``). Target (issue
12): under 30 s and 4 GB on 2 cores. Results are printed and written to
``benchmarks/results/cohort_adapter_real_layout.json`` (a machine's numbers, not committed).

Run: ``.venv/bin/python benchmarks/cohort_adapter_real_layout.py [--persons 40000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from analysis.core.settings import read_yaml  # noqa: E402
from analysis.params import load  # noqa: E402
from analysis.studies.cohorts.clean import build_study_panel  # noqa: E402
from support.real_layouts import generate_layout, layout_spec, write_layout  # noqa: E402

PARAMS = ROOT / "params.yaml"


def raw_cohorts() -> dict:
    """params.yaml's ``cohorts:`` block as plain YAML values: what the layout generator of the tests reads."""
    return read_yaml(PARAMS)["cohorts"]


def adapter_run(main: str, join: str) -> dict:
    """Child process: the adapter on the two files; returns its time and the panel's size."""
    cohorts = load(PARAMS).cohorts  # validated, as the clean_cohorts stage passes it
    spec = layout_spec(raw_cohorts(), "hrs", {"main": Path(main), "join": Path(join)})
    start = time.perf_counter()
    panel, flow, coverage = build_study_panel("hrs", spec, cohorts)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "person_waves": len(panel), "persons": int(panel["person_id"].nunique()),
            "interviews": int(panel["interviewed"].sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--child", nargs=2, metavar=("MAIN", "JOIN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(adapter_run(*args.child)))
        return
    load(PARAMS)  # params.yaml must validate before anything is generated
    cohorts = raw_cohorts()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        paths = write_layout(generate_layout("hrs", cohorts, n=args.persons, seed=args.seed), Path(tmp), "hrs")
        generated = time.perf_counter() - start
        sizes = {k: p.stat().st_size for k, p in paths.items()}
        child = subprocess.run([sys.executable, __file__, "--child", str(paths["main"]), str(paths["join"])],
                               check=True, capture_output=True, text=True, cwd=ROOT)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(child.stdout.strip().splitlines()[-1])
    out = {"persons": args.persons, "waves": 15, "generate_and_write_seconds": round(generated, 2),
           "file_bytes": sizes, "adapter_seconds": round(result["seconds"], 2),
           "adapter_peak_rss_gb": round(peak_kb / 1024 ** 2, 3), "person_waves": result["person_waves"],
           "interviews": result["interviews"], "targets": {"seconds": 30, "peak_rss_gb": 4},
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                       "load_average": [round(x, 2) for x in os.getloadavg()]}}
    print(json.dumps(out, indent=2))
    dest = ROOT / "benchmarks" / "results" / "cohort_adapter_real_layout.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
