"""Stabilised inverse-probability weights (analysis.estimators.weights): the ratio, and the attrition model's
convergence recorded rather than silenced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.genmod.families import Binomial

from analysis.estimators.weights import stabilised_ratio


def test_the_ratio_is_numerator_over_denominator_probability():
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"x": rng.normal(size=400), "t": rng.integers(0, 3, 400)})
    data["stayed"] = (rng.random(400) < 1 / (1 + np.exp(-(0.5 + 0.8 * data["x"])))).astype(float)
    ratio = stabilised_ratio(data, "stayed", "x + C(t)", "C(t)")
    den = smf.glm("stayed ~ x + C(t)", data, family=Binomial()).fit().predict(data)
    num = smf.glm("stayed ~ C(t)", data, family=Binomial()).fit().predict(data)
    np.testing.assert_allclose(ratio, num / den, rtol=1e-12)
    assert ratio.attrs["problems"] == []


def test_an_attrition_model_that_does_not_converge_is_recorded():
    data = pd.DataFrame({"x": np.arange(40.0), "t": np.repeat([0, 1], 20)})
    data["stayed"] = (data["x"] >= 20).astype(float)  # x separates the outcome perfectly
    ratio = stabilised_ratio(data, "stayed", "x", "1")
    assert ratio.attrs["problems"], "a perfectly separated attrition model must say so"
    assert any("separation" in p.lower() or "converge" in p for p in ratio.attrs["problems"])


def test_the_ratio_keeps_the_index_of_the_data():
    data = pd.DataFrame({"x": [0.1, 0.5, 0.9, 0.3, 0.7, 0.2], "stayed": [0, 1, 1, 0, 1, 1.0]},
                        index=[10, 11, 12, 13, 14, 15])
    assert list(stabilised_ratio(data, "stayed", "x", "1").index) == [10, 11, 12, 13, 14, 15]
