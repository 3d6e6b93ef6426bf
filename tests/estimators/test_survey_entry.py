"""Delayed entry (left truncation) in the design-based Cox model: against R and on known truth.

* R ``svycoxph(Surv(entry, exit, event) ~ x + group)`` (survey 4.1.1, survival 3.5.3) on the simulated design
  tests/reference/survey_entry/design.csv (age as the time scale): coefficients and design-based SEs agree to
  1e-6 (relative), the design df and domain size exactly; the same without ``entry`` (``Surv(exit, event)``).
* Entry before every exit (here: -1) gives the fit without entry exactly, score residuals included.
* Known truth: a larger sample from the same generator (true log-HRs 0.5 and 0.4, Gompertz in age,
  entry ages 40-80): the left-truncated fit recovers them (within 3 design SEs); the generator's PSU frailty
  makes the marginal HR a little smaller than the conditional one, within that tolerance.
* An entry at or after the exit raises, naming the column.

Regenerate: ``make references`` (tests/reference/survey_entry/survey_entry.R).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.estimators.survey import cox_design_fit
from analysis.estimators.survival import cox_score_residuals

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "survey_entry"
_spec = importlib.util.spec_from_file_location("survey_entry_data", REFERENCE / "make_data.py")
survey_entry_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(survey_entry_data)
RHS = "x + C(group)"
TERMS = {"x": "x", "groupb": "C(group)[T.b]"}


@pytest.fixture(scope="module")
def design() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "design.csv")


def test_generator_reproduces_the_committed_design(design):
    pd.testing.assert_frame_equal(survey_entry_data.simulate(), design, check_dtype=False)


@pytest.mark.parametrize("model,entry", [("entry", "entry"), ("no_entry", None)])
def test_matches_r_svycoxph_with_delayed_entry(design, model, entry):
    expected = pd.read_csv(REFERENCE / "expected.csv").query("model == @model")
    fit = cox_design_fit(design, RHS, duration="exit", event="event", weight="weight", entry=entry)
    for row in expected.itertuples():
        name = TERMS[row.term]
        assert fit.params[name] == pytest.approx(row.estimate, rel=1e-6)
        assert fit.std_errors[name] == pytest.approx(row.std_error, rel=1e-6)
    assert fit.df == expected["df"].iloc[0] and fit.n == expected["n"].iloc[0]


def test_entry_before_every_exit_is_no_truncation(design):
    early = design.assign(start=-1.0)
    with_entry = cox_design_fit(early, RHS, duration="exit", event="event", weight="weight", entry="start")
    without = cox_design_fit(early, RHS, duration="exit", event="event", weight="weight")
    np.testing.assert_allclose(with_entry.params, without.params, rtol=1e-9)
    np.testing.assert_allclose(with_entry.cov, without.cov, rtol=1e-7)
    X = np.column_stack([design["x"], design["group"].eq("b")]).astype(float)
    beta = np.array([0.4, 0.5])
    args = (X, design["exit"].to_numpy(), design["event"].to_numpy(), beta)
    np.testing.assert_allclose(cox_score_residuals(*args, entry=np.full(len(design), -1.0)),
                               cox_score_residuals(*args), rtol=1e-12, atol=1e-14)


def test_left_truncated_fit_recovers_the_true_log_hazard_ratios():
    big = survey_entry_data.simulate(seed=7, rows_per_psu=(900, 1100))
    fit = cox_design_fit(big, RHS, duration="exit", event="event", weight="weight", entry="entry")
    for term, truth in survey_entry_data.TRUE.items():
        name = TERMS[term]
        assert abs(fit.params[name] - truth) < 3 * fit.std_errors[name], (name, fit.params[name])
    # ignoring the delayed entry (time since age 0 without truncation) biases towards the null here
    naive = cox_design_fit(big, RHS, duration="exit", event="event", weight="weight")
    assert abs(naive.params["x"] - 0.5) > abs(fit.params["x"] - 0.5)


def test_entry_not_before_exit_raises(design):
    bad = design.assign(entry=design["entry"].where(design.index != 3, design["exit"] + 1))
    with pytest.raises(ValueError, match="entry column 'entry'"):
        cox_design_fit(bad, RHS, duration="exit", event="event", weight="weight", entry="entry")
