"""County social infrastructure: the PLACES interval reader, the groups, the weighted prevalences (hand-computed),
a CHR&R measure file in the per-measure format, and the map helpers (TopoJSON decoding by hand, vendored files)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis.core.contract import SourceDataError
from analysis.paper import county_maps
from analysis.paper.plots_page import VendorError
from analysis.studies.places import source as src
from analysis.studies.places.infrastructure import (
    INFRASTRUCTURE_MEASURES,
    assign_groups,
    group_labels,
    weighted_prevalence,
)
from analysis.studies.places.settings import Grouping

RURALITY = Grouping(column="rural_pct", cuts=[50, 100],
                    labels=["Mostly urban (< {high:g}% rural)", "Mostly rural ({low:g}-<{high:g}% rural)",
                            "Completely rural ({low:g}% rural)"])


def test_places_interval_cells_are_parsed_and_bad_ones_named():
    keys = pd.Series(["01001", "01003", "01005"])
    low, high = src.parse_interval(pd.Series(["( 4.9,  6.3)", "", "(26.3, 26.9)"]), "f.csv", "ISOLATION_Adj95CI",
                                   keys)
    assert low.tolist()[0] == 4.9 and high.tolist()[0] == 6.3 and math.isnan(low[1]) and high[2] == 26.9
    with pytest.raises(SourceDataError, match=r"ISOLATION_Adj95CI has the value '4.9-6.3' \(county 01003\)"):
        src.parse_interval(pd.Series(["(1, 2)", "4.9-6.3", ""]), "f.csv", "ISOLATION_Adj95CI", keys)
    with pytest.raises(SourceDataError, match="low end exceeds"):
        src.parse_interval(pd.Series(["(3, 2)", "", ""]), "f.csv", "ISOLATION_Adj95CI", keys)


def test_rurality_groups_follow_the_census_levels():
    assert group_labels(RURALITY) == ["Mostly urban (< 50% rural)", "Mostly rural (50-<100% rural)",
                                      "Completely rural (100% rural)"]
    groups = assign_groups(pd.Series([0.0, 49.99, 50.0, 99.9, 100.0, np.nan]), RURALITY)
    assert groups.astype(object).tolist()[:5] == ["Mostly urban (< 50% rural)"] * 2 + [
        "Mostly rural (50-<100% rural)"] * 2 + ["Completely rural (100% rural)"]
    assert pd.isna(groups.iloc[5])
    segregation = Grouping(column="s", cuts=[30, 60], labels=["Low", "Moderate", "High"], missing_label="None")
    assert assign_groups(pd.Series([29.9, 30.0, 60.0, np.nan]), segregation).astype(str).tolist() == [
        "Low", "Moderate", "High", "None"]
    with pytest.raises(ValueError, match="one label more than cuts"):
        Grouping(column="s", cuts=[30], labels=["a", "b", "c"])


def test_weighted_prevalence_by_hand():
    # values 10 and 20 (SE 1 and 2), adults 1 and 3: mean (10 + 60) / 4 = 17.5; correlated-error SE (1 + 6) / 4
    # = 1.75; independent-error SE sqrt(1 + 36) / 4; a county with no SE is left out
    out = weighted_prevalence(pd.Series([10.0, 20.0, 50.0]), pd.Series([1.0, 2.0, np.nan]),
                              pd.Series([1.0, 3.0, 100.0]))
    assert out["n_counties"] == 2 and out["adults"] == 4.0
    assert out["prevalence"] == pytest.approx(17.5)
    assert out["se_correlated"] == pytest.approx(1.75)
    assert out["se_independent"] == pytest.approx(math.sqrt(37) / 4)
    assert out["ci_low"] == pytest.approx(17.5 - 1.959964 * 1.75, abs=1e-5)
    assert math.isnan(weighted_prevalence(pd.Series([np.nan]), pd.Series([1.0]), pd.Series([1.0]))["prevalence"])


def test_a_library_file_in_the_chr_format_reads_by_hand(tmp_path):
    # v181's layout: an unnamed R row-index column, text codes, NA for missing, no state rows
    path = tmp_path / "v181_r2025.csv"
    path.write_text('"","statecode","countycode","state","county","fipscode","v181_rawvalue"\n'
                    '"1","01","001","AL","Autauga County","01001",1.12\n'
                    '"2","01","003","AL","Baldwin County","01003",NA\n')
    frame = src.read_chr_measure(path, "v181")
    assert frame["fips"].tolist() == ["01001", "01003"]
    assert frame["v181_rawvalue"].iloc[0] == 1.12 and math.isnan(frame["v181_rawvalue"].iloc[1])
    scales = {m.column: m.scale for m in INFRASTRUCTURE_MEASURES}
    assert scales["broadband_pct"] == 100.0 and scales["library_visits"] == 1.0  # proportions -> percent only


def test_topojson_arcs_decode_by_hand():
    # quantised, delta-encoded arcs: arc 0 = (0,0) (2,0) (2,2) in units; scale 0.5, translate (10, 20)
    topology = {"transform": {"scale": [0.5, 0.5], "translate": [10, 20]},
                "arcs": [[[0, 0], [2, 0], [0, 2]], [[2, 2], [-2, 0], [0, -2]]],
                "objects": {"counties": {"geometries": [{"type": "Polygon", "arcs": [[0, 1]], "id": "01001"},
                                                        {"type": "Polygon", "arcs": [[~1, ~0]], "id": "01003"}]}}}
    arcs = county_maps.decode_arcs(topology)
    assert arcs[0].tolist() == [[10, 20], [11, 20], [11, 21]]
    rings = county_maps.feature_rings(topology, "counties")
    assert rings["01001"][0].tolist() == [[10, 20], [11, 20], [11, 21], [10, 21], [10, 20]]
    assert rings["01003"][0].tolist() == [[10, 20], [10, 21], [11, 21], [11, 20], [10, 20]]


def test_vendored_atlas_is_checked_and_spec_keys_counties_by_fips(tmp_path):
    topology = county_maps.checked_atlas(county_maps.INTERACTIVE_ATLAS)
    ids = {g["id"] for g in topology["objects"]["counties"]["geometries"]}
    assert "01001" in ids and all(len(i) == 5 for i in ids)
    for name in ("README.md", county_maps.INTERACTIVE_ATLAS):
        (tmp_path / name).write_bytes((county_maps.ATLAS / name).read_bytes())
    (tmp_path / county_maps.INTERACTIVE_ATLAS).write_text(json.dumps({"type": "Topology"}))
    with pytest.raises(VendorError, match="sha256"):
        county_maps.checked_atlas(county_maps.INTERACTIVE_ATLAS, tmp_path)
    values = pd.DataFrame({"fips": ["01001"], "county": ["Autauga, AL"], "isolation_pct": [33.0]})
    spec = county_maps.vega_lite_spec(values, {"isolation_pct": "Isolated (%)"})
    assert spec["data"] == {"url": county_maps.INTERACTIVE_ATLAS, "format": {"type": "topojson",
                                                                             "feature": "counties"}}
    lookup = spec["transform"][0]
    assert lookup["lookup"] == "id" and lookup["from"]["key"] == "fips"
    assert spec["datasets"][lookup["from"]["data"]["name"]] == [
        {"fips": "01001", "county": "Autauga, AL", "isolation_pct": 33.0}]
    assert [v["layer"][1]["encoding"]["color"]["field"] for v in spec["vconcat"]] == ["isolation_pct"]
    subtitle = " ".join(spec["title"]["subtitle"])
    assert "Ecological" in subtitle and "no causal claim" in subtitle


def simulated_counties(seed: int = 3, n_states: int = 30, per_state: int = 40) -> pd.DataFrame:
    """Counties in states with a known path: broadband -> isolation (-0.5 per SD) -> depression (+0.4 per point),
    direct broadband -> depression 0; rural share 0-100 (a third completely rural); state intercepts."""
    rng = np.random.default_rng(seed)
    state = np.repeat([f"S{s:02d}" for s in range(n_states)], per_state)
    n = len(state)
    codes = np.repeat(np.arange(n_states), per_state)
    income = rng.normal(size=n)
    broadband = 80 + 5 * rng.normal(size=n) + 2 * income
    rural = np.where(rng.random(n) < 1 / 3, 100.0, rng.uniform(0, 99, n))
    isolation = 34 - 0.5 * (broadband - 80) / 5 + 0.3 * income + rng.normal(0, 1, n_states)[codes] + rng.normal(size=n)
    depression = 20 + 0.4 * isolation - 0.5 * income + rng.normal(0, 1, n_states)[codes] + rng.normal(size=n)
    return pd.DataFrame({
        "fips": [f"{i:05d}" for i in range(n)], "state": state, "county_name": "c", "adult_population": 1000.0,
        "log_median_income": income, "broadband_pct": broadband, "rural_pct": rural,
        "isolation_pct": isolation, "isolation_pct_se": 0.5, "depression_pct": depression})


def test_study_models_recover_a_known_indirect_association():
    from analysis.studies.places.infrastructure import (
        associations_table,
        group_prevalence,
        run_infrastructure_models,
        run_mediation,
    )
    from analysis.studies.places.settings import PlacesSettings

    places = PlacesSettings.model_validate({
        "study": "SIMULATED counties",
        "county_models": {"outcomes": {"depression_pct": {"label": "Depression (%)"}},
                          "exposures": {"isolation_pct": {"label": "Isolated"}},
                          "covariate_sets": {"income": "log_median_income + rural_pct"}},
        "infrastructure": {
            "exposures": {"broadband_pct": {"label": "Broadband (%)"}},
            "mediators": {"isolation_pct": {"label": "Isolated (%)"}}, "outcomes": ["depression_pct"],
            "covariate_set": "income", "modifier_exposures": ["broadband_pct"], "rurality": RURALITY.model_dump(),
            "segregation": {"column": "rural_pct", "cuts": [50], "labels": ["a", "b"]},
            "mediation": {"exposures": ["broadband_pct"], "mediators": ["isolation_pct"],
                          "outcomes": ["depression_pct"], "n_boot": 30, "seed": 4},
            "map_exposure": "broadband_pct"}})
    table = simulated_counties()
    table["rurality_group"] = assign_groups(table["rural_pct"], RURALITY)
    table["segregation_group"] = assign_groups(table["rural_pct"], places.infrastructure.segregation)
    records = run_infrastructure_models(table, places)
    main = records[(records["sample"] == "main") & (records["term"] == "broadband_pct")].set_index("outcome")
    sd = table["broadband_pct"].std()
    # isolation falls 0.5 per 5 points of broadband = 0.1 x SD per SD (SD includes the income part)
    truth = -0.1 * sd
    assert main.loc["isolation_pct", "ci_low"] < truth < main.loc["isolation_pct", "ci_high"]
    assert set(records["sample"]) == {"main", *(f"rurality={s}" for s in
                                                ("mostly_urban_50_rural", "mostly_rural_50_100_rural",
                                                 "completely_rural_100_rural"))}
    assert records["note"].str.contains("ECOLOGICAL").all() and records["note"].str.contains("no causal").all()
    med_records, mediation = run_mediation(table, places)
    row = mediation.iloc[0]
    assert row["indirect_ci_low"] < truth * 0.4 < row["indirect_ci_high"]
    assert abs(row["direct"]) < 3 * row["direct_se"]
    assert (med_records["note"].str.contains("ECOLOGICAL")).all()
    prevalence = group_prevalence(table, places)
    overall = prevalence[prevalence["grouping"] == "all"].iloc[0]
    assert overall["prevalence"] == pytest.approx(table["isolation_pct"].mean())  # equal weights
    assert overall["se_correlated"] == pytest.approx(0.5)
    assert "Ecological" in associations_table(records, places).attrs["footnote"]
