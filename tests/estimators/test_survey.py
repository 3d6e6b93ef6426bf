"""Design-based (Taylor-linearisation) variance: by hand, against R's survey package, and on known truth.

* ``design_variance`` / ``domain_variance`` on a small design worked by hand (3 strata of 2-3 PSUs and a
  stratum with a single PSU under each ``lonely_psu`` option), and a domain that is not a subset.
* ``svycoxph`` / ``svyglm`` (R survey 4.1.1, survival 3.5.3: tests/reference/survey/versions.txt) on the
  tiny simulated design tests/reference/survey/design.csv, and on the analysis table (integration: built
  from the data mirror as the pipeline builds it). Coefficients and SEs of every term agree to
  1e-6 (relative); the design degrees of freedom and domain sizes exactly.
* A known-truth simulation: a stratified two-PSU-per-stratum cluster sample with marginal parameters that
  the fitted (marginal) models estimate; the 95% t intervals cover the truth at the nominal rate and the
  design-based SE matches the Monte-Carlo SD of the estimates, while row-independent SEs are too small.

Regenerate the references: ``make references`` (tests/reference/survey/survey.R says how).
"""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.core import fetch
from analysis.estimators.records import ModelSpec
from analysis.estimators.survey import (
    LONELY_PSU,
    cox_design_fit,
    design_variance,
    domain_influence,
    domain_variance,
    fit_cox_design,
    fit_glm_design,
    glm_design_fit,
    t_interval,
)
from analysis.estimators.vcov import cluster_sandwich
from analysis.studies.nhanes.clean import build_nhanes
from support.config import ROOT

REFERENCE = ROOT / "tests" / "reference" / "survey"
TABLE = ROOT / "data" / "processed" / "nhanes.parquet"
# tests/reference/survey/make_data.py, loaded under its own name (tests/reference/make_data.py is another module)
_spec = importlib.util.spec_from_file_location("survey_reference_data", REFERENCE / "make_data.py")
survey_reference_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(survey_reference_data)
read_design = survey_reference_data.read_design


# --- by hand -----------------------------------------------------------------------------------------------
# Rows (stratum, PSU, influence). PSU labels repeat across strata: PSUs are nested in strata.
#   A: PSU 1 rows (1, .5), (2, .5) -> z = (3, 1);  PSU 2 row (5, 1) -> z = (5, 1)
#   B: PSU 1 (0, 2) -> (0, 2);  PSU 2 rows (1, 0), (2, 0) -> (3, 0);  PSU 3 (6, -2) -> (6, -2)
#   C: PSU 1 (2, 1) -> (2, 1);  PSU 2 rows (-1, 1), (-1, 2) -> (-2, 3)
#   D: PSU 1 (4, 0) -> (4, 0)   (a stratum with a single PSU)
# A: zbar = (4, 1), deviations (-1, 0), (1, 0); scale 2/1      -> 2 * [[2, 0], [0, 0]]       = [[4, 0], [0, 0]]
# B: zbar = (3, 0), deviations (-3, 2), (0, 0), (3, -2); 3/2  -> 1.5 * [[18, -12], [-12, 8]] = [[27, -18], [-18, 12]]
# C: zbar = (0, 2), deviations (2, -1), (-2, 1); 2/1          -> 2 * [[8, -4], [-4, 2]]      = [[16, -8], [-8, 4]]
# A + B + C = [[47, -26], [-26, 16]]; df = 7 PSUs - 3 strata = 4.
# D under "adjust": grand mean of the 8 PSU totals = (21/8, 6/8) = (2.625, 0.75); deviation (1.375, -0.75):
#   adds [[1.890625, -1.03125], [-1.03125, 0.5625]]. Under "remove"/"certainty" D adds 0; df = 8 - 4 = 4.
ROWS = [("A", 1, 1.0, 0.5), ("A", 1, 2.0, 0.5), ("A", 2, 5.0, 1.0),
        ("B", 1, 0.0, 2.0), ("B", 2, 1.0, 0.0), ("B", 2, 2.0, 0.0), ("B", 3, 6.0, -2.0),
        ("C", 1, 2.0, 1.0), ("C", 2, -1.0, 1.0), ("C", 2, -1.0, 2.0)]
LONELY_ROW = ("D", 1, 4.0, 0.0)
ABC = np.array([[47.0, -26.0], [-26.0, 16.0]])
D_ADJUST = np.array([[1.890625, -1.03125], [-1.03125, 0.5625]])


def _design(rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frame = pd.DataFrame(rows, columns=["stratum", "psu", "h1", "h2"])
    return frame[["h1", "h2"]].to_numpy(), frame["stratum"].to_numpy(), frame["psu"].to_numpy()


def test_design_variance_by_hand():
    influence, strata, psu = _design(ROWS)
    cov, df = design_variance(influence, strata, psu)
    np.testing.assert_allclose(cov, ABC, rtol=1e-14)
    assert df == 4
    # one column: a scalar; row order does not matter
    var, _ = design_variance(influence[:, 0], strata, psu)
    assert var == pytest.approx(47.0, rel=1e-14)
    order = np.random.default_rng(0).permutation(len(strata))
    np.testing.assert_allclose(design_variance(influence[order], strata[order], psu[order])[0], ABC, rtol=1e-14)


@pytest.mark.parametrize("lonely_psu, extra", [("adjust", D_ADJUST), ("remove", np.zeros((2, 2))),
                                               ("certainty", np.zeros((2, 2)))])
def test_single_psu_stratum_by_hand(lonely_psu, extra):
    influence, strata, psu = _design(ROWS + [LONELY_ROW])
    cov, df = design_variance(influence, strata, psu, lonely_psu=lonely_psu)
    np.testing.assert_allclose(cov, ABC + extra, rtol=1e-14, atol=1e-14)
    assert df == 4  # 8 PSUs - 4 strata, whatever the option (as R's degf)


def test_single_psu_stratum_fails_naming_it():
    influence, strata, psu = _design(ROWS + [LONELY_ROW])
    with pytest.raises(ValueError, match=r"stratum 'D' has only one PSU"):
        design_variance(influence, strata, psu, lonely_psu="fail")
    with pytest.raises(ValueError, match="lonely_psu 'average' unknown"):
        design_variance(influence, strata, psu, lonely_psu="average")
    assert LONELY_PSU[0] == "adjust"  # the default, see the module docstring


def test_domain_keeps_the_full_design():
    """Leaving PSU 2 of stratum A out of the domain: A still has 2 PSUs, one with total 0.
    A: z = (3, 1) and (0, 0), zbar = (1.5, .5), deviations +-(1.5, .5): 2 * [[4.5, 1.5], [1.5, .5]] = [[9, 3], [3, 1]].
    df counts the PSUs holding domain rows: 6 - 3 = 3. Dropping the rows instead would make A a lonely stratum."""
    influence, strata, psu = _design(ROWS)
    domain = ~((strata == "A") & (psu == 2))
    expected = ABC - np.array([[4.0, 0.0], [0.0, 0.0]]) + np.array([[9.0, 3.0], [3.0, 1.0]])
    cov, df = domain_variance(influence[domain], strata, psu, domain, lonely_psu="fail")
    np.testing.assert_allclose(cov, expected, rtol=1e-14)
    assert df == 3
    # the same from the full-length influence with zeros outside the domain, and from design_variance
    full = domain_influence(influence[domain], domain)
    assert np.all(full[~domain] == 0)
    np.testing.assert_allclose(domain_variance(full, strata, psu, domain)[0], expected, rtol=1e-14)
    np.testing.assert_allclose(design_variance(full, strata, psu)[0], expected, rtol=1e-14)
    # a subset is not a domain: without the other PSU, stratum A has a single PSU
    with pytest.raises(ValueError, match="stratum 'A'"):
        design_variance(influence[domain], strata[domain], psu[domain], lonely_psu="fail")


def test_domain_without_a_stratum_drops_it():
    influence, strata, psu = _design(ROWS)
    domain = strata != "C"
    cov, df = domain_variance(influence[domain], strata, psu, domain)
    np.testing.assert_allclose(cov, ABC - np.array([[16.0, -8.0], [-8.0, 4.0]]), rtol=1e-14)
    assert df == 5 - 2


def test_one_stratum_is_the_cluster_sandwich():
    """With a single stratum and influence rows summing to zero (an estimating equation at its solution),
    V = G/(G-1) sum_g z_g z_g', the package's cluster sandwich."""
    rng = np.random.default_rng(3)
    influence = rng.normal(size=(60, 2))
    influence -= influence.mean(axis=0)
    clusters = rng.integers(0, 12, 60)
    cov, df = design_variance(influence, np.zeros(60), clusters)
    np.testing.assert_allclose(cov, cluster_sandwich(influence, clusters), rtol=1e-12)
    assert df == len(np.unique(clusters)) - 1


def test_t_interval():
    low, high, p = t_interval(1.0, 0.5, 4)
    t = stats.t.ppf(0.975, 4)
    assert (low, high) == pytest.approx((1 - 0.5 * t, 1 + 0.5 * t), rel=1e-14)
    assert p == pytest.approx(2 * stats.t.sf(2.0, 4), rel=1e-14)
    assert all(np.isnan(t_interval(1.0, 0.5, 0)))


# --- against R ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "expected.csv")


def r_name(coefficient: str) -> str:
    """formulaic's coefficient name as R's model.matrix writes it: ``C(x, ...)[T.level]`` -> ``xlevel``."""
    if coefficient == "Intercept":
        return "(Intercept)"
    match = re.fullmatch(r"C\((\w+)(?:,.*)?\)\[T\.(.*)\]", coefficient)
    return match.group(1) + match.group(2) if match else coefficient


def assert_matches_r(fit, expected: pd.DataFrame, model: str, rel: float = 1e-6) -> None:
    ref = expected[expected["model"] == model].set_index("term")
    assert len(ref), f"no R reference for {model}"
    ours = pd.DataFrame({"estimate": fit.params.to_numpy(), "std_error": fit.std_errors.to_numpy()},
                        index=[r_name(c) for c in fit.params.index])
    assert sorted(ours.index) == sorted(ref.index)
    ours = ours.loc[ref.index]
    assert fit.n == ref["n"].iloc[0], f"{model}: domain of {fit.n} rows, R's of {ref['n'].iloc[0]}"
    assert fit.df == ref["df"].iloc[0]
    np.testing.assert_allclose(ours["estimate"], ref["estimate"], rtol=rel, err_msg=f"{model} estimates")
    np.testing.assert_allclose(ours["std_error"], ref["std_error"], rtol=rel, err_msg=f"{model} SEs")


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return read_design()


SIM = "C(group) + x + C(female)"
DESIGN = {"weight": "weight", "stratum": "stratum", "psu": "psu"}


@pytest.mark.parametrize("model, lonely_psu", [("sim_cox", "adjust"), ("sim_cox_remove", "remove")])
def test_cox_matches_svycoxph(sim, expected, model, lonely_psu):
    fit = cox_design_fit(sim, SIM, duration="months", event="event", lonely_psu=lonely_psu, **DESIGN)
    assert_matches_r(fit, expected, model)


@pytest.mark.parametrize("model, outcome, family, lonely_psu", [
    ("sim_logistic", "case", "binomial", "adjust"),
    ("sim_linear", "y", "gaussian", "adjust"),
    ("sim_linear_remove", "y", "gaussian", "remove"),
])
def test_glm_matches_svyglm(sim, expected, model, outcome, family, lonely_psu):
    fit = glm_design_fit(sim, SIM, outcome=outcome, family=family, lonely_psu=lonely_psu, **DESIGN)
    assert_matches_r(fit, expected, model)


def test_subgroup_domain_matches_r(sim, expected):
    women = (sim["female"] == "yes").to_numpy()
    fit = glm_design_fit(sim, "C(group) + x", outcome="case", family="binomial", subset=women, **DESIGN)
    assert_matches_r(fit, expected, "sim_logistic_women")
    fit = cox_design_fit(sim, "C(group) + x", duration="months", event="event", subset=women, **DESIGN)
    assert_matches_r(fit, expected, "sim_cox_women")


def test_the_domain_is_not_a_subset(sim):
    """In the complete-case domain stratum S2 holds one PSU (x is missing in all of PSU 2); the design keeps
    both, the other with influence 0. Treating the complete cases as the whole design makes S2 a single-PSU
    stratum instead: with lonely_psu="remove" it then drops out and the SEs shrink. (Under "adjust" a
    two-PSU stratum with one empty PSU gives the same term as a lonely PSU centred at the grand mean, ~0.)
    S6 has one PSU in the design itself: lonely_psu="fail" names it, and only it, for the domain."""
    fit = glm_design_fit(sim, SIM, outcome="y", family="gaussian", lonely_psu="remove", **DESIGN)
    complete = sim[sim["x"].notna() & (sim["weight"] > 0)]
    as_subset = glm_design_fit(complete, SIM, outcome="y", family="gaussian", lonely_psu="remove", **DESIGN)
    np.testing.assert_allclose(as_subset.params, fit.params, rtol=1e-12)
    assert np.all(as_subset.std_errors < fit.std_errors)
    with pytest.raises(ValueError, match=r"stratum 'S6' has only one PSU"):
        glm_design_fit(sim, SIM, outcome="y", family="gaussian", lonely_psu="fail", **DESIGN)
    with pytest.raises(ValueError, match=r"stratum 'S2', 'S6' has only one PSU"):
        glm_design_fit(complete, SIM, outcome="y", family="gaussian", lonely_psu="fail", **DESIGN)


def test_records_are_design_based_with_t_intervals(sim, expected):
    spec = ModelSpec(outcome="y", exposure="group", covariates="x + C(female)", exposure_type="categorical")
    records = fit_glm_design(sim, spec, outcome="y", family="gaussian", **DESIGN)
    assert list(records["term"]) == ["group[mid]", "group[high]"]
    assert set(records["design"]) == {"design-based"} and set(records["measure"]) == {"Mean difference"}
    ref = expected[expected["model"] == "sim_linear"].set_index("term")
    t = stats.t.ppf(0.975, 5)
    for _, row in records.iterrows():
        r = ref.loc["group" + row["term"].split("[")[1].rstrip("]")]
        assert row["estimate"] == pytest.approx(r["estimate"], rel=1e-6)
        assert row["std_error"] == pytest.approx(r["std_error"], rel=1e-6)
        assert row["ci_high"] - row["estimate"] == pytest.approx(t * row["std_error"], rel=1e-12)
        assert "Taylor linearisation" in row["note"]
        assert (row["interval"], row["df"], row["vcov"]) == ("t", 5, "linearisation")  # design df = PSUs - strata
        assert row["statistic"] == pytest.approx(row["estimate"] / row["std_error"], rel=1e-12)
        assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(row["statistic"]), 5), rel=1e-10)
    cox = fit_cox_design(sim, ModelSpec(outcome="death", exposure="x", covariates="C(group) + C(female)"),
                         duration="months", event="event", **DESIGN)
    assert cox["ratio_ci_low"].iloc[0] == pytest.approx(np.exp(cox["ci_low"].iloc[0]), rel=1e-12)
    assert cox["events"].iloc[0] == sim.loc[sim["x"].notna() & (sim["weight"] > 0), "event"].sum()


def test_unvalidated_records_are_the_same_records(sim):
    """``validate=False`` (a stage that checks the records it gathers once) gives the same frame, for the Cox
    model, the GLM and a fit with no events."""
    spec = ModelSpec(outcome="death", exposure="x", covariates="C(group) + C(female)")
    for fit, kw in ((fit_cox_design, {"duration": "months", "event": "event"}),
                    (fit_glm_design, {"outcome": "y", "family": "gaussian"})):
        assert fit(sim, spec, validate=False, **kw, **DESIGN).equals(fit(sim, spec, **kw, **DESIGN))
    none = sim.assign(event=0)
    unchecked = fit_cox_design(none, spec, duration="months", event="event", validate=False, **DESIGN)
    assert unchecked.equals(fit_cox_design(none, spec, duration="months", event="event", **DESIGN))
    assert not unchecked["converged"].any()


# The fullest covariate set of params.yaml (nhanes.models.covariate_sets.health) when the references were made.
HEALTH = ("age + C(sex) + C(race_ethnicity) + C(education) + income_poverty_ratio + C(smoking_status) + bmi"
          " + hypertension + diabetes")


@pytest.fixture(scope="module")
def analysis_table(mirror, root, params, tmp_path_factory) -> pd.DataFrame:
    """The NHANES analysis table as the pipeline builds it, from the data mirror (fetch + clean, a few
    seconds), so the comparison with R runs wherever the mirror is, CI included."""
    raw = tmp_path_factory.mktemp("raw")
    fetch.fetch_sources(root / "data/sources.yaml", raw, mirror, studies=["nhanes", "nhanes_mortality"])
    table, _ = build_nhanes(raw / "nhanes", params.nhanes)
    return table


@pytest.mark.integration
def test_analysis_table_matches_r(expected, analysis_table):
    table = analysis_table
    table_design = {"weight": "weight_interview", "stratum": "stratum", "psu": "psu"}
    spec = ModelSpec(outcome="all_cause_death", exposure="isolation_category", covariates=HEALTH,
                     exposure_type="categorical")
    rhs = spec.rhs("Connected (0)")
    fit = cox_design_fit(table, rhs, duration="followup_months", event="died", **table_design)
    assert_matches_r(fit, expected, "table_cox_all_cause_death")
    fit = glm_design_fit(table, rhs, outcome="depression_phq9", family="binomial", **table_design)
    assert_matches_r(fit, expected, "table_logistic_depression_phq9")
    fit = glm_design_fit(table, rhs, outcome="phq9_score", family="gaussian", **table_design)
    assert_matches_r(fit, expected, "table_linear_phq9_score")
    # the records of the exposure terms carry the same numbers
    records = fit_cox_design(table, spec, duration="followup_months", event="died", **table_design)
    ref = expected[expected["model"] == "table_cox_all_cause_death"].set_index("term")
    for _, row in records.iterrows():
        r = ref.loc["isolation_category" + row["term_label"].split(" vs ")[0]]
        assert row["estimate"] == pytest.approx(r["estimate"], rel=1e-6)
        assert row["std_error"] == pytest.approx(r["std_error"], rel=1e-6)


# --- known truth -------------------------------------------------------------------------------------------
# 30 strata x 2 PSUs x 40 rows; weights vary by stratum and within PSU (unrelated to the outcomes). x has a PSU
# component (sd 0.8) and a row component (sd 1). Every outcome shares a PSU effect, chosen so that the
# *marginal* model the survey fits has the stated coefficient of x:
#   linear:   y = 1 + 0.5 x + u + e, u ~ N(0, 1), e ~ N(0, 1)                               -> slope 0.5
#   logistic: logit P(case | b) = b + (-1 + 0.5 x) / phi, b ~ bridge(phi = 0.8)              -> log OR 0.5
#             (Wang & Louis 2003: the bridge random intercept keeps the marginal model logistic, x phi)
#   Cox:      hazard Z * 0.05 * exp(0.5 x / alpha), Z ~ positive stable(alpha = 0.7), censored at U(5, 40)
#             (Hougaard: marginal hazards proportional, log HR alpha * 0.5/alpha = 0.5); times rounded up
#             to a quarter (tied times for Efron, and a faster fit)
TRUTH = 0.5
N_STRATA, PSU_PER_STRATUM, ROWS_PER_PSU = 30, 2, 40
REPLICATES = 100  # about 10 s
# Measured with this seed (mean estimate, SD, mean design SE / SD, coverage): linear 0.510, 0.077, 0.89, 0.95;
# logistic 0.499, 0.092, 0.90, 0.94; Cox 0.505, 0.062, 0.99, 0.94; linear with rows independent 0.33, 0.44.


def simulate_truth(rng: np.random.Generator) -> pd.DataFrame:
    n_psu = N_STRATA * PSU_PER_STRATUM
    n = n_psu * ROWS_PER_PSU
    psu_of_row = np.repeat(np.arange(n_psu), ROWS_PER_PSU)
    stratum = psu_of_row // PSU_PER_STRATUM
    x = rng.normal(0, 0.8, n_psu)[psu_of_row] + rng.normal(0, 1, n)
    y = 1 + TRUTH * x + rng.normal(0, 1, n_psu)[psu_of_row] + rng.normal(0, 1, n)
    phi = 0.8
    u = rng.uniform(size=n_psu)
    bridge = np.log(np.sin(phi * np.pi * u) / np.sin(phi * np.pi * (1 - u))) / phi
    case = rng.binomial(1, 1 / (1 + np.exp(-(bridge[psu_of_row] + (-1 + TRUTH * x) / phi))))
    alpha = 0.7
    v, e = rng.uniform(0, np.pi, n_psu), rng.exponential(size=n_psu)
    frailty = (np.sin(alpha * v) / np.sin(v) ** (1 / alpha)) * (np.sin((1 - alpha) * v) / e) ** ((1 - alpha) / alpha)
    t_event = rng.exponential(size=n) / (frailty[psu_of_row] * 0.05 * np.exp(TRUTH / alpha * x))
    t_censor = rng.uniform(5, 40, n)
    weight = (1 + stratum % 3) * rng.lognormal(0, 0.3, n)
    return pd.DataFrame({"stratum": stratum, "psu": psu_of_row % PSU_PER_STRATUM, "weight": weight, "x": x, "y": y,
                         "case": case, "time": np.ceil(4 * np.minimum(t_event, t_censor)) / 4,
                         "event": (t_event <= t_censor).astype(int)})


def test_known_truth_coverage_and_monte_carlo_sd():
    rng = np.random.default_rng(20240611)
    spec = ModelSpec(outcome="outcome", exposure="x")
    fits = {"linear": [], "logistic": [], "cox": [], "linear, rows independent": []}
    for _ in range(REPLICATES):
        data = simulate_truth(rng)
        fits["linear"].append(fit_glm_design(data, spec, outcome="y", family="gaussian", **DESIGN).iloc[0])
        fits["logistic"].append(fit_glm_design(data, spec, outcome="case", family="binomial", **DESIGN).iloc[0])
        fits["cox"].append(fit_cox_design(data, spec, duration="time", event="event", **DESIGN).iloc[0])
        rows = data.assign(stratum=0, psu=np.arange(len(data)))  # the same fit, every row its own PSU
        fits["linear, rows independent"].append(
            fit_glm_design(rows, spec, outcome="y", family="gaussian", **DESIGN).iloc[0])
    summary = {}
    for name, records in fits.items():
        frame = pd.DataFrame(records)
        covered = ((frame["ci_low"] <= TRUTH) & (TRUTH <= frame["ci_high"])).mean()
        summary[name] = (frame["estimate"].mean(), frame["estimate"].std(), frame["std_error"].mean(), covered)
    for name in ("linear", "logistic", "cox"):
        mean, sd, se, covered = summary[name]
        assert abs(mean - TRUTH) < 3 * sd / np.sqrt(REPLICATES), (name, summary[name])  # unbiased
        assert 0.8 < se / sd < 1.25, (name, summary[name])  # design SE ~ Monte-Carlo SD
        assert covered >= 0.88, (name, summary[name])  # 95% t intervals (30 df)
    _, sd, se, covered = summary["linear, rows independent"]
    assert se / sd < 0.6 and covered < 0.8, summary  # ignoring the clustering understates the SE
