"""The vectorised Efron Cox fit against lifelines and the project's score residuals, and against known truth."""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from analysis.estimators.cox_fast import efron_cox, efron_score_residuals
from analysis.estimators.survival import cox_score_residuals


def _data(n=800, seed=3):
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)])
    strata = rng.integers(0, 6, n)
    t = np.ceil(rng.exponential(1 / (0.05 * np.exp(x @ [0.5, -0.3]))))  # whole months: many ties
    event = (t <= 30).astype(float)
    return x, np.minimum(t, 30), event, rng.uniform(0.5, 2, n), strata


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("stratified", [False, True])
def test_matches_lifelines_and_residuals(weighted, stratified):
    x, t, e, w, s = _data()
    w = w if weighted else None
    s = s if stratified else None
    fit = efron_cox(x, t, e, w, s)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "T": t, "E": e})
    if w is not None:
        frame["w"] = w
    if s is not None:
        frame["s"] = s
    cph = CoxPHFitter().fit(frame, "T", "E", weights_col="w" if w is not None else None,
                            strata=["s"] if s is not None else None, fit_options={"precision": 1e-12})
    assert fit.converged
    np.testing.assert_allclose(fit.params, cph.params_.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(fit.covariance, cph.variance_matrix_.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(fit.loglik, cph.log_likelihood_, rtol=1e-10)
    mine = efron_score_residuals(x, t, e, fit.params, w, s)
    theirs = cox_score_residuals(x, t, e, fit.params, weights=w, strata=s)
    np.testing.assert_allclose(mine, theirs, atol=1e-10)
    np.testing.assert_allclose(mine.sum(axis=0), 0.0, atol=1e-5)  # the score is ~zero at the estimate


def test_known_truth():
    rng = np.random.default_rng(11)
    n = 20000
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)])
    t = rng.exponential(1 / np.exp(x @ [0.5, -0.3]))
    fit = efron_cox(x, np.minimum(t, 2.0), (t <= 2.0).astype(float))
    se = np.sqrt(np.diag(fit.covariance))
    assert np.all(np.abs(fit.params - [0.5, -0.3]) < 4 * se)


def test_hand_computed_two_deaths():
    # x = (1, 0, 1, 0), times (1, 2, 3, 3), deaths at 1 (x=1) and 2 (x=0): with u = e^b the partial likelihood
    # is u / (2u + 2) * 1 / (u + 2); its score 1 - u/(u+1) - u/(u+2) = 0 gives u^2 = 2, b = log(2) / 2.
    x = np.array([[1.0], [0.0], [1.0], [0.0]])
    fit = efron_cox(x, np.array([1.0, 2.0, 3.0, 3.0]), np.array([1.0, 1.0, 0.0, 0.0]))
    np.testing.assert_allclose(fit.params, [np.log(2.0) / 2], atol=1e-10)


def test_group_sums_are_np_add_at_bit_for_bit():
    from analysis.estimators.cox_fast import group_sums

    rng = np.random.default_rng(7)
    group = rng.integers(0, 50, 2000)
    values = rng.standard_normal((2000, 3)) * 10.0 ** rng.integers(-8, 8, (2000, 1))
    expected = np.zeros((50, 3))
    np.add.at(expected, group, values)
    assert np.array_equal(group_sums(group, values, 50), expected)
    flat = np.zeros(50)
    np.add.at(flat, group, values[:, 0])
    assert np.array_equal(group_sums(group, values[:, 0], 50), flat)


def test_a_fit_stopped_early_says_so():
    x, t, e, w, s = _data()
    assert efron_cox(x, t, e, w, s).problem == ""
    stopped = efron_cox(x, t, e, w, s, max_iter=1)
    assert not stopped.converged
    assert stopped.problem == "Newton-Raphson did not converge in 1 iterations"


@pytest.mark.parametrize("p", [1, 2, 3, 6])
def test_reverse_cumsum_is_numpy_bit_for_bit(p):
    from analysis.estimators.cox_fast import reverse_cumsum

    rng = np.random.default_rng(p)
    values = rng.standard_normal((3000, p)) * 10.0 ** rng.integers(-8, 8, (3000, 1))
    for v in (values, values[:, 0], values[::2], np.asfortranarray(values)):  # 2-d, 1-d, strided, F-ordered
        assert np.array_equal(reverse_cumsum(v), np.cumsum(v[::-1], axis=0)[::-1])


@pytest.mark.parametrize("stratified", [False, True])
def test_residuals_from_the_fit_are_the_recomputed_bit_for_bit(stratified):
    # efron_score_residuals reuses the fit's last evaluation when given the very X and the estimate: the same bits
    x, t, e, w, s = _data()
    s = s if stratified else None
    fit = efron_cox(x, t, e, w, s)
    reused = efron_score_residuals(x, t, e, fit.params, w, s, layout=fit.layout)
    fresh_layout = efron_score_residuals(x.copy(), t, e, fit.params, w, s, layout=fit.layout)
    no_layout = efron_score_residuals(x, t, e, fit.params.copy() + 0.0, w, s)
    assert np.array_equal(reused, fresh_layout) and np.array_equal(reused, no_layout)
    moved = efron_score_residuals(x, t, e, fit.params + 0.01, w, s, layout=fit.layout)  # another beta: recomputed
    assert not np.allclose(moved, reused)
