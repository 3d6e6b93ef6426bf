"""GSS digital connection and social trust (studies/gss/reach.py): the derived measures on hand-computed codebook
cases, the person-wave reshaping, and the within-person models on simulated panels of known truth."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from analysis.core.contract import SourceDataError
from analysis.studies.gss import measures, reach
from analysis.studies.gss import source as src
from analysis.studies.gss.reach_report import reach_metrics, reach_paper_numbers
from analysis.studies.gss.settings import Reach, load

nan = np.nan


def s(*values) -> pd.Series:
    return pd.Series(values, dtype="float64")


# ---------------------------------------------------------------------------------------------
# Measures, by hand from the codebook


def test_weekly_hours_adds_minutes_and_caps():
    # 2 h 30 min; 0 h 45 min; minutes missing (answered in hours); hours missing, minutes 30; neither; 100 h
    hours = s(2, 0, 5, nan, nan, 100)
    minutes = s(30, 45, nan, 30, nan, 0)
    out = measures.weekly_hours(hours, minutes, top_code=84)
    assert out.tolist()[:4] == [2.5, 0.75, 5.0, 0.5]
    assert math.isnan(out.iloc[4])
    assert out.iloc[5] == 84  # 100 hours a week -> the top code


def test_weekly_hours_structural_zero_only_for_the_skipped():
    # not asked because a non-user -> 0; not asked for another reason (no answer) -> missing; answered -> as is
    out = measures.weekly_hours(s(nan, nan, 3), s(nan, nan, nan), not_asked_zero=s(1, 0, 1))
    assert out.iloc[0] == 0.0 and math.isnan(out.iloc[1]) and out.iloc[2] == 3.0


def test_log_hours():
    out = measures.log_hours(s(0, math.e - 1, 84))
    assert out.tolist() == pytest.approx([0.0, 1.0, math.log(85)])


def test_non_user_and_web_not_used():
    # COMPUSE 1 yes, 2 no; WEBMOB (asked if COMPUSE no) 1 yes, 2 no
    compuse, webmob = s(1, 2, 2, nan, 2), s(nan, 1, 2, nan, nan)
    flag = measures.non_user(compuse, webmob)
    assert flag.iloc[0] == 0 and flag.iloc[1] == 0 and flag.iloc[2] == 1
    assert math.isnan(flag.iloc[3]) and math.isnan(flag.iloc[4])
    # USEWWW 2 (no Web other than e-mail) -> the Web item is skipped as not used
    web = measures.web_not_used(s(0, 0, 1, nan), s(2, 1, nan, nan))
    assert web.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_trust_items_follow_each_items_codes():
    # TRUST 1 can be trusted, 2 can't be too careful, 3 depends
    assert measures.trust_item(s(1, 2, 3), "trust").tolist() == [1.0, 0.0, 0.5]
    # HELPFUL 1 try to be helpful, 2 looking out for themselves, 3 depends
    assert measures.trust_item(s(1, 2, 3), "helpful").tolist() == [1.0, 0.0, 0.5]
    # FAIR runs the other way: 1 would take advantage, 2 would try to be fair
    assert measures.trust_item(s(1, 2, 3), "fair").tolist() == [0.0, 1.0, 0.5]
    assert measures.trust_item(s(3), "fair", depends=0.0).tolist() == [0.0]
    assert math.isnan(measures.trust_item(s(nan), "trust").iloc[0])


def test_social_trust_score():
    trust, helpful, fair = s(1, 0, 0.5, 1), s(1, 0, 1, nan), s(1, 1, 0, 1)
    out = measures.social_trust_score(trust, helpful, fair)
    assert out.tolist()[:3] == pytest.approx([1.0, 1 / 3, 0.5])
    assert math.isnan(out.iloc[3])  # all three needed


def test_trust_labels_of_the_long_panels_and_bad_codes():
    frame = pd.DataFrame({"trust": pd.Categorical(["can Trust", "Cannot Trust", "Depends", None]),
                          "fair": pd.Categorical(["Take Advantage", "Fair", "Depends", "Dk"])})
    assert src.recode(frame, "trust").tolist()[:3] == [1.0, 2.0, 3.0]
    fair = src.recode(frame, "fair")
    assert fair.tolist()[:3] == [1.0, 2.0, 3.0] and math.isnan(fair.iloc[3])
    with pytest.raises(SourceDataError, match="wwwhr_2 has the value 200"):
        src.recode(pd.DataFrame({"wwwhr_2": [3.0, 200.0]}), "wwwhr_2")
    with pytest.raises(SourceDataError, match="trust_1a has the value 4"):
        src.recode(pd.DataFrame({"trust_1a": [1.0, 4.0]}), "trust_1a")
    # NORC's numeric missing codes are never hours
    assert math.isnan(src.recode(pd.DataFrame({"emailhr_1b": [-98.0]}), "emailhr_1b").iloc[0])


def test_digital_measures_follow_the_skip_pattern():
    codes = pd.DataFrame({
        # a computer user with 1 h 30 min e-mail and 10 h Web; a phone-only user with no e-mail who uses the Web
        # 2 hours; a non-user (no computer, no mobile internet): skipped; a computer user with no e-mail and no
        # Web ("no" to USEWWW): Web skipped; a computer user who did not answer the time items
        "compuse": [1, 2, 2, 1, 1], "webmob": [nan, 1, 2, nan, nan],
        "emailhr": [1, 0, nan, 0, nan], "emailmin": [30, 0, nan, 0, nan],
        "usewww": [nan, 1, nan, 2, nan], "wwwhr": [10, 2, nan, nan, nan], "wwwmin": [0, nan, nan, nan, nan],
    }, dtype="float64")
    out = reach.digital_measures(codes, top_code=84)
    assert out["email_hours"].tolist()[:4] == [1.5, 0.0, 0.0, 0.0]
    assert out["web_hours"].tolist()[:4] == [10.0, 2.0, 0.0, 0.0]
    assert math.isnan(out["email_hours"].iloc[4]) and math.isnan(out["web_hours"].iloc[4])
    assert out["log_web_hours"].iloc[0] == pytest.approx(math.log(11))


def test_panel_2020_long_puts_baseline_and_2020_on_rows():
    wide = pd.DataFrame({"person_id": ["2016-0001", "2018-0002"], "baseline_year": [2016, 2018],
                         "reinterviewed_2020": [1.0, 0.0], "age_baseline": [40.0, 50.0],
                         "female": pd.array([1, 0], dtype="Int8"), "race": ["White", "Black"],
                         "education_years": [12.0, 16.0]})
    for column in reach.LONG_2020_COLUMNS:  # values every column allows (0/1 items, 0-1 trust scores)
        wide[f"{column}_baseline"], wide[f"{column}_2020"] = [1.0, 0.0], [0.0, nan]
    wide["web_hours_baseline"], wide["web_hours_2020"] = [1.0, 2.0], [3.0, nan]
    wide["interview_ballot_baseline"], wide["interview_ballot_2020"] = ["A", "B"], ["A", None]
    long = reach.panel_2020_long(wide)
    assert list(zip(long["person_id"], long["wave"], long["year"])) == [
        ("2016-0001", 1, 2016), ("2016-0001", 2, 2020), ("2018-0002", 1, 2018)]
    assert long["web_hours"].tolist() == [1.0, 3.0, 2.0]
    assert long["ballot"].astype(str).tolist() == ["A", "A", "B"]


# ---------------------------------------------------------------------------------------------
# Settings


def test_beside_exposures_must_be_digital_exposures():
    block = load().gss.reach.model_dump()
    block["beside"]["exposures"] = ["log_web_hours", "hours_on_tv"]
    with pytest.raises(ValidationError, match="hours_on_tv"):
        Reach.model_validate(block)


# ---------------------------------------------------------------------------------------------
# Known truth: two-wave panels with baselines in 2016 or 2018, year effects, person effects correlated with the
# exposures (so pooled fits are biased and within-person fits are not)

TRUE_WEB, TRUE_EMAIL, TRUE_EVENINGS = 0.04, -0.03, -0.05


def simulate(persons: int = 3000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(persons), 2)
    baseline = np.where(rng.random(persons) < 0.5, 2016, 2018)
    year = np.column_stack([baseline, np.full(persons, 2020)]).ravel()
    trait = np.repeat(rng.normal(size=persons), 2)  # confounds pooled estimates
    web = 2 + 0.6 * trait + rng.normal(scale=0.6, size=2 * persons)
    email = 1 + 0.4 * trait + 0.3 * web + rng.normal(scale=0.5, size=2 * persons)
    evenings = 4 - 0.5 * trait + rng.normal(scale=0.7, size=2 * persons)
    year_effect = np.select([year == 2016, year == 2018], [0.0, 0.05], 0.12)
    outcome = (0.5 + TRUE_WEB * web + TRUE_EMAIL * email + TRUE_EVENINGS * evenings + 0.3 * trait + year_effect
               + rng.normal(scale=0.15, size=2 * persons))
    return pd.DataFrame({"person_id": person.astype(str), "year": year, "wave": np.tile([1, 2], persons),
                         "ballot": pd.Categorical(["A"] * (2 * persons), categories=["A", "B", "C"]),
                         "log_web_hours": web, "log_email_hours": email, "social_contact_index": evenings,
                         "wellbeing": outcome, "partnered": rng.integers(0, 2, 2 * persons).astype(float),
                         "age_baseline": np.repeat(rng.uniform(20, 80, persons), 2)})


def spec_of(exposures: list[str], outcome: str = "wellbeing"):
    """The displacement spec of params.yaml with the simulation's outcome, exposures and covariates."""
    block = load().gss.reach.displacement
    return type(block).model_validate(block.model_dump() | {
        "outcomes": {outcome: {"label": "Simulated outcome"}},
        "exposures": {e: {"label": e, "type": "continuous"} for e in exposures},
        "covariates": "partnered", "invariant": "age_baseline", "ballots": {outcome: ["A"]},
        "estimators": ["pooled_ols", "fixed_effects", "mundlak"]})


def test_beside_recovers_the_within_person_truth():
    data = simulate()
    exposures = ["log_web_hours", "log_email_hours", "social_contact_index"]
    spec = spec_of(exposures)
    records = reach.run_beside(data, spec, exposures, "simulated_joint", ["pooled_ols", "fixed_effects", "mundlak"],
                               "simulation")
    fe = records[records["model"] == "fixed_effects"].set_index("exposure")
    for exposure, truth in zip(exposures, (TRUE_WEB, TRUE_EMAIL, TRUE_EVENINGS), strict=True):
        row = fe.loc[exposure]
        assert row["ci_low"] < truth < row["ci_high"], exposure
        assert abs(row["estimate"] - truth) < 3 * row["std_error"]
    assert (fe["n"] == len(data)).all() and (fe["covariate_set"] == "simulated_joint").all()
    # the person trait biases the pooled evenings estimate towards the trait's negative correlation
    pooled = records[records["model"] == "pooled_ols"].set_index("exposure")
    assert abs(pooled.loc["social_contact_index", "estimate"] - TRUE_EVENINGS) > 0.05


def test_run_spec_alone_and_metrics_round_trip(tmp_path):
    data = simulate(persons=1500, seed=1)
    spec = spec_of(["log_web_hours"])
    records, tests, flow = reach.run_spec(data, spec, "simulation")
    fe = records[records["model"] == "fixed_effects"].iloc[0]
    # alone, the Web coefficient also carries e-mail's part through their within-person correlation (0.3)
    assert fe["ci_low"] < TRUE_WEB + 0.3 * TRUE_EMAIL < fe["ci_high"]
    assert flow["ballot"].tolist() == ["A"] and bool(flow["in_models"].iloc[0])
    fits = {"records": records, "tests": tests, "records_facebook": records.iloc[0:0],
            "reliability": pd.DataFrame(columns=["panel", "coding", "statistic", "estimate", "ci_low", "ci_high",
                                                 "n"]),
            "digital_summary": pd.DataFrame(columns=["measure", "wave", "persons", "pct_zero", "median", "p75",
                                                     "pct_top_coded", "within_person_sd_log", "persons_both_waves"])}
    metrics = reach_metrics(fits)
    entry = metrics["estimates"]["wellbeing"]["log_web_hours"][spec.covariate_set]["fixed_effects"]
    assert entry["estimate"] == pytest.approx(fe["estimate"], abs=5e-5)  # gss_reach.json keeps 4 decimals


def test_paper_numbers_pick_the_named_estimates(tmp_path):
    gss = load().gss
    r = gss.reach

    def entry(value: float) -> dict:
        return {"measure": "Mean difference", "estimate": value, "ci_low": value - 1, "ci_high": value + 1,
                "p_value": 0.5, "n": 10}

    estimates: dict = {}
    specs = [(r.digital, ["fixed_effects"]), (r.displacement, ["fixed_effects"]),
             (r.trust, ["pooled_ols", "fixed_effects", "mundlak:between"])]
    for i, (spec, models) in enumerate(specs):
        for outcome in spec.outcomes:
            for exposure in spec.exposures:
                estimates.setdefault(outcome, {}).setdefault(exposure, {})[spec.covariate_set] = {
                    m: entry(100 * i + j) for j, m in enumerate(models)}
    for outcome in r.digital.outcomes:
        for exposure in r.beside.exposures:
            estimates[outcome][exposure][r.beside.covariate_set] = {"fixed_effects": entry(-7)}
    first = next(iter(r.facebook.models))
    (tmp_path / "gss_reach.json").write_text(json.dumps({
        "estimates": estimates, "facebook": {first: {"design-based": entry(0.6)}}, "trust_reliability": {},
        "hours": {}}))
    numbers = reach_paper_numbers(tmp_path, gss)
    assert numbers["within"]["unhappy"]["log_web_hours"]["estimate"] == 0
    assert numbers["beside"]["fair_poor_health"]["social_contact_index"]["estimate"] == -7
    assert numbers["displacement"]["log_email_hours"]["estimate"] == 100
    assert numbers["trust"]["unhappy"]["mundlak:between"]["estimate"] == 202
    assert numbers["facebook"]["estimate"] == 0.6


def test_trust_reliability_matches_the_alpha_formula():
    # 6 persons x 3 items (0 / 0.5 / 1); alpha = k/(k-1) (1 - sum of item variances / variance of the total)
    items = pd.DataFrame({"trusts_people": [1, 0, 1, 0.5, 0, 1], "people_helpful": [1, 0, 0.5, 1, 0, 1],
                          "people_fair": [1, 0.5, 1, 0, 0, 0]}, dtype="float64")
    trust = items.assign(wave=1)
    wide = items.add_suffix("_baseline")
    out = reach.trust_reliability(trust, wide, load().reliability)
    k = 3
    alpha = k / (k - 1) * (1 - items.var(ddof=1).sum() / items.sum(axis=1).var(ddof=1))
    middle = out[out["coding"].str.startswith("depends = middle")]
    assert middle["estimate"].tolist() == pytest.approx([alpha, alpha])
    binary = items.where(items.isin([0.0, 1.0])).dropna()  # "depends" rows left out
    kr20 = k / (k - 1) * (1 - binary.var(ddof=1).sum() / binary.sum(axis=1).var(ddof=1))
    assert out.loc[out["coding"].str.startswith("depends left"), "estimate"].iloc[0] == pytest.approx(kr20)
