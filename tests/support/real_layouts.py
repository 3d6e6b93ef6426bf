"""Small generated files in each real study's layout: RAND HRS + Harmonized HRS, H_ELSA, H_SHARE, H_CHARLS.

The names, codes and wave coverage are those of ``params.yaml`` ``cohorts.studies`` (checked against the
RAND and Gateway codebooks, see the comments there); the values are random. What each file mimics:

* **HRS**: two files joined on ``hhidpn``. RAND core: ``r{w}cesd`` from wave 2 only (wave 1 has no
  comparable CES-D), ``r{w}iwendy/iwendm``, ``r{w}agey_e``, the Leave-Behind score ``r{w}lblonely3`` (mean of
  3 items, 1-3) from wave 8 for alternating half-samples (even ``hhidpn`` at even waves, odd at odd waves).
  Harmonized HRS: weekly contact ``r{w}kcnt``/``r{w}rfcnt`` (also Leave-Behind: same half-samples) and
  monthly participation ``r{w}socmn`` from wave 9. RAND cognition items ``r{w}imrc``, ``r{w}dlrc``, ``r{w}ser7``,
  ``r{w}bwc20`` from wave 3 (their own random stream, so the other values do not depend on them).
* **ELSA**: ``idauniq``, ``r{w}iwindy/iwindm``, ``r{w}agey``, ``raedyrs_e``, no ``radmonth``, UCLA items
  ``r{w}complac/leftout/isolate`` (1 hardly ever - 3 often) from wave 2, weekly ``r{w}kcnt/rcnt/fcnt``.
* **SHARE**: ``mergeid`` (text), waves 1, 2, 4-8, ``r{w}eurod`` (0-12), ``r{w}lnlys3`` from wave 5,
  household ``h{w}kcnt``, ``r{w}socyr`` from wave 4.
* **CHARLS**: ``ID`` (text), ``r{w}cesd10`` (0-30), ``raeduc_c`` (1-10), ``h{w}kcnt``, ``r{w}socwk``, no
  loneliness.

Item non-response is written as Stata extended missing values ``.d`` (don't know), ``.r`` (refused) and
``.m`` (missing), as in the distributed files. Deterministic for a given seed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.core.settings import validate
from analysis.studies.cohorts.settings import CohortStudy

CODES = ("d", "r", "m")


def _coded(rng: np.random.Generator, values: np.ndarray, share: float = 0.03) -> np.ndarray:
    """``values`` as objects with a ``share`` of them replaced by a Stata missing code (.d .r .m)."""
    out = values.astype(object)
    hit = rng.random(len(values)) < share
    out[hit] = rng.choice(CODES, hit.sum())
    return out


def _person_ids(study: str, n: int) -> np.ndarray:
    if study == "hrs":
        return (10003010 + 1000 * np.arange(n)).astype(float)
    if study == "elsa":
        return (100001 + np.arange(n)).astype(float)
    if study == "share":
        return np.array([f"AT-{100000 + i:06d}-01" for i in range(n)], dtype=object)
    return np.array([f"{94004104001 + 100 * i:012d}" for i in range(n)], dtype=object)


def generate_layout(study: str, cohorts: dict[str, Any], n: int = 400, seed: int = 1) -> dict[str, pd.DataFrame]:
    """The wide file(s) of ``study`` (``"main"`` and, for HRS, ``"join"``) for params.yaml's ``cohorts:`` block
    (plain YAML values): the base names of ``cohorts.variables`` with the study block's overrides."""
    rng = np.random.default_rng(seed)
    spec = cohorts["studies"][study]
    waves = sorted(int(w) for w in spec["waves"])
    years = {int(w): int(y) for w, y in spec["waves"].items()}
    v = {**cohorts["variables"], **spec["variables"]}
    ids = _person_ids(study, n)
    birth = rng.integers(years[waves[0]] - 80, years[waves[0]] - 50, n)
    main: dict[str, Any] = {v["id"]: ids, "ragender": rng.integers(1, 3, n).astype(float),
                            "rabyear": birth.astype(float)}
    if study == "charls":
        main["raeduc_c"] = rng.integers(1, 11, n).astype(float)
    else:
        main[v["education_years"]] = rng.integers(0, 18, n).astype(float)
    death_wave = np.where(rng.random(n) < 0.25, rng.integers(1, len(waves), n), 10 ** 6)
    death_year = np.array([years[waves[min(d, len(waves) - 1)]] + 1 if d < len(waves) else np.nan for d in death_wave])
    main["radyear"] = death_year
    if v.get("death_month"):
        main["radmonth"] = np.where(np.isnan(death_year), np.nan, rng.integers(1, 13, n))
    join: dict[str, Any] = {v["id"]: ids}
    trait = rng.normal(0, 1, n)
    heart = np.zeros(n, bool)
    stroke = np.zeros(n, bool)
    depression = spec["depression"]
    lone = spec.get("loneliness") or {}
    cognition = (spec.get("cognition") or {}).get("items", {})
    rng_cognition = np.random.default_rng([seed, 1])
    for i, w in enumerate(waves):
        alive = i < death_wave
        status = np.where(i < death_wave, np.where(rng.random(n) < 0.9, 1, 4), np.where(i == death_wave, 5, 6))
        iw = status == 1
        main[f"r{w}iwstat"] = status.astype(float)
        nan = np.full(n, np.nan)
        main[v["interview_year"].format(w=w)] = np.where(iw, years[w] + (rng.random(n) < 0.3), nan)
        main[v["interview_month"].format(w=w)] = _coded(rng, np.where(iw, rng.integers(1, 13, n), nan), 0.01)
        main[v["age"].format(w=w)] = np.where(iw, years[w] - birth, nan)
        main[f"r{w}mstat"] = np.where(iw, rng.choice([1, 3, 4, 5, 7, 8], n), nan)
        heart |= iw & (rng.random(n) < 0.04)
        stroke |= iw & (rng.random(n) < 0.02)
        main[f"r{w}hearte"] = _coded(rng, np.where(iw, heart, nan))
        main[f"r{w}stroke"] = _coded(rng, np.where(iw, stroke, nan))
        if not (study == "hrs" and w == 1):  # HRS: no comparable CES-D at wave 1
            score = np.clip(np.round(depression["max"] * 0.25 + trait + rng.normal(0, 1, n)), depression["min"],
                            depression["max"])
            main[v["depression"].format(w=w)] = _coded(rng, np.where(iw, score, nan))
        target = join if study == "hrs" else main
        half = (np.arange(n) % 2) == (w % 2)  # HRS Leave-Behind: alternating half-samples
        lb = iw & (half if study == "hrs" else True) & (w >= 8 if study == "hrs" else True)
        for key in ("contact_children", "contact_family", "contact_friends", "contact_family_friends"):
            if v.get(key):
                target[v[key].format(w=w)] = _coded(rng, np.where(lb, (rng.random(n) < 0.7).astype(float), nan))
        first_groups = {"hrs": 9, "share": 4}.get(study, waves[0])
        if v.get("groups") and w >= first_groups:
            target[v["groups"].format(w=w)] = _coded(rng, np.where(iw, (rng.random(n) < 0.5).astype(float), nan))
        if "score" in lone and w >= {"hrs": 8, "share": 5}[study]:
            items = rng.integers(1, 4, (n, 3)).mean(axis=1)
            main[lone["score"].format(w=w)] = _coded(rng, np.where(lb if study == "hrs" else iw, items, nan))
        if lone.get("items") and w >= 2:
            for template in lone["items"]:
                main[template.format(w=w)] = _coded(rng, np.where(iw, rng.integers(1, 4, n), nan))
        if cognition and w >= 3:  # RAND: the 27-point items from wave 3 (1996)
            for template, points in cognition.items():
                main[template.format(w=w)] = _coded(rng_cognition,
                                                    np.where(iw, rng_cognition.integers(0, points + 1, n), nan))
        del alive
    out = {"main": pd.DataFrame(main)}
    if study == "hrs":
        out["join"] = pd.DataFrame(join)
    return out


def write_layout(frames: dict[str, pd.DataFrame], directory: Path, study: str) -> dict[str, Path]:
    """Write each frame as Stata .dta with ``.d .r .m`` extended missing values; return the paths."""
    import pyreadstat

    names = {"hrs": {"main": "randhrs1992_2020v2.dta", "join": "H_HRS_d.dta"}, "elsa": {"main": "h_elsa_g3.dta"},
             "share": {"main": "H_SHARE_f.dta"}, "charls": {"main": "H_CHARLS_D_Data.dta"}}[study]
    paths = {}
    for part, frame in frames.items():
        frame = frame.copy()
        coded = []
        for column in frame.columns:
            if frame[column].dtype == object and frame[column].map(lambda x: x in CODES).any():
                coded.append(column)
                frame[column] = frame[column].map(lambda x: x if x in CODES else (np.nan if x is None else float(x)))
        path = directory / names[part]
        pyreadstat.write_dta(frame, str(path), missing_user_values={c: list(CODES) for c in coded})
        paths[part] = path
    return paths


def layout_block(params_cohorts: dict[str, Any], study: str, paths: dict[str, Path]) -> dict[str, Any]:
    """The study's params.yaml block (plain YAML values) with its paths set to the generated files."""
    spec = copy.deepcopy(params_cohorts["studies"][study])
    spec["path"] = str(paths["main"])
    for extra in spec.get("join") or []:
        extra["path"] = str(paths["join"])
    return spec


def layout_spec(params_cohorts: dict[str, Any], study: str, paths: dict[str, Path]) -> CohortStudy:
    """:func:`layout_block` validated as the pipeline validates ``cohorts.studies.<study>``."""
    return validate(CohortStudy, layout_block(params_cohorts, study, paths), f"cohorts.studies.{study}")
