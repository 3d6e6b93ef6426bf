"""RI-CLPM by FIML: known truth in simulations, MAR dropout, independent implementations, a hand-checked
implied covariance, and the input errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from analysis.estimators.sem import (
    PARAM_COLUMNS,
    PARAMETERS,
    fit_riclpm,
    implied_covariance,
    simulate_riclpm,
    wide_from_long,
)

TRUTH = {
    "a_x": 0.30, "a_y": 0.40, "b_xy": 0.15, "b_yx": 0.10,
    "var_ri_x": 1.0, "var_ri_y": 0.8, "cov_ri": 0.4,
    "var_wx1": 1.0, "var_wy1": 1.2, "cov_w1": 0.3,
    "var_u": 0.7, "var_v": 0.9, "cov_uv": 0.2,
}
MEANS = {"means_x": [2.0, 2.1, 2.2, 2.3, 2.4], "means_y": [10.0, 10.5, 11.0, 11.5, 12.0]}
T = 5
# Recovery checks use *simultaneous* 95% intervals (Bonferroni over the 13 structural parameters): with 13
# separate 95% intervals all 13 cover the truth in only about half of all samples (a Monte Carlo of 100
# samples of this design gave 51%), so "every 95% CI covers" would fail for a correct estimator half the time.
FAMILY_ALPHA = 0.05 / len(PARAMETERS)
X = [f"x{t}" for t in range(1, T + 1)]
Y = [f"y{t}" for t in range(1, T + 1)]


def cols(waves: int) -> tuple[list[str], list[str]]:
    return [f"x{t}" for t in range(1, waves + 1)], [f"y{t}" for t in range(1, waves + 1)]


def structural(result) -> pd.DataFrame:
    table = result.params.set_index("parameter").loc[list(PARAMETERS)]
    return table.assign(truth=[TRUTH[p] for p in PARAMETERS])


@pytest.fixture(scope="module")
def complete_fit():
    wide = simulate_riclpm(5000, T, TRUTH | MEANS, seed=2015)
    return wide, fit_riclpm(wide, X, Y, alpha=FAMILY_ALPHA)


@pytest.fixture(scope="module")
def dropout_data():
    return simulate_riclpm(5000, T, TRUTH | MEANS, seed=2015, dropout=0.15)


# ---------------------------------------------------------------------------------------------
# 1. Truth recovered


def test_recovers_truth_on_complete_data(complete_fit):
    wide, fit = complete_fit
    assert fit.converged, fit.message
    assert list(fit.params.columns) == list(PARAM_COLUMNS)
    assert list(fit.params["parameter"][:13]) == list(PARAMETERS)
    assert fit.params["label"].str.len().gt(10).all()
    assert fit.params.set_index("parameter").at["b_xy", "label"].startswith("loneliness -> later depression")
    assert (fit.n_persons, fit.n_observations, fit.n_patterns) == (5000, 50000, 1)
    table = structural(fit)
    assert ((table.ci_low <= table.truth) & (table.truth <= table.ci_high)).all(), table
    assert ((table.estimate - table.truth).abs() < 3.5 * table.std_error).all(), table
    z = stats.norm.ppf(1 - FAMILY_ALPHA / 2)
    assert np.allclose(table.ci_high - table.estimate, z * table.std_error)
    # every SE plausible: positive and small at n = 5000
    assert table.std_error.between(0.002, 0.1).all()
    means = fit.params.set_index("parameter").loc[[f"mu_x{t}" for t in range(1, T + 1)]]
    assert np.allclose(means.estimate, MEANS["means_x"], atol=4 * means.std_error.max())
    # correctly specified model: the chi-square test against the saturated model does not reject
    assert fit.chi2_df == T * (2 * T + 1) - 13
    assert fit.chi2_p_value > 0.001


def test_estimates_follow_a_change_of_units(complete_fit):
    """Rescaling x (x -> 10 x + 3) rescales the estimates exactly; lags within x and the y side do not move."""
    wide, fit = complete_fit
    scaled = wide.assign(**{c: 10 * wide[c] + 3 for c in X})
    refit = fit_riclpm(scaled, X, Y, saturated=False)
    factor = {"b_xy": 0.1, "b_yx": 10.0, "var_ri_x": 100.0, "cov_ri": 10.0, "var_wx1": 100.0,
              "cov_w1": 10.0, "var_u": 100.0, "cov_uv": 10.0}
    a, b = fit.params.set_index("parameter"), refit.params.set_index("parameter")
    for name in PARAMETERS:
        f = factor.get(name, 1.0)
        assert b.at[name, "estimate"] == pytest.approx(f * a.at[name, "estimate"], rel=1e-4, abs=1e-6)
        assert b.at[name, "std_error"] == pytest.approx(f * a.at[name, "std_error"], rel=1e-3)
    assert refit.loglik == pytest.approx(fit.loglik - fit.n_observations / 2 * math.log(10), abs=1e-3)


# ---------------------------------------------------------------------------------------------
# 2. MAR dropout: FIML recovers the truth, complete cases do not


def test_fiml_recovers_truth_under_mar_dropout_and_complete_cases_do_not(dropout_data):
    wide = dropout_data
    assert 0.2 < wide.isna().to_numpy().mean() < 0.4  # a third of the later waves lost
    fiml = fit_riclpm(wide, X, Y, alpha=FAMILY_ALPHA, saturated=False)
    assert fiml.converged, fiml.message
    assert fiml.n_persons == 5000 and fiml.n_patterns == T  # monotone: one pattern per last wave seen
    assert fiml.n_observations == int(wide.notna().to_numpy().sum())
    table = structural(fiml)
    assert ((table.ci_low <= table.truth) & (table.truth <= table.ci_high)).all(), table
    assert ((table.estimate - table.truth).abs() < 3.5 * table.std_error).all(), table

    complete = fit_riclpm(wide.dropna(), X, Y, alpha=FAMILY_ALPHA, saturated=False)
    assert complete.n_persons < 0.6 * fiml.n_persons
    cc = structural(complete)
    z_cc = ((cc.estimate - cc.truth) / cc.std_error).abs()
    z_fiml = ((table.estimate - table.truth) / table.std_error).abs()
    # dropout selects on loneliness: the stayers' between-person variance of x is far too small
    assert z_cc["var_ri_x"] > 5 and z_fiml["var_ri_x"] < 2
    assert (cc.ci_high < cc.truth).any()
    assert (cc.estimate - cc.truth).abs().max() > 3 * (table.estimate - table.truth).abs().max()
    # and the later wave means are biased downwards, as lonelier persons left
    mu = complete.params.set_index("parameter").loc[f"mu_x{T}"]
    assert mu.ci_high < MEANS["means_x"][-1]


# ---------------------------------------------------------------------------------------------
# 3. Independent implementations


SEMOPY_NAMES = {
    ("wx2", "~", "wx1"): "a_x", ("wy2", "~", "wy1"): "a_y", ("wy2", "~", "wx1"): "b_xy",
    ("wx2", "~", "wy1"): "b_yx", ("RIx", "~~", "RIx"): "var_ri_x", ("RIy", "~~", "RIy"): "var_ri_y",
    ("RIx", "~~", "RIy"): "cov_ri", ("wx1", "~~", "wx1"): "var_wx1", ("wy1", "~~", "wy1"): "var_wy1",
    ("wx1", "~~", "wy1"): "cov_w1", ("wx2", "~~", "wx2"): "var_u", ("wy2", "~~", "wy2"): "var_v",
    ("wx2", "~~", "wy2"): "cov_uv",
}


def semopy_description(waves: int) -> str:
    """The RI-CLPM in lavaan syntax (Hamaker et al. 2015 / Mulder & Hamaker 2021), equal lags by labels."""
    lines = [
        "RIx =~ " + " + ".join(f"1*x{t}" for t in range(1, waves + 1)),
        "RIy =~ " + " + ".join(f"1*y{t}" for t in range(1, waves + 1)),
    ]
    for t in range(1, waves + 1):
        lines += [f"wx{t} =~ 1*x{t}", f"wy{t} =~ 1*y{t}", f"x{t} ~~ 0*x{t}", f"y{t} ~~ 0*y{t}"]
    for t in range(2, waves + 1):
        lines += [f"wx{t} ~ ax*wx{t - 1} + byx*wy{t - 1}", f"wy{t} ~ ay*wy{t - 1} + bxy*wx{t - 1}",
                  f"wx{t} ~~ vu*wx{t}", f"wy{t} ~~ vv*wy{t}", f"wx{t} ~~ cuv*wy{t}"]
    lines += ["RIx ~~ RIx", "RIy ~~ RIy", "RIx ~~ RIy", "wx1 ~~ wx1", "wy1 ~~ wy1", "wx1 ~~ wy1",
              "RIx ~~ 0*wx1", "RIx ~~ 0*wy1", "RIy ~~ 0*wx1", "RIy ~~ 0*wy1"]
    return "\n".join(lines)


def semopy_table(model) -> pd.DataFrame:
    rows = {}
    for rec in model.inspect(information="observed").to_dict("records"):
        name = SEMOPY_NAMES.get((rec["lval"], rec["op"], rec["rval"])) or SEMOPY_NAMES.get(
            (rec["rval"], rec["op"], rec["lval"]))
        if name and name not in rows:
            rows[name] = (float(rec["Estimate"]), float(rec["Std. Err"]))
    return pd.DataFrame(rows, index=["estimate", "std_error"]).T.loc[list(PARAMETERS)]


def test_agrees_with_semopy_on_complete_data():
    semopy = pytest.importorskip("semopy")
    waves = 4
    wide = simulate_riclpm(2000, waves, TRUTH, seed=3)
    fit = fit_riclpm(wide, *cols(waves), saturated=False)
    model = semopy.Model(semopy_description(waves))
    model.fit(wide, obj="MLW", options={"ftol": 1e-12, "maxiter": 10000})
    theirs, ours = semopy_table(model), fit.params.set_index("parameter").loc[list(PARAMETERS)]
    assert np.allclose(ours.estimate, theirs.estimate, atol=2e-4), pd.concat([ours.estimate, theirs], axis=1)
    assert np.allclose(ours.std_error, theirs.std_error, rtol=1e-2)


def test_agrees_with_semopy_fiml_under_dropout():
    """semopy's ModelMeans fits FIML row by row: same estimates, same observed-information SEs, same loglik."""
    semopy = pytest.importorskip("semopy")
    waves = 4
    wide = simulate_riclpm(800, waves, TRUTH, seed=4, dropout=0.2)
    fit = fit_riclpm(wide, *cols(waves), saturated=False)
    model = semopy.ModelMeans(semopy_description(waves))
    res = model.fit(wide, obj="ML", options={"ftol": 1e-12, "maxiter": 10000})
    theirs, ours = semopy_table(model), fit.params.set_index("parameter").loc[list(PARAMETERS)]
    assert np.allclose(ours.estimate, theirs.estimate, atol=1e-3), pd.concat([ours.estimate, theirs], axis=1)
    assert np.allclose(ours.std_error, theirs.std_error, rtol=1e-2)
    # semopy's objective: sum over rows of log|Sigma_oo| + quadratic form, i.e. -2 loglik - n_obs log(2 pi)
    assert -0.5 * (res.fun + fit.n_observations * math.log(2 * math.pi)) == pytest.approx(fit.loglik, abs=1e-3)


def ram_covariance(theta: np.ndarray, waves: int) -> np.ndarray:
    """The RI-CLPM's implied covariance built the way SEM programs do (RAM / LISREL), independently of the
    module: latent eta = (RIx, RIy, wx_1..T, wy_1..T), eta = B eta + zeta, obs = Lambda eta."""
    a_x, a_y, b_xy, b_yx, vrx, vry, crx, v1x, v1y, c1, vu, vv, cuv = theta
    m = 2 + 2 * waves
    wx = [2 + t for t in range(waves)]
    wy = [2 + waves + t for t in range(waves)]
    beta = np.zeros((m, m))
    psi = np.zeros((m, m))
    psi[0, 0], psi[1, 1], psi[0, 1], psi[1, 0] = vrx, vry, crx, crx
    psi[wx[0], wx[0]], psi[wy[0], wy[0]], psi[wx[0], wy[0]], psi[wy[0], wx[0]] = v1x, v1y, c1, c1
    for t in range(1, waves):
        beta[wx[t], wx[t - 1]], beta[wx[t], wy[t - 1]] = a_x, b_yx
        beta[wy[t], wy[t - 1]], beta[wy[t], wx[t - 1]] = a_y, b_xy
        psi[wx[t], wx[t]], psi[wy[t], wy[t]], psi[wx[t], wy[t]], psi[wy[t], wx[t]] = vu, vv, cuv, cuv
    lam = np.zeros((2 * waves, m))
    for t in range(waves):
        lam[t, 0] = lam[t, wx[t]] = 1.0
        lam[waves + t, 1] = lam[waves + t, wy[t]] = 1.0
    inv = np.linalg.inv(np.eye(m) - beta)
    return lam @ inv @ psi @ inv.T @ lam.T


def test_complete_data_fiml_equals_ml_discrepancy_minimum(complete_fit):
    """On complete data FIML is ML on the sample covariance: minimise F = log|Sigma| + tr(S Sigma^-1) -
    log|S| - p over the RAM-form model; same estimates, chi2 = N F_min, loglik = sum of normal log-densities."""
    wide, fit = complete_fit
    data = wide[X + Y].to_numpy()
    n, p = data.shape
    s = np.cov(data, rowvar=False, bias=True)
    logdet_s = np.linalg.slogdet(s)[1]

    def discrepancy(theta: np.ndarray) -> float:
        sigma = ram_covariance(theta, T)
        sign, logdet = np.linalg.slogdet(sigma)
        if sign <= 0:
            return 1e6
        return logdet + np.trace(s @ np.linalg.inv(sigma)) - logdet_s - p

    start = np.array([TRUTH[name] for name in PARAMETERS])
    res = optimize.minimize(discrepancy, start, method="BFGS", options={"gtol": 1e-10})
    ours = fit.params.set_index("parameter").loc[list(PARAMETERS), "estimate"].to_numpy()
    assert np.allclose(ours, res.x, atol=2e-4)
    assert fit.chi2 == pytest.approx(n * res.fun, rel=1e-5)
    mean = fit.params.set_index("parameter").loc[[f"mu_x{t}" for t in range(1, T + 1)]
                                                 + [f"mu_y{t}" for t in range(1, T + 1)], "estimate"]
    loglik = stats.multivariate_normal(mean.to_numpy(), ram_covariance(ours, T)).logpdf(data).sum()
    assert fit.loglik == pytest.approx(loglik, abs=1e-6 * abs(loglik))


def test_loglik_is_the_sum_of_row_densities_with_missing_data():
    """FIML by patterns = the sum over persons of the normal density of what each person has observed."""
    waves = 4
    wide = simulate_riclpm(400, waves, TRUTH, seed=8, dropout=0.25)
    rng = np.random.default_rng(1)
    values = wide.to_numpy()
    values[rng.random(values.shape) < 0.05] = np.nan  # intermittent gaps too
    values[:7] = np.nan  # persons with nothing observed are dropped
    wide = pd.DataFrame(values, columns=wide.columns)
    fit = fit_riclpm(wide, *cols(waves), saturated=False)
    assert fit.n_persons == 393 and fit.n_observations == int(np.isfinite(values).sum())
    table = fit.params.set_index("parameter")["estimate"]
    sigma = ram_covariance(table.loc[list(PARAMETERS)].to_numpy(), waves)
    mean = table.iloc[13:].to_numpy()
    total = 0.0
    for row in values[7:]:
        seen = np.isfinite(row)
        total += stats.multivariate_normal(mean[seen], sigma[np.ix_(seen, seen)]).logpdf(row[seen])
    assert fit.loglik == pytest.approx(total, abs=1e-8 * abs(total))


# ---------------------------------------------------------------------------------------------
# 4. The implied covariance by hand, T = 3


def test_implied_covariance_by_hand_three_waves():
    p = {"a_x": 0.5, "a_y": 0.4, "b_xy": 0.2, "b_yx": 0.1, "var_ri_x": 1.0, "var_ri_y": 2.0, "cov_ri": 0.5,
         "var_wx1": 1.0, "var_wy1": 2.0, "cov_w1": 0.3, "var_u": 0.6, "var_v": 0.8, "cov_uv": 0.1}
    ax, ay, bxy, byx = p["a_x"], p["a_y"], p["b_xy"], p["b_yx"]
    # within-person moments, wave by wave: wx_t = ax wx_t-1 + byx wy_t-1 + u, wy_t = ay wy_t-1 + bxy wx_t-1 + v
    xx = {(1, 1): 1.0}
    yy = {(1, 1): 2.0}
    xy = {(1, 1): 0.3}  # xy[(t, s)] = Cov(wx_t, wy_s)
    # Var(wx2) = ax^2 Var(wx1) + 2 ax byx Cov(wx1, wy1) + byx^2 Var(wy1) + var_u
    xx[2, 2] = ax**2 * 1.0 + 2 * ax * byx * 0.3 + byx**2 * 2.0 + 0.6  # = 0.90
    yy[2, 2] = ay**2 * 2.0 + 2 * ay * bxy * 0.3 + bxy**2 * 1.0 + 0.8  # = 1.208
    xy[2, 2] = ax * bxy * 1.0 + (ax * ay + byx * bxy) * 0.3 + byx * ay * 2.0 + 0.1  # = 0.346
    xx[2, 1] = ax * 1.0 + byx * 0.3  # Cov(wx2, wx1) = 0.53
    yy[2, 1] = ay * 2.0 + bxy * 0.3  # Cov(wy2, wy1) = 0.86
    xy[2, 1] = ax * 0.3 + byx * 2.0  # Cov(wx2, wy1) = 0.35
    xy[1, 2] = bxy * 1.0 + ay * 0.3  # Cov(wx1, wy2) = 0.32
    xx[3, 3] = ax**2 * xx[2, 2] + 2 * ax * byx * xy[2, 2] + byx**2 * yy[2, 2] + 0.6
    yy[3, 3] = ay**2 * yy[2, 2] + 2 * ay * bxy * xy[2, 2] + bxy**2 * xx[2, 2] + 0.8
    xy[3, 3] = ax * bxy * xx[2, 2] + (ax * ay + byx * bxy) * xy[2, 2] + byx * ay * yy[2, 2] + 0.1
    xx[3, 2] = ax * xx[2, 2] + byx * xy[2, 2]
    yy[3, 2] = ay * yy[2, 2] + bxy * xy[2, 2]
    xy[3, 2] = ax * xy[2, 2] + byx * yy[2, 2]
    xy[2, 3] = bxy * xx[2, 2] + ay * xy[2, 2]
    xx[3, 1] = ax * xx[2, 1] + byx * xy[1, 2]  # Cov(wx3, wx1) = ax Cov(wx2, wx1) + byx Cov(wy2, wx1)
    yy[3, 1] = ay * yy[2, 1] + bxy * xy[2, 1]
    xy[3, 1] = ax * xy[2, 1] + byx * yy[2, 1]  # Cov(wx3, wy1)
    xy[1, 3] = bxy * xx[2, 1] + ay * xy[1, 2]  # Cov(wx1, wy3) = Cov(wy3, wx1)
    for d in (xx, yy):
        for (t, s), v in list(d.items()):
            d[s, t] = v
    assert xx[2, 2] == pytest.approx(0.90) and yy[2, 2] == pytest.approx(1.208) and xy[2, 2] == pytest.approx(0.346)
    expected = np.empty((6, 6))
    for t in range(1, 4):
        for s in range(1, 4):
            expected[t - 1, s - 1] = 1.0 + xx[t, s]  # + var_ri_x
            expected[t + 2, s + 2] = 2.0 + yy[t, s]  # + var_ri_y
            expected[t - 1, s + 2] = expected[s + 2, t - 1] = 0.5 + xy[t, s]  # + cov_ri
    got = implied_covariance(p, 3)
    assert np.allclose(got, expected, atol=1e-12)
    assert got[0, 3] == pytest.approx(0.8) and got[1, 0] == pytest.approx(1.53) and got[4, 4] == pytest.approx(3.208)
    assert np.allclose(got, ram_covariance(np.array([p[k] for k in PARAMETERS]), 3))


# ---------------------------------------------------------------------------------------------
# Long to wide, simulation options


def test_wide_from_long_round_trip():
    wide = simulate_riclpm(300, 4, TRUTH, seed=9, dropout=0.2)
    long = pd.DataFrame({
        "pid": np.repeat(np.arange(300) + 100, 4), "wave": np.tile([2, 4, 6, 8], 300),
        "lonely": wide[[f"x{t}" for t in range(1, 5)]].to_numpy().ravel(),
        "cesd": wide[[f"y{t}" for t in range(1, 5)]].to_numpy().ravel(),
    })
    long = long.dropna(subset=["lonely", "cesd"], how="all").sample(frac=1, random_state=0)  # dropouts have no rows
    back, xs, ys = wide_from_long(long, id="pid", wave="wave", x="lonely", y="cesd")
    assert xs == ["lonely_2", "lonely_4", "lonely_6", "lonely_8"] and ys[0] == "cesd_2"
    assert list(back.index) == list(range(100, 400))
    assert np.allclose(back[xs + ys].to_numpy(), wide.to_numpy(), equal_nan=True)
    a, b = fit_riclpm(wide, *cols(4), saturated=False), fit_riclpm(back, xs, ys, saturated=False)
    assert np.allclose(a.params.estimate, b.params.estimate) and a.loglik == pytest.approx(b.loglik)
    # waves given: others ignored, absent ones all-missing
    sub, xs3, _ = wide_from_long(long, id="pid", wave="wave", x="lonely", y="cesd", waves=[2, 4, 10])
    assert xs3 == ["lonely_2", "lonely_4", "lonely_10"] and sub["lonely_10"].isna().all()


def test_simulation_dropout_is_monotone_and_depends_on_loneliness():
    wide = simulate_riclpm(4000, 5, TRUTH, seed=10, dropout=0.2)
    seen = wide.notna().to_numpy()
    assert (seen[:, :5] == seen[:, 5:]).all()  # x and y leave together
    assert (np.diff(seen[:, :5].astype(int), axis=1) <= 0).all()  # nobody comes back
    stayed = seen[:, 1]
    assert wide.loc[~stayed, "x1"].mean() > wide.loc[stayed, "x1"].mean() + 0.3
    assert 0.15 < 1 - stayed.mean() < 0.3
    assert simulate_riclpm(10, 3, TRUTH, seed=1).equals(simulate_riclpm(10, 3, TRUTH, seed=1))


# ---------------------------------------------------------------------------------------------
# 5. Errors


def test_errors():
    wide = simulate_riclpm(200, 3, TRUTH, seed=11)
    x, y = cols(3)
    with pytest.raises(ValueError, match="'y3'"):
        fit_riclpm(wide.drop(columns="y3"), x, y)
    with pytest.raises(ValueError, match="at least 3 waves"):
        fit_riclpm(wide, x[:2], y[:2])
    with pytest.raises(ValueError, match="one column per wave"):
        fit_riclpm(wide, x, y[:2])
    bad = wide.astype({"x2": object})
    bad.loc[5, "x2"] = "n/a"
    with pytest.raises(ValueError, match=r"column 'x2' has non-numeric values, e\.g\. 'n/a'"):
        fit_riclpm(bad, x, y)
    with pytest.raises(ValueError, match="fewer than the 19 free parameters"):
        fit_riclpm(wide.head(18), x, y)
    with pytest.raises(ValueError, match="no observed value"):
        fit_riclpm(wide.assign(y2=np.nan), x, y)
    with pytest.raises(ValueError, match="cov_uv"):
        simulate_riclpm(10, 3, {k: v for k, v in TRUTH.items() if k != "cov_uv"}, seed=1)

    long = pd.DataFrame({"pid": [1, 1, 1, 2, 2, 2, 2], "wave": [1, 2, 3, 1, 2, 2, 3],
                         "lonely": np.arange(7.0), "cesd": np.arange(7.0)})
    with pytest.raises(ValueError, match=r"person 2 has 2 rows in wave 2"):
        wide_from_long(long, id="pid", wave="wave", x="lonely", y="cesd")
    with pytest.raises(ValueError, match="'cesd'"):
        wide_from_long(long.drop(columns="cesd"), id="pid", wave="wave", x="lonely", y="cesd")
    with pytest.raises(ValueError, match="at least 3 waves"):
        wide_from_long(long.drop_duplicates(["pid", "wave"]), id="pid", wave="wave", x="lonely", y="cesd",
                       waves=[1, 2])
