"""The record contract (analysis.estimators.records): one meaning per column, checked by pandera at build time."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.estimators.records import (
    COMPONENT_COLUMNS,
    MEASURES,
    MODELS,
    RECORD_COLUMNS,
    RECORD_DESIGNS,
    VCOV_TYPES,
    ModelSpec,
    RecordContractError,
    record_row,
    records_frame,
)

SPEC = ModelSpec(outcome="y", exposure="x", covariate_set="age_sex", study="hand", outcome_label="Y",
                 exposure_label="X")


def row(**changes) -> dict:
    base = record_row(SPEC, "x", "per point", 0.4, 0.2, model="linear", design="unweighted", vcov="model_based",
                      n=100, events=math.nan, converged=True, note="a note")
    return {**base, **changes}


def test_a_record_has_every_column_once_in_order_with_its_vocabularies():
    frame = records_frame([row()])
    assert list(frame.columns) == RECORD_COLUMNS
    assert len(set(RECORD_COLUMNS)) == len(RECORD_COLUMNS)
    rec = frame.iloc[0]
    assert (rec["model"], rec["design"], rec["vcov"], rec["interval"], rec["sample"]) == \
        ("linear", "unweighted", "model_based", "z", "main")
    assert math.isnan(rec["df"]) and rec["statistic"] == pytest.approx(2.0)
    assert all(math.isnan(rec[c]) for c in COMPONENT_COLUMNS)
    # every estimator of the vocabulary reports one measure, and the vocabularies are the documented ones
    assert set(MEASURES.values()) == {"HR", "OR", "Mean difference"} and set(MEASURES) == set(MODELS)
    assert RECORD_DESIGNS == ("design-based", "weighted", "unweighted", "multilevel")
    assert "fixed-effects" not in RECORD_DESIGNS  # fixed effects is an estimator, not a design
    assert VCOV_TYPES == ("model_based", "cluster", "driscoll_kraay", "linearisation")


@pytest.mark.parametrize("bad, rule", [
    ({"model": "two_way_fe_clustered"}, "model"),  # a study's name for a fit is not an estimator
    ({"model": "ols"}, "model"),
    ({"design": "fixed-effects"}, "design"),
    ({"vcov": "robust"}, "vcov"),
    ({"interval": "normal"}, "interval"),
    ({"interval": "t"}, "a t interval needs its df"),  # t without df
    ({"interval": "t", "df": 0.0}, "a t interval needs its df"),
    ({"df": 30.0}, "a z interval has none"),  # z with a df
    ({"covariate_set": "between + within (pooled OLS)"}, "covariate_set"),  # free text, not a name
    ({"measure": "HR"}, "measure must be the one its model reports"),
    ({"sample": ""}, "sample"),
])
def test_the_contract_rejects_a_bad_record_and_names_the_rule(bad, rule):
    with pytest.raises(RecordContractError, match=rule):
        records_frame([row(), row(**bad)])


def test_the_contract_rejects_missing_or_extra_columns():
    good = row()
    with pytest.raises(RecordContractError, match=r"missing columns \['vcov'\]"):
        records_frame([{k: v for k, v in good.items() if k != "vcov"}])
    with pytest.raises(RecordContractError, match=r"unexpected columns \['var_between'\]"):
        records_frame([{**good, "var_between": 1.0}])


def test_record_row_refuses_an_unknown_estimator_or_variance_component():
    with pytest.raises(ValueError, match="model 'two_way_fe' unknown"):
        record_row(SPEC, "x", "per point", 0.4, 0.2, model="two_way_fe", design="unweighted", vcov="cluster", n=10,
                   events=math.nan, converged=True, note="")
    with pytest.raises(ValueError, match=r"variance components \['sd_group'\] unknown"):
        record_row(SPEC, "x", "per point", 0.4, 0.2, model="linear", design="unweighted", vcov="cluster", n=10,
                   events=math.nan, converged=True, note="", components={"sd_group": 1.0})


def test_a_t_record_uses_its_df_and_a_z_record_the_normal():
    t_rec = record_row(SPEC, "x", "per point", 0.4, 0.2, model="cox", design="design-based", vcov="linearisation",
                       n=100, events=20.0, converged=True, note="", df=15)
    q = stats.t.ppf(0.975, 15)
    assert t_rec["interval"] == "t" and t_rec["df"] == 15.0
    assert t_rec["ci_low"] == pytest.approx(0.4 - q * 0.2) and t_rec["ci_high"] == pytest.approx(0.4 + q * 0.2)
    assert t_rec["p_value"] == pytest.approx(2 * stats.t.sf(2.0, 15))
    assert t_rec["ratio_ci_high"] == pytest.approx(math.exp(0.4 + q * 0.2)) and t_rec["measure"] == "HR"
    z_rec = row()
    z = stats.norm.ppf(0.975)
    assert z_rec["ci_low"] == pytest.approx(0.4 - z * 0.2) and z_rec["p_value"] == pytest.approx(2 * stats.norm.sf(2))
    records_frame([t_rec, z_rec])  # both keep the contract


def test_variance_components_are_columns_and_a_failed_fit_has_no_infinite_ratio():
    rec = record_row(SPEC, "x", "per point", 0.4, 0.2, model="multilevel_linear", design="multilevel",
                     vcov="model_based", n=100, events=math.nan, converged=True, note="",
                     n_groups=12, components={"var_group": 0.5, "var_residual": 2.0})
    frame = records_frame([rec])
    assert frame.loc[0, ["var_group", "var_residual", "n_groups"]].tolist() == [0.5, 2.0, 12.0]
    assert np.isnan(frame.loc[0, ["var_slope", "cov_group_slope"]].astype(float)).all()
    failed = record_row(SPEC, "x", "per point", math.nan, math.nan, model="logistic", design="unweighted",
                        vcov="model_based", n=0, events=math.nan, converged=False, note="failed")
    assert all(math.isnan(failed[c]) for c in ("ratio", "ratio_ci_low", "ratio_ci_high", "statistic", "p_value"))


def test_a_records_file_read_back_keeps_the_contract(tmp_path):
    frame = records_frame([row(), row(model="pooled_ols", vcov="cluster", n_groups=40.0)])
    path = tmp_path / "records.csv"
    frame.to_csv(path, index=False)
    back = pd.read_csv(path, keep_default_na=False, na_values=[""])
    back["note"] = back["note"].astype(object)
    records_frame(back)


def test_an_unvalidated_frame_is_the_same_frame_and_is_checked_when_gathered():
    """``validate=False`` (a fitter whose caller validates once) builds the same frame without the check; the
    caller's ``records_frame`` of the gathered frames still rejects a bad record."""
    good = [row(), row(outcome="z")]
    assert records_frame(good, validate=False).equals(records_frame(good))
    unchecked = records_frame([row(model="ols")], validate=False)
    assert unchecked["model"].tolist() == ["ols"]
    with pytest.raises(RecordContractError, match="model"):
        records_frame(pd.concat([records_frame(good, validate=False), unchecked], ignore_index=True))
