"""The GSS numbers the manuscript reads besides gss.json's estimates: attrition by the last wave (clean
stage's attrition table), the attenuation factors of the contact index, and which 2016-2020 models adjust for
baseline LONELY3 or the 2020 interview mode (from params.yaml, not a hand-typed list)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.core.settings import validate
from analysis.paper import manuscript as paper
from analysis.studies.gss.settings import Models2020


def test_gss_attrition_reads_the_pooled_last_wave(tmp_path):
    rows = [("2006-2010", 3, "lost", 9, 90.0, 50.0), ("all", 1, "interviewed", 100, 100.0, 26.0),
            ("all", 2, "lost", 20, 20.0, 28.0), ("all", 3, "interviewed", 64, 64.0, 24.4),
            ("all", 3, "lost", 36, 36.0, 30.8)]
    path = tmp_path / "gss_attrition.csv"
    pd.DataFrame(rows, columns=["panel", "wave", "group", "n", "pct_of_baseline", "pct_fair_poor_health"]).to_csv(
        path, index=False)
    assert paper.gss_attrition(path) == {"wave": 3, "pct_lost": 36.0, "n_lost": 36, "fair_poor_lost": 30.8,
                                         "fair_poor_kept": 24.4}
    pd.read_csv(path).query("group != 'lost'").to_csv(path, index=False)
    with pytest.raises(paper.PaperError, match="lost rows of the last wave"):
        paper.gss_attrition(path)
    with pytest.raises(paper.PaperError, match="clean_gss"):
        paper.gss_attrition(tmp_path / "absent.csv")


def test_gss_attenuation_sorted_by_reliability_for_the_pooled_panel():
    entry = {"within_share": 0.5, "icc_one_way": 0.5, "adjacent_correlations": "0.500, 0.520"}
    metrics = {"attenuation": {
        "x:all:rho=0.9": {**entry, "lambda_fixed_effects": 0.8, "lambda_first_difference": 0.79},
        "x:all:rho=0.7": {**entry, "lambda_fixed_effects": 0.4, "lambda_first_difference": 0.39},
        "x:2006-2010:rho=0.7": {**entry, "lambda_fixed_effects": -9.0, "lambda_first_difference": -9.0}}}
    out = paper.gss_attenuation(metrics, "x")
    assert [f["reliability"] for f in out["factors"]] == [0.7, 0.9]  # the per-panel entry is left out
    assert [f["fixed_effects"] for f in out["factors"]] == [0.4, 0.8]
    assert out["within_share"] == 0.5 and out["adjacent_correlations"] == "0.500, 0.520"
    with pytest.raises(paper.PaperError, match="models_gss"):
        paper.gss_attenuation(metrics, "y")


def test_models_2020_with_lonely3_and_mode_come_from_params(params):
    spec = params.gss.models_2020
    found = paper.models_2020_with(spec, ("left_out_baseline", "mode_2020", "social_contact_index_2020"))
    expected = {c: [m for m in spec.models.values() if c in m.covariates or m.exposure == c]
                for c in found}
    assert found == expected and found["left_out_baseline"]
    # a column name that is a prefix of another does not match it
    model = {"label": "y", "outcome": "y", "family": "gaussian", "exposure_label": "x"}
    toy = validate(Models2020, {"models": {"a": {**model, "exposure": "mode_2020_web", "covariates": "age"},
                                           "b": {**model, "exposure": "x", "covariates": "age + C(mode_2020)"}}},
                   "gss.models_2020")
    assert paper.models_2020_with(toy, ("mode_2020",)) == {"mode_2020": [toy.models["b"]]}
