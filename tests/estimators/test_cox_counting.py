"""The vectorised counting-process Cox fit (analysis.estimators.cox_counting) against R coxph, lifelines and the
truth: (start, stop] rows with ties, case weights, delayed entry; the time-varying Cox records built on it.

R numbers: tests/reference/cox_counting/ (``make references``; coxph, Efron ties, eps 1e-12)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxTimeVaryingFitter

from analysis.estimators.cox_counting import fit_cox_counting
from analysis.estimators.cox_time_varying import fit_cox_time_varying
from analysis.estimators.records import ModelSpec

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "cox_counting"
_spec = importlib.util.spec_from_file_location("cox_counting_data", REFERENCE / "make_data.py")
cox_counting_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cox_counting_data)
TERMS = ["x", "groupb", "z"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data.csv")


def design(frame: pd.DataFrame) -> np.ndarray:
    return np.column_stack([frame["x"], frame["group"].eq("b"), frame["z"]]).astype(float)


def test_generator_reproduces_the_committed_data(data):
    pd.testing.assert_frame_equal(cox_counting_data.simulate(), data, check_dtype=False)


@pytest.mark.parametrize("model", ["counting", "counting_weighted", "right_censored"])
def test_matches_r_coxph(data, model):
    expected = pd.read_csv(REFERENCE / "expected.csv").query("model == @model").set_index("term").loc[TERMS]
    entry = None if model == "right_censored" else data["start"]
    weights = data["weight"] if model == "counting_weighted" else None
    fit = fit_cox_counting(design(data), data["stop"], data["event"], entry=entry, weights=weights)
    assert fit.converged and fit.iterations < 20
    np.testing.assert_allclose(fit.params, expected["estimate"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.variance)), expected["std_error"], rtol=1e-8)
    assert fit.log_likelihood == pytest.approx(expected["loglik"].iloc[0], abs=1e-8)


def test_matches_lifelines_time_varying_fitter(data):
    frame = pd.DataFrame(design(data), columns=TERMS).assign(id=data["id"], start=data["start"], stop=data["stop"],
                                                              event=data["event"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ctv = CoxTimeVaryingFitter().fit(frame, id_col="id", start_col="start", stop_col="stop", event_col="event",
                                         fit_options={"precision": 1e-12})
    fit = fit_cox_counting(design(data), data["stop"], data["event"], entry=data["start"])
    np.testing.assert_allclose(fit.params, ctv.params_.loc[TERMS], rtol=0, atol=1e-7)
    assert fit.log_likelihood == pytest.approx(ctv.log_likelihood_, abs=1e-6)


def test_entry_before_every_time_is_the_right_censored_fit(data):
    fit = fit_cox_counting(design(data), data["stop"], data["event"], entry=np.full(len(data), -1.0))
    plain = fit_cox_counting(design(data), data["stop"], data["event"])
    np.testing.assert_allclose(fit.params, plain.params, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fit.variance, plain.variance, rtol=1e-10)


def test_recovers_the_true_log_hazard_ratios():
    big = cox_counting_data.simulate(persons=6000, seed=5)
    fit = fit_cox_counting(design(big), big["stop"], big["event"], entry=big["start"])
    se = np.sqrt(np.diag(fit.variance))
    truth = np.array([cox_counting_data.TRUE[t] for t in TERMS])
    assert np.all(np.abs(fit.params - truth) < 3 * se), (fit.params, se)


def test_time_varying_records_use_the_fit(data):
    frame = data.assign(groupb=data["group"].eq("b").astype(float))
    records = fit_cox_time_varying(frame, ModelSpec(outcome="event", exposure="x", covariates="groupb + z"),
                                   event="event", start="start", stop="stop", entity="id")
    expected = pd.read_csv(REFERENCE / "expected.csv").query("model == 'counting'").set_index("term")
    row = records.iloc[0]
    assert row["estimate"] == pytest.approx(expected.loc["x", "estimate"], abs=1e-9)
    assert row["std_error"] == pytest.approx(expected.loc["x", "std_error"], rel=1e-8)
    assert bool(row["converged"]) and "Efron" in row["note"]


@pytest.mark.parametrize("problem", ["entry", "weights", "missing", "events"])
def test_bad_input_is_an_error(data, problem):
    x, stop, event, entry, weights = design(data), data["stop"].to_numpy(), data["event"].to_numpy(), \
        data["start"].to_numpy().copy(), None
    message = {"entry": "enters at", "weights": "negative weights", "missing": "missing", "events": "no events"}
    if problem == "entry":
        entry[4] = stop[4]
    elif problem == "weights":
        weights = np.ones(len(data))
        weights[2] = -1
    elif problem == "missing":
        x = x.copy()
        x[1, 0] = np.nan
    else:
        event = np.zeros(len(data))
    with pytest.raises(ValueError, match=message[problem]):
        fit_cox_counting(x, stop, event, entry=entry, weights=weights)
