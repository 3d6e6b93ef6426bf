"""``python -m analysis <stage>``: one thin command per DVC stage, each over one library function.

Every stage reads ``params.yaml`` through ``analysis.config`` and writes its outputs atomically
and all-or-none (``analysis.io.staged_outputs``). Errors are printed as one clear line (file,
column, value, what to do) with exit status 1; ``--traceback`` shows the Python traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from analysis import config, io

RAW = Path("data/raw")
PROCESSED = Path("data/processed")
REPORTS = Path("reports")


def cmd_fetch(args: argparse.Namespace) -> None:
    from analysis.fetch import fetch_sources

    params = config.load_params()
    mirror = config.data_mirror(params)
    records = fetch_sources(
        args.registry, RAW, mirror, studies=args.studies,
        timeout=params["data"]["timeout_seconds"], retries=params["data"]["retries"],
        manifest=RAW / f"{args.name}.manifest.json",
    )
    origin = f"mirror {mirror}" if mirror else "the publishers"
    print(f"fetched {len(records)} files from {origin} into {RAW}")


def cmd_clean_nhanes(args: argparse.Namespace) -> None:
    from analysis.clean import build_nhanes
    from analysis.schema import data_dictionary

    params = config.load_params()
    table, flow = build_nhanes(RAW / "nhanes", params)
    dictionary = data_dictionary(table, params["indices"])
    with io.staged_outputs():
        io.write_parquet(PROCESSED / "nhanes.parquet", table)
        io.write_csv(PROCESSED / "nhanes_flow.csv", flow)
        io.write_csv(PROCESSED / "nhanes_data_dictionary.csv", dictionary)
        io.write_text(PROCESSED / "nhanes_data_dictionary.md", dictionary.to_markdown(index=False) + "\n")
    print(f"NHANES analysis table: {len(table):,} rows x {table.shape[1]} columns")


def cmd_models_nhanes(args: argparse.Namespace) -> None:
    import pandas as pd

    from analysis.models.nhanes import run_nhanes_models
    from analysis.report.metrics import headline_metrics

    params = config.load_params()
    table = pd.read_parquet(PROCESSED / "nhanes.parquet")
    records, ph_tests = run_nhanes_models(table, params["models"])
    with io.staged_outputs():
        io.write_csv(REPORTS / "metrics" / "nhanes_models.csv", records)
        io.write_csv(REPORTS / "metrics" / "nhanes_ph_tests.csv", ph_tests)
        io.write_json(REPORTS / "metrics" / "nhanes.json", headline_metrics(records, table, params))
    print(f"NHANES models: {len(records)} result records")


def cmd_clean_gss(args: argparse.Namespace) -> None:
    import pandas as pd

    from analysis.clean_gss import build_gss_2020, build_gss_panel
    from analysis.schema_gss import GSS_2020_VARIABLES, GSS_PANEL_VARIABLES, gss_data_dictionary

    params = config.load_params()
    panel, attrition = build_gss_panel(RAW / "gss", params)
    table_2020 = build_gss_2020(RAW / "gss", params)
    dictionary = pd.concat([gss_data_dictionary(panel, GSS_PANEL_VARIABLES).assign(table="gss_panel"),
                            gss_data_dictionary(table_2020, GSS_2020_VARIABLES).assign(table="gss_2020")],
                           ignore_index=True)
    with io.staged_outputs():
        io.write_parquet(PROCESSED / "gss_panel.parquet", panel)
        io.write_parquet(PROCESSED / "gss_2020.parquet", table_2020)
        io.write_csv(PROCESSED / "gss_attrition.csv", attrition)
        io.write_csv(PROCESSED / "gss_data_dictionary.csv", dictionary)
    print(f"GSS person-wave table: {len(panel):,} rows; 2016-2020 table: {len(table_2020):,} rows")


def cmd_models_gss(args: argparse.Namespace) -> None:
    import pandas as pd

    from analysis.models.gss import run_gss_models
    from analysis.report.metrics import gss_metrics

    params = config.load_params()
    panel = pd.read_parquet(PROCESSED / "gss_panel.parquet")
    table_2020 = pd.read_parquet(PROCESSED / "gss_2020.parquet")
    records, tests, records_2020 = run_gss_models(panel, table_2020, params["gss"])
    with io.staged_outputs():
        io.write_csv(REPORTS / "metrics" / "gss_panel_models.csv", records)
        io.write_csv(REPORTS / "metrics" / "gss_panel_tests.csv", tests)
        io.write_csv(REPORTS / "metrics" / "gss_2020_models.csv", records_2020)
        io.write_json(REPORTS / "metrics" / "gss.json",
                      gss_metrics(records, tests, records_2020, panel, table_2020, params["gss"]))
    print(f"GSS models: {len(records)} panel records, {len(records_2020)} 2016-2020 records")


def cmd_report_gss(args: argparse.Namespace) -> None:
    from analysis.report.gss import write_gss_reports

    written = write_gss_reports(PROCESSED, REPORTS, config.load_params())
    print(f"GSS reports: {len(written)} files")


def cmd_clean_places(args: argparse.Namespace) -> None:
    import pandas as pd

    from analysis.clean_places import build_county_panel, build_county_table
    from analysis.schema_places import COUNTY_VARIABLES, PANEL_VARIABLES, places_data_dictionary

    params = config.load_params()
    table, join_log = build_county_table(RAW / "places", params)
    panel = build_county_panel(RAW / "places", params)
    dictionary = pd.concat([places_data_dictionary(table, COUNTY_VARIABLES).assign(table="places_county"),
                            places_data_dictionary(panel, PANEL_VARIABLES).assign(table="places_panel")],
                           ignore_index=True)
    with io.staged_outputs():
        io.write_parquet(PROCESSED / "places_county.parquet", table)
        io.write_parquet(PROCESSED / "places_panel.parquet", panel)
        io.write_csv(PROCESSED / "places_join_log.csv", join_log)
        io.write_csv(PROCESSED / "places_data_dictionary.csv", dictionary)
    print(f"county table: {len(table):,} counties; county panel: {len(panel):,} county-years")


def cmd_models_places(args: argparse.Namespace) -> None:
    import pandas as pd

    from analysis.models.places import run_places_models
    from analysis.report.metrics import ecological_metrics

    params = config.load_params()
    table = pd.read_parquet(PROCESSED / "places_county.parquet")
    panel = pd.read_parquet(PROCESSED / "places_panel.parquet")
    records, effects = run_places_models(table, panel, params["places"])
    sample = {"counties": int(len(table)), "states": int(table["state"].nunique()),
              "counties_with_isolation": int(table["isolation_pct"].notna().sum()),
              "states_with_isolation": int(table.loc[table["isolation_pct"].notna(), "state"].nunique()),
              "county_years": int(len(panel))}
    with io.staged_outputs():
        io.write_csv(REPORTS / "metrics" / "places_models.csv", records)
        io.write_csv(REPORTS / "metrics" / "places_state_effects.csv", effects)
        io.write_json(REPORTS / "metrics" / "places.json", ecological_metrics(records, sample))
    print(f"county models: {len(records)} records")


def cmd_report_places(args: argparse.Namespace) -> None:
    from analysis.report.places import write_places_reports

    written = write_places_reports(PROCESSED, REPORTS, config.load_params())
    print(f"county reports: {len(written)} files")


def cmd_clean_countries(args: argparse.Namespace) -> None:
    from analysis.clean_countries import build_country_panel
    from analysis.schema_countries import country_data_dictionary

    params = config.load_params()
    panel, name_map = build_country_panel(RAW / "countries", params)
    with io.staged_outputs():
        io.write_parquet(PROCESSED / "countries_panel.parquet", panel)
        io.write_csv(PROCESSED / "countries_name_map.csv", name_map)
        io.write_csv(PROCESSED / "countries_data_dictionary.csv", country_data_dictionary(panel))
    print(f"country-year panel: {len(panel):,} rows, {panel['iso3'].nunique()} countries")


def cmd_models_countries(args: argparse.Namespace) -> None:
    import pandas as pd

    from analysis.models.countries import run_country_models
    from analysis.report.metrics import ecological_metrics

    params = config.load_params()
    panel = pd.read_parquet(PROCESSED / "countries_panel.parquet")
    records = run_country_models(panel, params["countries"]["models"], progress=True)
    with io.staged_outputs():
        io.write_csv(REPORTS / "metrics" / "countries_models.csv", records)
        io.write_json(REPORTS / "metrics" / "countries.json", ecological_metrics(records, {
            "countries": int(panel["iso3"].nunique()), "country_years": int(len(panel))}))
    print(f"country models: {len(records)} records")


def cmd_report_countries(args: argparse.Namespace) -> None:
    from analysis.report.countries import write_country_reports

    written = write_country_reports(PROCESSED, REPORTS, config.load_params())
    print(f"country reports: {len(written)} files")


def cmd_synthetic_cohort(args: argparse.Namespace) -> None:
    from analysis.synthetic import simulate_cohort, write_synthetic

    spec = config.load_params()["cohorts"]["synthetic"]
    frame, truth = simulate_cohort(spec)
    with io.staged_outputs():
        io.write_atomic(RAW / "cohorts" / "synthetic_rand.dta", lambda tmp: write_synthetic(frame, tmp))
        io.write_json(RAW / "cohorts" / "synthetic_truth.json", truth)
    print(f"SYNTHETIC cohort: {truth['persons']:,} persons x {truth['waves']} waves, "
          f"{truth['person_waves_interviewed']:,} interviews")


def cmd_clean_cohorts(args: argparse.Namespace) -> None:
    from analysis.clean_cohorts import build_cohort_panel
    from analysis.schema_cohorts import cohort_data_dictionary

    cohorts = config.load_params()["cohorts"]
    panel, flow, status, coverage = build_cohort_panel(cohorts, RAW / "cohorts" / "synthetic_rand.dta")
    with io.staged_outputs():
        io.write_parquet(PROCESSED / "cohorts_panel.parquet", panel)
        io.write_csv(PROCESSED / "cohorts_flow.csv", flow)
        io.write_csv(PROCESSED / "cohorts_studies.csv", status)
        io.write_csv(PROCESSED / "cohorts_coverage.csv", coverage)
        io.write_csv(PROCESSED / "cohorts_data_dictionary.csv", cohort_data_dictionary(panel))
    ran = ", ".join(status.loc[status["status"] == "ran", "study"])
    print(f"cohort panel: {len(panel):,} person-waves; studies run: {ran}")


def cmd_models_cohorts(args: argparse.Namespace) -> None:
    import json

    import pandas as pd

    from analysis.models.cohorts import run_cohort_models, run_riclpm, truth_table
    from analysis.report.metrics import cohort_metrics

    cohorts = config.load_params()["cohorts"]
    panel = pd.read_parquet(PROCESSED / "cohorts_panel.parquet")
    status = pd.read_csv(PROCESSED / "cohorts_studies.csv", keep_default_na=False)
    labels = dict(zip(status["study"], status["label"]))
    records, incidence = run_cohort_models(panel, cohorts["models"], labels, progress=True)
    riclpm = run_riclpm(panel, cohorts["models"]["riclpm"], labels)
    truth = json.loads((RAW / "cohorts" / "synthetic_truth.json").read_text())["truth"]
    checks = truth_table(records, truth)
    with io.staged_outputs():
        io.write_csv(REPORTS / "metrics" / "cohorts_models.csv", records)
        io.write_csv(REPORTS / "metrics" / "cohorts_incidence.csv", incidence)
        io.write_csv(REPORTS / "metrics" / "cohorts_riclpm.csv", riclpm)
        io.write_csv(REPORTS / "metrics" / "cohorts_trajectories.csv", incidence.attrs["trajectories"])
        io.write_csv(REPORTS / "metrics" / "cohorts_truth.csv", checks)
        io.write_json(REPORTS / "metrics" / "cohorts.json", cohort_metrics(records, status, checks, riclpm))
    print(f"cohort models: {len(records)} records; SYNTHETIC truth covered {int(checks['covered'].sum())}"
          f"/{len(checks)}")


def cmd_report_cohorts(args: argparse.Namespace) -> None:
    from analysis.report.cohorts import write_cohort_reports

    written = write_cohort_reports(PROCESSED, REPORTS, config.load_params())
    print(f"cohort reports: {len(written)} files")


def cmd_report_nhanes(args: argparse.Namespace) -> None:
    from analysis.report.nhanes import write_nhanes_reports

    params = config.load_params()
    written = write_nhanes_reports(PROCESSED, REPORTS, params)
    print(f"NHANES reports: {len(written)} files")


def cmd_triangulation(args: argparse.Namespace) -> None:
    from analysis.report.triangulation import write_triangulation

    written = write_triangulation(REPORTS, Path("data/reference/published_anchors.csv"), config.load_params())
    print(f"triangulation: {len(written)} files")


def cmd_index(args: argparse.Namespace) -> None:
    from analysis.report.index import write_index

    print(f"reviewer index: {write_index(REPORTS, Path('.'))}")


def cmd_strobe(args: argparse.Namespace) -> None:
    from analysis.report.strobe import write_strobe

    written = write_strobe(Path("data/reference/strobe_cohort.csv"), Path("."), REPORTS)
    print("STROBE checklist: " + ", ".join(str(p) for p in written))


def cmd_notebook(args: argparse.Namespace) -> None:
    from analysis.report.notebooks import run_notebook

    out = run_notebook(Path(args.source), REPORTS / "notebooks", config.load_params())
    print(f"executed and rendered {out}")


def cmd_paper(args: argparse.Namespace) -> None:
    from analysis.report.paper import build_paper

    written = build_paper(REPORTS, config.load_params())
    print("manuscript: " + ", ".join(str(p) for p in written))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on error")
    sub = parser.add_subparsers(dest="stage", required=True)

    p = sub.add_parser("fetch", help="download (or copy from the mirror) and verify public files")
    p.add_argument("name", help="name of the provenance manifest: data/raw/<name>.manifest.json")
    p.add_argument("--studies", nargs="+", help="registry studies to fetch (default: all)")
    p.add_argument("--registry", default="data/sources.yaml")
    p.set_defaults(func=cmd_fetch)

    sub.add_parser("clean-nhanes", help="build the NHANES analysis table").set_defaults(func=cmd_clean_nhanes)
    sub.add_parser("models-nhanes", help="fit the NHANES models").set_defaults(func=cmd_models_nhanes)
    sub.add_parser("report-nhanes", help="NHANES tables and figures").set_defaults(func=cmd_report_nhanes)
    sub.add_parser("clean-gss", help="build the GSS panel tables").set_defaults(func=cmd_clean_gss)
    sub.add_parser("models-gss", help="fit the GSS panel models").set_defaults(func=cmd_models_gss)
    sub.add_parser("report-gss", help="GSS tables and figures").set_defaults(func=cmd_report_gss)
    sub.add_parser("clean-places", help="build the county table and panel").set_defaults(func=cmd_clean_places)
    sub.add_parser("models-places", help="fit the county models").set_defaults(func=cmd_models_places)
    sub.add_parser("report-places", help="county tables and figures").set_defaults(func=cmd_report_places)
    sub.add_parser("clean-countries", help="build the country-year panel").set_defaults(func=cmd_clean_countries)
    sub.add_parser("models-countries", help="fit the country panel models").set_defaults(func=cmd_models_countries)
    sub.add_parser("report-countries", help="country tables and figures").set_defaults(func=cmd_report_countries)
    sub.add_parser("synthetic-cohort", help="simulate the SYNTHETIC cohort (RAND layout, known truth)"
                   ).set_defaults(func=cmd_synthetic_cohort)
    sub.add_parser("clean-cohorts", help="build the ageing-cohort person-wave panel").set_defaults(
        func=cmd_clean_cohorts)
    sub.add_parser("models-cohorts", help="fit the ageing-cohort models").set_defaults(func=cmd_models_cohorts)
    sub.add_parser("report-cohorts", help="ageing-cohort tables and figures").set_defaults(func=cmd_report_cohorts)

    sub.add_parser("triangulation", help="project estimates beside published anchors").set_defaults(
        func=cmd_triangulation)
    p = sub.add_parser("notebook", help="execute a jupytext notebook with papermill and render it to HTML")
    p.add_argument("source", help="notebooks/NN_name.py")
    p.set_defaults(func=cmd_notebook)

    sub.add_parser("paper", help="the manuscript from the metrics files").set_defaults(func=cmd_paper)
    sub.add_parser("index", help="reports/index.html: links and provenance").set_defaults(func=cmd_index)
    sub.add_parser("strobe", help="reports/strobe.{md,html}: the STROBE checklist, checked against the reports"
                   ).set_defaults(func=cmd_strobe)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        args.func(args)
    except Exception as err:  # one clear line for the user; the traceback on request
        if args.traceback:
            raise
        print(f"error in stage '{args.stage}': {err}", file=sys.stderr)
        return 1
    print(f"[{args.stage}] done in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0
