"""County reports from simulated model outputs: the tables read the records, the figures draw, and the stage
writes every file (tables as csv/md/html/tex, figures in each format) under reports/*/places."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.core.settings import validate
from analysis.report.figures import FigureError, flow_diagram
from analysis.studies.places import report
from analysis.studies.places.clean import JOIN_LOG_COLUMNS
from analysis.studies.places.models import run_places_models
from analysis.studies.places.settings import PlacesSettings
from support.config import edited
from support.figures import texts
from support.places import STAGE, STAGE_SETTINGS, simulate_counties, simulate_panel


def join_log(n: int, files: tuple[tuple[str, int, int, str], ...] = (("a", 3, 1, "09001"),)) -> pd.DataFrame:
    """A join log as the cleaning stage writes it: the PLACES spine of n counties, one row per joined file
    (column, counties only in the file, PLACES counties absent from it, their FIPS), the final table."""
    rows = [{"source": "PLACES (spine)", "file": "places.csv", "county_rows": n, "matched": n,
             "county_rows_with_value": n, "matched_with_value": n, "only_in_source": 0, "only_in_places": 0,
             "only_in_source_fips": "", "note": "the spine"}]
    for column, only_source, only_places, fips in files:
        rows.append({"source": f"CHR&R {column}", "file": f"{column}.csv", "column": column,
                     "county_rows": n - only_places + only_source, "matched": n - only_places,
                     "county_rows_with_value": n - only_places, "matched_with_value": n - only_places - 1,
                     "only_in_source": only_source, "only_in_places": only_places, "only_in_source_fips": fips,
                     "note": ""})
    rows.append({"source": "county table", "file": "", "county_rows": n, "matched": n, "only_in_source": 0,
                 "only_in_places": 0, "only_in_source_fips": "", "note": "final"})
    return pd.DataFrame(rows).reindex(columns=JOIN_LOG_COLUMNS).fillna({"rows_read": n, "national_rows": 0,
                                                                        "state_rows": 0, "only_in_places_fips": ""})


@pytest.fixture(scope="module")
def outputs():
    table, _ = simulate_counties(n_states=12, per_state=25, seed=5)
    panel = simulate_panel(150)
    records, effects = run_places_models(table, panel, STAGE_SETTINGS, progress=False)
    return table, panel, records, effects


def test_effects_table_cells_come_from_the_records(outputs):
    _, _, records, _ = outputs
    frame = report.effects_table(records, "multilevel", STAGE["county_models"]["covariate_sets"])
    assert list(frame.columns) == ["Outcome", "Exposure", "unadjusted", "adjusted", "N"]
    rec = records[(records["design"] == "multilevel") & (records["outcome"] == "outcome_pct")
                  & (records["covariate_set"] == "adjusted")].iloc[0]
    assert frame.loc[0, "adjusted"].startswith(f"{rec['estimate']:.3f} (")
    assert "Ecological" in frame.attrs["footnote"] and "adjusted: z" in frame.attrs["footnote"]


def test_designs_table_and_variance_components(outputs):
    _, _, records, effects = outputs
    frame = report.designs_table(records, "adjusted")
    assert [c for c in frame.columns if c not in ("Outcome", "Exposure")] == [
        report.DESIGN_HEADERS[d] for d in ("weighted", "unweighted", "multilevel")]  # the primary design first
    components = report.variance_components(effects)
    assert len(components) == 4 and (components["States"] == 12).all()
    assert components["ICC (at mean exposure)"].between(0, 1).all()


def test_caterpillar_sorts_states_and_rejects_unknown_sets(outputs):
    _, _, _, effects = outputs
    fig = report.caterpillar_figure(effects, "isolation_pct", "adjusted", outcomes=["outcome_pct"])
    left, right = fig.axes[0], fig.axes[1]  # state labels alternate: left axis, then the right one
    ticks = sorted([(t, label.get_text()) for ax in (left, right)
                    for t, label in zip(ax.get_yticks(), ax.get_yticklabels())])
    part = effects[(effects["outcome"] == "outcome_pct") & (effects["covariate_set"] == "adjusted")
                   & (effects["component"] == "intercept")].sort_values("deviation")
    assert [label for _, label in ticks] == list(part["state"])
    assert [t for t, _ in ticks] == list(range(len(part)))
    with pytest.raises(FigureError, match="covariate set 'full'"):
        report.caterpillar_figure(effects, "isolation_pct", "full")


def test_scatter_needs_its_columns(outputs):
    table, _, _, _ = outputs
    fig = report.scatter_figure(table, "isolation_pct", {"outcome_pct": "Outcome (%)"}, highlight_states=["S00"])
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 1
    with pytest.raises(FigureError, match="no column 'depression_pct'"):
        report.scatter_figure(table, "isolation_pct", {"depression_pct": "Depression"})


def test_stage_writes_tables_and_figures(outputs, tmp_path):
    table, panel, records, effects = outputs
    processed, reports = tmp_path / "data" / "processed", tmp_path / "reports"
    (reports / "metrics").mkdir(parents=True)
    processed.mkdir(parents=True)
    table.assign(fips=[f"{i:05d}" for i in range(len(table))]).to_parquet(processed / "places_county.parquet")
    panel.to_parquet(processed / "places_panel.parquet")
    log = join_log(len(table))
    log.to_csv(processed / "places_join_log.csv", index=False)
    records.to_csv(reports / "metrics" / "places_models.csv", index=False)
    effects.to_csv(reports / "metrics" / "places_state_effects.csv", index=False)
    # the simulated states are named S00, S01, ..., not postal codes (which the schema requires of
    # report.highlight_states): the highlight is set on the validated settings without re-validation
    places = edited(validate(PlacesSettings, STAGE, "places"), **{"report.highlight_states": ["S01", "S02"]})
    written = report.write_places_reports(processed, reports, places, ("png", "svg"))
    names = {p.relative_to(reports).as_posix() for p in written}
    for stem in ("models_multilevel", "models_unweighted", "models_weighted", "models_fixed_effects",
                 "designs_compared", "variance_components", "county_summary", "panel_summary", "join_log"):
        for ext in ("csv", "md", "html", "tex"):
            assert f"tables/places/{stem}.{ext}" in names
    assert "tables/places/flow.csv" in names
    for stem in ("scatter_isolation_pct", "state_intercepts_isolation_pct", "state_slopes_isolation_pct", "flow"):
        for ext in ("png", "svg"):
            assert f"figures/places/{stem}.{ext}" in names
    assert all(p.exists() and p.stat().st_size > 0 for p in written)
    joined = pd.read_csv(reports / "tables" / "places" / "join_log.csv", dtype=str)
    assert joined.loc[1, "only_in_source_fips"] == "09001"  # FIPS stay text in the written table
    assert np.isfinite(pd.read_csv(reports / "tables" / "places" / "county_summary.csv")["Mean"]).all()


def test_join_flow_counts_matched_and_unmatched_counties_by_hand():
    table = pd.DataFrame({"state": ["A", "A", "B", "B", "C"], "isolation_pct": [1.0, 2.0, 3.0, None, None],
                          "support_pct": [1.0, 2.0, 3.0, None, None]})
    log = join_log(5, (("a", 2, 0, "09001 09003"), ("b", 2, 0, "09001 09003"), ("c", 0, 1, "")))
    flow = report.join_flow(log, table, {"isolation_pct": "Isolated", "support_pct": "Lacking support"})
    assert list(flow["label"].str[:24]) == ["PLACES (spine)", "2 CHR&R files joined on ", "CHR&R file joined on the",
                                            "With every social measur"]
    assert list(flow["n"]) == [5, 5, 4, 3]
    assert list(flow["excluded"]) == [0, 2, 1, 2]  # unmatched: only in the files; absent from the file
    assert "(FIPS 09001 09003)" in flow.loc[1, "reason"]
    assert flow.loc[2, "reason"].startswith("0 counties only in the file; 1 county of PLACES not in it")
    assert flow.loc[3, "detail"] == "in 2 of 3 states (DC counted as a state)"
    assert flow.loc[3, "reason"] == ("No modelled estimate: all 1 county of the 1 state without the BRFSS "
                                     "2022 social-needs module; 1 county in the other states")
    drawn = "\n".join(texts(flow_diagram(flow, unit=("county", "counties"))))
    assert "Unmatched: 2 counties" in drawn and "3 counties" in drawn
