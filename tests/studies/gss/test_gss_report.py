"""GSS reports and metrics on simulated panel records: the estimator table, the figures, the 2016-2020
models and the headline metrics the manuscript reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_figures import texts
from test_panel import STAGE_SPEC, simulate_binary

from analysis.estimators.panel import run_panel_models
from analysis.report.figures import FigureError, flow_diagram
from analysis.studies.gss import report
from analysis.studies.gss.metrics import gss_metrics
from analysis.studies.gss.models import run_2020_models

SPEC = {**STAGE_SPEC, "outcomes": {"case": {"label": "Case", "binary": True}}}


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


MODELS_2020 = {"weight": "weight_2020", "models": {
    "loneliness_on_contact": {"label": "Loneliness", "outcome": "loneliness_score_2020", "family": "gaussian",
                              "exposure": "social_contact_index_baseline", "covariates": "age_baseline"},
    "health_on_loneliness": {"label": "Health", "outcome": "fair_poor_health_2020", "family": "binomial",
                             "exposure": "loneliness_score_2020", "covariates": "age_baseline"}}}


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
    report.outcome_by_contact_figure(summary, {"case"})
    with pytest.raises(ValueError, match="3 labels"):
        report.contact_levels(panel["x"], [0, 1], ["a", "b"])


def test_contact_levels_cut_points_are_left_closed():
    levels = report.contact_levels(pd.Series([0.0, 3.219, 4.653, 4.654, 9.0]), [3.219, 4.654], ["l", "m", "h"])
    assert list(levels) == ["l", "m", "m", "h", "h"]


def test_gss_metrics_keys(results, panel, table_2020):
    records, tests = results
    records_2020 = run_2020_models(table_2020, MODELS_2020)
    metrics = gss_metrics(records, tests, records_2020, panel, table_2020, {"panel_models": SPEC})
    assert metrics["sample"]["persons"] == panel["person_id"].nunique()
    assert metrics["sample"]["person_waves"] == len(panel)
    est = metrics["estimates"]["case"]["x"]
    assert {"pooled_ols", "fixed_effects", "mundlak", "mundlak:between", "conditional_logit"} <= set(est)
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
