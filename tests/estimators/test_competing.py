"""Fine-Gray expansion and fit, grouped Aalen-Johansen, design means and completion IPW: against R
(tests/reference/competing/, survival 3.5 finegray/coxph/survfit, survey 4.1 svycoxph/svymean/svyciprop/svyby),
by hand, and on simulated data with known truth."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.estimators.competing import finegray_expand, grouped_cumulative_incidence
from analysis.estimators.survey import cox_design_fit, design_mean
from analysis.estimators.weights import completion_weights

REF = Path(__file__).resolve().parents[1] / "reference" / "competing"


@pytest.fixture(scope="module")
def design():
    d = pd.read_csv(REF / "design.csv")
    d["group"] = pd.Categorical(d["group"], categories=["a", "b", "c"])
    return d


@pytest.fixture(scope="module")
def expected():
    e = pd.read_csv(REF / "expected.csv", dtype={"term": str})
    return {(w, t): v for w, t, v in e.itertuples(index=False)}


def test_finegray_expansion_by_hand():
    # times 1..4: A cause 1 at 2, B competing at 1, C censored at 3, D cause 1 at 4 (censored after 3 -> G(3)=1/2)
    d = pd.DataFrame({"t": [2.0, 1.0, 3.0, 4.0], "s": [1, 2, 0, 1]})
    fg = finegray_expand(d, duration="t", status="s", cause=1)
    b = fg[fg["fgrow"] == 1]
    # B: first row extended to the first censoring time (3), weight 1; then (3, 4] with G(3)/G(<3) = 0.5
    assert b[["fgstart", "fgstop", "fgwt"]].to_numpy().tolist() == [[0.0, 3.0, 1.0], [3.0, 4.0, 0.5]]
    assert fg.loc[fg["fgrow"] != 1, "fgwt"].eq(1).all() and fg["fgstatus"].sum() == 2
    with pytest.raises(ValueError, match="no event of cause 3"):
        finegray_expand(d, duration="t", status="s", cause=3)


def test_finegray_matches_r(design, expected):
    dom = design[design["domain"] == 1]
    fg = finegray_expand(dom, duration="time", status="status", cause=1, weight="weight")
    assert len(fg) == expected[("finegray", "rows")]
    assert fg["fgstatus"].sum() == expected[("finegray", "events")]
    assert fg["fgwt"].sum() == pytest.approx(expected[("finegray", "sum_fgwt")], rel=1e-10)
    outside = design[design["domain"] == 0].assign(fgstart=np.nan, fgstop=np.nan, fgstatus=np.nan, fgwt=0.0)
    full = pd.concat([fg, outside], ignore_index=True)
    fit = cox_design_fit(full, "x + C(group, Treatment(reference='a'))", duration="fgstop", event="fgstatus",
                         weight="fgwt", stratum="stratum", psu="psu", entry="fgstart")
    names = dict(zip(fit.params.index, ["x", "groupb", "groupc"]))
    for ours, r in names.items():
        assert fit.params[ours] == pytest.approx(expected[("finegray_coxph", r)], abs=1e-7)
        assert fit.std_errors[ours] == pytest.approx(expected[("finegray_svycoxph_se", r)], rel=1e-5)


def test_unweighted_fine_gray_matches_cmprsk_crr(design, expected):
    """On untied times the expansion + Cox equals Fine and Gray's own estimator (cmprsk::crr)."""
    dom = design[design["domain"] == 1].assign(one=1.0)
    fg = finegray_expand(dom, duration="time_exact", status="status", cause=1)
    fit = cox_design_fit(fg.assign(w=fg["fgwt"]), "x + C(group, Treatment(reference='a'))", duration="fgstop",
                         event="fgstatus", weight="w", stratum="stratum", psu="psu", entry="fgstart")
    for ours, r in zip(fit.params.index, ["x", "groupb", "groupc"]):
        assert fit.params[ours] == pytest.approx(expected[("crr", r)], abs=1e-5)


def test_aalen_johansen_by_group_matches_r(design, expected):
    dom = design[design["domain"] == 1]
    curves = grouped_cumulative_incidence(dom, duration="time", status="status", cause=1, group="group",
                                          weight="weight")
    for g in "abc":
        c = curves[curves["group"] == g]
        for t in (12, 36, 60, 100):
            value = c.loc[c["time"] <= t, "estimate"].iloc[-1]
            assert value == pytest.approx(expected[(f"aj_{g}", str(t))], abs=1e-10)


def test_design_mean_matches_svymean_svyciprop_svyby(design, expected):
    args = (design["y"], design["weight"], design["stratum"], design["psu"])
    m = design_mean(*args, domain=design["domain"] == 1)
    assert m.estimate == pytest.approx(expected[("svymean", "all")], abs=1e-12)
    assert m.std_error == pytest.approx(expected[("svymean_se", "all")], rel=1e-9)
    assert m.df == expected[("degf", "all")]
    assert (m.ci_low, m.ci_high) == pytest.approx((expected[("svyciprop_low", "all")],
                                                   expected[("svyciprop_high", "all")]), rel=1e-9)
    for g in "abc":
        mg = design_mean(*args, domain=(design["domain"] == 1) & (design["group"] == g))
        assert mg.estimate == pytest.approx(expected[("svyby", g)], abs=1e-12)
        assert mg.std_error == pytest.approx(expected[("svyby_se", g)], rel=1e-9)
        assert (mg.ci_low, mg.ci_high) == pytest.approx((expected[("svyciprop_low", g)],
                                                         expected[("svyciprop_high", g)]), rel=1e-9)


def test_design_mean_by_hand():
    # one stratum, two PSUs: mean (1*1 + 1*0 + 2*1) / 4 = 0.75
    m = design_mean([1, 0, 1], [1, 1, 2], [1, 1, 1], [1, 1, 2], interval="t")
    assert m.estimate == pytest.approx(0.75)
    # influence w(y - p)/W: PSU 1 = (0.25 - 0.75)/4 = -0.125, PSU 2 = 2 * 0.25 / 4 = 0.125; V = 2/1 * 2 * 0.125^2
    assert m.std_error == pytest.approx(np.sqrt(2 * 2 * 0.125**2))


def test_ipw_recovers_truth_where_complete_case_is_biased():
    """y = 40 - 4 iso + 6 z + e, z correlated with iso; completion depends strongly on z. Complete-case mean of
    y (the whole sample's mean is the estimand, truth known from the simulation) is biased; IPW recovers it."""
    rng = np.random.default_rng(7)
    n = 20000
    iso = rng.binomial(1, 0.3, n)
    z = rng.normal(0.5 * iso, 1.0)
    y = 40 - 4 * iso + 6 * z + rng.normal(0, 3, n)
    p = 1 / (1 + np.exp(-(1.0 - 1.5 * z)))
    done = rng.binomial(1, p)
    data = pd.DataFrame({"iso": iso, "z": z, "y": np.where(done == 1, y, np.nan), "done": done.astype(float),
                         "w": rng.uniform(0.5, 1.5, n), "stratum": np.repeat(np.arange(50), n // 50),
                         "psu": np.tile([1, 2], n // 2)})
    truth = np.average(y, weights=data["w"])
    ipw, prob, fit = completion_weights(data, "done", "iso + z", weight="w", stratum="stratum", psu="psu")
    assert fit.params["z"] == pytest.approx(-1.5, abs=0.1)
    cc = design_mean(data["y"], data["w"], data["stratum"], data["psu"], interval="t")
    weighted = design_mean(data["y"], ipw, data["stratum"], data["psu"], interval="t")
    assert abs(cc.estimate - truth) > 10 * cc.std_error  # complete case: biased
    assert abs(weighted.estimate - truth) < 3 * weighted.std_error  # IPW: recovers the truth
    assert (ipw[data["done"] == 0] == 0).all() and prob.between(0, 1).all()
