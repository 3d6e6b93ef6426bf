"""The exposure-definitions stage (items mutually adjusted, structural and functional scores, the index by
level, the original index) on a simulated table with a known truth: only being unpartnered raises the hazard."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from analysis.core.config import ConfigError
from analysis.core.index import IndexSpec, build_index, group_index
from analysis.core.settings import validate
from analysis.studies.nhanes.exposures import (
    EXPOSURE_COLUMNS,
    item_columns,
    run_exposure_definitions,
)
from analysis.studies.nhanes.schema import nhanes_schema
from analysis.studies.nhanes.settings import ExposureAnalysis, NhanesSettings
from support.config import edited


@pytest.fixture(scope="module")
def nh(params):
    """The validated ``nhanes:`` settings of params.yaml."""
    return params.nhanes


def simulated(nh, n: int = 4000, seed: int = 3) -> pd.DataFrame:
    """Items with the real coding; living alone implies unpartnered in 90% of cases (as in NHANES); the
    log-hazard of death rises by 0.4 for the unpartnered and by nothing for any other item."""
    rng = np.random.default_rng(seed)
    partnered = rng.binomial(1, 0.6, n)
    lives_alone = np.where(partnered == 0, rng.binomial(1, 0.5, n), rng.binomial(1, 0.03, n))
    table = pd.DataFrame({
        "partnered": partnered.astype(float), "lives_alone": lives_alone.astype(float),
        "emotional_support": rng.binomial(1, 0.9, n).astype(float),
        "financial_support": rng.binomial(1, 0.8, n).astype(float),
        "close_friends": rng.integers(0, 6, n).astype(float),
        "age": rng.uniform(40, 85, n), "sex": rng.choice(["Male", "Female"], n),
        "weight_interview": rng.uniform(1_000, 30_000, n), "weight_exam": rng.uniform(1_000, 30_000, n),
        "stratum": rng.integers(1, 16, n),
        "psu": rng.integers(1, 3, n),
    })
    hazard = 0.002 * np.exp(0.4 * (1 - partnered) + 0.05 * (table["age"] - 60))
    death = rng.exponential(1 / hazard)
    censor = rng.uniform(100, 240, n)
    table["followup_months"] = np.minimum(death, censor)
    table["died"] = (death < censor).astype(float)
    for name, spec in nh.indices.items():
        if all(item.variable in table for item in spec.items):
            table[name] = build_index(table, spec)
            for column, groups in spec.groupings_of(name).items():
                table[column] = group_index(table[name], groups)
    return table


def small_params(nh, **changes):
    """The real ``nhanes:`` settings with one covariate set and one outcome (``conftest.edited``)."""
    return edited(nh, **{"models.covariate_sets": {"age_sex": "age + C(sex)"},
                         "models.primary.covariate_set": "age_sex", "models.regression": {},
                         "models.survival": {"all_cause_death": nh.models.survival["all_cause_death"]}, **changes})


def test_index_groupings_by_level_are_the_score(nh):
    table = simulated(nh, n=500)
    assert (table["isolation_level"].astype(float) == table["isolation_index"]).all()
    assert list(table["isolation_level"].cat.categories) == ["0", "1", "2", "3", "4"]
    # the grouped columns are in the schema: by level and the original index's category
    columns = nhanes_schema(nh.indices).columns
    assert {"isolation_level", "isolation_category", "isolation_category_original"} <= set(columns)


def test_main_index_has_no_near_duplicate_items(nh):
    variables = [item.variable for item in nh.indices["isolation_index"].items]
    assert "lives_alone" not in variables and "partnered" in variables
    original = [item.variable for item in nh.indices["isolation_index_original"].items]
    assert original == ["partnered", "lives_alone", "emotional_support", "financial_support", "close_friends"]


def test_item_columns_are_the_index_points_by_hand():
    spec = validate(IndexSpec, {"items": [{"variable": "partnered", "op": "eq", "value": 0, "label": "unpartnered"},
                                          {"variable": "close_friends", "op": "le", "value": 1,
                                           "label": "0-1 friends"}]})
    table = pd.DataFrame({"partnered": [1.0, 0.0, np.nan], "close_friends": [0.0, 3.0, 1.0]})
    items, labels = item_columns(table, spec)
    np.testing.assert_array_equal(items["item_partnered"], [0.0, 1.0, np.nan])
    np.testing.assert_array_equal(items["item_close_friends"], [1.0, 0.0, 1.0])
    assert labels == {"item_partnered": "unpartnered", "item_close_friends": "0-1 friends"}


def test_mutually_adjusted_items_recover_the_truth(nh):
    """Only unpartnered carries the hazard (log-HR 0.4): mutually adjusted, living alone (its near-duplicate)
    has a CI around 0, while the original index's per-point estimate dilutes the effect over items."""
    table = simulated(nh)
    out = run_exposure_definitions(table, small_params(nh), progress=False)
    assert list(out.columns) == EXPOSURE_COLUMNS
    items = out[out["analysis"] == "items"].set_index("exposure")
    assert list(items.index) == ["item_partnered", "item_lives_alone", "item_emotional_support",
                                 "item_financial_support", "item_close_friends"]
    assert items.loc["item_partnered", "ci_low"] < 0.4 < items.loc["item_partnered", "ci_high"]
    assert items.loc["item_lives_alone", "ci_low"] < 0 < items.loc["item_lives_alone", "ci_high"]
    assert (items["term_label"] == "yes vs no").all() and (items["design"] == "design-based").all()
    levels = out[out["analysis"] == "by_level"]
    assert list(levels["term_label"]) == ["1 vs 0", "2 vs 0", "3 vs 0", "4 vs 0"]
    joint = out[out["analysis"] == "structure_function"].set_index("exposure")
    assert joint.loc["structural_isolation", "estimate"] > 0.1
    assert joint.loc["functional_isolation", "ci_low"] < 0 < joint.loc["functional_isolation", "ci_high"]
    per_point = out[out["analysis"] == "original_per_point"].iloc[0]
    assert 0 < per_point["estimate"] < 0.4


def test_unknown_index_or_column_is_named(nh, raw_params):
    # the schema rejects an unknown index or column in nhanes.exposure_definitions, naming the key
    def problem(analysis: dict) -> str:
        nhanes = copy.deepcopy(raw_params["nhanes"])
        nhanes["exposure_definitions"]["analyses"]["x"] = analysis
        with pytest.raises(ConfigError) as err:
            validate(NhanesSettings, nhanes)
        return str(err.value)

    assert "exposure_definitions.analyses.x.items_of: 'no_such_index' is not an index of nhanes.indices" in problem(
        {"label": "x", "items_of": "no_such_index"})
    assert "exposure_definitions.analyses.x.joint: 'nope' is not a column of the NHANES analysis table" in problem(
        {"label": "x", "joint": ["structural_isolation", "nope"]})
    assert "give exactly one of items_of, joint or exposure" in problem(
        {"label": "x", "items_of": "isolation_index", "exposure": "isolation_index", "type": "continuous"})
    # a column the settings name but the table lacks: named at run time, with its key, before any fit
    table = simulated(nh, n=300)
    bad = small_params(nh, **{"exposure_definitions.analyses": {
        "x": ExposureAnalysis(label="x", joint=["structural_isolation", "nope"])}})
    with pytest.raises(ValueError, match=r"column 'nope' \(named in params.yaml "
                                         r"nhanes.exposure_definitions.analyses.x.joint\)"):
        run_exposure_definitions(table, bad, progress=False)
