"""Country reports on a simulated panel: the estimator table, the variance summary (hand-computed), the name
map tables, the figures, and write_country_reports writing everything or nothing."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis.core import io
from analysis.core.config import ConfigError
from analysis.core.settings import validate
from analysis.report.figures import flow_diagram
from analysis.studies.countries import report
from analysis.studies.countries.clean import STATUS_JOINED, STATUS_NO_CODE, STATUS_NO_OWID
from analysis.studies.countries.models import run_country_models
from analysis.studies.countries.schema import NAME_MAP_COLUMNS
from analysis.studies.countries.settings import CountriesSettings, CountryModels
from support.config import edited
from support.countries import SPEC, simulate_countries
from support.figures import texts

FULL_SPEC = {**SPEC,
             "outcomes": {"cvd_death_rate": {"label": "CVD deaths"}, "depression_prevalence": {"label": "Depression"}},
             "exposures": {**SPEC["exposures"],
                           "social_support_lag1": {"label": "Social support, previous year", "scale": 0.1}},
             "covariate_sets": {"unadjusted": "", "gdp": "log_gdp_per_capita"}}


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate_countries(n=25).assign(country=lambda d: "Country " + d["iso3"])


@pytest.fixture(scope="module")
def records(panel) -> pd.DataFrame:
    return run_country_models(panel, validate(CountryModels, FULL_SPEC, "countries.models", root="countries.models"))


def name_map() -> pd.DataFrame:
    rows = [("Somaliland region", None, None, STATUS_NO_CODE, 4, 0, 0, 0, 2009, 2012, "no code"),
            ("Kosovo", "XKX", None, STATUS_NO_OWID, 13, 13, 0, 0, 2007, 2019, "no series"),
            ("Ivory Coast", "CIV", "Cote d'Ivoire", STATUS_JOINED, 8, 8, 8, 8, 2009, 2019, "OWID: Cote d'Ivoire"),
            ("Chad", "TCD", "Chad", STATUS_JOINED, 12, 12, 12, 12, 2006, 2019, "")]
    return pd.DataFrame(rows, columns=NAME_MAP_COLUMNS)


def test_estimator_table_puts_estimators_side_by_side(records):
    table = report.estimator_table(records, {"gdp": "log GDP per capita"})
    assert list(table.columns[:4]) == ["Outcome", "Exposure", "Adjusted for", "Term"]
    assert [h for h in report.ESTIMATOR_HEADERS.values()] == list(table.columns[4:9])
    assert len(table) == 2 * 2 * 2 * 2  # outcomes x exposures x covariate sets x (term, between term)
    fe = records[(records["model"] == "fixed_effects") & (records["vcov"] == "cluster")
                 & (records["outcome"] == "cvd_death_rate") & (records["exposure"] == "social_support")
                 & (records["covariate_set"] == "gdp")].iloc[0]
    row = table[(table["Outcome"] == "CVD deaths") & (table["Exposure"] == "Social support")
                & (table["Adjusted for"] == "log GDP per capita") & (table["Term"] == "per 0.1 social support")].iloc[0]
    decimals = report.effect_decimals(records.loc[records["outcome"] == "cvd_death_rate", "std_error"])
    assert row["Two-way FE, clustered SE"].startswith(f"{fe['estimate']:.{decimals}f} (")
    between = table[table["Term"].str.startswith("between-country")].iloc[0]
    assert between["Two-way FE, clustered SE"] == "" and between["Within-between (Mundlak)"] != ""
    assert "Ecological" in table.attrs["footnote"]


def test_decimals_follow_the_standard_error():
    assert report.effect_decimals(pd.Series([1.5, 2.0, 9.0])) == 1
    assert report.effect_decimals(pd.Series([0.0073, 0.0074, 0.04])) == 4
    assert report.effect_decimals(pd.Series([np.nan])) == 2


def test_panel_summary_by_hand():
    frame = pd.DataFrame({"iso3": ["A", "A", "B", "B"], "x": [1.0, 3.0, 5.0, 7.0]})
    row = report.panel_summary(frame, {"x": "X"}).iloc[0]
    # country means 2 and 6; within deviations -1, 1, -1, 1; total SS = 9 + 1 + 1 + 9 = 20, within SS = 4
    assert (row["countries"], row["country_years"], row["mean"]) == (2, 4, 4.0)
    assert row["sd_between"] == pytest.approx(math.sqrt(8))
    assert row["sd_within"] == pytest.approx(math.sqrt(4 / 3))
    assert row["within_share_of_variance"] == pytest.approx(4 / 20)


def test_name_map_tables():
    full = report.name_map_table(name_map())
    assert len(full) == 4 and full.loc[0, "first_year"] == "2009"  # a year, not "2,009"
    exceptions = report.name_map_table(name_map(), exceptions_only=True)
    assert list(exceptions["whr_name"]) == ["Somaliland region", "Kosovo", "Ivory Coast"]  # Chad is plain
    assert "no ISO3 code 1" in exceptions.attrs["footnote"]


def test_figures_draw(panel, records):
    outcomes = {"cvd_death_rate": "CVD deaths", "depression_prevalence": "Depression"}
    for fig in (report.trajectories_figure(panel, outcomes, highlight=["C01", "C02", "ZZZ"]),
                report.country_means_figure(panel, outcomes, highlight=["C01"]),
                report.coefficient_figure(records, "gdp", "log GDP")):
        assert isinstance(fig, Figure) and len(fig.axes) == 2
    legend = report.trajectories_figure(panel, outcomes, highlight=["C01", "C02", "ZZZ"]).legends[0]
    assert [t.get_text() for t in legend.get_texts()][0].startswith("Country C01 (")  # ZZZ absent: skipped
    with pytest.raises(report.FigureError, match="no column 'country'"):
        report.trajectories_figure(panel.drop(columns="country"), outcomes)
    with pytest.raises(report.FigureError, match="no estimated records for covariate set 'none'"):
        report.coefficient_figure(records, "none")


# The simulated countries are coded C00, C01, ..., not ISO codes (which the schema requires of report.highlight):
# the highlight is set on the validated settings without re-validation.
COUNTRIES = edited(validate(CountriesSettings, {"models": FULL_SPEC, "report": {"covariate_set": "gdp"}}, "countries"),
                   **{"report.highlight": ["C01", "C03"]})
FORMATS = ("png",)


def panel_name_map(panel: pd.DataFrame) -> pd.DataFrame:
    """The name map of a panel: Somaliland (no code, 4 years) and one joined name per country of the panel."""
    counts = panel.groupby("iso3").agg(n=("year", "size"), first_year=("year", "min"), last_year=("year", "max"))
    rows = [("Somaliland region", None, None, STATUS_NO_CODE, 4, 0, 0, 0, 2009, 2012, "no code")]
    rows += [(f"Country {c}", c, f"Country {c}", STATUS_JOINED, r.n, r.n, r.n, r.n, r.first_year, r.last_year, "")
             for c, r in counts.iterrows()]
    return pd.DataFrame(rows, columns=NAME_MAP_COLUMNS)


def _processed(tmp_path, panel, records):
    processed, reports = tmp_path / "data/processed", tmp_path / "reports"
    io.write_parquet(processed / "countries_panel.parquet", panel)
    io.write_csv(processed / "countries_name_map.csv", panel_name_map(panel))
    io.write_csv(reports / "metrics" / "countries_models.csv", records)
    return processed, reports


def test_write_country_reports_writes_every_table_and_figure(tmp_path, panel, records):
    processed, reports = _processed(tmp_path, panel, records)
    written = report.write_country_reports(processed, reports, COUNTRIES, FORMATS)
    names = sorted(p.relative_to(reports).as_posix() for p in written)
    stems = ["estimators", "name_map", "name_map_exceptions", "panel_summary"]
    figures = ("coefficients", "country_means", "trajectories", "flow")
    assert names == sorted([f"figures/countries/{f}.png" for f in figures] + ["tables/countries/flow.csv"]
                           + [f"tables/countries/{s}.{ext}" for s in stems
                              for ext in ("csv", "md", "html", "tex", "json")])
    assert all(p.stat().st_size > 0 for p in written)
    shown = pd.read_csv(reports / "tables/countries/name_map.csv", keep_default_na=False)
    assert shown.loc[0, "whr_name"] == "Somaliland region" and shown.loc[0, "iso3"] == ""


def test_write_country_reports_is_all_or_none(tmp_path, panel, records):
    processed, reports = _processed(tmp_path, panel, records)
    # params.yaml cannot name an unknown set (the schema refuses it); a set without records fails mid-way
    with pytest.raises(ConfigError, match=r"report: 'no_such_set' is not a key of models.covariate_sets"):
        validate(CountriesSettings, {"models": FULL_SPEC, "report": {"covariate_set": "no_such_set"}}, "countries")
    bad = edited(COUNTRIES, **{"report.covariate_set": "no_such_set"})
    with pytest.raises(report.FigureError):
        report.write_country_reports(processed, reports, bad, FORMATS)
    assert not (reports / "tables" / "countries").exists() or not any((reports / "tables" / "countries").iterdir())


def test_country_flow_counts_country_years_by_hand():
    # AAA: 3 years, one without GDP; BBB: 2 years, one without a CVD rate; CCC: 2 years, no GBD series at all
    panel = pd.DataFrame({
        "iso3": ["AAA"] * 3 + ["BBB"] * 2 + ["CCC"] * 2, "year": [2010, 2011, 2012, 2010, 2011, 2010, 2011],
        "social_support": [0.8, 0.8, 0.9, 0.7, None, 0.6, 0.6],
        "social_support_lag1": [None, 0.8, 0.8, None, 0.7, None, 0.6],
        "log_gdp_per_capita": [9.0, None, 9.2, 8.0, 8.1, 7.0, 7.0],
        "cvd_death_rate": [100, 110, 120, None, 200, None, None],
        "depression_prevalence": [4.0, 4.1, 4.2, 3.0, 3.1, None, None]})
    names = pd.DataFrame([("Somaliland region", None, None, STATUS_NO_CODE, 4, 0, 0, 0, 2009, 2012, ""),
                          ("Aland", "AAA", "Aland", STATUS_JOINED, 3, 3, 3, 3, 2010, 2012, ""),
                          ("Bland", "BBB", "Bland", STATUS_JOINED, 2, 2, 1, 2, 2010, 2011, ""),
                          ("Cland", "CCC", None, STATUS_NO_OWID, 2, 2, 0, 0, 2010, 2011, "")],
                         columns=NAME_MAP_COLUMNS)
    flow = report.country_flow(names, panel, validate(CountryModels, FULL_SPEC, "countries.models"))
    assert list(flow["n"]) == [11, 7, 4, 2]
    assert list(flow["excluded"]) == [0, 4, 3, 2]
    assert list(flow["detail"].str.split("\n").str[0]) == ["4 countries", "3 countries", "2 countries",
                                                            "1 country"]
    assert flow.loc[1, "reason"] == "No ISO code: Somaliland region"
    assert flow.loc[2, "reason"] == "No GBD series: Cland\n1 more country-year without an outcome"
    assert flow.loc[3, "reason"] == "Missing social support: 1; Missing log GDP per capita: 1"
    # the lagged exposure's sample: every outcome, the lag and GDP (AAA 2012, BBB 2011)
    assert flow.loc[3, "detail"].splitlines()[1] == "sensitivity analysis with social support, previous year: 2"
    drawn = "\n".join(texts(flow_diagram(flow, unit=("country-year", "country-years"))))
    assert "Excluded: 4 country-years" in drawn and "2 country-years" in drawn
