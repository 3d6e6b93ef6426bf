"""Standard errors of the within-person coefficient over repeated samples (a small Monte Carlo study).

Why (issue 22): the cohort coverage benchmark flagged the cognition-on-loneliness rows (SE/SD 0.85, coverage
0.89-0.905 at 200 reps) and the question was whether the model-based LMM SE and the person-clustered FE SE
miss within-person dependence that the SYNTHETIC cognition process has (person random slope on time,
binomial items, an autocorrelated exposure). They do not (benchmarks/README.md: 1,000 further reps gave
SE/SD 1.03); this test keeps it so on a process built to make the dependence matter: the exposure has a
person-specific trend and the outcome a person-specific slope, so their products are correlated within
person and an SE that ignores it is too small. The test checks it can fail: the same data with a
random-intercept-only LMM and with the i.i.d. OLS formula of the FE fit give SE/SD about 0.65.

Known truth: ``TRUE_WITHIN`` cognition-score points per exposure point. Deterministic (fixed seeds): the
band is [0.85, 1.2], about 3 Monte Carlo SEs of SE/SD at ``REPS`` reps on either side of 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimators.lmm import fit_lmm
from analysis.estimators.panel import PanelLayout, fit_fixed_effects
from analysis.estimators.records import ModelSpec
from analysis.estimators.within_between import fit_within_between_lmm

TRUE_WITHIN = -0.2
ITEMS = (10, 10, 5, 2)  # the Langa-Weir items' maxima: score 0-27, as the SYNTHETIC cohort
PERSONS, WAVES, REPS = 300, 7, 100
BAND = (0.8, 1.25)
SPEC = ModelSpec(outcome="y", exposure="x", study="simulated", outcome_label="score", exposure_label="exposure")


def simulate(seed: int, persons: int = PERSONS, waves: int = WAVES) -> pd.DataFrame:
    """One panel: exposure ``x = 3 + a_i + g_i t + AR(1) w_it + N(0, 0.5)`` (``g_i ~ N(0, 1)`` a person
    trend, AR 0.5, innovation SD 0.4); score = sum of Binomial(item max, eta / 27) items with ``eta = 17 +
    TRUE_WITHIN x + v0_i + (-0.3 + v1_i) t`` (``v0 ~ N(0, 2)``, ``v1 ~ N(0, 1)``), so E[score] = eta
    (clipped to [0, 27] where it leaves the range); person i observed at waves 1..K_i, K_i uniform on 2..7."""
    rng = np.random.default_rng(seed)
    a, g = rng.normal(0, 1, persons), rng.normal(0, 1, persons)
    v0, v1 = rng.normal(0, 2, persons), rng.normal(0, 1, persons)
    last = rng.integers(2, waves + 1, persons)
    w = rng.normal(0, 0.4 / np.sqrt(1 - 0.5 ** 2), persons)
    rows = []
    for t in range(waves):
        if t:
            w = 0.5 * w + rng.normal(0, 0.4, persons)
        x = 3 + a + g * t + w + rng.normal(0, 0.5, persons)
        p = np.clip(17 + TRUE_WITHIN * x + v0 + (-0.3 + v1) * t, 0, 27) / 27
        y = sum(rng.binomial(k, p) for k in ITEMS)
        keep = t < last
        rows.append(pd.DataFrame({"person_id": np.arange(persons)[keep], "wave": t + 1, "x": x[keep],
                                  "y": y[keep].astype(float)}))
    return pd.concat(rows, ignore_index=True)


def _intercept_only_lmm(d: pd.DataFrame) -> tuple[float, float]:
    """The within-between LMM without the random slope: the misspecified model whose SE should fail."""
    x = pd.DataFrame({"const": 1.0, "x:within": d["x"] - d.groupby("person_id")["x"].transform("mean"),
                      "x:between": d.groupby("person_id")["x"].transform("mean"), "time": d["wave"] - 1.0})
    r = fit_lmm(d["y"].to_numpy(float), x, np.ones((len(d), 1)), pd.factorize(d["person_id"])[0])
    return float(r.params["x:within"]), float(r.bse["x:within"])


def _iid_fe_se(d: pd.DataFrame) -> float:
    """The i.i.d. OLS SE of the two-way FE coefficient (sigma^2 (X'X)^-1 on the demeaned data): the SE that
    ignores within-person dependence, which should fail."""
    groups = pd.factorize(d["person_id"])[0]
    design = np.column_stack([d["x"], pd.get_dummies(d["wave"], drop_first=True).to_numpy(float), d["y"]])
    sums = np.zeros((groups.max() + 1, design.shape[1]))
    np.add.at(sums, groups, design)
    demeaned = design - (sums / np.bincount(groups)[:, None])[groups]
    xd, yd = demeaned[:, :-1], demeaned[:, -1]
    inverse = np.linalg.inv(xd.T @ xd)
    resid = yd - xd @ (inverse @ xd.T @ yd)
    return float(np.sqrt(resid @ resid / (len(yd) - groups.max() - 1 - xd.shape[1]) * inverse[0, 0]))


@pytest.fixture(scope="module")
def replications() -> pd.DataFrame:
    layout = PanelLayout(entity="person_id", time="wave")
    rows = []
    for seed in range(REPS):
        d = simulate(seed)
        lmm = fit_within_between_lmm(d, SPEC, entity="person_id", time="wave").records.set_index("term").loc["x"]
        fe = fit_fixed_effects(d, SPEC, layout).set_index("term").loc["x"]
        rows.append({"lmm": lmm["estimate"], "lmm_se": lmm["std_error"], "fe": fe["estimate"],
                     "fe_se": fe["std_error"], "lmm_int": (one := _intercept_only_lmm(d))[0], "lmm_int_se": one[1],
                     "fe_iid_se": _iid_fe_se(d)})
    return pd.DataFrame(rows)


def _ratio(reps: pd.DataFrame, estimate: str, se: str) -> float:
    return float(reps[se].mean() / reps[estimate].std(ddof=1))


@pytest.mark.slow
@pytest.mark.parametrize("estimate, se", [("lmm", "lmm_se"), ("fe", "fe_se")])
def test_within_person_se_matches_the_spread_of_the_estimates(replications, estimate, se):
    """Random intercept and slope LMM (model-based SE) and two-way FE (person-clustered SE): SE/SD in the band,
    the mean estimate within 3 Monte Carlo SEs of the truth and 95% coverage at least 0.9."""
    reps = replications
    assert BAND[0] <= _ratio(reps, estimate, se) <= BAND[1]
    assert abs(reps[estimate].mean() - TRUE_WITHIN) < 3 * reps[estimate].std(ddof=1) / np.sqrt(len(reps))
    assert (abs(reps[estimate] - TRUE_WITHIN) <= 1.96 * reps[se]).mean() >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("estimate, se", [("lmm_int", "lmm_int_se"), ("fe", "fe_iid_se")])
def test_an_se_ignoring_the_within_person_dependence_fails_the_band(replications, estimate, se):
    """The check can fail: without the random slope (LMM) or without clustering (FE) the SE is too small."""
    assert _ratio(replications, estimate, se) < BAND[0]
