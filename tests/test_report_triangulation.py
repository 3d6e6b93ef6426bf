"""Triangulation: the anchors file is validated, project estimates are oriented as less connection, and
the table and figure hold every row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis.report import triangulation as tri
from analysis.report.figures import FigureError

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = ROOT / "data" / "reference" / "published_anchors.csv"


@pytest.fixture(scope="module")
def params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


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
