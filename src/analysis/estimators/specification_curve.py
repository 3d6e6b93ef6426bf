"""Specification curve analysis: fit one Cox model per specification, summarise the curve, test it jointly.

A specification curve (Simonsohn, Simmons & Nelson 2020, Nature Human Behaviour 4:1208-1214; R ``specr``,
Masur & Scharkow; ``multiverse``, Sarma et al. 2021) fits every combination of the analyst's defensible
choices and shows all the estimates at once. This module is the study-free part:

* :func:`fit_specification`: one Cox specification (Efron ties, :mod:`analysis.estimators.cox_fast`) on one
  table (complete cases) or on ``m`` completed tables (Rubin's rules, :func:`analysis.estimators.imputation.pool`),
  with the design of the project's other Cox fits: ``design-based`` (survey-weighted, Taylor-linearised
  variance of a domain, t on the design df, as :func:`analysis.estimators.survey.fit_cox_design`),
  ``unweighted`` (model-based SE) or ``multilevel`` (a baseline hazard per group, cluster-robust SE, as
  :func:`analysis.estimators.survival.fit_cox`). It returns the tidy record of the chosen exposure term and
  that term's influence summed by PSU, which the joint test resamples.
* :func:`curve_summary`: median estimate, share of estimates in each direction, share significant.
* :func:`variance_shares`: the share of the variance of the estimates that each choice explains.
* :func:`null_bootstrap`: the joint test under the null.
* :class:`FitCache`: a content-addressed store of fits keyed by the hash of a specification and its data.

**The joint test.** Simonsohn et al. draw bootstrap samples from data in which the null is imposed (the
outcome minus the estimated effect), refit every specification and ask how often the curve is as extreme as
observed. A Cox outcome cannot be shifted, and refitting every specification hundreds of times is what the
curve cannot afford, so the bootstrap here is its first-order (influence-function) version: each estimate
is ``b_s + sum_c IF_sc`` over PSUs ``c`` to first order, and a draw multiplies the PSU totals of every
specification's influence by **the same** standard-normal weights ``xi_c``, centred within strata and scaled
by ``sqrt(n_h/(n_h-1))`` (a multiplier bootstrap of the stratified design; its variance is the Taylor
variance). Centring at zero (leaving out ``b_s``) imposes the null for every specification at once, while the
shared weights keep the correlation between specifications that share data. Each draw gives a null curve,
whose statistics are compared with the observed: the median estimate (two-sided, ``|median*| >= |median|``),
the number of specifications significant in the observed dominant direction, and Stouffer's Z of the
specification statistics in that direction (one-sided), the three statistics of the paper. Multiple
imputation enters through the average of the imputations' influences (the between-imputation variance is in
each specification's SE, not in the draws).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis.estimators.cox_fast import efron_cox, efron_score_residuals
from analysis.estimators.formula import design_matrix
from analysis.estimators.imputation import impute_once, pool
from analysis.estimators.records import (
    ModelSpec,
    exposure_coefficients,
    exposure_levels,
    normalised_weights,
    record_row,
)
from analysis.estimators.vcov import cluster_sandwich

DESIGNS = ("design-based", "unweighted", "multilevel")


@dataclass(frozen=True)
class CoxSpecification:
    """Everything one specification's fit needs, by column name: plain data, so it hashes and pickles.

    ``contrast``: for a categorical exposure the level whose HR against the reference (the first level) is the
    curve's estimate (null: the last level). ``min_duration``: rows with ``duration`` below it leave the domain
    (e.g. 24 months: early deaths excluded). ``imputed``: fit each completed table and pool by Rubin's rules.
    """

    spec: ModelSpec
    duration: str
    event: str
    weight: str
    design: str
    stratum: str = "stratum"
    psu: str = "psu"
    cluster: str = "cluster"
    contrast: str | None = None
    min_duration: float = 0.0
    imputed: bool = False
    lonely_psu: str = "adjust"
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise ValueError(f"design '{self.design}' unknown; use one of {list(DESIGNS)}")

    def columns(self) -> list[str]:
        """The columns the fit reads (for the data hash of the cache)."""
        return list(dict.fromkeys([self.duration, self.event, *self.spec.variables(), self.weight, self.stratum,
                                   self.psu, self.cluster]))

    def key_payload(self) -> dict:
        return {**asdict(self), "spec": asdict(self.spec)}


@dataclass(frozen=True)
class SpecificationFit:
    """The record of the curve's term (a dict in the record contract) and its influence summed by PSU."""

    record: dict
    psu_influence: list[float]


_COLUMNS: dict = {}


def _column(table: pd.DataFrame, column: str, kind: str) -> np.ndarray:
    """One column of ``table`` as numpy, memoised per worker (a curve reads the same few columns of its few tables
    thousands of times, and pandas' selection costs more than a fit's arithmetic): ``kind`` "notna" (its
    non-missing mask), "float" (values as float, missing as NaN) or "values" (``to_numpy()`` as is). The memo
    holds the table itself, so its ``id`` cannot be reused by another table meanwhile; the tables of a curve are
    never modified."""
    entry = _COLUMNS.get(id(table))
    if entry is None or entry[0] is not table:
        if len(_COLUMNS) > 8:
            _COLUMNS.clear()
        entry = _COLUMNS[id(table)] = (table, {})
    cache = entry[1]
    key = (column, kind)
    if key not in cache:
        series = table[column]
        cache[key] = (series.notna().to_numpy() if kind == "notna" else
                      series.to_numpy(dtype=float, na_value=np.nan) if kind == "float" else series.to_numpy())
    return cache[key]


def _domain(table: pd.DataFrame, cs: CoxSpecification) -> np.ndarray:
    """The rows of the specification's domain: every variable it reads present, weight > 0, ``duration`` at or
    above ``min_duration`` (a missing weight or duration is outside)."""
    needed = [cs.duration, cs.event, *cs.spec.variables(), cs.weight, cs.stratum, cs.psu, cs.cluster]
    mask = np.ones(len(table), dtype=bool)
    for column in dict.fromkeys(needed):
        mask &= _column(table, column, "notna")
    weight, duration = _column(table, cs.weight, "float"), _column(table, cs.duration, "float")
    mask &= np.where(np.isnan(weight), 0.0, weight) > 0
    mask &= np.where(np.isnan(duration), -np.inf, duration) >= cs.min_duration
    return mask


class _Design:
    """The survey design of a table, coded once: each row's PSU code, each PSU's stratum code and each stratum's
    number of PSUs in the full design (PSUs nested in strata, ``nest = TRUE``)."""

    def __init__(self, table: pd.DataFrame, stratum: str, psu: str):
        pairs = pd.DataFrame({"s": pd.factorize(table[stratum], sort=True)[0],
                              "p": pd.factorize(table[psu], sort=True)[0]})
        self.psu_code = pairs.groupby(["s", "p"], sort=True).ngroup().to_numpy()
        first = pairs.drop_duplicates().sort_values(["s", "p"])
        self.psu_stratum = first["s"].to_numpy()
        self.n_design = np.bincount(self.psu_stratum)
        self.n_psu = len(self.psu_stratum)

    def domain_variance(self, psu_total: np.ndarray, mask: np.ndarray, lonely_psu: str) -> tuple[float, int, int]:
        """``(variance, df, PSUs in the domain)`` of one estimate from its influence summed by PSU: the
        formula of :func:`analysis.estimators.survey.domain_variance` (R's subset design; checked equal in
        tests/estimators/test_specification_curve.py), without recoding the design for every fit."""
        present = np.zeros(self.n_psu, dtype=bool)
        present[np.unique(self.psu_code[mask])] = True
        strata = np.unique(self.psu_stratum[present])
        h_of = self.psu_stratum
        n_h = self.n_design
        totals = np.bincount(h_of, weights=psu_total, minlength=len(n_h))
        centre = totals / n_h
        dev = np.where(present, psu_total - centre[h_of], 0.0)
        ss = np.bincount(h_of, weights=dev ** 2, minlength=len(n_h))
        n_present = np.bincount(h_of[present], minlength=len(n_h))
        ss = ss + (n_h - n_present) * centre ** 2
        variance = 0.0
        grand = psu_total[present].sum() / n_h[strata].sum()
        for h in strata:
            if n_h[h] > 1:
                variance += n_h[h] / (n_h[h] - 1) * ss[h]
            elif lonely_psu == "adjust":
                variance += float(((psu_total[present & (h_of == h)] - grand) ** 2).sum())
            elif lonely_psu == "fail":
                raise ValueError("a stratum has a single PSU (lonely_psu 'fail')")
        return float(variance), int(present.sum() - len(strata)), int(present.sum())


_MATRICES: dict = {}


def _design_matrix(table: pd.DataFrame, cs: CoxSpecification, rhs: str, mask: np.ndarray) -> pd.DataFrame:
    """The Cox design matrix (no intercept) of the rows ``mask`` of ``table`` (the columns the fit reads), memoised
    per worker for the specifications that share a table, a right-hand side and a domain (the designs and
    outcomes of one sample). The memo holds the table itself, so its ``id`` cannot be reused by another table
    meanwhile."""
    key = (id(table), rhs, hashlib.sha1(np.packbits(mask).tobytes()).hexdigest())
    entry = _MATRICES.get(key)
    if entry is None or entry[0] is not table:
        if len(_MATRICES) > 32:
            _MATRICES.clear()
        frame = table.loc[mask, _used_columns(table, cs)]  # not every column of the (wide) table: a copy of each
        entry = _MATRICES[key] = (table, design_matrix(frame, rhs).drop(columns="Intercept", errors="ignore"))
    return entry[1]


def _used_columns(table: pd.DataFrame, cs: CoxSpecification) -> list[str]:
    """The columns of ``table`` one fit reads (the specification's, in the table's order, without repeats)."""
    wanted = {cs.duration, cs.event, *cs.spec.variables(), cs.weight, cs.stratum, cs.psu, cs.cluster}
    return [c for c in table.columns if c in wanted]


def _one_table(table: pd.DataFrame, cs: CoxSpecification, design: _Design):
    """(coefficient, variance, design df or None, n, events, n_groups, PSU influence, converged, term, label)."""
    mask = _domain(table, cs)
    spec = cs.spec
    levels = exposure_levels(table[spec.exposure][mask]) if spec.exposure_type == "categorical" else None
    rhs = spec.rhs(levels[0] if levels else None)
    X = _design_matrix(table, cs, rhs, mask)
    names = list(X.columns)
    coefficients = exposure_coefficients(spec, levels)
    chosen = [c for c in coefficients if cs.contrast is None or c[1] == f"{spec.exposure}[{cs.contrast}]"]
    if not chosen:
        raise ValueError(f"contrast '{cs.contrast}' is not a level of '{spec.exposure}' in the sample {levels}")
    coefficient, term, term_label = chosen[-1]
    time, died = _column(table, cs.duration, "float")[mask], _column(table, cs.event, "float")[mask]
    x = X.to_numpy(dtype=float)
    weights = normalised_weights(_column(table, cs.weight, "float")[mask]) if cs.design == "design-based" else None
    clusters = _column(table, cs.cluster, "values")[mask]
    strata = clusters if cs.design == "multilevel" else None
    fit = efron_cox(x, time, died, weights, strata)
    j = names.index(coefficient)
    influence = efron_score_residuals(x, time, died, fit.params, weights, strata, layout=fit.layout
                                      ) @ fit.covariance[:, j]
    psu_total = np.bincount(design.psu_code[mask], weights=influence, minlength=design.n_psu)
    df = None
    if cs.design == "design-based":
        variance, df, n_groups = design.domain_variance(psu_total, mask, cs.lonely_psu)
    elif cs.design == "multilevel":
        variance = float(cluster_sandwich(influence[:, None], clusters)[0, 0])
        n_groups = len(pd.unique(clusters))
    else:
        variance, n_groups = float(fit.covariance[j, j]), math.nan
    return (fit.params[j], variance, df, int(mask.sum()), float(died.sum()), n_groups, psu_total, fit.converged,
            term, term_label)


def _note(cs: CoxSpecification, m: int) -> str:
    design = {"design-based": f"survey-weighted ({cs.weight}, mean 1 in the domain), Taylor-linearised SE "
                              f"(PSUs in strata, single-PSU strata: {cs.lonely_psu}), t on the design df",
              "unweighted": "unweighted, model-based SE",
              "multilevel": f"a baseline hazard per {cs.cluster} (stratified Cox), unweighted, cluster-robust SE "
                            f"by {cs.cluster} (G/(G-1))"}[cs.design]
    missing = (f"multiple imputation (m = {m}), Rubin's rules, Barnard-Rubin df" if cs.imputed else "complete cases")
    early = f"; follow-up {cs.duration} >= {cs.min_duration:g}" if cs.min_duration > 0 else ""
    return f"Efron ties (vectorised fit, estimators/cox_fast.py); {design}; {missing}{early}"


def fit_specification(tables: Sequence[pd.DataFrame], cs: CoxSpecification, design: _Design | None = None
                      ) -> SpecificationFit:
    """Fit one specification: on ``tables[0]`` (the observed table: complete cases) or, when ``cs.imputed``, on
    every table after it (the completed tables, same rows) pooled by Rubin's rules. Every table is the full survey
    design (the domain is taken inside, as R ``subset(design, ...)``). A failed fit gives a record with NaN
    estimates, ``converged`` False and the error in ``note``."""
    used = list(tables[1:]) if cs.imputed else [tables[0]]
    if cs.imputed and len(used) < 2:
        raise ValueError(f"an imputed specification needs at least 2 completed tables after the observed one, got "
                         f"{len(used)}")
    design = _Design(used[0], cs.stratum, cs.psu) if design is None else design
    model = "stratified_cox" if cs.design == "multilevel" else "cox"
    vcov = {"design-based": "linearisation", "unweighted": "model_based", "multilevel": "cluster"}[cs.design]
    try:
        fits = [_one_table(t, cs, design) for t in used]
    except (np.linalg.LinAlgError, ValueError, KeyError) as err:
        record = record_row(cs.spec, cs.spec.exposure, "", math.nan, math.nan, model=model, design=cs.design,
                            vcov=vcov, n=0, events=math.nan, converged=False, note=f"Cox fit failed: {err}")
        return SpecificationFit(record, [0.0] * design.n_psu)
    estimate, variance, df, n, events, n_groups, _, converged, term, term_label = fits[0]
    influence = np.mean([f[6] for f in fits], axis=0)
    if cs.imputed:
        pooled = pool([pd.Series([f[0]]) for f in fits], [np.array([[f[1]]]) for f in fits],
                      df_complete=math.inf if df is None else float(df))
        estimate, variance, df = float(pooled.params.iloc[0]), float(pooled.total.iloc[0]), float(pooled.df.iloc[0])
        converged = all(f[7] for f in fits)
    record = record_row(cs.spec, term, term_label, float(estimate), math.sqrt(variance), model=model,
                        design=cs.design, vcov=vcov, n=n, events=events, converged=converged,
                        note=_note(cs, len(used)), alpha=cs.alpha, df=df, n_groups=n_groups)
    return SpecificationFit(record, [float(v) for v in influence])


def fit_specifications(specifications: Sequence[CoxSpecification], tables: Sequence[pd.DataFrame]
                       ) -> list[SpecificationFit]:
    """:func:`fit_specification` for each, in order (one task of the job runner)."""
    designs: dict = {}
    out = []
    for cs in specifications:
        key = (cs.stratum, cs.psu)
        if key not in designs:
            designs[key] = _Design(tables[0], cs.stratum, cs.psu)
        out.append(fit_specification(tables, cs, designs[key]))
    return out


def impute_chains(chains: Sequence[int], frame: pd.DataFrame, seed: int, burn_in: int, k_pmm: int
                  ) -> list[pd.DataFrame]:
    """Imputation chains ``j`` of ``frame`` (:func:`analysis.estimators.imputation.impute_once` seeded
    ``(seed, j)``, as ``chained_imputations``), one job-runner task each."""
    return [impute_once(frame, seed=(int(seed), int(j)), burn_in=burn_in, k_pmm=k_pmm) for j in chains]


# --- the curve ---------------------------------------------------------------------------------------------


def critical_values(df: np.ndarray, alpha: float) -> np.ndarray:
    """Two-sided critical value of each specification's Wald statistic: t on its df, or normal when df is NaN."""
    df = np.asarray(df, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    return np.where(np.isnan(df), z, stats.t.ppf(1 - alpha / 2, np.where(np.isnan(df), 1.0, df)))


def curve_summary(estimates, std_errors, df, *, alpha: float = 0.05) -> dict:
    """The curve in numbers: specifications, median estimate, share above and below 0, share significant
    (two-sided at ``alpha``; each specification on its own t df or normal) overall and in each direction."""
    b = np.asarray(estimates, dtype=float)
    se = np.asarray(std_errors, dtype=float)
    ok = np.isfinite(b) & np.isfinite(se) & (se > 0)
    b, se, crit = b[ok], se[ok], critical_values(np.asarray(df, dtype=float)[ok], alpha)
    significant = np.abs(b / se) > crit
    n = len(b)
    share = (lambda x: float(np.mean(x)) if n else math.nan)
    return {"specifications": n, "failed": int((~ok).sum()), "median_estimate": float(np.median(b)) if n else math.nan,
            "share_positive": share(b > 0), "share_negative": share(b < 0), "share_significant": share(significant),
            "share_significant_positive": share(significant & (b > 0)),
            "share_significant_negative": share(significant & (b < 0))}


def variance_shares(estimates, choices: pd.DataFrame) -> pd.DataFrame:
    """Share of the variance of the estimates explained by each choice (a column of ``choices``, one row per
    specification): the between-option sum of squares over the total (eta squared). In a full factorial grid
    the main effects are orthogonal, so the shares and the remainder (row ``interactions``: every
    interaction of choices) sum to 1, as the variance decomposition of ``specr``'s ``plot_variance``."""
    b = pd.Series(np.asarray(estimates, dtype=float), index=choices.index)
    ok = b.notna()
    b, choices = b[ok], choices.loc[ok]
    total = float(((b - b.mean()) ** 2).sum())
    rows = []
    for choice in choices.columns:
        means = b.groupby(choices[choice], observed=True).transform("mean")
        rows.append({"choice": choice, "share": float(((means - b.mean()) ** 2).sum()) / total if total else math.nan})
    explained = sum(r["share"] for r in rows)
    rows.append({"choice": "interactions", "share": 1 - explained})
    return pd.DataFrame(rows)


def null_bootstrap(estimates, std_errors, df, psu_influence: np.ndarray, psu_stratum, *, draws: int, seed: int,
                   alpha: float = 0.05) -> dict:
    """The joint test of the curve under the null (module docstring): p-values of the median estimate, of the
    number of specifications significant in the dominant direction and of Stouffer's Z, with the null
    distribution's 2.5% and 97.5% points of the median.

    ``psu_influence`` is specifications x PSUs (each specification's influence on its estimate summed by PSU,
    zero where a PSU has no rows in its domain); ``psu_stratum`` the stratum of each PSU. Draws are reproducible
    from ``seed`` (numpy PCG64) and do not depend on how the fits were spread over workers.
    """
    b = np.asarray(estimates, dtype=float)
    se = np.asarray(std_errors, dtype=float)
    ok = np.isfinite(b) & np.isfinite(se) & (se > 0)
    b, se = b[ok], se[ok]
    crit = critical_values(np.asarray(df, dtype=float)[ok], alpha)
    z = np.asarray(psu_influence, dtype=float)[ok]
    strata = pd.factorize(np.asarray(psu_stratum), sort=True)[0]
    n_h = np.bincount(strata)
    # centre the PSU totals within strata and scale: sum_c xi_c zc has variance sum_h n_h/(n_h-1) sum (z - zbar)^2
    means = np.stack([np.bincount(strata, weights=row) / n_h for row in z])
    factor = np.sqrt(np.where(n_h > 1, n_h / np.maximum(n_h - 1, 1), 1.0))
    zc = (z - means[:, strata]) * factor[strata]
    rng = np.random.Generator(np.random.PCG64(seed))
    xi = rng.standard_normal((draws, z.shape[1]))
    null_b = xi @ zc.T  # draws x specifications, centred at 0: the null imposed on every specification
    direction = 1.0 if np.median(b) >= 0 else -1.0
    t_obs, t_null = b / se, null_b / se
    observed = {"median": float(np.median(b)), "significant": int(np.sum((np.abs(t_obs) > crit) & (direction * b > 0))),
                "stouffer": float(direction * t_obs.sum() / math.sqrt(len(b)))}
    null_median = np.median(null_b, axis=1)
    null_significant = np.sum((np.abs(t_null) > crit) & (direction * null_b > 0), axis=1)
    null_stouffer = direction * t_null.sum(axis=1) / math.sqrt(len(b))
    return {
        "draws": draws, "seed": seed, "direction": "positive" if direction > 0 else "negative",
        "median_estimate": observed["median"],
        "p_median": float(np.mean(np.abs(null_median) >= abs(observed["median"]))),
        "null_median_low": float(np.quantile(null_median, 0.025)),
        "null_median_high": float(np.quantile(null_median, 0.975)),
        "significant_in_direction": observed["significant"],
        "p_significant": float(np.mean(null_significant >= observed["significant"])),
        "null_significant_mean": float(null_significant.mean()),
        "stouffer_z": observed["stouffer"],
        "p_stouffer": float(np.mean(null_stouffer >= observed["stouffer"])),
    }


# --- the cache ---------------------------------------------------------------------------------------------


def content_hash(payload) -> str:
    """sha256 of a JSON-able payload in canonical form (sorted keys, no whitespace)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def column_hashes(table: pd.DataFrame) -> dict[str, str]:
    """sha256 of each column's values (pandas' stable row hashes, with the index), so a specification's data
    hash covers exactly the columns it reads and a new column elsewhere changes nothing."""
    return {column: hashlib.sha256(pd.util.hash_pandas_object(table[column], index=True).to_numpy().tobytes()
                                   ).hexdigest() for column in table.columns}


def _code_only(text: str) -> str:
    """A Python source's syntax tree without docstrings (comments and layout are not in the tree)."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def source_hash(paths: Iterable[str | Path]) -> str:
    """sha256 of the fitting code: a change of the code that fits invalidates every fit, while an edit of a
    docstring, a comment or the layout does not (the hash is of the syntax tree without docstrings)."""
    digest = hashlib.sha256()
    for path in sorted(str(p) for p in paths):
        digest.update(_code_only(Path(path).read_text(encoding="utf-8")).encode())
    return digest.hexdigest()


class FitCache:
    """A content-addressed folder of fits: ``<folder>/<key[:2]>/<key>.json``, each written atomically.

    The key is the hash of a specification, of the data it reads and of the fitting code (the caller builds
    it with :func:`content_hash`), so an entry is never stale: a changed input is a different key. Nothing is
    ever overwritten or deleted here; removing the folder only costs refits.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> SpecificationFit | None:
        path = self._path(key)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # a damaged entry is refitted
        return SpecificationFit(data["record"], data["psu_influence"])

    def put(self, key: str, fit: SpecificationFit) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"record": fit.record, "psu_influence": fit.psu_influence}))
        os.replace(tmp, path)


def cached_fits(keys: Sequence[str], specifications: Sequence[CoxSpecification], cache: FitCache,
                fit_missing) -> tuple[list[SpecificationFit], int]:
    """The fit of every specification: from ``cache`` when its key is there, else from ``fit_missing`` (a
    callable taking the list of missing specifications and returning their fits in order), which are then
    stored. Returns ``(fits in order, number fitted now)``."""
    found = {i: cache.get(k) for i, k in enumerate(keys)}
    missing = [i for i, fit in found.items() if fit is None]
    if missing:
        for i, fit in zip(missing, fit_missing([specifications[i] for i in missing])):
            cache.put(keys[i], fit)
            found[i] = fit
    return [found[i] for i in range(len(keys))], len(missing)

