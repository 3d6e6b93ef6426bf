"""Digital and in-person connection, and social trust, in the GSS panels (issue 22): stage ``reach_gss``.

What the panel files allow (checked on the files, not assumed):

* **Web and e-mail hours** (WWWHR/WWWMIN, EMAILHR/EMAILMIN, with the skip items COMPUSE, WEBMOB, USEWWW) are in
  the 2006-2010 and 2010-2014 panels at wave 1 only: no within-person change there. The 2016-2020 panel asks them
  at the 2016 or 2018 baseline *and* in 2020 (ballots A and B), beside the social-evening items (A and B), HEALTH
  (A and C) and HAPPY (all): so the within-person models of the digital items use that panel, as person-waves
  (:func:`panel_2020_long`), with year effects and the interview mode (2020: web or phone) as a covariate.
* **Social trust** (TRUST, HELPFUL, FAIR) is asked at every wave of the three 2006-2014 panels on ballots B and C:
  the trust models use the stacked long panels and the same estimators as the contact models.
* **Facebook** (FACEBOOK, member or regular user) is asked in 2016 only (ballots B and C) and loneliness (LONELY1,
  LONELY2) in 2020 only: 2016 Facebook use -> 2020 loneliness among the re-interviewed, design-based and
  unweighted (the 2016-2020 models of :func:`analysis.studies.gss.models.run_2020_models`); no within-person model.

The stage reads the clean stage's tables (``gss_panel.parquet``, ``gss_2020.parquet``) and, for the items those do
not carry, the fetched panel files; it writes its own tables, records, tests, reliability, metrics, report tables
and a figure, and leaves every existing output as it was.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.core import config, io
from analysis.core.contract import finish_table, validate_table
from analysis.core.settings import ReliabilitySettings
from analysis.estimators import reliability
from analysis.estimators.panel import FITS, PanelLayout, prepare_panel, run_panel_models
from analysis.estimators.panel.common import PanelOptions
from analysis.estimators.records import ModelSpec, records_frame
from analysis.studies.gss import measures
from analysis.studies.gss import source as src
from analysis.studies.gss.models import ballot_flow, model_panel, outcome_ballots, run_2020_models
from analysis.studies.gss.reach_report import reach_metrics, write_reach_reports
from analysis.studies.gss.schema import (
    CATEGORY_CODES,
    REACH_2020_LONG_VARIABLES,
    REACH_TRUST_VARIABLES,
    reach_2020_long_schema,
    reach_trust_schema,
)
from analysis.studies.gss.settings import GssSettings, PanelModels, Reach, load

#: The digital and trust items of the 2016-2020 panel, read at every wave (suffixes _1a, _1b, _2).
ITEMS_2020 = ["compuse", "webmob", "emailhr", "emailmin", "usewww", "wwwhr", "wwwmin", "trust", "helpful", "fair",
              "ballot", "mode"]
#: The trust items of the long panels.
TRUST_ITEMS = list(measures.TRUST_ITEMS)
#: The study label of the 2016-2020 person-wave records.
STUDY_2020 = "GSS 2016-2020 panel"


# ---------------------------------------------------------------------------------------------
# Measures from the item codes


def digital_measures(codes: pd.DataFrame, top_code: float) -> pd.DataFrame:
    """Web and e-mail hours a week (raw, capped, and log(1 + hours)) and the non-user flag from one wave's codes
    (columns named as the GSS items): :func:`measures.weekly_hours` with the skip rules of
    :func:`measures.non_user` and :func:`measures.web_not_used`."""
    out = pd.DataFrame(index=codes.index)
    non_user = measures.non_user(codes["compuse"], codes["webmob"])
    out["internet_non_user"] = non_user
    out["email_hours"] = measures.weekly_hours(codes["emailhr"], codes["emailmin"], not_asked_zero=non_user,
                                               top_code=top_code)
    out["web_hours"] = measures.weekly_hours(codes["wwwhr"], codes["wwwmin"],
                                             not_asked_zero=measures.web_not_used(non_user, codes["usewww"]),
                                             top_code=top_code)
    out["log_email_hours"] = measures.log_hours(out["email_hours"])
    out["log_web_hours"] = measures.log_hours(out["web_hours"])
    return out


def trust_measures(codes: pd.DataFrame, depends: float) -> pd.DataFrame:
    """The three trust items as 0-1 (``trusts_people``, ``people_helpful``, ``people_fair``) and their mean,
    ``social_trust_score`` (:func:`measures.trust_item`, :func:`measures.social_trust_score`)."""
    items = {name: measures.trust_item(codes[item], item, depends)
             for name, item in zip(TRUST_COLUMNS, TRUST_ITEMS, strict=True)}
    out = pd.DataFrame(items, index=codes.index)
    out["social_trust_score"] = measures.social_trust_score(*(out[c] for c in TRUST_COLUMNS))
    return out


#: Columns of the three 0-1 trust items (TRUST, HELPFUL, FAIR in that order).
TRUST_COLUMNS = ["trusts_people", "people_helpful", "people_fair"]


# ---------------------------------------------------------------------------------------------
# Tables


def trust_panel(panel: pd.DataFrame, raw_dir: str | Path, depends: float) -> pd.DataFrame:
    """The clean stage's 2006-2014 person-wave table with the trust items and score added (TRUST, HELPFUL, FAIR
    from each long panel file, joined on person and wave)."""
    frames = []
    for label in panel["panel"].astype(str).unique():
        path = src.panel_path(raw_dir, src.LONG_PANELS[label])
        raw = src.read_panel(path, ["firstid", "wave", "year", *TRUST_ITEMS])
        raw = raw[raw["year"].notna()].reset_index(drop=True)
        raw["firstid"] = raw["firstid"].astype(str)
        codes = pd.DataFrame({item: src.recode(raw, item, path, id_column="firstid") for item in TRUST_ITEMS})
        part = trust_measures(codes, depends)
        part.insert(0, "wave", pd.to_numeric(raw["wave"]).astype("int64"))
        part.insert(0, "person_id", f"{label[:4]}-" + raw["firstid"])
        frames.append(part)
    trust = pd.concat(frames, ignore_index=True)
    out = panel.merge(trust, on=["person_id", "wave"], how="left", validate="one_to_one")
    if len(out) != len(panel):
        raise ValueError("trust_panel: the join changed the number of person-waves")
    return out


def _wave_codes(raw: pd.DataFrame, suffix: str, path: Path) -> pd.DataFrame:
    return pd.DataFrame({item: src.recode(raw, f"{item}{suffix}", path, id_column="yearid") for item in ITEMS_2020})


def table_2020_wide(table_2020: pd.DataFrame, raw_dir: str | Path, reach: Reach) -> pd.DataFrame:
    """The clean stage's 2016-2020 table with, for the baseline (2016 or 2018) and 2020: Web and e-mail hours, the
    trust items and score, the ballot and a self-administered (web) interview flag; and FACEBOOK (2016) as
    ``facebook_2016`` (1 yes, 0 no)."""
    path = src.panel_path(raw_dir, src.PANEL_2020)
    suffixes = (src.SUFFIX_2016, src.SUFFIX_2018, src.SUFFIX_2020)
    columns = ["yearid", "samptype", "facebook_1a"] + [f"{i}{s}" for i in ITEMS_2020 for s in suffixes]
    raw = src.read_panel(path, columns)
    raw["yearid"] = raw["yearid"].astype(str)
    in_2016 = (pd.to_numeric(raw["samptype"], errors="coerce") == 2016).to_numpy()
    waves = {s: _wave_codes(raw, s, path) for s in suffixes}
    first, second = waves[src.SUFFIX_2016], waves[src.SUFFIX_2018]
    baseline = pd.DataFrame({item: first[item].where(in_2016, second[item]) for item in ITEMS_2020})
    out = pd.DataFrame({"yearid": raw["yearid"]})
    for when, codes in (("baseline", baseline), ("2020", waves[src.SUFFIX_2020])):
        block = pd.concat([digital_measures(codes, reach.hours_top_code), trust_measures(codes, reach.trust_depends)],
                          axis=1)
        block["interview_ballot"] = codes["ballot"].map(CATEGORY_CODES["ballot"])
        block["self_administered"] = (codes["mode"] == 4).astype("float64").where(codes["mode"].notna())
        out = pd.concat([out, block.add_suffix(f"_{when}")], axis=1)
    facebook = src.recode(raw, "facebook_1a", path, id_column="yearid")
    out["facebook_2016"] = facebook.map({1.0: 1.0, 2.0: 0.0}).where(in_2016)
    return table_2020.merge(out, on="yearid", how="left", validate="one_to_one")


#: Person-wave columns of the 2016-2020 long table, taken from the wide table's ``<column>_baseline`` and
#: ``<column>_2020``.
LONG_2020_COLUMNS = ["fair_poor_health", "unhappy", "social_contact_index", "evenings_relatives", "evenings_friends",
                     "evenings_neighbours", "partnered", "employed", "log_real_income", "internet_non_user",
                     "web_hours", "email_hours", "log_web_hours", "log_email_hours", *TRUST_COLUMNS,
                     "social_trust_score", "self_administered"]
#: Person constants carried to every row.
CONSTANT_2020_COLUMNS = ["person_id", "baseline_year", "age_baseline", "female", "race", "education_years"]


def panel_2020_long(wide: pd.DataFrame) -> pd.DataFrame:
    """The 2016-2020 panel as person-waves: ``wave`` 1 at the 2016 or 2018 baseline (``year`` that year) and 2 in
    2020 (the re-interviewed only), with :data:`LONG_2020_COLUMNS` at each and the constants of
    :data:`CONSTANT_2020_COLUMNS`. Baseline ballot and interview mode: BALLOT_1A/1B, MODE_1A/1B (in person or
    phone: ``self_administered`` 0); 2020: BALLOT_2 (the same as the baseline's for all but 2 persons) and MODE_2
    (web 1, phone 0)."""
    rows = []
    for wave, when in ((1, "baseline"), (2, "2020")):
        part = wide if wave == 1 else wide[wide["reinterviewed_2020"] == 1]
        frame = part[CONSTANT_2020_COLUMNS].copy()
        frame["wave"] = wave
        frame["year"] = part["baseline_year"].astype("int64") if wave == 1 else 2020
        for column in LONG_2020_COLUMNS:
            frame[column] = part[f"{column}_{when}"].astype("float64")
        frame["ballot"] = pd.Categorical(part[f"interview_ballot_{when}"], categories=["A", "B", "C"])
        rows.append(frame)
    out = pd.concat(rows, ignore_index=True).sort_values(["person_id", "wave"])
    out = finish_table(out, REACH_2020_LONG_VARIABLES)
    return validate_table(out, reach_2020_long_schema(), "GSS 2016-2020 person-wave table")


# ---------------------------------------------------------------------------------------------
# Models


def run_spec(panel: pd.DataFrame, spec: PanelModels, study: str, *, n_jobs: int = 1
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every outcome x exposure x estimator of a spec, one outcome at a time on the person-waves of its ballots
    (:func:`analysis.studies.gss.models.model_panel`): ``(records, tests, ballot flow)``."""
    records, tests = [], []
    for outcome, options in spec.outcomes.items():
        one = spec.model_copy(update={"outcomes": {outcome: options}})
        data = model_panel(panel, spec, outcome_ballots(spec, outcome))
        fitted, tested = run_panel_models(data, one, study=study, progress=False, n_jobs=n_jobs)
        records.append(fitted)
        tests.append(tested)
    return (records_frame(pd.concat(records, ignore_index=True)), pd.concat(tests, ignore_index=True),
            ballot_flow(panel, spec))


def run_beside(panel: pd.DataFrame, spec: PanelModels, exposures: list[str], covariate_set: str,
               estimators: list[str], study: str) -> pd.DataFrame:
    """Each outcome of ``spec`` on ``exposures`` entered together (the first as the exposure, the rest as joint
    exposures, each recorded as its own exposure), with the spec's covariates, under ``covariate_set``."""
    layout = PanelLayout(entity=spec.entity, time=spec.time, cluster=spec.cluster, invariant=spec.invariant)
    first, rest = exposures[0], exposures[1:]
    options = PanelOptions(alpha=spec.alpha, validate=False)  # the records are validated once, below
    out = []
    for outcome, o in spec.outcomes.items():
        data = model_panel(panel, spec, outcome_ballots(spec, outcome))
        model_spec = ModelSpec(outcome=outcome, exposure=first, covariates=spec.covariates, study=study,
                               outcome_label=o.label, exposure_label=spec.exposures[first].label,
                               covariate_set=covariate_set, sample=spec.sample)
        p = prepare_panel(data, model_spec, layout, outcome=o.column or outcome, binary=o.binary,
                          joint={e: spec.exposures[e].label for e in rest})
        for estimator in estimators:
            out.append(FITS[estimator](p, options))
    return records_frame(pd.concat(out, ignore_index=True))


def trust_reliability(trust: pd.DataFrame, wide: pd.DataFrame, options: ReliabilitySettings) -> pd.DataFrame:
    """Internal consistency of the three trust items, one row per sample: Cronbach's alpha of the 0 / 0.5 / 1
    items (``depends`` in the middle) and KR-20 of the 0/1 items with "depends" answers left out; at wave 1 of
    the three 2006-2014 panels pooled and at the 2016/2018 baseline of the 2016-2020 panel."""
    rows = []
    samples = (("2006-2014", "wave 1 of the three panels", trust.loc[trust["wave"] == 1, TRUST_COLUMNS]),
               ("2016-2020", "2016 or 2018 baseline", wide[[f"{c}_baseline" for c in TRUST_COLUMNS]]))
    for panel, when, items in samples:
        items = items.set_axis(TRUST_COLUMNS, axis=1)
        dichotomous = items.where(items.isin([0.0, 1.0]))
        for coding, block in (("depends = middle (0/0.5/1)", items), ("depends left out (0/1)", dichotomous)):
            record = reliability.cronbach_alpha(block, ci=options.ci_level, what=f"GSS {panel} trust items")
            rows.append({"study": "gss", "measure": "social_trust_score", "panel": panel, "sample": when,
                         "coding": coding, **record})
    return pd.DataFrame(rows)


def describe_digital(long: pd.DataFrame, top_code: float) -> pd.DataFrame:
    """Web and e-mail hours a week by wave among those answering (digital ballots A and B): persons, % non-users,
    median, 75th percentile, % at the top code, and the within-person SD of log(1 + hours) (persons with both
    waves): how much within-person change the models have to work with."""
    rows = []
    for column in ("web_hours", "email_hours"):
        log_column = f"log_{column}"
        answered = long[long[log_column].notna()]
        # the rows of persons answering in both waves, in their order (groupby.filter's rows, without its Python
        # call per person)
        both = answered[answered.groupby("person_id")["person_id"].transform("size") == 2]
        within_sd = float((both[log_column] - both.groupby("person_id")[log_column].transform("mean")).std(ddof=1))
        for wave, part in long[long[column].notna()].groupby("wave"):
            values = part[column]
            rows.append({"measure": column, "wave": int(wave), "persons": int(len(values)),
                         "pct_zero": 100 * float((values == 0).mean()), "median": float(values.median()),
                         "p75": float(values.quantile(0.75)), "pct_top_coded": 100 * float((values >= top_code).mean()),
                         "within_person_sd_log": within_sd, "persons_both_waves": int(both["person_id"].nunique())})
    return pd.DataFrame(rows)


def run_reach(panel: pd.DataFrame, table_2020: pd.DataFrame, raw_dir: str | Path, gss: GssSettings,
              options: ReliabilitySettings = ReliabilitySettings(), *, n_jobs: int = 1) -> dict[str, pd.DataFrame]:
    """Build the tables and fit every model of ``gss.reach``. Returns tables by name: ``records`` (every panel
    record: digital, beside, displacement, trust), ``tests``, ``ballot_flow``, ``records_facebook``,
    ``reliability``, ``digital_summary``, and the analysis tables ``trust_panel`` and ``panel_2020_long``."""
    reach = gss.reach
    if reach is None:
        raise ValueError("params.yaml gss.reach is missing: the reach_gss stage has nothing to fit")
    trust = trust_panel(panel, raw_dir, reach.trust_depends)
    wide = table_2020_wide(table_2020, raw_dir, reach)
    long = panel_2020_long(wide)
    parts = {"digital": (long, reach.digital, STUDY_2020), "displacement": (long, reach.displacement, STUDY_2020),
             "trust": (trust, reach.trust, gss.study)}
    records, tests, flows = [], [], []
    for name, (data, spec, study) in parts.items():
        r, t, f = run_spec(data, spec, study, n_jobs=n_jobs)
        records.append(r)
        tests.append(t.assign(analysis=name))
        flows.append(f.assign(analysis=name))
    beside = reach.beside
    records.append(run_beside(long, reach.digital, beside.exposures, beside.covariate_set, beside.estimators,
                              STUDY_2020))
    return {"records": records_frame(pd.concat(records, ignore_index=True)),
            "tests": pd.concat(tests, ignore_index=True), "ballot_flow": pd.concat(flows, ignore_index=True),
            "records_facebook": run_2020_models(wide, reach.facebook, study=STUDY_2020),
            "reliability": trust_reliability(trust, wide, options),
            "digital_summary": describe_digital(long, reach.hours_top_code),
            "trust_panel": validate_table(finish_table(trust[[v.name for v in REACH_TRUST_VARIABLES]],
                                                       REACH_TRUST_VARIABLES), reach_trust_schema(),
                                          "GSS 2006-2014 trust items"),
            "panel_2020_long": long}


def stage() -> str:
    """DVC stage ``reach_gss``: digital and in-person connection and social trust (records, tests, reliability,
    metrics, tables, figure)."""
    params = load()
    panel = io.read_parquet(config.PROCESSED / "gss_panel.parquet")
    table_2020 = io.read_parquet(config.PROCESSED / "gss_2020.parquet")
    fits = run_reach(panel, table_2020, config.RAW / "gss", params.gss, params.reliability,
                     n_jobs=params.compute.n_jobs)
    metrics = config.REPORTS / "metrics"
    tables = {"gss_reach_models.csv": "records", "gss_reach_tests.csv": "tests",
              "gss_reach_ballot_flow.csv": "ballot_flow", "gss_reach_facebook.csv": "records_facebook",
              "gss_reach_reliability.csv": "reliability", "gss_reach_digital_summary.csv": "digital_summary"}
    with io.staged_outputs():  # one block: the tables, metrics, report tables and figure, all or none
        io.write_parquet(config.PROCESSED / "gss_reach_trust.parquet", fits["trust_panel"])
        io.write_parquet(config.PROCESSED / "gss_reach_2020_long.parquet", fits["panel_2020_long"])
        for name, key in tables.items():
            io.write_csv(metrics / name, fits[key])
        io.write_json(metrics / "gss_reach.json", reach_metrics(fits))
        written = write_reach_reports(fits, config.REPORTS, params.gss, tuple(params.reports.figure_formats))
    return (f"GSS reach: {len(fits['records'])} panel records, {len(fits['records_facebook'])} Facebook records, "
            f"{len(written)} report files")


