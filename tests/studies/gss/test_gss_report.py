"""GSS reports and metrics on simulated panel records: the estimator table, the figures, the 2016-2020
models and the headline metrics the manuscript reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.core.settings import validate
from analysis.estimators.panel import PanelSpec, run_panel_models
from analysis.report.figure_check import problems, saved_width_in
from analysis.report.figures import PRINT_WIDTH_IN, FigureError, flow_diagram
from analysis.studies.gss import report
from analysis.studies.gss.metrics import gss_metrics
from analysis.studies.gss.models import run_2020_models, run_gss_models
from analysis.studies.gss.settings import GssSettings, Model2020, Models2020
from support.config import edited
from support.figures import texts
from support.panel import STAGE_RAW, simulate_binary

SPEC_RAW = {**STAGE_RAW, "outcomes": {"case": {"label": "Case", "binary": True}}}
SPEC = validate(PanelSpec, SPEC_RAW, "panel_models")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    data = simulate_binary(n=150, waves=3, seed=21)
    rng = np.random.default_rng(21)
    data["z"] = rng.normal(0, 1, len(data))
    data["race"] = data["person_id"].map(dict(zip(data["person_id"].unique(), rng.choice(["a", "b"], 150))))
    data["panel"] = "2006-2010"
    return data


@pytest.fixture(scope="module")
def results(panel):
    return run_panel_models(panel, SPEC, study="sim", progress=False)


@pytest.fixture(scope="module")
def table_2020() -> pd.DataFrame:
    """Baseline contact lowers 2020 loneliness by 0.5 per point; 2020 health worse with loneliness."""
    rng = np.random.default_rng(5)
    n = 1500
    contact = rng.normal(4, 1, n)
    lonely = np.clip(np.round(6 - 0.5 * (contact - 4) + rng.normal(0, 1.5, n)), 2, 10)
    return pd.DataFrame({
        "social_contact_index_baseline": contact, "loneliness_score_2020": lonely,
        "fair_poor_health_2020": rng.binomial(1, 1 / (1 + np.exp(-(-2 + 0.2 * (lonely - 6))))),
        "age_baseline": rng.uniform(20, 80, n), "weight_2020": rng.uniform(0.5, 2, n),
        "stratum": rng.integers(1, 40, n), "psu": rng.integers(1, 3, n),
        "reinterviewed_2020": (rng.random(n) < 0.8).astype(int),
    })


MODELS_2020_RAW = {"weight": "weight_2020", "models": {
    "loneliness_on_contact": {"label": "Loneliness", "outcome": "loneliness_score_2020", "family": "gaussian",
                              "exposure": "social_contact_index_baseline", "exposure_label": "Contact",
                              "covariates": "age_baseline"},
    "health_on_loneliness": {"label": "Health", "outcome": "fair_poor_health_2020", "family": "binomial",
                             "exposure": "loneliness_score_2020", "exposure_label": "Loneliness",
                             "covariates": "age_baseline"}}}
MODELS_2020 = validate(Models2020, MODELS_2020_RAW, "gss.models_2020")


def gss_settings(raw_params: dict, **blocks) -> GssSettings:
    """The real ``gss:`` section with these blocks in its place (None: the block left out), validated as
    params.yaml is."""
    gss = {**raw_params["gss"], **blocks}
    return validate(GssSettings, {k: v for k, v in gss.items() if v is not None}, "gss")


def test_2020_models_use_the_reinterviewed_and_recover_the_truth(table_2020):
    records = run_2020_models(table_2020, MODELS_2020)
    assert set(records["design"]) == {"design-based", "unweighted"}
    assert (records["n"] == int(table_2020["reinterviewed_2020"].sum())).all()
    lonely = records[(records["covariate_set"] == "loneliness_on_contact") & (records["design"] == "unweighted")]
    assert lonely["ci_low"].iloc[0] < -0.5 < lonely["ci_high"].iloc[0]
    health = records[records["covariate_set"] == "health_on_loneliness"]
    assert (health["measure"] == "OR").all() and (health["ratio"] > 1).all()


def test_2020_models_need_the_design_columns(table_2020):
    with pytest.raises(ValueError, match="'psu'"):
        run_2020_models(table_2020.drop(columns="psu"), MODELS_2020)


def test_estimator_table_puts_estimators_side_by_side(results):
    records, _ = results
    table = report.estimator_table(records)
    assert list(table["Term"]) == ["per point", "between-person"]
    for model, header in report.ESTIMATOR_HEADERS.items():
        assert header in table.columns, model
    fe = records[records["model"] == "fixed_effects"].iloc[0]
    assert table.loc[0, "Two-way FE"].startswith(f"{fe['estimate']:.3f}")
    assert table.loc[1, "Two-way FE"] == ""  # the between-person row exists only for the Mundlak model
    assert table.loc[0, "Conditional logit (OR)"].startswith(
        f"{records.loc[records['model'] == 'conditional_logit', 'ratio'].iloc[0]:.2f}")


def test_figures_draw_every_estimate(results, panel):
    records, _ = results
    fig = report.coefficient_plot(records)
    ax = fig.axes[0]
    linear = records[records["measure"] != "OR"]
    assert len(ax.get_yticklabels()) == len(linear)
    summary = report.outcome_by_contact(panel, {"case": "Case"}, "x", [-0.5, 0.5], ["low", "mid", "high"])
    assert set(summary["contact_level"]) == {"low", "mid", "high"}
    assert summary["n"].sum() == panel["x"].notna().sum()
    by_contact = report.outcome_by_contact_figure(summary, {"case"})
    for drawn in (fig, by_contact):  # issue 21: legible at the paper's text width
        assert problems(drawn, PRINT_WIDTH_IN, drawn_width_in=saved_width_in(drawn)) == []
    with pytest.raises(ValueError, match="3 labels"):
        report.contact_levels(panel["x"], [0, 1], ["a", "b"])


def test_contact_levels_cut_points_are_left_closed():
    levels = report.contact_levels(pd.Series([0.0, 3.219, 4.653, 4.654, 9.0]), [3.219, 4.654], ["l", "m", "h"])
    assert list(levels) == ["l", "m", "m", "h", "h"]


def test_gss_models_and_metrics_keys(panel, table_2020, raw_params):
    """run_gss_models end to end on simulated data: ballots restrict the sample (ballot C has no exposure, as
    the GSS health models' ballot B has no health), the lagged exposure, the completers unweighted and
    weighted, the ballot flow, the attenuation table, and the metrics built from them."""
    data = panel.copy()
    persons = data["person_id"].unique()
    ballot = dict(zip(persons, np.resize(["A", "B", "C"], len(persons))))
    data["ballot"] = pd.Categorical(data["person_id"].map(ballot), categories=["A", "B", "C"])
    data.loc[data["ballot"] == "C", "x"] = np.nan
    data["weight_panel123"] = np.where(data.groupby("person_id")["wave"].transform("size") == 3,
                                       data["person_id"].map(dict(zip(persons, np.linspace(0.5, 2, len(persons))))),
                                       np.nan)
    table = table_2020.assign(mode_2020=pd.Categorical(np.resize(["Web", "Phone"], len(table_2020))))
    gss = gss_settings(raw_params, panel_models={**SPEC_RAW, "ballots": {"case": ["A"]}},
                       panel_lagged={"exposures": {"x_lag": {"label": "x at t-1"}},
                                     "estimators": ["pooled_ols", "fixed_effects"]},
                       panel_weighted={"label": "completers", "weight": "weight_panel123",
                                       "estimators": ["pooled_ols", "fixed_effects"]},
                       assumed_reliability=[0.8], models_2020=MODELS_2020_RAW)
    fits = run_gss_models(data, table, gss, progress=False)
    main = fits["records"][fits["records"]["exposure"] == "x"]
    in_a = data[(data["ballot"] == "A")].dropna(subset=["x", "case", "z"])
    assert int(main.loc[main["model"] == "pooled_ols", "n"].iloc[0]) == len(in_a)
    assert set(fits["records"]["exposure"]) == {"x", "x_lag"}
    assert set(fits["weighted"]["design"]) == {"unweighted", "weighted"}
    flow = fits["ballot_flow"].set_index("ballot")
    assert flow.loc["C", "with_both"] == 0 and flow.loc["A", "in_models"] and not flow.loc["B", "in_models"]
    assert set(fits["attenuation"]["panel"]) == {"2006-2010", "all"}
    metrics = gss_metrics(fits, data, table, gss)
    assert metrics["sample"]["persons"] == data["person_id"].nunique()
    reinterviewed = table[table["reinterviewed_2020"] == 1]["mode_2020"]  # the mode counts only the re-interviewed
    assert metrics["sample"]["mode_2020"] == {"Web": int((reinterviewed == "Web").sum()),
                                              "Phone": int((reinterviewed == "Phone").sum())} != {"Web": 750,
                                                                                                   "Phone": 750}
    est = metrics["estimates"]["case"]["x"]
    assert {"pooled_ols", "fixed_effects", "mundlak", "mundlak:between", "conditional_logit"} <= set(est)
    assert set(metrics["estimates"]["case"]["x_lag"]) == {"pooled_ols", "fixed_effects"}
    assert set(metrics["completers"]["case"]["x"]["fixed_effects"]) == {"unweighted", "weighted"}
    assert set(metrics["tests"]["case"]["x"]) == {"hausman", "mundlak", "mundlak_exposure"}
    assert set(metrics["models_2020"]) == {"loneliness_on_contact", "health_on_loneliness"}


def attrition(wave3_2006: int = 70) -> pd.DataFrame:
    """Two panels of 100 and 80 persons; 20 and 10 lost by wave 2, then 10 (or fewer) and 5 more by wave 3."""
    rows = [("2006-2010", 1, 100), ("2006-2010", 2, 80), ("2006-2010", 3, wave3_2006),
            ("2008-2012", 1, 80), ("2008-2012", 2, 70), ("2008-2012", 3, 65)]
    frame = pd.DataFrame(rows, columns=["panel", "wave", "n"]).assign(group="interviewed")
    lost = frame[frame["wave"] > 1].assign(group="lost", n=lambda d: d["panel"].map({"2006-2010": 100,
                                                                                    "2008-2012": 80}) - d["n"])
    pooled = frame.groupby("wave", as_index=False)["n"].sum().assign(panel="all", group="interviewed")
    return pd.concat([frame, lost, pooled], ignore_index=True)


def test_attrition_flow_counts_each_wave_by_hand():
    flow = report.attrition_flow(attrition())
    assert list(flow["n"]) == [180, 150, 135]  # the pooled 'all' rows are not counted twice
    assert list(flow["excluded"]) == [0, 30, 15]  # lost since the wave before, not since baseline
    assert flow.loc[1, "detail"] == "2006-2010 panel: 80\n2008-2012 panel: 70"
    assert flow.loc[2, "reason"].splitlines() == ["Not re-interviewed at wave 3", "2006-2010 panel: 10",
                                                  "2008-2012 panel: 5"]
    assert (flow.loc[1:, "excluded_label"] == "Lost").all()


def test_attrition_flow_rejects_returners_and_draws_every_count():
    with pytest.raises(FigureError, match="panel 2006-2010 has more persons interviewed at wave 3 \\(90\\)"):
        report.attrition_flow(attrition(wave3_2006=90))
    fig = flow_diagram(report.attrition_flow(attrition()), unit=("person", "persons"), highlight_last=False)
    drawn = "\n".join(texts(fig))
    for text in ("180 persons", "150 persons", "135 persons", "Lost: 30 persons", "Lost: 15 persons",
                 "2008-2012 panel: 65"):
        assert text in drawn


# ---------------------------------------------------------------------------------------------
# The reader's tables of the weights, ballots, attenuation, lagged exposure and 2016-2020 models


def _record(outcome: str, model: str, design: str, estimate: float, n: int, exposure: str = "x",
            term: str = "x") -> dict:
    return {"outcome": outcome, "outcome_label": outcome.title(), "exposure": exposure, "exposure_label": exposure,
            "term": term, "term_label": "per point", "model": model, "design": design, "estimate": estimate,
            "ci_low": estimate - 0.01, "ci_high": estimate + 0.01, "measure": "Mean difference", "ratio": np.nan,
            "ratio_ci_low": np.nan, "ratio_ci_high": np.nan, "n": n, "events": np.nan}


def test_weighted_table_puts_all_persons_completers_and_weights_side_by_side():
    weighted = pd.DataFrame([_record("case", "fixed_effects", "unweighted", 0.012, 300),
                             _record("case", "fixed_effects", "weighted", -0.034, 300),
                             _record("case", "pooled_ols", "unweighted", -0.05, 310),
                             _record("case", "pooled_ols", "weighted", -0.06, 310)])
    main = pd.DataFrame([_record("case", "fixed_effects", "unweighted", 0.021, 420),
                         _record("case", "mundlak", "unweighted", -0.5, 500, term="x:between"),
                         _record("case", "pooled_ols", "unweighted", -0.07, 450),
                         _record("case", "pooled_ols", "unweighted", 0.9, 450, exposure="x_lag", term="x_lag")])
    table = report.weighted_table(weighted, main, "WTPANNR123").set_index("Estimator")
    assert list(table.index) == ["Two-way FE", "Pooled OLS"]
    assert table.loc["Two-way FE", "All persons, unweighted"] == "0.021 (0.011-0.031)"
    assert table.loc["Two-way FE", "Completers, unweighted"] == "0.012 (0.002-0.022)"
    assert table.loc["Two-way FE", "Completers, weighted"] == "-0.034 (-0.044 to -0.024)"
    assert table.loc["Pooled OLS", "All persons, unweighted"].startswith("-0.070")  # not the lagged exposure's 0.9
    assert (table.loc["Two-way FE", "Person-waves (all)"], table.loc["Two-way FE", "Person-waves (completers)"]) \
        == ("420", "300")
    assert "WTPANNR123" in table.attrs["caption"]
    with pytest.raises(report.tables.TableError, match="no completer fits"):
        report.weighted_table(weighted.iloc[0:0], main)


def test_attenuation_display_one_row_per_panel_with_the_factors_by_reliability():
    rows = [{"exposure": "x", "panel": panel, "reliability": rho, "within_share": share,
             "lambda_fixed_effects": 1 - (1 - rho) / share, "lambda_first_difference": 1 - 2 * (1 - rho) / 1.0,
             "persons": persons, "adjacent_correlations": "0.500, 0.450"}
            for panel, share, persons in (("2006-2010", 0.5, 400), ("all", 0.4, 1200)) for rho in (0.9, 0.8)]
    table = report.attenuation_display(pd.DataFrame(rows))
    assert list(table["Panel"]) == ["2006-2010", "pooled"]
    assert list(table.columns[-2:]) == ["Reliability 0.8: FE / FD", "Reliability 0.9: FE / FD"]  # sorted by rho
    # by hand: rho 0.8, within share 0.5 -> FE 1 - 0.2 / 0.5 = 0.60, FD 1 - 0.4 = 0.60; share 0.4 -> FE 0.50
    assert table.loc[0, "Reliability 0.8: FE / FD"] == "0.60 / 0.60"
    assert table.loc[1, "Reliability 0.8: FE / FD"] == "0.50 / 0.60"
    assert table.loc[1, "Reliability 0.9: FE / FD"] == "0.75 / 0.80"
    assert (table.loc[1, "Persons (3 waves)"], table.loc[1, "Within-person share"]) == ("1,200", "0.40")


def test_ballot_flow_table_says_which_ballot_informs_which_model(panel, table_2020, raw_params):
    data = panel.copy()
    persons = data["person_id"].unique()
    data["ballot"] = pd.Categorical(data["person_id"].map(dict(zip(persons, np.resize(["A", "B", "C"], len(persons))))),
                                    categories=["A", "B", "C"])
    data.loc[data["ballot"] == "B", "case"] = np.nan  # the outcome not asked on ballot B
    gss = gss_settings(raw_params, panel_models={**SPEC_RAW, "ballots": {"case": ["A"]}}, panel_lagged=None,
                       panel_weighted=None, models_2020=MODELS_2020_RAW)
    fits_flow = report.ballot_flow_table(run_gss_models(data, table_2020, gss, progress=False)["ballot_flow"],
                                         {"case": "Case"})
    flow = fits_flow.set_index("Ballot")
    assert list(flow["In the models"]) == ["yes", "no", "no"]
    assert flow.loc["B", "With outcome"] == "0" and flow.loc["B", "With both"] == "0"
    assert flow.loc["A", "Person-waves"] == f"{int((data['ballot'] == 'A').sum()):,}"
    assert (flow["Outcome"] == "Case").all()


def test_lagged_table_and_exposure_records_keep_the_exposures_apart(results):
    records, _ = results
    lag = records.assign(exposure="x_lag", exposure_label="x at t-1")
    both = pd.concat([records, lag], ignore_index=True)
    assert report.exposure_records(both, ["x"]).equals(records)
    table = report.lagged_table(report.exposure_records(both, ["x_lag"]))
    assert set(table["Exposure"]) == {"x at t-1"}
    assert "previous wave" in table.attrs["caption"]
    assert table.attrs["footnote"].startswith("Exposure measured at wave t-1")


def test_loneliness_table_one_row_per_model_with_adjustment_and_mode(table_2020):
    models = {**MODELS_2020.models,
              "loneliness_on_contact_leftout": validate(Model2020, {
                  "label": "Loneliness", "outcome": "loneliness_score_2020", "family": "gaussian",
                  "exposure": "social_contact_index_baseline", "exposure_label": "Contact",
                  "covariates": "left_out_baseline + C(mode_2020) + age_baseline"}, "gss.models_2020.models")}
    data = table_2020.assign(left_out_baseline=np.resize([1.0, 2.0, 3.0, np.nan], len(table_2020)),
                             mode_2020=pd.Categorical(np.resize(["Web", "Phone", "Web"], len(table_2020))))
    records = run_2020_models(data, edited(MODELS_2020, models=models))
    table = report.loneliness_table(records, models, {"Web": 1281, "Phone": 542})
    assert len(table) == 3
    leftout = table.iloc[2]
    assert leftout["Adjusted for"] == ("Felt left out, past 4 weeks (2018 baseline only); Interview mode 2020; "
                                       "Age (years) (2016 or 2018 baseline)")  # labels, in the formula's order
    expected = records[(records["covariate_set"] == "loneliness_on_contact_leftout")
                       & (records["design"] == "unweighted")].iloc[0]
    assert leftout["Unweighted"].startswith(f"MD {expected['estimate']:.2f}")
    assert leftout["N"] == f"{int(expected['n']):,}"
    assert table.iloc[1]["Design-based"].startswith("OR ")
    assert "web 1,281, phone 542" in table.attrs["footnote"]
    with pytest.raises(report.tables.TableError, match="'missing_model'"):
        report.loneliness_table(records, {**models, "missing_model": models["health_on_loneliness"]}, {})
