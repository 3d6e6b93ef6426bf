"""The specification curve library: each fit against the project's estimators, the curve statistics and the
variance shares on hand-computed cases, the null bootstrap on known truth, the cache, and Dask's results."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.estimators.imputation import pool
from analysis.estimators.records import ModelSpec
from analysis.estimators.runner import run_chunks
from analysis.estimators.specification_curve import (
    CoxSpecification,
    FitCache,
    cached_fits,
    content_hash,
    curve_summary,
    fit_specification,
    fit_specifications,
    null_bootstrap,
    source_hash,
    variance_shares,
)
from analysis.estimators.survey import fit_cox_design
from analysis.estimators.survival import fit_cox


def survey_survival(n: int = 1500, beta_exposure: float = 0.4, seed: int = 1) -> pd.DataFrame:
    """Strata (10) x PSUs (3 each), weights, a 0/1/2 exposure score, age and sex; Weibull-free exponential
    death times with log-HR ``beta_exposure`` per point of the score and 0.05 per year of age, censored at
    120 months and rounded to whole months (ties, as NHANES), some covariates missing."""
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, 10, n)
    psu = rng.integers(0, 3, n)
    score = rng.integers(0, 3, n).astype(float)
    age = rng.uniform(40, 80, n)
    sex = rng.choice(["female", "male"], n)
    hazard = 0.002 * np.exp(beta_exposure * score + 0.05 * (age - 60) + 0.2 * (sex == "male"))
    death = rng.exponential(1 / hazard)
    time = np.minimum(np.ceil(death), 120.0)
    frame = pd.DataFrame({
        "stratum": stratum, "psu": psu, "cluster": stratum * 10 + psu, "weight": rng.uniform(0.5, 3.0, n),
        "score": score, "group": pd.Categorical(np.array(["none", "some", "many"])[score.astype(int)],
                                                categories=["none", "some", "many"]),
        "age": age, "sex": sex, "time": time, "died": (death <= 120).astype(float),
    })
    frame.loc[rng.random(n) < 0.05, "age"] = np.nan
    return frame


@pytest.fixture(scope="module")
def data():
    return survey_survival()


def _cs(design, exposure="score", kind="continuous", **kw):
    spec = ModelSpec(outcome="death", exposure=exposure, covariates="age + C(sex)", exposure_type=kind,
                     covariate_set="full", study="SIM")
    return CoxSpecification(spec=spec, duration="time", event="died", weight="weight", design=design, **kw)


@pytest.mark.parametrize("design", ["design-based", "unweighted", "multilevel"])
@pytest.mark.parametrize("exposure,kind", [("score", "continuous"), ("group", "categorical")])
def test_matches_the_project_estimators(data, design, exposure, kind):
    cs = _cs(design, exposure, kind)
    mine = fit_specification([data], cs).record
    if design == "design-based":
        ref = fit_cox_design(data, cs.spec, duration="time", event="died", weight="weight")
    else:
        ref = fit_cox(data, cs.spec, duration="time", event="died", design=design, weight="weight",
                      cluster="cluster", stratum="cluster")
    ref = ref[ref.term == mine["term"]].iloc[0]  # the categorical contrast: the last level ("many" vs "none")
    assert mine["term"] == ("score" if kind == "continuous" else "group[many]")
    assert abs(mine["estimate"] - ref.estimate) < 1e-8
    assert abs(mine["std_error"] / ref.std_error - 1) < 1e-7
    assert mine["n"] == ref.n and mine["events"] == ref.events
    assert (math.isnan(mine["df"]) and math.isnan(ref.df)) or mine["df"] == ref.df


def test_known_truth_and_early_exclusion(data):
    record = fit_specification([data], _cs("unweighted")).record
    assert abs(record["estimate"] - 0.4) < 3 * record["std_error"]
    later = fit_specification([data], _cs("unweighted", min_duration=24.0)).record
    assert later["n"] == int((data.dropna(subset=["age"])["time"] >= 24).sum())


def test_imputed_specification_pools_by_rubin(data):
    rng = np.random.default_rng(5)
    completed = [data.assign(age=data["age"].fillna(pd.Series(rng.uniform(40, 80, len(data)), index=data.index)))
                 for _ in range(3)]
    cs = _cs("unweighted", imputed=True)
    mine = fit_specification([data, *completed], cs).record
    singles = [fit_specification([t], _cs("unweighted")).record for t in completed]
    pooled = pool([pd.Series([r["estimate"]]) for r in singles], [np.array([[r["std_error"] ** 2]]) for r in singles])
    assert abs(mine["estimate"] - pooled.params.iloc[0]) < 1e-12
    assert abs(mine["std_error"] - pooled.std_errors.iloc[0]) < 1e-12
    assert mine["df"] == pytest.approx(pooled.df.iloc[0])


def test_curve_summary_by_hand():
    out = curve_summary([0.5, 0.2, -0.1, 0.3], [0.1, 0.5, 0.01, 0.1], [np.nan] * 4)
    # z = 5, 0.4, -10, 3 -> significant: 1st, 3rd, 4th
    assert out["median_estimate"] == pytest.approx(0.25)
    assert out["share_positive"] == 0.75 and out["share_negative"] == 0.25
    assert out["share_significant"] == 0.75
    assert out["share_significant_positive"] == 0.5 and out["share_significant_negative"] == 0.25


def test_variance_shares_of_an_additive_grid():
    grid = pd.DataFrame([(a, b) for a in ("a0", "a1") for b in ("b0", "b1")], columns=["A", "B"])
    estimates = grid["A"].map({"a0": 0.0, "a1": 2.0}) + grid["B"].map({"b0": 0.0, "b1": 1.0})
    shares = variance_shares(estimates.to_numpy(), grid).set_index("choice")["share"]
    # var of A's effect 1, of B's 0.25: shares 0.8, 0.2, nothing left for the interaction
    assert shares["A"] == pytest.approx(0.8) and shares["B"] == pytest.approx(0.2)
    assert shares["interactions"] == pytest.approx(0.0, abs=1e-12)


def test_null_bootstrap_variance_and_decisions():
    rng = np.random.default_rng(2)
    strata = np.repeat(np.arange(15), 2)  # 15 strata x 2 PSUs
    influence = rng.normal(size=(40, 30)) * 0.05
    se = np.sqrt([np.sum([2 * ((z[strata == h] - z[strata == h].mean()) ** 2).sum() for h in range(15)])
                  for z in influence])  # the stratified (Taylor) SE of each specification
    null = null_bootstrap(np.zeros(40) + 1e-9, se, np.full(40, np.nan), influence, strata, draws=4000, seed=1)
    assert null["p_median"] > 0.5 and null["p_significant"] == 1.0
    strong = null_bootstrap(4 * se, se, np.full(40, np.nan), influence, strata, draws=4000, seed=1)
    assert strong["p_median"] < 0.01 and strong["p_significant"] < 0.01 and strong["p_stouffer"] < 0.01
    # the draws' variance is the design variance: the null interval of a single specification is +/- 1.96 SE
    one = null_bootstrap([1e-9], se[:1], [np.nan], influence[:1], strata, draws=20000, seed=3)
    assert one["null_median_high"] == pytest.approx(1.96 * se[0], rel=0.05)
    again = null_bootstrap(4 * se, se, np.full(40, np.nan), influence, strata, draws=4000, seed=1)
    assert again == strong


def test_cache_fits_only_new_specifications(tmp_path, data):
    specs = [_cs(d) for d in ("design-based", "unweighted")]
    keys = [content_hash({"spec": cs.key_payload()}) for cs in specs]
    calls = []

    def fit_missing(missing):
        calls.append(len(missing))
        return fit_specifications(missing, [data])

    cache = FitCache(tmp_path)
    first, fitted = cached_fits(keys, specs, cache, fit_missing)
    assert fitted == 2
    again, fitted = cached_fits(keys, specs, cache, fit_missing)
    assert fitted == 0
    pd.testing.assert_frame_equal(pd.DataFrame([f.record for f in again]), pd.DataFrame([f.record for f in first]))
    more = [*specs, _cs("multilevel")]
    keys_more = [*keys, content_hash({"spec": more[-1].key_payload()})]
    _, fitted = cached_fits(keys_more, more, cache, fit_missing)
    assert fitted == 1 and calls == [2, 1]


def test_dask_two_workers_give_the_same_records(data):
    specs = [_cs(d, e, k) for d in ("design-based", "multilevel") for e, k in (("score", "continuous"),
                                                                              ("group", "categorical"))]
    chunks = [specs[:1], specs[1:3], specs[3:]]
    one = run_chunks(fit_specifications, chunks, shared=[[data]], desc="test", progress=False)
    two = run_chunks(fit_specifications, chunks, shared=[[data]], desc="test", n_jobs=2, processes=False,
                     progress=False)
    pd.testing.assert_frame_equal(pd.DataFrame([f.record for c in one for f in c]),
                                  pd.DataFrame([f.record for c in two for f in c]), check_exact=True)
    assert [f.psu_influence for c in one for f in c] == [f.psu_influence for c in two for f in c]


def test_code_hash_ignores_docstrings_and_comments(tmp_path):
    base = tmp_path / "a.py"
    base.write_text('"""Doc."""\n\ndef f(x):\n    """What."""\n    return x + 1\n')
    reworded = tmp_path / "b.py"
    reworded.write_text('"""Other words."""\n\n\ndef f(x):  # a comment\n    """Why."""\n    return x + 1\n')
    changed = tmp_path / "c.py"
    changed.write_text('"""Doc."""\n\ndef f(x):\n    """What."""\n    return x + 2\n')
    assert source_hash([base]) == source_hash([reworded]) != source_hash([changed])
