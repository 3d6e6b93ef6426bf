"""The NHANES specification curve: the grid of params.yaml, each specification's columns, the curve's exposures
built from the items (hand-computed), the settings' cross-checks and the paper's numbers."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from analysis.core.config import ConfigError
from analysis.core.settings import validate
from analysis.studies.nhanes.settings import NhanesSettings
from analysis.studies.nhanes.specifications import (
    CHOICES,
    curve_table,
    paper_numbers,
    specification_table,
    specifications,
)


@pytest.fixture(scope="module")
def nh(params):
    return params.nhanes


def test_grid_has_every_combination(nh):
    curve = nh.specification_curve
    table = specification_table(curve)
    assert len(table) == curve.n_specifications() >= 1000
    assert table["specification"].is_unique
    assert len(table.drop_duplicates(list(CHOICES))) == len(table)
    assert list(dict.fromkeys(table["exposure"])) == list(curve.exposures)
    assert set(table["clock"]) == {"PERMTH_INT", "PERMTH_EXM"}


def test_each_specification_reads_its_options(nh):
    table = specification_table(nh.specification_curve)
    specs = specifications(nh, table)
    row = table[(table.covariate_set == "health") & (table.clock == "PERMTH_EXM") & (table.early_deaths == "exclude_2y")
                & (table.missing == "multiple_imputation") & (table.outcome == "cvd_death")].iloc[0]
    cs = specs[row.name]
    assert cs.duration == "followup_permth_exm" and cs.min_duration == 24.0 and cs.imputed
    assert cs.event == "cvd_death" and cs.weight == "weight_exam"  # BMI is a MEC measure
    first = specs[0]  # age + sex only: the interview weight, follow-up from the interview, nobody excluded
    assert first.weight == "weight_interview" and first.duration == "followup_permth_int" and first.min_duration == 0
    assert first.spec.sample == "permth_int_exclude_0y_complete_case"


def test_exposures_built_from_the_items(nh):
    # four items (partnered 0 = a deficit; close_friends <= 1; emotional_support 0; financial_support 0)
    items = pd.DataFrame({
        "partnered":         [1, 0, 0, 0, 0],
        "close_friends":     [5, 1, 0, 0, np.nan],
        "emotional_support": [1, 1, 0, 0, 0],
        "financial_support": [1, 1, 1, 0, 0],
    }, dtype=float)
    table = items.assign(seqn=range(5), weight_interview=1.0, weight_exam=[1.0, 1.0, np.nan, 1.0, 1.0],
                         isolation_category="x", isolation_index=0.0, isolation_level="0",
                         isolation_category_original="x", isolation_index_original=0.0,
                         structural_isolation=0.0, functional_isolation=0.0)
    clocks = pd.DataFrame({"seqn": range(5), "followup_permth_int": [10.0] * 5, "followup_permth_exm": [9.0] * 5})
    out = curve_table(table, clocks, nh.specification_curve, ("weight_interview", "weight_exam"))
    # scores 0, 2, 3, 4 and, prorated from 3 answered items with 3 deficits, 4
    assert list(out["curve_cutoff_3"].astype(str)[:4]) == ["0-2", "0-2", "3+", "3+"]
    assert pd.isna(out["curve_cutoff_3"][4])  # missing: complete rule
    assert list(out["curve_prorated_category"].astype(str)) == ["Connected (0)", "Isolated (2+)", "Isolated (2+)",
                                                                "Isolated (2+)", "Isolated (2+)"]
    assert out["weight_exam"][2] == 0.0  # no weight: in the design, outside every domain
    assert list(out["followup_permth_exm"]) == [9.0] * 5


def test_settings_name_known_sets_and_outcomes(raw_params):
    block = copy.deepcopy(raw_params["nhanes"])
    block["specification_curve"]["covariate_sets"] = ["age_sex", "everything"]
    block["specification_curve"]["outcomes"] = ["all_cause_death", "depression_phq9"]
    with pytest.raises(ConfigError) as err:
        validate(NhanesSettings, block)
    assert "'everything' is not a key of models.covariate_sets" in str(err.value)
    assert "'depression_phq9' is not a key of models.survival" in str(err.value)


def test_paper_numbers_read_the_results_file(tmp_path):
    data = {"specifications": 4, "median_hr": 1.3, "share_positive": 0.75, "share_significant": 0.5,
            "share_significant_positive": 0.5, "n_min": 10, "n_max": 20,
            "null_test": {"p_median": 0.01, "p_significant": 0.02, "p_stouffer": 0.003, "draws": 100},
            "variance_shares": {"exposure": 0.6, "design": 0.1, "interactions": 0.3}}
    path = tmp_path / "curve.json"
    path.write_text(json.dumps(data))
    numbers = paper_numbers(path)
    assert numbers["top_choice"] == "exposure" and numbers["top_choice_share"] == 0.6
    assert numbers["p_stouffer"] == 0.003 and numbers["specifications"] == 4
