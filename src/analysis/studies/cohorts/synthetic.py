"""A SYNTHETIC ageing cohort in the RAND HRS layout, generated from stated true parameters.

The harmonised ageing cohorts (RAND HRS, H_ELSA, H_SHARE, H_CHARLS) may not be redistributed. To run and
test the cohort study without them, the project writes its own cohort here: a Stata ``.dta`` file with
RAND's names (``hhidpn``, ``ragender``, ``rabyear``, ``raedyrs``, ``radyear``/``radmonth``, and per wave
``r{w}iwstat``, ``r{w}iwendy``/``r{w}iwendm``, ``r{w}agey_e``, ``r{w}mstat``, ``r{w}cesd``,
``r{w}hearte``, ``r{w}stroke``, the Gateway social-contact items ``r{w}kcntm``, ``r{w}rcntm``,
``r{w}fcntm``, ``r{w}socyr`` and the 3-item UCLA loneliness items ``r{w}complac``, ``r{w}leftout``,
``r{w}isolate``), with RAND's codes and Stata extended missing values (``.d`` don't know, ``.r`` refused)
for item non-response. Nothing in it describes real people; every output made from it says SYNTHETIC.

The data-generating process (parameters: ``params.yaml`` ``cohorts.synthetic``; ``truth`` holds the
effects the models must recover). Persons enter at wave 1 and are followed every 2 years (24 months):

1. **Person traits.** Sex (female with ``p_female``); age at baseline uniform on ``age_range``; years of
   education ``raedyrs`` = round(12 + 3 N(0,1)) clipped to 0-17, and ``z`` = (raedyrs - 12) / 3 from the
   *recorded* value (an observed confounder); an unobserved trait ``T ~ N(0,1)`` that raises isolation,
   loneliness and CES-D (it confounds the between-person but not the within-person contrasts).
2. **Isolation** (Steptoe et al. 2013, PNAS 110:5797): propensity ``a = iso_edu z + iso_trait T + N(0,
   iso_person_sd)``. Partner status is a Markov chain (partnered at baseline with ``expit(1 - 0.5 a)``,
   partner lost per interval with ``expit(-3.5 + 0.6 (age - 65)/10)``, gained with ``expit(-3)``). Each
   wave, less than monthly contact with children / other family / friends and no group participation
   are independent Bernoulli draws with ``expit(c_k + a)``. The index is the count of the five (0-5).
3. **Loneliness** (3-item UCLA, each 1 hardly ever - 3 often): latent ``l = lone_iso * index + lone_trait
   T + r + w``, ``r ~ N(0, lone_person_sd)``, ``w`` an AR(1) within-person process (``lone_ar``,
   ``lone_innovation_sd``); item = 1 + (l + e > 0.5) + (l + e > 1.5), e ~ N(0, 0.5). Score 3-9.
4. **CES-D (0-8)** ~ Binomial(8, eta / 8) with ``eta = cesd_intercept + truth.cesd_isolation * index +
   truth.cesd_loneliness * (loneliness - 3) + cesd_female * female + cesd_education * z + cesd_age *
   (age0 - 65) / 10 + cesd_trait * T + u0 + (cesd_wave + u1) * (wave - 1)``, ``u0 ~ N(0, cesd_intercept_sd)``,
   ``u1 ~ N(0, cesd_slope_sd)`` (person random intercept and slope). So E[CES-D | ...] = eta exactly and the
   within-person effects of isolation and loneliness are the stated ones; eta is clipped to [0, 8] in the
   (rare) cases it leaves that range, and the share clipped is reported in the truth file.
5. **Death, CVD, attrition** over the interval from wave w to w + 1, with the exposures measured at w:
   death hazard per year ``exp(death_intercept + death_age (age_w - 65)/10 + death_female female +
   death_education z + truth.death_isolation index_w + truth.death_loneliness (loneliness_w - 3) +
   death_cvd cvd_w)``, constant within the interval, so the death time is exponential there (the month of
   death is ``radyear``/``radmonth``). Those alive at w + 1 drop out for good with ``expit(drop_intercept
   + drop_isolation index_w + drop_age (age_w - 65)/10)`` (attrition depends on the exposure, not on
   CES-D: missing at random given what the models adjust for). Those alive and still in the study report
   new CVD at w + 1 with probability ``1 - exp(-2 exp(cvd_intercept + cvd_age (age_w - 65)/10 + cvd_female
   female + cvd_education z + truth.cvd_isolation index_w + truth.cvd_loneliness (loneliness_w - 3)))``,
   i.e. a grouped proportional-hazards (complementary log-log) model with the stated log-hazard ratios;
   a new case is heart disease (``hearte``) with ``p_heart``, else stroke. Baseline CVD: ``expit(-2 +
   0.5 (age0 - 65)/10)``.

6. **Cognition and dementia** (drawn from a second random stream, ``default_rng([seed, 1])``, so adding them
   left every earlier draw, and every earlier result, unchanged). The four Langa-Weir items of
   ``cohorts.synthetic.cognition.items`` (immediate and delayed word recall 0-10, serial 7s 0-5, backwards
   counting 0-2) are Binomial(item maximum, eta_c / 27) with ``eta_c = cognition_intercept +
   truth.cognition_isolation * index + truth.cognition_loneliness * (loneliness - 3) + cognition_female *
   female + cognition_education * z + cognition_age * (age0 - 65) / 10 + cognition_trait * T + v0 +
   (cognition_wave + v1) * (wave - 1)``, ``v0 ~ N(0, cognition_intercept_sd)``, ``v1 ~ N(0,
   cognition_slope_sd)``: the score (their sum) has E = eta_c exactly (eta_c clipped to [0, 27], the share
   clipped reported), so the within-person effects are the stated ones. Dementia onset over (w, w + 1] among
   those alive, still in the study and free of it: probability ``1 - exp(-2 exp(dementia_intercept +
   dementia_age (age_w - 65)/10 + dementia_education z + truth.dementia_isolation index_w +
   truth.dementia_loneliness (loneliness_w - 3)))``, reported at w + 1 in the item ``r{w}dementia`` (0/1,
   absorbing; an item of NO real file, where the classification comes from the score). In this process
   dementia changes neither the score nor the death hazard: a software check, not a model of dementia.

Because the death hazard is constant within each interval with exposures fixed at its start, the
discrete-time cloglog model (interval dummies, baseline age) and the Cox model with time-varying
covariates (counting process, baseline age) both estimate exactly the stated log-hazard ratios.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.core import config, io
from analysis.studies.cohorts.settings import Synthetic, load

#: Stata extended-missing codes used for item non-response (RAND: .d don't know, .r refused).
MISSING_CODES = ("d", "r")
#: RAND ``r{w}iwstat`` codes (RAND HRS Longitudinal File codebook, "Wave status: response indicator").
IWSTAT = {"responded": 1, "alive_nonresponse": 4, "died_this_wave": 5, "died_earlier": 6}
#: RAND ``r{w}mstat`` codes (1 married, 3 partnered, 5 divorced, 7 widowed, 8 never married).
MSTAT = {"married": 1, "partnered": 3, "divorced": 5, "widowed": 7, "never_married": 8}

SYNTHETIC_LABEL = "SYNTHETIC cohort (simulated, not real people)"


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate_cohort(spec: Synthetic, *, persons: int | None = None, seed: int | None = None
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Simulate the cohort; return (wide RAND-layout frame, truth).

    Item non-response is marked with the strings ``"d"``/``"r"`` in float columns (written as Stata
    extended missing values by :func:`write_synthetic`); waves without an interview are NaN. ``truth``
    holds the stated effects plus what the run produced (persons, person-waves, events, clipped share).
    """
    n = int(persons or spec.persons)
    if n < 10:
        raise ValueError(f"simulate_cohort: persons is {n}; give a whole number >= 10")
    waves = int(spec.waves)
    rng = np.random.default_rng(int(spec.seed if seed is None else seed))
    t, q = spec.truth, spec.nuisance

    female = rng.random(n) < q.p_female
    age0 = rng.uniform(*spec.age_range, size=n)
    edu = np.clip(np.round(12 + 3 * rng.standard_normal(n)), 0, 17)
    z = (edu - 12) / 3
    trait = rng.standard_normal(n)
    a = q.iso_edu * z + q.iso_trait * trait + q.iso_person_sd * rng.standard_normal(n)
    r_lone = q.lone_person_sd * rng.standard_normal(n)
    u0 = q.cesd_intercept_sd * rng.standard_normal(n)
    u1 = q.cesd_slope_sd * rng.standard_normal(n)
    month0 = rng.integers(1, 13, size=n)
    first_year = int(spec.first_year)
    birth_year = np.floor(first_year + (month0 - 0.5) / 12 - age0).astype(int)

    partnered = rng.random(n) < _expit(1.0 - 0.5 * a)
    never = ~partnered & (rng.random(n) < 0.3)
    lost_partner = np.zeros(n, dtype=bool)
    cvd = rng.random(n) < _expit(-2.0 + 0.5 * (age0 - 65) / 10)
    heart_ever = cvd & (rng.random(n) < q.p_heart)
    stroke_ever = cvd & ~heart_ever
    alive = np.ones(n, dtype=bool)
    in_study = np.ones(n, dtype=bool)
    died_wave = np.zeros(n, dtype=int)  # wave at which death is first known (0 = alive at the end)
    death_month_index = np.full(n, np.nan)  # months since January of first_year
    w_lone = q.lone_innovation_sd / math.sqrt(1 - q.lone_ar ** 2) * rng.standard_normal(n)

    rng_c = np.random.default_rng([int(spec.seed if seed is None else seed), 1])  # cognition's own stream
    v0 = q.cognition_intercept_sd * rng_c.standard_normal(n)
    v1 = q.cognition_slope_sd * rng_c.standard_normal(n)
    demented = np.zeros(n, dtype=bool)
    cog_items = list(spec.cognition.items.items())
    cog_max = spec.cognition.max
    dementia_template = spec.cognition.dementia_item
    cog_clipped = 0

    columns: dict[str, np.ndarray] = {}
    clipped = 0
    observed = 0
    counts = {"deaths": 0, "cvd_events": 0, "dropouts": 0, "dementia_onsets": 0}
    for w in range(1, waves + 1):
        iw_month_index = (month0 - 1) + 24 * (w - 1)  # months since January of first_year
        age_w = age0 + 2 * (w - 1)
        resp = alive & in_study
        # --- wave w measures
        if w > 1:
            lose = partnered & (rng.random(n) < _expit(-3.5 + 0.6 * (age_w - 65) / 10))
            gain = ~partnered & (rng.random(n) < _expit(-3.0 + 0 * a))
            lost_partner |= lose
            partnered = (partnered & ~lose) | gain
            w_lone = q.lone_ar * w_lone + q.lone_innovation_sd * rng.standard_normal(n)
        no_contact = [rng.random(n) < _expit(c + a) for c in q.contact_intercepts]
        index = (~partnered).astype(int) + sum(x.astype(int) for x in no_contact)
        latent = q.lone_iso * index + q.lone_trait * trait + r_lone + w_lone
        items = [1 + (latent + 0.5 * rng.standard_normal(n) > 0.5).astype(int)
                 + (latent + 0.5 * rng.standard_normal(n) > 1.5).astype(int) for _ in range(3)]
        lone = sum(items)
        eta = (q.cesd_intercept + t.cesd_isolation * index + t.cesd_loneliness * (lone - 3)
               + q.cesd_female * female + q.cesd_education * z + q.cesd_age * (age0 - 65) / 10
               + q.cesd_trait * trait + u0 + (q.cesd_wave + u1) * (w - 1))
        clipped += int(((eta < 0) | (eta > 8))[resp].sum())
        observed += int(resp.sum())
        cesd = rng.binomial(8, np.clip(eta, 0, 8) / 8)

        mstat = np.where(partnered, np.where(rng.random(n) < 0.1, MSTAT["partnered"], MSTAT["married"]),
                         np.where(lost_partner, MSTAT["widowed"],
                                  np.where(never, MSTAT["never_married"], MSTAT["divorced"])))
        iwstat = np.where(resp, IWSTAT["responded"],
                          np.where(alive, IWSTAT["alive_nonresponse"],
                                   np.where(died_wave == w, IWSTAT["died_this_wave"], IWSTAT["died_earlier"])))
        iw_year = first_year + iw_month_index // 12
        iw_month = iw_month_index % 12 + 1
        age_years = np.floor(age_w)
        values = {
            "iwstat": iwstat.astype(float), "iwendy": iw_year.astype(float), "iwendm": iw_month.astype(float),
            "agey_e": age_years, "mstat": mstat.astype(float), "cesd": cesd.astype(float),
            "hearte": heart_ever.astype(float), "stroke": stroke_ever.astype(float),
            "kcntm": (~no_contact[0]).astype(float), "rcntm": (~no_contact[1]).astype(float),
            "fcntm": (~no_contact[2]).astype(float), "socyr": (~no_contact[3]).astype(float),
            "complac": items[0].astype(float), "leftout": items[1].astype(float),
            "isolate": items[2].astype(float),
        }
        for name, value in values.items():
            column = np.where(resp | (name == "iwstat"), value, np.nan).astype(object)
            if name not in ("iwstat", "iwendy", "iwendm", "agey_e"):
                skip = resp & (rng.random(n) < q.item_missing)
                column[skip] = rng.choice(MISSING_CODES, size=int(skip.sum()))
            columns[f"r{w}{name}"] = column
        eta_c = (q.cognition_intercept + t.cognition_isolation * index + t.cognition_loneliness * (lone - 3)
                 + q.cognition_female * female + q.cognition_education * z + q.cognition_age * (age0 - 65) / 10
                 + q.cognition_trait * trait + v0 + (q.cognition_wave + v1) * (w - 1))
        cog_clipped += int(((eta_c < 0) | (eta_c > cog_max))[resp].sum())
        p_item = np.clip(eta_c, 0, cog_max) / cog_max
        cognition_values = {template: rng_c.binomial(points, p_item) for template, points in cog_items}
        if dementia_template:
            cognition_values[dementia_template] = demented.astype(int)
        for template, value in cognition_values.items():
            column = np.where(resp, value.astype(float), np.nan).astype(object)
            skip = resp & (rng_c.random(n) < q.item_missing)
            column[skip] = rng_c.choice(MISSING_CODES, size=int(skip.sum()))
            columns[template.format(w=w)] = column
        if w == waves:
            break
        # --- interval (w, w+1]: death, then attrition and CVD among survivors still in the study
        at_risk = alive.copy()
        rate = np.exp(q.death_intercept + q.death_age * (age_w - 65) / 10 + q.death_female * female
                      + q.death_education * z + t.death_isolation * index
                      + t.death_loneliness * (lone - 3) + q.death_cvd * cvd)
        time_to_death = rng.exponential(1 / rate)  # years
        dies = at_risk & (time_to_death < 2.0)
        # month of death: the interview month plus the elapsed whole months (at least 0, below 24)
        death_month_index[dies] = iw_month_index[dies] + np.floor(time_to_death[dies] * 12)
        alive &= ~dies
        died_wave[dies] = w + 1
        counts["deaths"] += int((dies & in_study).sum())
        # exposures at w are unknown for those already out of the study: their later events are not used
        drop = alive & in_study & (rng.random(n) < _expit(q.drop_intercept + q.drop_isolation * index
                                                          + q.drop_age * (age_w - 65) / 10))
        in_study &= ~drop
        counts["dropouts"] += int(drop.sum())
        p_cvd = 1 - np.exp(-2 * np.exp(q.cvd_intercept + q.cvd_age * (age_w - 65) / 10
                                       + q.cvd_female * female + q.cvd_education * z
                                       + t.cvd_isolation * index + t.cvd_loneliness * (lone - 3)))
        new = alive & in_study & ~cvd & (rng.random(n) < p_cvd)
        counts["cvd_events"] += int(new.sum())
        heart_new = new & (rng.random(n) < q.p_heart)
        heart_ever |= heart_new
        stroke_ever |= new & ~heart_new
        cvd |= new
        p_dementia = 1 - np.exp(-2 * np.exp(q.dementia_intercept + q.dementia_age * (age_w - 65) / 10
                                             + q.dementia_education * z + t.dementia_isolation * index
                                             + t.dementia_loneliness * (lone - 3)))
        onset = alive & in_study & ~demented & (rng_c.random(n) < p_dementia)
        counts["dementia_onsets"] += int(onset.sum())
        demented |= onset

    frame = pd.DataFrame({
        "hhidpn": np.arange(1, n + 1, dtype=float) * 1000 + 10,
        "ragender": np.where(female, 2.0, 1.0),
        "rabyear": birth_year.astype(float),
        "raedyrs": edu,
        "radyear": np.where(np.isnan(death_month_index), np.nan, first_year + death_month_index // 12),
        "radmonth": np.where(np.isnan(death_month_index), np.nan, death_month_index % 12 + 1),
    })
    frame = pd.concat([frame, pd.DataFrame(columns)], axis=1)
    truth = {
        "label": SYNTHETIC_LABEL,
        "truth": {k: float(v) for k, v in t.model_dump().items()},
        "persons": n, "waves": waves, "seed": int(spec.seed if seed is None else seed),
        "person_waves_interviewed": observed, "cesd_eta_clipped_share": clipped / max(observed, 1),
        "cognition_eta_clipped_share": cog_clipped / max(observed, 1),
        **counts,
    }
    return frame, truth


def write_synthetic(frame: pd.DataFrame, dest: str | Path) -> None:
    """Write the wide frame as Stata ``.dta`` (pyreadstat), ``"d"``/``"r"`` as extended missing values."""
    import pyreadstat

    with_codes = [c for c in frame.columns if frame[c].dtype == object]
    labels = {c: f"{SYNTHETIC_LABEL}: {c}" for c in frame.columns}
    pyreadstat.write_dta(frame, str(dest), file_label=SYNTHETIC_LABEL[:80], column_labels=labels,
                         missing_user_values={c: list(MISSING_CODES) for c in with_codes})
    fix_dta_timestamp(dest)


#: The time stamp written into the SYNTHETIC ``.dta`` header instead of the write time, so two runs give
#: byte-identical files (and DVC sees no change): the format's own "dd Mon yyyy hh:mm".
DTA_TIMESTAMP = b"01 Jan 2000 00:00"


def fix_dta_timestamp(path: str | Path, stamp: bytes = DTA_TIMESTAMP) -> None:
    """Overwrite the ``<timestamp>`` of a Stata 117-119 ``.dta`` header (pyreadstat writes the current time
    and has no option to fix it). The field is a length byte and that many characters; the file is left
    unchanged in length and otherwise byte for byte."""
    path = Path(path)
    data = bytearray(path.read_bytes())
    tag = data.find(b"<timestamp>", 0, 4096)
    if tag < 0:
        raise ValueError(f"{path}: no <timestamp> in the .dta header (not a Stata 117-119 file?)")
    start = tag + len(b"<timestamp>")
    length = data[start]
    if length not in (0, len(stamp)):
        raise ValueError(f"{path}: .dta time stamp of {length} characters, expected {len(stamp)}")
    if length:
        data[start + 1:start + 1 + length] = stamp
        path.write_bytes(bytes(data))


def stage() -> str:
    """DVC stage ``synthetic_cohort``: simulate the SYNTHETIC cohort and write it in the RAND layout."""
    spec = load().cohorts.synthetic
    frame, truth = simulate_cohort(spec)
    with io.staged_outputs():
        io.write_atomic(config.RAW / "cohorts" / "synthetic_rand.dta", lambda tmp: write_synthetic(frame, tmp))
        io.write_json(config.RAW / "cohorts" / "synthetic_truth.json", truth)
    return (f"SYNTHETIC cohort: {truth['persons']:,} persons x {truth['waves']} waves, "
            f"{truth['person_waves_interviewed']:,} interviews")
