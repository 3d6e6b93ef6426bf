"""Triangulation: the anchors file is validated, project estimates are oriented as less connection, and
the table and figure hold every row."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.paper import triangulation as tri
from analysis.report.figures import FigureError
from support.config import ROOT

ANCHORS = ROOT / "data" / "reference" / "published_anchors.csv"
# ``params``: conftest's validated params.yaml (analysis.params.Params), as the triangulation stage loads it.


NHANES = {"estimates": {
    "all_cause_death": {"isolation_category:Moderate (1) vs Connected (0)": {"measure": "HR", "estimate": 1.1,
                                                                             "ci_low": 1.0, "ci_high": 1.2},
                        "isolation_category:Isolated (2+) vs Connected (0)": {"measure": "HR", "estimate": 1.3,
                                                                              "ci_low": 1.1, "ci_high": 1.5},
                        "isolation_index:per point": {"measure": "HR", "estimate": 1.05, "ci_low": 1.0,
                                                      "ci_high": 1.1}},
    "phq9_score": {"isolation_category:Isolated (2+) vs Connected (0)": {"measure": "Mean difference",
                                                                         "estimate": 1.0, "ci_low": 0.5,
                                                                         "ci_high": 1.5}}}}
GSS = {"estimates": {"unhappy": {"social_contact_index": {
    "conditional_logit": {"measure": "OR", "estimate": 0.8, "ci_low": 0.64, "ci_high": 1.0}}}}}


def test_the_published_anchors_are_valid_and_cited():
    anchors = tri.read_anchors(ANCHORS)
    assert anchors["citation"].str.len().gt(40).all() and anchors["doi"].str.startswith("10.").all()
    holt = anchors.set_index("anchor_id").loc["holt-lunstad-2010"]
    assert (holt["estimate"], holt["ci_low"], holt["ci_high"]) == (1.50, 1.42, 1.59)


def test_a_bad_anchor_is_named(tmp_path):
    bad = pd.read_csv(ANCHORS)
    bad.loc[0, "ci_high"] = 1.0  # below the estimate
    path = tmp_path / "anchors.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(FigureError, match="holt-lunstad-2010"):
        tri.read_anchors(path)


def test_project_estimates_are_oriented_as_less_connection(params):
    project = tri.project_estimates(NHANES, GSS, params)
    nhanes = project[project["label"].str.startswith("NHANES")]
    assert len(nhanes) == 1  # the most isolated group only; linear outcomes are not ratios
    assert nhanes.iloc[0][["estimate", "ci_low", "ci_high"]].tolist() == [1.3, 1.1, 1.5]
    gss = project[project["label"].str.startswith("GSS")].iloc[0]
    assert gss["estimate"] == pytest.approx(1.25) and gss["ci_low"] == pytest.approx(1.0)
    assert gss["ci_high"] == pytest.approx(1 / 0.64)


def test_table_and_figure_hold_every_row(params):
    table = tri.triangulation_table(tri.project_estimates(NHANES, GSS, params), tri.read_anchors(ANCHORS))
    assert len(table) == 2 + len(pd.read_csv(ANCHORS))
    assert list(dict.fromkeys(table["outcome_group"])) == [g for g in tri.GROUPS if g in set(table["outcome_group"])]
    fig = tri.triangulation_figure(table)
    assert len(fig.axes[0].lines) >= len(table)  # one marker (plus caps) per row


# --- Cross-design (standardised) triangulation --------------------------------------------------

def _county_metrics(estimate: float, covariate_set: str) -> dict:
    est = {"estimate": estimate, "ci_low": estimate - 0.1, "ci_high": estimate + 0.1}
    return {"estimates": {"life_expectancy": {"isolation_pct": {covariate_set: {"weighted": est}}},
                          "depression_pct": {"isolation_pct": {covariate_set: {"weighted": est}}}}}


def test_standardised_coefficients_by_hand_and_oriented_as_worse_with_less_connection(params):
    """beta x SD(x) / SD(y), sign flipped when a higher outcome is better (life expectancy)."""
    county = pd.DataFrame({"isolation_pct": [10.0, 12.0, 14.0], "life_expectancy": [80.0, 78.0, 76.0],
                           "depression_pct": [20.0, 21.0, 22.0]})
    chosen = params.places.report_set  # the report's covariate set (places.report.covariate_set)
    table = tri.standardised_estimates({"places": _county_metrics(-1.0, chosen)}, {"places_county": county},
                                       params)
    ran = table.loc[table["status"] == "ran"].set_index("label")
    le = ran.loc[[k for k in ran.index if "Life expectancy" in k][0]]
    # SD(x) = 2, SD(LE) = 2: beta -1 -> -1 x 2 / 2 = -1 per SD, flipped (higher LE is better) -> +1 = worse
    assert le["estimate"] == pytest.approx(1.0)
    assert (le["ci_low"], le["ci_high"]) == (pytest.approx(0.9), pytest.approx(1.1))
    dep = ran.loc[[k for k in ran.index if "Depression" in k][0]]
    assert dep["estimate"] == pytest.approx(-1.0 * 2 / 1)  # SD(dep) = 1: fewer depressed with more isolation
    # studies without metrics are listed as not run, never silently left out
    not_run = set(table.loc[table["status"] == "did not run", "study"])
    assert {"Countries (WHR x GBD)", "GSS panels", "Ageing cohorts"} <= not_run


def test_synthetic_cohort_is_never_drawn_beside_the_literature(params):
    est = {"estimate": 1.1, "ci_low": 1.05, "ci_high": 1.15}
    cohorts = {"studies": {"synthetic": {"label": "SYNTHETIC cohort", "status": "ran"},
                           "hrs": {"label": "HRS", "status": "not configured"}},
               "estimates": {"SYNTHETIC cohort": {"death": {"isolation_index": {"cloglog_hazard": est}}}}}
    assert tri.cohort_ratios(cohorts).empty
    table = tri.standardised_estimates({"cohorts": cohorts}, {}, params)
    assert table.loc[table["study"] == "SYNTHETIC cohort", "status"].tolist() == ["not drawn"]
    assert table.loc[table["study"] == "HRS", "status"].tolist() == ["did not run"]
    real = {"studies": {"hrs": {"label": "HRS", "status": "ran"}},
            "estimates": {"HRS": {"death": {"isolation_index": {"cloglog_hazard": est}}}}}
    ratios = tri.cohort_ratios(real)
    assert ratios["label"].tolist() == ["HRS: death, per isolation point"]


def test_prevalent_cvd_never_sits_beside_incident_or_fatal_cvd_anchors(params):
    """Issue 15 item 11: prevalent (survivor-biased) CVD has its own group, without a published anchor, labelled."""
    nhanes = {"estimates": {
        "prevalent_cvd": {"isolation_category:Isolated (2+) vs Connected (0)": {"measure": "OR", "estimate": 1.0,
                                                                                "ci_low": 0.9, "ci_high": 1.1}},
        "cvd_death": {"isolation_category:Isolated (2+) vs Connected (0)": {"measure": "HR", "estimate": 1.2,
                                                                            "ci_low": 1.0, "ci_high": 1.4}}}}
    table = tri.triangulation_table(tri.project_estimates(nhanes, None, params), tri.read_anchors(ANCHORS))
    prevalent = table[table["label"].str.contains("Prevalent CVD")]
    assert prevalent["outcome_group"].tolist() == [tri.CVD_PREVALENT]
    assert prevalent["comparability"].str.contains("survivor-biased").all()
    in_group = table[table["outcome_group"] == tri.CVD_PREVALENT]
    assert (in_group["source"] == "this project").all()  # no published anchor beside it
    anchors = tri.read_anchors(ANCHORS)
    incident = anchors[anchors["comparison"].str.contains("incident")]
    assert set(incident["outcome_group"]) == {tri.CVD_INCIDENT}
    fatal = table[table["label"].str.contains("Cardiovascular death")]
    assert fatal["outcome_group"].tolist() == [tri.CVD_DEATH]
    fig = tri.triangulation_figure(table)
    texts = [t.get_text().replace("\n", " ") for t in fig.axes[0].texts]  # wrapped to the labels' column
    assert tri.GROUP_NOTES[tri.CVD_PREVALENT] in texts  # the figure says why


def test_country_within_estimates_stay_out_of_the_triangulation(params):
    """Issue 15 item 10: the smoothed GBD series make the within-country estimates descriptive only."""
    chosen = params.countries.report_set  # countries.report.covariate_set
    est = {"estimate": -1.0, "ci_low": -2.0, "ci_high": 0.0}
    countries = {"estimates": {"depression_prevalence": {"social_support": {chosen: {
        "two_way_fe_clustered": est, "within_between:between": est}}}}}
    panel = pd.DataFrame({"social_support": [0.7, 0.8, 0.9], "depression_prevalence": [4.0, 3.5, 3.0]})
    table = tri.standardised_estimates({"countries": countries}, {"countries_panel": panel}, params)
    drawn = table[(table["study"] == "Countries (WHR x GBD)") & (table["status"] == "ran")]
    assert drawn["label"].str.contains("between countries").all() and len(drawn) == 1
